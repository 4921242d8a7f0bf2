"""Retry chains: every attempt of an original execution, their outcomes, what still failed.

A retry is a new execution whose ``original_execution`` points at the failed one;
following the links back reaches a chain's first attempt. Pure functions over an
execution frame (``db.executions.frame(...)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from attune_nb.analysis._columns import OutColumn
from attune_nb.analysis.concurrency import check_frame
from attune_nb.frames import STATUS_DTYPE, Column, empty_frame

__all__ = ["RETRY_CHAIN_COLUMNS", "RETRY_SUMMARY_COLUMNS", "retry_chains", "retry_summary"]

RETRY_CHAIN_COLUMNS: tuple[Column, ...] = (
    Column("chain", "id"),
    Column("action_ref", "str"),
    Column("attempts", "int"),
    Column("ids", "ids"),
    Column("outcomes", "strs"),
    Column("final_status", "status"),
    Column("recovered", "flag"),
    Column("still_failed", "flag"),
)
"""``retry_chains(...)``: one row per first attempt, by ``chain`` (its id)."""

RETRY_SUMMARY_COLUMNS: tuple[Column, ...] = (
    OutColumn("action_ref", "str"),
    OutColumn("chains", "int"),
    OutColumn("retried", "int"),
    OutColumn("recovered", "int"),
    OutColumn("still_failed", "int"),
    OutColumn("recovery_rate", "float"),
)
"""``retry_summary(...)``: one row per action, by ``action_ref``."""

_FAILED = ("failed", "timeout")
_COUNTS = ("chains", "retried", "recovered", "still_failed")
_EXECUTIONS = "db.executions.frame(...)"


def _first_attempts(ids: np.ndarray, originals: list[Any]) -> list[int]:
    """For each id, the first attempt reached by following ``original_execution`` within
    the frame (a link to a row outside it, or a loop in corrupted data, stops there)."""
    present = set(ids.tolist())
    original = {
        i: int(o)
        for i, o in zip(ids.tolist(), originals, strict=True)
        if o is not pd.NA and int(o) in present
    }
    first: dict[int, int] = {}
    for start in ids.tolist():
        walk, node = [start], start
        while node not in first and node in original and original[node] not in walk:
            node = original[node]
            walk.append(node)
        top = first.get(node, node)
        for visited in walk:
            first[visited] = top
    return [first[i] for i in ids.tolist()]


def retry_chains(executions: pd.DataFrame) -> pd.DataFrame:
    """One row per retry chain: its first attempt (``chain``) and every attempt in order.

    Attempts are ordered by ``retry_count``, then ``created``, then id. ``outcomes``
    lists their statuses; ``recovered`` is true when a later attempt completed;
    ``still_failed`` when the chain was retried and its last attempt failed or timed
    out. An execution never retried is a chain of one attempt. A chain is followed
    within the frame only: select whole chains (a window may cut one).

    >>> chains = retry_chains(db.executions.frame(action_ref="core.http_request", limit=None))
    >>> chains[chains["attempts"] > 2][["chain", "outcomes"]].head(2)
          chain                     outcomes
    675    3934  [failed, failed, completed]
    1126   6594  [failed, failed, completed]
    """
    check_frame(
        "executions",
        executions,
        ("id", "action_ref", "status", "created", "retry_count", "original_execution"),
        _EXECUTIONS,
    )
    if executions.empty:
        return empty_frame(RETRY_CHAIN_COLUMNS)
    rows = executions.drop_duplicates("id")
    ids = rows["id"].astype("int64").to_numpy()
    originals = rows["original_execution"].astype("Int64").tolist()
    attempts = pd.DataFrame(
        {
            "chain": _first_attempts(ids, [pd.NA if pd.isna(o) else o for o in originals]),
            "id": ids,
            "retry_count": rows["retry_count"].astype("Int64").fillna(0).to_numpy(),
            "created": rows["created"].to_numpy(),
            "status": rows["status"].astype("string").to_numpy(),
            "action_ref": rows["action_ref"].astype("string").to_numpy(),
        }
    ).sort_values(["chain", "retry_count", "created", "id"])
    grouped = attempts.groupby("chain", sort=True)
    ids_lists = grouped["id"].agg(list)
    outcomes = grouped["status"].agg(list)
    first_ref = grouped["action_ref"].first()
    count = grouped.size()
    final = outcomes.map(lambda o: o[-1])
    recovered = outcomes.map(lambda o: "completed" in o[1:])
    still_failed = (count > 1) & final.isin(_FAILED) & ~recovered
    return pd.DataFrame(
        {
            "chain": pd.array(ids_lists.index.to_numpy(), dtype="Int64"),
            "action_ref": pd.array(first_ref.to_numpy(), dtype="string"),
            "attempts": pd.array(count.to_numpy(), dtype="Int64"),
            "ids": [[int(i) for i in v] for v in ids_lists],
            "outcomes": [[str(s) for s in v] for v in outcomes],
            "final_status": pd.Categorical(final.to_numpy(), dtype=STATUS_DTYPE),
            "recovered": recovered.to_numpy(dtype=bool),
            "still_failed": still_failed.to_numpy(dtype=bool),
        }
    )


def retry_summary(chains: pd.DataFrame) -> pd.DataFrame:
    """Per action: chains, how many were retried, recovered and still failed.

    ``recovery_rate`` is recovered / retried (NaN for an action never retried).
    Rows are sorted by ``action_ref``.

    >>> chains = retry_chains(db.executions.frame(action_ref="core.http_request", limit=None))
    >>> retry_summary(chains)[["action_ref", "retried", "recovered", "still_failed"]]
              action_ref  retried  recovered  still_failed
    0  core.http_request      139        131             4
    """
    check_frame(
        "chains",
        chains,
        ("action_ref", "attempts", "recovered", "still_failed"),
        "analysis.retry_chains(executions)",
    )
    if chains.empty:
        return empty_frame(RETRY_SUMMARY_COLUMNS)
    frame = pd.DataFrame(
        {
            "action_ref": chains["action_ref"].astype("string"),
            "chains": 1,
            "retried": (chains["attempts"] > 1).astype(int),
            "recovered": chains["recovered"].astype(int),
            "still_failed": chains["still_failed"].astype(int),
        }
    )
    sums = frame.groupby("action_ref", sort=True).sum()
    rate = sums["recovered"] / sums["retried"].where(sums["retried"] > 0)
    return pd.DataFrame(
        {
            "action_ref": pd.array(sums.index.to_numpy(), dtype="string"),
            **{c: pd.array(sums[c].to_numpy(), dtype="Int64") for c in _COUNTS},
            "recovery_rate": rate.astype("float64").to_numpy(),
        }
    )
