"""Durations and outliers from hand-built histories whose answers are known exactly.

Each execution's history is written row by row with chosen times (the trigger's own
rows are removed), so every wait, run time and percentile below is computed by hand.
Both the pandas version and ``db.analysis.durations`` (SQL) must give it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.analysis import DURATION_COLUMNS, OUTLIER_COLUMNS, durations, outliers
from attune_nb.errors import InvalidFilter

T0 = pd.Timestamp("2026-01-10T00:00:00Z")
HOUR = pd.Timedelta(hours=1)


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def record(db: attune_nb.Database, execution_id: int, ref: str, *steps: tuple[str, float]) -> None:
    """Execution ``execution_id`` whose history is exactly ``steps`` ((status, seconds
    after T0), the first one its creation)."""
    first, last = at(steps[0][1]), at(steps[-1][1])
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO attune.execution (id, action_ref, status, created, updated) "
                "VALUES (:i, :r, :s, :c, :u)"
            ),
            {"i": execution_id, "r": ref, "s": steps[-1][0], "c": first, "u": last},
        )
        conn.execute(
            sa.text("DELETE FROM attune.execution_history WHERE entity_id = :i"),
            {"i": execution_id},
        )
        previous = None
        for status, seconds in steps:
            conn.execute(
                sa.text(
                    "INSERT INTO attune.execution_history "
                    "(time, operation, entity_id, entity_ref, changed_fields, old_values, "
                    "new_values) "
                    "VALUES (:t, :op, :i, :r, CAST(:f AS text[]), "
                    "CASE WHEN CAST(:old AS text) IS NULL THEN NULL "
                    "ELSE jsonb_build_object('status', CAST(:old AS text)) END, "
                    "jsonb_build_object('status', CAST(:new AS text)))"
                ),
                {
                    "t": at(seconds),
                    "op": "INSERT" if previous is None else "UPDATE",
                    "i": execution_id,
                    "r": ref,
                    "f": "{}" if previous is None else "{status}",
                    "old": previous,
                    "new": status,
                },
            )
            previous = status


def s(seconds: float) -> pd.Timedelta:
    return pd.Timedelta(seconds=seconds)


@pytest.fixture
def history(db: attune_nb.Database) -> attune_nb.Database:
    # a.x: queue waits 4, 2, 6 s; run times 10, 5, 20 s; one still requested.
    record(
        db,
        1,
        "a.x",
        ("requested", 0),
        ("scheduling", 1),
        ("scheduled", 2),
        ("running", 4),
        ("completed", 14),
    )
    record(db, 2, "a.x", ("requested", 0), ("running", 2), ("failed", 7))
    record(db, 3, "a.x", ("requested", 0), ("running", 6), ("completed", 26))
    record(db, 4, "a.x", ("requested", 0))
    # b.y: cancelled before it ran: counted, no durations at all.
    record(db, 5, "b.y", ("requested", 10), ("cancelled", 11))
    # c.z: waits of 1, 2, 4, 7 microseconds: p95 is 6.55 us exactly.
    for i, us in enumerate((1, 2, 4, 7)):
        record(db, 10 + i, "c.z", ("requested", 100), ("running", 100 + us / 1e6))
    # Outside the window [T0, T0 + 1 h): before it, and at its (exclusive) end.
    record(db, 20, "a.x", ("requested", -60), ("running", 0), ("completed", 1000))
    record(db, 21, "a.x", ("requested", 3600), ("running", 3601), ("completed", 3700))
    return db


def both(db: attune_nb.Database, since: Any, until: Any, **filters: Any) -> list[pd.DataFrame]:
    """The pandas answer (from intervals) and the SQL one, for the same selection."""
    intervals = db.executions.intervals(since=since, until=until, **filters)
    return [
        durations(intervals, since=since, until=until),
        db.analysis.durations(since=since, until=until, **filters),
    ]


EXPECTED: dict[str, tuple[int, list[Any], list[Any]]] = {
    "a.x": (4, [s(4), s(5.6), s(5.8), s(5.96), s(6)], [s(10), s(18), s(19), s(19.8), s(20)]),
    "b.y": (1, [pd.NaT] * 5, [pd.NaT] * 5),
    "c.z": (
        4,
        [pd.Timedelta(nanoseconds=n) for n in (3000, 6100, 6550, 6910, 7000)],
        [pd.NaT] * 5,
    ),
}


def plain(values: list[Any]) -> list[Any]:
    return [None if pd.isna(v) else v for v in values]


def test_durations_per_action_computed_by_hand(history: attune_nb.Database) -> None:
    for result in both(history, T0, T0 + HOUR):
        assert [c.name for c in DURATION_COLUMNS] == list(result.columns)
        assert list(result["action_ref"]) == ["a.x", "b.y", "c.z"]
        for _, row in result.iterrows():
            count, waits, runs = EXPECTED[row["action_ref"]]
            assert row["count"] == count
            stats = ("p50", "p90", "p95", "p99", "max")
            assert plain([row[f"queue_wait_{x}"] for x in stats]) == plain(waits)
            assert plain([row[f"run_time_{x}"] for x in stats]) == plain(runs)
        assert str(result.attrs["window"]) == "2026-01-10 00:00 to 2026-01-10 01:00 UTC"
    pandas_result, sql_result = both(history, T0, T0 + HOUR)
    pd.testing.assert_frame_equal(pandas_result, sql_result, check_exact=True)


def test_dtypes_follow_the_layout(history: attune_nb.Database) -> None:
    for result in both(history, T0, T0 + HOUR):
        assert {c.name: str(c.dtype) for c in DURATION_COLUMNS} == {
            k: str(v) for k, v in result.dtypes.items()
        }
        assert result["queue_wait_p50"].dtype == np.dtype("timedelta64[ns]")


def test_an_empty_window_has_the_layout_and_no_rows(history: attune_nb.Database) -> None:
    for result in [*both(history, at(5000), at(9000)), *both(history, T0, T0)]:
        assert result.empty
        assert list(result.columns) == [c.name for c in DURATION_COLUMNS]
        assert result["count"].dtype == "Int64"


def test_a_window_that_excludes_some_rows(history: attune_nb.Database) -> None:
    # From T0 - 1 min: execution 20 (created at -60 s) now counts; 21 (at +1 h) still not.
    for result in both(history, at(-60), T0 + HOUR, action_ref="a.x"):
        assert list(result["action_ref"]) == ["a.x"]
        assert result["count"].iloc[0] == 5
        assert result["queue_wait_max"].iloc[0] == s(60)
        assert result["run_time_max"].iloc[0] == s(1000)


def test_filters_select_executions(history: attune_nb.Database) -> None:
    for result in both(history, T0, T0 + HOUR, action_ref=["b.y", "c.*"]):
        assert list(result["action_ref"]) == ["b.y", "c.z"]


@pytest.mark.parametrize(
    ("since", "until", "name"),
    [
        ("2026-01-11", "2026-01-10", "since"),
        ("soon", "2026-01-10", "since"),
        ("2026-01-10", 5, "until"),
    ],
    ids=["reversed", "unparseable", "not-a-time"],
)
def test_bad_windows_are_refused(
    history: attune_nb.Database, since: Any, until: Any, name: str
) -> None:
    with pytest.raises(InvalidFilter) as info:
        durations(history.executions.intervals(), since=since, until=until)
    assert info.value.name == name
    with pytest.raises(InvalidFilter) as info:
        history.analysis.durations(since=since, until=until)
    assert info.value.name == name


def test_not_an_intervals_frame_is_refused(history: attune_nb.Database) -> None:
    with pytest.raises(InvalidFilter) as info:
        durations(history.executions.frame(), since=T0, until=T0 + HOUR)
    assert info.value.name == "intervals" and "entered" in info.value.allowed


def test_bad_filters_are_refused(history: attune_nb.Database) -> None:
    with pytest.raises(InvalidFilter) as info:
        history.analysis.durations(since=T0, until=T0 + HOUR, pack="a.x")
    assert info.value.name == "pack"


# -- outliers -----------------------------------------------------------------------------


@pytest.fixture
def slow(db: attune_nb.Database) -> attune_nb.Database:
    # Reference window [T0, T0 + 1 h): run times 10, 20, 30, 40, 50 s; p99 is 49.6 s.
    for i, run in enumerate((10, 20, 30, 40, 50)):
        record(db, 1 + i, "a.x", ("requested", 0), ("running", 1), ("completed", 1 + run))
    # Window [T0 + 1 h, T0 + 2 h): 60 s (an outlier), 45 s, one still running, one other action.
    record(db, 10, "a.x", ("requested", 3600), ("running", 3601), ("failed", 3661))
    record(db, 11, "a.x", ("requested", 3600), ("running", 3601), ("completed", 3646))
    record(db, 12, "a.x", ("requested", 3600), ("running", 3601))
    record(db, 13, "b.y", ("requested", 3600), ("running", 3601), ("completed", 9000))
    return db


def test_outliers_against_the_reference_p99(slow: attune_nb.Database) -> None:
    found = outliers(
        slow.executions.intervals(),
        since=T0 + HOUR,
        until=T0 + 2 * HOUR,
        reference_since=T0,
        reference_until=T0 + HOUR,
    )
    assert list(found.columns) == [c.name for c in OUTLIER_COLUMNS]
    # b.y has no reference run: never an outlier.
    assert list(found["execution_id"]) == [10]
    row = found.iloc[0]
    assert row["run_time"] == s(60) and row["reference"] == s(49.6)
    assert row["ratio"] == pytest.approx(60 / 49.6)
    assert str(found.attrs["window"]) == "2026-01-10 01:00 to 2026-01-10 02:00 UTC"
    assert str(found.attrs["reference_window"]) == "2026-01-10 00:00 to 2026-01-10 01:00 UTC"


def test_outliers_at_another_quantile_slowest_first(slow: attune_nb.Database) -> None:
    found = outliers(
        slow.executions.intervals(),
        since=T0 + HOUR,
        until=T0 + 2 * HOUR,
        reference_since=T0,
        reference_until=T0 + HOUR,
        quantile=0.5,
    )
    assert list(found["execution_id"]) == [10, 11]
    assert list(found["ratio"]) == [2.0, 1.5]
    assert (found["reference"] == s(30)).all()


def test_outliers_of_an_empty_window(slow: attune_nb.Database) -> None:
    found = outliers(
        slow.executions.intervals(),
        since=T0 + 5 * HOUR,
        until=T0 + 6 * HOUR,
        reference_since=T0,
        reference_until=T0 + HOUR,
    )
    assert found.empty and list(found.columns) == [c.name for c in OUTLIER_COLUMNS]
    assert found["ratio"].dtype == "float64"


@pytest.mark.parametrize(
    "quantile", [1.5, -0.1, "p99", True], ids=["above", "below", "str", "bool"]
)
def test_outliers_refuse_a_bad_quantile(slow: attune_nb.Database, quantile: Any) -> None:
    with pytest.raises(InvalidFilter) as info:
        outliers(
            slow.executions.intervals(),
            since=T0,
            until=T0 + HOUR,
            reference_since=T0,
            reference_until=T0 + HOUR,
            quantile=quantile,
        )
    assert info.value.name == "quantile"


def test_outliers_name_the_reference_window_in_errors(slow: attune_nb.Database) -> None:
    with pytest.raises(InvalidFilter) as info:
        outliers(
            slow.executions.intervals(),
            since=T0,
            until=T0 + HOUR,
            reference_since=T0 + HOUR,
            reference_until=T0,
        )
    assert info.value.name == "reference_since"
