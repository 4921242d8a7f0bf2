"""Failure rate and throughput on hand-built executions whose counts are known.

Rows are inserted with chosen ``created`` times and statuses; the pandas versions
(on ``db.executions.frame``) and ``db.analysis`` (SQL) must both give the answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.analysis import FAILURE_COLUMNS, THROUGHPUT_COLUMNS, failure_rate, throughput
from attune_nb.errors import InvalidFilter

TEN = [
    "requested",
    "scheduling",
    "scheduled",
    "running",
    "completed",
    "failed",
    "canceling",
    "cancelled",
    "timeout",
    "abandoned",
]
ROWS = [
    # (id, action_ref, status, created, original_execution)
    (1, "a.x", "completed", "2026-01-10T10:00:00Z", None),
    (2, "a.x", "failed", "2026-01-10T11:00:00Z", None),
    (3, "b.y", "failed", "2026-01-10T10:30:00Z", None),
    (4, "b.y", "completed", "2026-01-10T10:45:00Z", 3),  # the retry of 3: an attempt of its own
    (5, "d.w", "cancelled", "2026-01-10T10:15:00Z", None),
    (6, "a.x", "timeout", "2026-01-11T01:00:00Z", None),
    (7, "a.x", "cancelled", "2026-01-11T02:00:00Z", None),
    (8, "a.x", "abandoned", "2026-01-11T03:00:00Z", None),
    (9, "a.x", "running", "2026-01-11T04:00:00Z", None),
    (10, "c.z", "completed", "2026-01-13T00:00:00Z", None),  # at until: outside
    (11, "c.z", "failed", "2026-01-09T23:59:59.999999Z", None),  # before since: outside
]
SINCE, UNTIL = "2026-01-10", "2026-01-13"
DAYS = pd.date_range(SINCE, periods=3, freq="D", tz="UTC")


@pytest.fixture
def outcomes(db: attune_nb.Database) -> attune_nb.Database:
    with db.transaction() as conn:
        for i, ref, status, created, original in ROWS:
            conn.execute(
                sa.text(
                    "INSERT INTO attune.execution (id, action_ref, status, created, updated, "
                    "original_execution, retry_count) "
                    "VALUES (:i, :r, :s, :c, :c, :o, CAST(:o IS NOT NULL AS int))"
                ),
                {
                    "i": i,
                    "r": ref,
                    "s": status,
                    "c": created,
                    "o": original,
                    "n": int(original is not None),
                },
            )
    return db


def rates(db: attune_nb.Database, since: Any, until: Any, **options: Any) -> list[pd.DataFrame]:
    frame = db.executions.frame(since=since, until=until, limit=None)
    return [
        failure_rate(frame, since=since, until=until, **options),
        db.analysis.failure_rate(since=since, until=until, **options),
    ]


def flows(db: attune_nb.Database, since: Any, until: Any, **options: Any) -> list[pd.DataFrame]:
    frame = db.executions.frame(since=since, until=until, limit=None)
    return [
        throughput(frame, since=since, until=until, **options),
        db.analysis.throughput(since=since, until=until, **options),
    ]


def counts(frame: pd.DataFrame, columns: list[str]) -> list[list[int]]:
    return [[int(v) for v in row] for row in frame[columns].itertuples(index=False)]


def agree(pair: list[pd.DataFrame]) -> None:
    local, pushed = pair
    pd.testing.assert_frame_equal(local, pushed, check_exact=True)


OUT = ["completed", "failed", "timeout", "cancelled", "abandoned"]


def test_failure_rate_overall(outcomes: attune_nb.Database) -> None:
    for result in rates(outcomes, SINCE, UNTIL):
        assert list(result.columns) == [c.name for c in FAILURE_COLUMNS]
        # completed 1 and 4, failed 2 and 3, timeout 6; cancelled 5, 7; abandoned 8; 9 active.
        assert counts(result, OUT) == [[2, 2, 1, 2, 1]]
        assert result["failure_rate"].iloc[0] == pytest.approx(3 / 5)
        assert str(result.attrs["window"]) == "2026-01-10 00:00 to 2026-01-13 00:00 UTC"
    agree(rates(outcomes, SINCE, UNTIL))


def test_failure_rate_by_action(outcomes: attune_nb.Database) -> None:
    for result in rates(outcomes, SINCE, UNTIL, by="action_ref"):
        assert list(result.columns) == ["action_ref", *OUT, "failure_rate"]
        assert list(result["action_ref"]) == ["a.x", "b.y", "d.w"]
        assert counts(result, OUT) == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 1, 0]]
        assert result["failure_rate"].iloc[0] == pytest.approx(2 / 3)
        assert result["failure_rate"].iloc[1] == 0.5  # the failure and its successful retry
        assert math.isnan(result["failure_rate"].iloc[2])  # only cancelled: no rate
    agree(rates(outcomes, SINCE, UNTIL, by="action_ref"))


def test_failure_rate_by_day_includes_empty_days(outcomes: attune_nb.Database) -> None:
    for result in rates(outcomes, SINCE, UNTIL, by="day"):
        assert list(result.columns) == ["day", *OUT, "failure_rate"]
        assert list(result["day"]) == list(DAYS)
        assert str(result["day"].dtype) == "datetime64[ns, UTC]"
        assert counts(result, OUT) == [[2, 2, 0, 1, 0], [0, 0, 1, 1, 1], [0, 0, 0, 0, 0]]
        assert list(result["failure_rate"].iloc[:2]) == [0.5, 1.0]
        assert math.isnan(result["failure_rate"].iloc[2])
    agree(rates(outcomes, SINCE, UNTIL, by="day"))


def test_failure_rate_of_an_empty_window(outcomes: attune_nb.Database) -> None:
    for result in rates(outcomes, "2026-02-01", "2026-02-02"):
        assert counts(result, OUT) == [[0, 0, 0, 0, 0]] and math.isnan(
            result["failure_rate"].iloc[0]
        )
    for by in ("action_ref", "day"):
        for result in rates(outcomes, "2026-02-01", "2026-02-01", by=by):
            assert result.empty and list(result.columns) == [by, *OUT, "failure_rate"]


def test_failure_rate_with_filters(outcomes: attune_nb.Database) -> None:
    frame = outcomes.executions.frame(action_ref="b.y", limit=None)
    local = failure_rate(frame, since=SINCE, until=UNTIL)
    pushed = outcomes.analysis.failure_rate(since=SINCE, until=UNTIL, action_ref="b.y")
    pd.testing.assert_frame_equal(local, pushed, check_exact=True)
    assert counts(pushed, OUT) == [[1, 1, 0, 0, 0]]


def test_throughput_per_day(outcomes: attune_nb.Database) -> None:
    for result in flows(outcomes, SINCE, UNTIL, freq="day"):
        assert (
            list(result.columns)
            == [c.name for c in THROUGHPUT_COLUMNS]
            == ["bucket", *TEN, "total"]
        )
        assert list(result["bucket"]) == list(DAYS)
        day1 = dict.fromkeys(TEN, 0) | {"completed": 2, "failed": 2, "cancelled": 1}
        day2 = dict.fromkeys(TEN, 0) | {"timeout": 1, "cancelled": 1, "abandoned": 1, "running": 1}
        assert counts(result, [*TEN, "total"]) == [
            [*day1.values(), 5],
            [*day2.values(), 4],
            [0] * 11,
        ]
    agree(flows(outcomes, SINCE, UNTIL, freq="day"))


def test_throughput_per_hour_starts_at_the_truncated_hour(outcomes: attune_nb.Database) -> None:
    since, until = "2026-01-10T09:30:00Z", "2026-01-10T12:00:00Z"
    for result in flows(outcomes, since, until):
        assert list(result["bucket"]) == list(
            pd.date_range("2026-01-10T09:00:00Z", periods=3, freq="h")
        )
        assert list(result["total"]) == [0, 4, 1]
        assert list(result["completed"]) == [0, 2, 0]
        assert list(result["failed"]) == [0, 1, 1]
        assert list(result["cancelled"]) == [0, 1, 0]
        assert result.attrs["window"].since == pd.Timestamp(since)
    agree(flows(outcomes, since, until))


def test_throughput_of_an_empty_window(outcomes: attune_nb.Database) -> None:
    for result in flows(outcomes, "2026-01-10T10:20:00Z", "2026-01-10T10:20:00Z"):
        assert result.empty and list(result.columns) == ["bucket", *TEN, "total"]
    # A window with no executions: every bucket, all zeros.
    for result in flows(outcomes, "2026-02-01", "2026-02-01T03:00:00Z"):
        assert len(result) == 3 and int(result["total"].sum()) == 0


@pytest.mark.parametrize(
    ("function", "option", "value"),
    [
        ("failure_rate", "by", "week"),
        ("failure_rate", "by", "status"),
        ("throughput", "freq", "week"),
        ("throughput", "freq", "h"),
        ("throughput", "freq", None),
    ],
    ids=["by-week", "by-status", "freq-week", "freq-h", "freq-none"],
)
def test_unknown_options_are_refused(
    outcomes: attune_nb.Database, function: str, option: str, value: Any
) -> None:
    functions: dict[str, Callable[..., pd.DataFrame]] = {
        "failure_rate": failure_rate,
        "throughput": throughput,
    }
    local = functions[function]
    pushed = getattr(outcomes.analysis, function)
    frame = outcomes.executions.frame()
    for call in (lambda **kw: local(frame, **kw), pushed):
        with pytest.raises(InvalidFilter) as info:
            call(since=SINCE, until=UNTIL, **{option: value})
        assert (info.value.name, info.value.value) == (option, value)
        assert "'day'" in info.value.allowed


def test_reversed_and_unparseable_windows_are_refused(outcomes: attune_nb.Database) -> None:
    frame = outcomes.executions.frame()
    for call in (
        lambda **kw: failure_rate(frame, **kw),
        lambda **kw: throughput(frame, **kw),
        outcomes.analysis.failure_rate,
        outcomes.analysis.throughput,
    ):
        with pytest.raises(InvalidFilter) as info:
            call(since=UNTIL, until=SINCE)
        assert info.value.name == "since"
        with pytest.raises(InvalidFilter) as info:
            call(since=SINCE, until="the day after")
        assert (info.value.name, info.value.value) == ("until", "the day after")


# The executions of `outcomes` have no history rows: intervals() says so, as it should.
@pytest.mark.filterwarnings("ignore::attune_nb.SkippedRowsWarning")
def test_not_an_execution_frame_is_refused(outcomes: attune_nb.Database) -> None:
    with pytest.raises(InvalidFilter) as info:
        failure_rate(outcomes.executions.intervals(), since=SINCE, until=UNTIL)
    assert info.value.name == "executions"
