"""analysis.concurrency: counts per active status as a step function, on hand-built histories.

Each execution's history is written with exact times (seconds after T0), so every
count and instant is known by construction.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import attune_nb
from attune_nb.analysis.concurrency import CONCURRENCY_COLUMNS, concurrency, concurrency_layout
from attune_nb.analysis.window import Window
from attune_nb.errors import InvalidFilter
from attune_nb.testing import write_history

T0 = pd.Timestamp("2026-01-10T00:00:00Z")


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def story(db: attune_nb.Database, ref: str, *steps: tuple[str, float], **columns: Any) -> int:
    """An execution whose history is exactly ``steps`` ((status, seconds after T0), in order)."""
    return write_history(db, ref, *steps, start=T0, **columns)


@pytest.fixture
def two(db: attune_nb.Database) -> pd.DataFrame:
    """A: requested 0, scheduling 10, running 20, completed 50. B: requested 5, running 30 (now)."""
    story(db, "core.a", ("requested", 0), ("scheduling", 10), ("running", 20), ("completed", 50))
    story(db, "core.b", ("requested", 5), ("running", 30))
    return db.executions.intervals()


def rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    offsets = (frame["time"] - T0).dt.total_seconds().round().astype(int).tolist()
    counts = frame.drop(columns="time").astype(int).to_numpy().tolist()
    return [(t, *c) for t, c in zip(offsets, counts, strict=True)]


def test_counts_change_where_an_interval_starts_or_ends(two: pd.DataFrame) -> None:
    steps = concurrency(two, since=T0, until=at(60))
    assert list(steps.columns) == [c.name for c in CONCURRENCY_COLUMNS]
    assert list(steps.columns) == [
        "time", "requested", "scheduling", "scheduled", "running", "canceling",
    ]  # fmt: skip
    assert rows(steps) == [
        # time, requested, scheduling, scheduled, running, canceling
        (0, 1, 0, 0, 0, 0),
        (5, 2, 0, 0, 0, 0),
        (10, 1, 1, 0, 0, 0),
        (20, 1, 0, 0, 1, 0),
        (30, 0, 0, 0, 2, 0),
        (50, 0, 0, 0, 1, 0),  # B is still running at the window's end
    ]
    assert [steps[c.name].dtype for c in CONCURRENCY_COLUMNS] == [
        c.dtype for c in CONCURRENCY_COLUMNS
    ]
    assert steps.attrs["window"] == Window(T0, at(60))


def test_the_window_clips_and_its_start_is_the_first_row(two: pd.DataFrame) -> None:
    steps = concurrency(two, since=at(15).isoformat(), until=at(40).to_pydatetime())
    assert rows(steps) == [(15, 1, 1, 0, 0, 0), (20, 1, 0, 0, 1, 0), (30, 0, 0, 0, 2, 0)]
    before = concurrency(two, since=at(-100), until=at(-50))
    assert rows(before) == [(-100, 0, 0, 0, 0, 0)]


def test_an_open_interval_lasts_until_now_when_given(two: pd.DataFrame) -> None:
    steps = concurrency(two, since=T0, until=at(60), now=at(40))
    assert rows(steps)[-2:] == [(40, 0, 0, 0, 1, 0), (50, 0, 0, 0, 0, 0)]


def test_chosen_statuses_come_in_lifecycle_order(two: pd.DataFrame) -> None:
    steps = concurrency(two, since=T0, until=at(60), statuses=["running", "requested"])
    assert list(steps.columns) == ["time", "requested", "running"]
    assert rows(steps) == [(0, 1, 0), (5, 2, 0), (10, 1, 0), (20, 1, 1), (30, 0, 2), (50, 0, 1)]
    done = concurrency(two, since=T0, until=at(60), statuses="completed")
    assert rows(done) == [(0, 0), (50, 1)]
    assert [c.name for c in concurrency_layout("running")] == ["time", "running"]


def test_with_freq_each_bucket_has_its_peak(db: attune_nb.Database) -> None:
    # A: requested 0, running 90, completed 150. B: requested 30, running 40, completed 70.
    story(db, "core.a", ("requested", 0), ("running", 90), ("completed", 150))
    story(db, "core.b", ("requested", 30), ("running", 40), ("completed", 70))
    options: dict[str, Any] = {
        "since": at(20), "until": at(200), "statuses": ["requested", "running"], "freq": "minute"
    }  # fmt: skip
    peaks = concurrency(db.executions.intervals(), **options)
    assert rows(peaks) == [
        # bucket start, peak requested, peak running
        (0, 2, 1),  # [20 s, 60 s): A and B requested at 30 s; B running from 40 s
        (60, 1, 1),  # in force at 60 s: A requested, B running; then B ends, A runs
        (120, 0, 1),  # A runs until 150 s
        (180, 0, 0),  # [180 s, 200 s): nothing
    ]
    assert peaks.attrs == {"window": Window(at(20), at(200)), "freq": "minute"}
    assert [peaks[c].dtype for c in peaks.columns] == [c.dtype for c in concurrency_layout(
        ["requested", "running"])]  # fmt: skip
    pushed = db.analysis.concurrency(**options)
    pd.testing.assert_frame_equal(peaks, pushed, check_exact=True)
    assert pushed.attrs == peaks.attrs
    hourly = db.analysis.concurrency(since=at(20), until=at(200), freq="hour")
    assert rows(hourly) == [(0, 2, 0, 0, 1, 0)]


def test_with_freq_an_empty_window_and_a_bad_freq(db: attune_nb.Database) -> None:
    empty = db.analysis.concurrency(since=T0, until=T0, freq="minute")
    assert empty.empty and empty.attrs["freq"] == "minute"
    for bad in ("week", "1min", 60):
        with pytest.raises(InvalidFilter, match="'minute', 'hour' or 'day'") as info:
            db.analysis.concurrency(since=T0, until=at(60), freq=bad)  # type: ignore[arg-type]
        assert info.value.name == "freq"
        with pytest.raises(InvalidFilter, match="freq"):
            concurrency(db.executions.intervals(), since=T0, until=at(60), freq=bad)  # type: ignore[arg-type]


def test_an_empty_history_and_an_empty_window(db: attune_nb.Database) -> None:
    nothing = concurrency(db.executions.intervals(), since=T0, until=at(60))
    assert rows(nothing) == [(0, 0, 0, 0, 0, 0)]
    empty = concurrency(db.executions.intervals(), since=T0, until=T0)
    assert empty.empty and list(empty.columns) == [c.name for c in CONCURRENCY_COLUMNS]
    assert [empty[c.name].dtype for c in CONCURRENCY_COLUMNS] == [
        c.dtype for c in CONCURRENCY_COLUMNS
    ]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        pytest.param({"since": at(60), "until": T0}, "since", id="since-after-until"),
        pytest.param({"since": "soon", "until": T0}, "since", id="not-a-time"),
        pytest.param({"since": T0, "until": at(1), "statuses": ["done"]}, "statuses", id="status"),
        pytest.param({"since": T0, "until": at(1), "statuses": []}, "statuses", id="no-status"),
        pytest.param({"since": T0, "until": at(1), "now": 5}, "now", id="now"),
    ],
)
def test_bad_options_are_refused(two: pd.DataFrame, options: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        concurrency(two, **options)
    assert info.value.name == name


def test_a_frame_without_interval_columns_is_refused(two: pd.DataFrame) -> None:
    with pytest.raises(InvalidFilter, match="intervals"):
        concurrency(two.drop(columns="left"), since=T0, until=at(1))
    with pytest.raises(InvalidFilter, match="DataFrame"):
        concurrency([1, 2], since=T0, until=at(1))  # type: ignore[arg-type]


def test_a_freq_that_makes_too_many_buckets_is_refused(db: attune_nb.Database) -> None:
    since, until = "2000-01-01", "2026-01-01"  # 26 years by the minute: 13.7 million
    with pytest.raises(InvalidFilter, match="at most 1,000,000 buckets") as info:
        db.analysis.concurrency(since=since, until=until, freq="minute")
    assert info.value.name == "freq"
    with pytest.raises(InvalidFilter, match="at most 1,000,000 buckets"):
        concurrency(db.executions.intervals(), since=since, until=until, freq="minute")
    with pytest.raises(InvalidFilter, match="at most 1,000,000 buckets"):
        db.analysis.throughput(since=since, until=until, freq="minute")
    days = db.analysis.concurrency(since=since, until=until, freq="day")
    assert len(days) == 9497  # days from 2000-01-01 to 2026-01-01
