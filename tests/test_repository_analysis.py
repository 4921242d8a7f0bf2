"""The SQL aggregates of ``db.analysis`` agree with the pandas ones on the demo data.

One seeded demo database (20,000 executions, seed 42) for the module; each case
computes an aggregate both ways over the same selection and compares the frames
exactly: counts, rates and percentiles alike (both interpolate linearly in floating
point and round to the nanosecond, so they agree to the nanosecond here).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import attune_nb
from attune_nb import analysis
from attune_nb.analysis.outcomes import buckets
from attune_nb.repository.analysis import WORK_MEM
from attune_nb.testing import ThrowawayServer

SIZE, SEED = 20000, 42


@pytest.fixture(scope="module")
def demo(pg: ThrowawayServer) -> Iterator[attune_nb.Database]:
    db = attune_nb.connect(
        pg.create_seeded_database(executions=SIZE, seed=SEED, name="analysis_demo"), readonly=True
    )
    yield db
    db.close()
    pg.drop_database("analysis_demo")


WINDOWS = {
    "last-day": ("2026-01-13", "2026-01-14"),
    "whole-demo": ("2025-12-30", "2026-01-14"),
    "odd-edges": ("2026-01-10T07:13:00Z", "2026-01-11T19:47:30Z"),
}
FILTERS: dict[str, dict[str, Any]] = {
    "all": {},
    "deploy": {"pack": "deploy"},
    "top-level": {"top_level_only": True},
    "core-failed": {"action_ref": "core.*", "status": ["failed", "timeout", "completed"]},
}
CASES = [(w, f) for w in WINDOWS for f in FILTERS]
IDS = [f"{w}-{f}" for w, f in CASES]


def _equal(local: pd.DataFrame, pushed: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(local, pushed, check_exact=True)
    assert local.attrs == pushed.attrs


@pytest.mark.parametrize(("span", "selection"), CASES, ids=IDS)
def test_durations_agree(demo: attune_nb.Database, span: str, selection: str) -> None:
    since, until = WINDOWS[span]
    filters = FILTERS[selection]
    local = analysis.durations(
        demo.executions.intervals(since=since, until=until, **filters), since=since, until=until
    )
    pushed = demo.analysis.durations(since=since, until=until, **filters)
    assert not pushed.empty
    _equal(local, pushed)


@pytest.mark.parametrize("by", [None, "action_ref", "day"], ids=["overall", "action", "day"])
@pytest.mark.parametrize(("span", "selection"), CASES, ids=IDS)
def test_failure_rate_agrees(
    demo: attune_nb.Database, span: str, selection: str, by: str | None
) -> None:
    since, until = WINDOWS[span]
    filters = FILTERS[selection]
    frame = demo.executions.frame(since=since, until=until, limit=None, **filters)
    local = analysis.failure_rate(frame, since=since, until=until, by=by)
    pushed = demo.analysis.failure_rate(since=since, until=until, by=by, **filters)
    _equal(local, pushed)


@pytest.mark.parametrize("freq", ["minute", "hour", "day"])
@pytest.mark.parametrize(("span", "selection"), CASES, ids=IDS)
def test_throughput_agrees(demo: attune_nb.Database, span: str, selection: str, freq: str) -> None:
    since, until = WINDOWS[span]
    filters = FILTERS[selection]
    frame = demo.executions.frame(since=since, until=until, limit=None, **filters)
    local = analysis.throughput(frame, since=since, until=until, freq=freq)
    pushed = demo.analysis.throughput(since=since, until=until, freq=freq, **filters)
    assert int(pushed["total"].sum()) == len(frame)
    _equal(local, pushed)


CONCURRENCY_NOW = {"open-until-the-end": None, "now-mid-window": "2026-01-13T15:30:00Z"}


@pytest.mark.parametrize("now", list(CONCURRENCY_NOW))
@pytest.mark.parametrize(
    ("span", "selection"),
    [c for c in CASES if c[0] != "whole-demo"],
    ids=[i for c, i in zip(CASES, IDS, strict=True) if c[0] != "whole-demo"],
)
def test_concurrency_agrees(demo: attune_nb.Database, span: str, selection: str, now: str) -> None:
    since, until = WINDOWS[span]
    filters = FILTERS[selection]
    at = CONCURRENCY_NOW[now]
    # Every execution created before the window's end: the ones whose life does not
    # overlap it contribute nothing, so this is the same selection as the SQL's.
    intervals = demo.executions.intervals(until=until, **filters)
    local = analysis.concurrency(intervals, since=since, until=until, now=at)
    pushed = demo.analysis.concurrency(since=since, until=until, now=at, **filters)
    assert len(pushed) > 1
    _equal(local, pushed)


def test_concurrency_of_chosen_statuses_agrees(demo: attune_nb.Database) -> None:
    since, until = "2026-01-13T20:00:00Z", "2026-01-14"
    intervals = demo.executions.intervals(until=until)
    for statuses in ("running", ["scheduled", "requested"]):
        local = analysis.concurrency(intervals, since=since, until=until, statuses=statuses)
        pushed = demo.analysis.concurrency(since=since, until=until, statuses=statuses)
        _equal(local, pushed)


@pytest.mark.parametrize("freq", ["minute", "hour"])
@pytest.mark.parametrize("span", ["last-day", "odd-edges"])
def test_concurrency_peaks_agree(demo: attune_nb.Database, span: str, freq: str) -> None:
    since, until = WINDOWS[span]
    intervals = demo.executions.intervals(until=until)
    local = analysis.concurrency(intervals, since=since, until=until, freq=freq)
    pushed = demo.analysis.concurrency(since=since, until=until, freq=freq)
    assert len(pushed) == len(buckets(pushed.attrs["window"], freq))
    steps = demo.analysis.concurrency(since=since, until=until)
    # The peak of the whole window is the largest count of the step function.
    assert pushed["running"].max() == steps["running"].max()
    _equal(local, pushed)


@pytest.mark.parametrize("selection", list(FILTERS))
def test_compare_windows_agree(demo: attune_nb.Database, selection: str) -> None:
    filters = FILTERS[selection]
    a, b = ("2026-01-11", "2026-01-12T12:00:00Z"), ("2026-01-12T06:00:00Z", "2026-01-14")
    intervals = demo.executions.intervals(since=a[0], until=b[1], **filters)
    local = analysis.compare_windows(intervals, a=a, b=b)
    pushed = demo.analysis.compare_windows(a=a, b=b, **filters)
    assert not pushed.empty
    _equal(local, pushed)


def test_each_aggregate_is_one_statement_bounded_by_time(demo: attune_nb.Database) -> None:
    calls = {
        "durations": lambda: demo.analysis.durations(since="2026-01-13", until="2026-01-14"),
        "failure_rate": lambda: demo.analysis.failure_rate(
            since="2026-01-13", until="2026-01-14", by="day"
        ),
        "throughput": lambda: demo.analysis.throughput(since="2026-01-13", until="2026-01-14"),
        "concurrency": lambda: demo.analysis.concurrency(since="2026-01-13", until="2026-01-14"),
        "compare_windows": lambda: demo.analysis.compare_windows(
            a=("2026-01-12", "2026-01-13"), b=("2026-01-13", "2026-01-14")
        ),
    }
    for name, call in calls.items():
        seen: list[str] = []

        def keep(sql: str, _params: Any, seen: list[str] = seen) -> None:
            seen.append(sql)

        with demo.tracer(keep):
            call()
        # The transaction's SET LOCAL work_mem comes first; then exactly one query.
        assert seen[0] == f"SET LOCAL work_mem = '{WORK_MEM}'", name
        seen = seen[1:]
        assert len(seen) == 1, name
        if "execution_history" in seen[0]:
            assert "execution_history.time >=" in seen[0], name
            assert "execution_history.time <=" in seen[0], name


def test_history_partitions_are_pruned(demo: attune_nb.Database) -> None:
    # The demo's history is partitioned by day when the schema has partitions: the
    # literal lower bound must leave the older ones out of the plan.
    partitions = demo.scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'attune.execution_history'::regclass"
    )
    if not partitions:
        pytest.skip("this schema's execution_history has no partitions")
    seen: list[tuple[str, Any]] = []
    with demo.tracer(lambda sql, params: seen.append((sql, params))):
        demo.analysis.durations(since="2026-01-13", until="2026-01-14")
    seen = [s for s in seen if not s[0].startswith("SET LOCAL")]
    raw = demo.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN " + seen[0][0], seen[0][1])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.close()
    scanned = plan.count("execution_history_")
    assert 0 < scanned < partitions, plan
