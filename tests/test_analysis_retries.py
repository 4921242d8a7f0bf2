"""analysis.retries: retry chains followed to their first attempt, and per-action summaries."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

import attune_nb
from attune_nb.analysis.retries import (
    RETRY_CHAIN_COLUMNS,
    RETRY_SUMMARY_COLUMNS,
    retry_chains,
    retry_summary,
)
from attune_nb.errors import InvalidFilter
from attune_nb.testing import write_history

T0 = pd.Timestamp("2026-01-10T00:00:00Z")


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def story(db: attune_nb.Database, ref: str, *steps: tuple[str, float], **columns: Any) -> int:
    """An execution whose history is exactly ``steps`` ((status, seconds after T0), in order)."""
    return write_history(db, ref, *steps, start=T0, **columns)


def attempt(
    db: attune_nb.Database, ref: str, end: str, start: float, *, after: int | None = None
) -> int:
    """One attempt (requested, running, then ``end``); a retry of ``after`` when given."""
    retry: dict[str, Any] = {}
    if after is not None:
        previous = db.executions.get(after)
        retry = {
            "original_execution": after,
            "retry_count": previous.retry_count + 1,
            "retry_reason": "worker_error",
        }
    return story(db, ref, ("requested", start), ("running", start + 1), (end, start + 5), **retry)


@pytest.fixture
def chains(db: attune_nb.Database) -> dict[str, list[int]]:
    """deploy.build: 3 attempts that recover, 3 that never do, and one lone success;
    core.echo: one failure never retried."""
    ids: dict[str, list[int]] = {"recovered": [], "failed": []}
    for name, ends in (
        ("recovered", ("failed", "failed", "completed")),
        ("failed", ("failed", "failed", "timeout")),
    ):
        for k, end in enumerate(ends):
            previous = ids[name][-1] if ids[name] else None
            ids[name].append(attempt(db, "deploy.build", end, 10.0 * k, after=previous))
    ids["lone"] = [attempt(db, "deploy.build", "completed", 100)]
    ids["echo"] = [attempt(db, "core.echo", "failed", 200)]
    return ids


def test_a_chain_of_three_attempts_in_order(
    db: attune_nb.Database, chains: dict[str, list[int]]
) -> None:
    found = retry_chains(db.executions.frame(limit=None))
    assert list(found.columns) == [c.name for c in RETRY_CHAIN_COLUMNS]
    assert [found[c.name].dtype for c in RETRY_CHAIN_COLUMNS] == [
        c.dtype for c in RETRY_CHAIN_COLUMNS
    ]
    by_chain = found.set_index("chain")
    assert found["chain"].tolist() == sorted(ids[0] for ids in chains.values())
    recovered = by_chain.loc[chains["recovered"][0]]
    assert recovered["action_ref"] == "deploy.build"
    assert recovered["attempts"] == 3
    assert recovered["ids"] == chains["recovered"]
    assert recovered["outcomes"] == ["failed", "failed", "completed"]
    assert recovered["final_status"] == "completed"
    assert (recovered["recovered"], recovered["still_failed"]) == (True, False)
    failed = by_chain.loc[chains["failed"][0]]
    assert failed["ids"] == chains["failed"]
    assert failed["outcomes"] == ["failed", "failed", "timeout"]
    assert failed["final_status"] == "timeout"
    assert (failed["recovered"], failed["still_failed"]) == (False, True)
    for single in ("lone", "echo"):
        row = by_chain.loc[chains[single][0]]
        assert (row["attempts"], row["ids"]) == (1, chains[single])
        assert (row["recovered"], row["still_failed"]) == (False, False)  # never retried


def test_the_order_is_the_retry_count_not_the_frames(
    db: attune_nb.Database, chains: dict[str, list[int]]
) -> None:
    shuffled = db.executions.frame(limit=None).sample(frac=1, random_state=3)
    found = retry_chains(shuffled).set_index("chain")
    assert found.loc[chains["recovered"][0], "ids"] == chains["recovered"]


def test_a_chain_cut_by_the_selection_starts_at_its_first_attempt_present(
    db: attune_nb.Database, chains: dict[str, list[int]]
) -> None:
    frame = db.executions.frame(limit=None)
    cut = frame[frame["id"] != chains["recovered"][0]]
    found = retry_chains(cut).set_index("chain")
    assert found.loc[chains["recovered"][1], "ids"] == chains["recovered"][1:]


def test_the_summary_per_action(db: attune_nb.Database, chains: dict[str, list[int]]) -> None:
    summary = retry_summary(retry_chains(db.executions.frame(limit=None)))
    assert list(summary.columns) == [c.name for c in RETRY_SUMMARY_COLUMNS]
    assert [summary[c.name].dtype for c in RETRY_SUMMARY_COLUMNS] == [
        c.dtype for c in RETRY_SUMMARY_COLUMNS
    ]
    assert summary["action_ref"].tolist() == ["core.echo", "deploy.build"]
    counts = ["chains", "retried", "recovered", "still_failed"]
    assert summary[counts].to_numpy().tolist() == [[1, 0, 0, 0], [3, 2, 1, 1]]
    assert math.isnan(summary["recovery_rate"].iloc[0])  # never retried
    assert summary["recovery_rate"].iloc[1] == 0.5


def test_empty_frames_keep_their_layouts(db: attune_nb.Database) -> None:
    chains = retry_chains(db.executions.frame())
    assert chains.empty and list(chains.columns) == [c.name for c in RETRY_CHAIN_COLUMNS]
    summary = retry_summary(chains)
    assert summary.empty and list(summary.columns) == [c.name for c in RETRY_SUMMARY_COLUMNS]
    assert [summary[c.name].dtype for c in RETRY_SUMMARY_COLUMNS] == [
        c.dtype for c in RETRY_SUMMARY_COLUMNS
    ]


def test_bad_input_is_refused(db: attune_nb.Database) -> None:
    with pytest.raises(InvalidFilter) as info:
        retry_chains(db.executions.frame().drop(columns="original_execution"))
    assert info.value.name == "executions"
    with pytest.raises(InvalidFilter) as info:
        retry_summary({"action_ref": []})  # type: ignore[arg-type]
    assert info.value.name == "chains"
