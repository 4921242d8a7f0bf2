"""Comparing two windows on a hand-built history: what got worse, worst first.

Both ``compare_windows`` (pandas, on intervals) and ``db.analysis.compare_windows``
(SQL) must give the numbers computed here by hand.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from test_analysis_durations import HOUR, T0, record

import attune_nb
from attune_nb.analysis import COMPARE_COLUMNS, compare_windows, window
from attune_nb.errors import InvalidFilter

A = (T0, T0 + HOUR)
B = (T0 + HOUR, T0 + 2 * HOUR)


def s(seconds: float) -> pd.Timedelta:
    return pd.Timedelta(seconds=seconds)


def run(
    db: attune_nb.Database, execution_id: int, ref: str, start: float, seconds: float, end: str
) -> None:
    record(
        db,
        execution_id,
        ref,
        ("requested", start),
        ("running", start + 1),
        (end, start + 1 + seconds),
    )


@pytest.fixture
def two_windows(db: attune_nb.Database) -> attune_nb.Database:
    # a.x got worse: A completed 10 s, failed 5 s; B failed 20 s, timed out after 40 s.
    run(db, 1, "a.x", 0, 10, "completed")
    run(db, 2, "a.x", 10, 5, "failed")
    run(db, 3, "a.x", 3600, 20, "failed")
    run(db, 4, "a.x", 3610, 40, "timeout")
    # b.y slower (2 s -> 3 s), d.w faster (10 s -> 5 s), both never failing.
    run(db, 5, "b.y", 0, 2, "completed")
    run(db, 6, "b.y", 3600, 3, "completed")
    run(db, 7, "d.w", 0, 10, "completed")
    run(db, 8, "d.w", 3600, 5, "completed")
    # c.z is new in B.
    run(db, 9, "c.z", 3600, 1, "completed")
    return db


def both(db: attune_nb.Database, **options: Any) -> list[pd.DataFrame]:
    return [
        compare_windows(db.executions.intervals(), a=A, b=B),
        db.analysis.compare_windows(a=A, b=B, **options),
    ]


def test_compare_computed_by_hand_worst_first(two_windows: attune_nb.Database) -> None:
    for result in both(two_windows):
        assert list(result.columns) == [c.name for c in COMPARE_COLUMNS]
        assert list(result["action_ref"]) == ["a.x", "b.y", "d.w", "c.z"]
        x = result.iloc[0]
        assert (x["count_a"], x["count_b"]) == (2, 2)
        assert (x["failure_rate_a"], x["failure_rate_b"], x["failure_rate_change"]) == (
            0.5,
            1.0,
            0.5,
        )
        assert (x["run_time_p50_a"], x["run_time_p50_b"]) == (s(7.5), s(30))
        assert (x["run_time_p95_a"], x["run_time_p95_b"]) == (s(9.75), s(39))
        assert x["p95_ratio"] == pytest.approx(4.0)
        assert list(result["p95_ratio"].iloc[1:3]) == [1.5, 0.5]
        assert list(result["failure_rate_change"].iloc[1:3]) == [0.0, 0.0]
        new = result.iloc[3]
        assert (new["count_a"], new["count_b"]) == (0, 1)
        assert math.isnan(new["failure_rate_a"]) and math.isnan(new["failure_rate_change"])
        assert pd.isna(new["run_time_p95_a"]) and math.isnan(new["p95_ratio"])
        assert result.attrs["windows"] == (window(*A), window(*B))
    local, pushed = both(two_windows)
    pd.testing.assert_frame_equal(local, pushed, check_exact=True)


def test_compare_takes_windows_and_a_second_frame(two_windows: attune_nb.Database) -> None:
    first = two_windows.executions.intervals(until=T0 + HOUR)
    second = two_windows.executions.intervals(since=T0 + HOUR)
    split = compare_windows(first, a=window(*A), b=window(*B), intervals_b=second)
    whole = compare_windows(two_windows.executions.intervals(), a=A, b=B)
    pd.testing.assert_frame_equal(split, whole)


def test_compare_with_filters(two_windows: attune_nb.Database) -> None:
    local = compare_windows(two_windows.executions.intervals(action_ref=["b.y", "d.w"]), a=A, b=B)
    pushed = two_windows.analysis.compare_windows(a=A, b=B, action_ref=["b.y", "d.w"])
    pd.testing.assert_frame_equal(local, pushed, check_exact=True)
    assert list(pushed["action_ref"]) == ["b.y", "d.w"]


def test_compare_two_empty_windows(two_windows: attune_nb.Database) -> None:
    later = (T0 + 5 * HOUR, T0 + 6 * HOUR)
    for result in (
        compare_windows(two_windows.executions.intervals(), a=later, b=later),
        two_windows.analysis.compare_windows(a=later, b=later),
    ):
        assert result.empty and list(result.columns) == [c.name for c in COMPARE_COLUMNS]
        assert result.attrs["windows"] == (window(*later), window(*later))


@pytest.mark.parametrize(
    ("a", "name"),
    [("2026-01-10", "a"), ((T0,), "a"), ((T0 + HOUR, T0), "a[0]"), ((T0, "later"), "a[1]")],
    ids=["string", "one-time", "reversed", "unparseable"],
)
def test_bad_windows_are_refused(two_windows: attune_nb.Database, a: Any, name: str) -> None:
    for call in (
        lambda **kw: compare_windows(two_windows.executions.intervals(), **kw),
        two_windows.analysis.compare_windows,
    ):
        with pytest.raises(InvalidFilter) as info:
            call(a=a, b=B)
        assert info.value.name == name
