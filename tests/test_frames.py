"""The fixed layout of execution frames: column order and dtypes, also when empty.

Derived columns (queue_wait, run_time) are checked against rows whose times are
set exactly with SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.frames import (
    EXECUTION_COLUMNS,
    HIERARCHY_COLUMNS,
    INQUIRY_COLUMNS,
    INQUIRY_JSON_COLUMNS,
    JSON_COLUMNS,
    STATUS_DTYPE,
    inquiry_layout,
)
from attune_nb.lifecycle import ExecutionStatus
from attune_nb.testing import ThrowawayServer

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
UTC_NS = "datetime64[ns, UTC]"
LAYOUT = {  # the documented execution layout, in order
    "id": "Int64",
    "action_ref": "string",
    "status": "category",
    "parent": "Int64",
    "enforcement": "Int64",
    "rule_ref": "string",
    "trigger_ref": "string",
    "executor": "Int64",
    "worker": "Int64",
    "action": "Int64",
    "workflow_def": "Int64",
    "created": UTC_NS,
    "started_at": UTC_NS,
    "updated": UTC_NS,
    "queue_wait": "timedelta64[ns]",
    "run_time": "timedelta64[ns]",
    "timeout_seconds": "Int64",
    "retry_count": "Int64",
    "max_retries": "Int64",
    "retry_reason": "string",
    "original_execution": "Int64",
    "trace_tag": "string",
}


def sql(db: attune_nb.Database, statement: str, **params: Any) -> None:
    with db.transaction() as conn:
        conn.execute(sa.text(statement), params)


def test_execution_columns_are_the_documented_ones() -> None:
    assert [c.name for c in EXECUTION_COLUMNS] == list(LAYOUT)
    assert JSON_COLUMNS == ("config", "result", "env_vars", "workflow_task")


def test_column_order_and_dtypes(db: attune_nb.Database) -> None:
    db.executions.create("core.echo", trace_tag="t-1", retry_reason="first")
    frame = db.executions.frame()
    assert list(frame.columns) == list(LAYOUT)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == LAYOUT


def test_status_is_an_ordered_categorical_of_all_ten(db: attune_nb.Database) -> None:
    db.executions.create("core.echo", status="failed")
    status = db.executions.frame()["status"]
    assert status.dtype == STATUS_DTYPE
    assert status.cat.ordered
    assert list(status.cat.categories) == TEN
    assert [s.value for s in ExecutionStatus] == TEN


def test_sorting_by_status_follows_the_lifecycle(db: attune_nb.Database) -> None:
    for status in (
        "abandoned",
        "completed",
        "requested",
        "timeout",
        "canceling",
        "running",
        "cancelled",
        "scheduled",
        "failed",
        "scheduling",
    ):
        db.executions.create("core.echo", status=status)
    frame = db.executions.frame().sort_values("status")
    assert list(frame["status"].astype(str)) == TEN
    assert frame["status"].min() == "requested" and frame["status"].max() == "abandoned"
    assert (frame["status"] > "running").sum() == 6


@pytest.mark.parametrize(
    "filters",
    [{"status": "abandoned"}, {"action_ref": "none.*"}, {"limit": 0}],
    ids=["no-match", "no-ref", "limit-zero"],
)
def test_an_empty_frame_has_the_same_layout(
    db: attune_nb.Database, filters: dict[str, Any]
) -> None:
    db.executions.create("core.echo", status="running", started_at="2026-01-10T12:00:00Z")
    full = db.executions.frame(include=JSON_COLUMNS)
    empty = db.executions.frame(include=JSON_COLUMNS, **filters)
    assert empty.empty
    pd.testing.assert_series_equal(empty.dtypes, full.dtypes)
    assert empty["status"].dtype == STATUS_DTYPE


def test_an_empty_database_gives_the_same_layout(db: attune_nb.Database) -> None:
    empty = db.executions.frame()
    db.executions.create("core.echo")
    pd.testing.assert_series_equal(empty.dtypes, db.executions.frame().dtypes)


def test_children_and_intervals_keep_their_layout_when_empty(db: attune_nb.Database) -> None:
    root = db.executions.create("wf.root")
    no_children = db.executions.children(root.id)
    no_intervals = db.executions.intervals(status="failed")
    db.executions.create("wf.step", parent=root.id)
    pd.testing.assert_series_equal(no_children.dtypes, db.executions.children(root.id).dtypes)
    pd.testing.assert_series_equal(no_intervals.dtypes, db.executions.intervals().dtypes)
    assert list(no_children.columns) == list(LAYOUT)


def test_hierarchy_and_history_layouts(db: attune_nb.Database) -> None:
    root = db.executions.create("wf.root")
    step = db.executions.create("wf.step", parent=root.id)
    down = db.executions.descendants(root.id, include=["config"])
    assert list(down.columns) == [*LAYOUT, "config", *(c.name for c in HIERARCHY_COLUMNS)]
    assert {n: str(down[n].dtype) for n in ("depth", "path", "root", "orphan", "cycle")} == {
        "depth": "Int64",
        "path": "object",
        "root": "Int64",
        "orphan": "boolean",
        "cycle": "boolean",
    }
    assert down["path"].tolist() == [[root.id], [root.id, step.id]]
    pd.testing.assert_series_equal(
        db.executions.ancestors(root.id).dtypes, down.drop(columns="config").dtypes
    )
    history = db.executions.history(root.id)
    assert list(history.columns) == [
        "time",
        "operation",
        "changed_fields",
        "old_status",
        "new_status",
        "old_values",
        "new_values",
    ]
    assert str(history["time"].dtype) == UTC_NS
    assert history["new_status"].dtype == STATUS_DTYPE
    intervals = db.executions.intervals()
    assert list(intervals.columns) == [
        "execution_id",
        "action_ref",
        "status",
        "seq",
        "entered",
        "left",
        "duration",
        "current",
    ]
    assert {n: str(d) for n, d in intervals.dtypes.items()} == {
        "execution_id": "Int64",
        "action_ref": "string",
        "status": "category",
        "seq": "Int64",
        "entered": UTC_NS,
        "left": UTC_NS,
        "duration": "timedelta64[ns]",
        "current": "boolean",
    }


def test_timestamps_are_utc_and_exact(db: attune_nb.Database) -> None:
    created = db.executions.create(
        "core.echo", status="running", started_at="2026-01-10T14:00:00.123456+02:00"
    )
    row = db.executions.frame().iloc[0]
    assert created.created is not None and created.updated is not None
    assert row["created"] == pd.Timestamp(created.created)
    assert row["updated"] == pd.Timestamp(created.updated)
    assert row["started_at"] == pd.Timestamp("2026-01-10T12:00:00.123456Z")
    assert str(row["started_at"].tz) == "UTC"


# Times set exactly: the derived columns are plain arithmetic on them.
DERIVED_ROWS = """
INSERT INTO attune.execution (id, action_ref, status, created, started_at, updated) VALUES
    (1, 'd.completed', 'completed', '2026-01-10 10:00:00Z', '2026-01-10 10:00:05Z',
                                    '2026-01-10 10:01:05Z'),
    (2, 'd.running',   'running',   '2026-01-10 10:00:00Z', '2026-01-10 10:00:30Z',
                                    '2026-01-10 10:00:30Z'),
    (3, 'd.failed',    'failed',    '2026-01-10 10:00:00Z', NULL, '2026-01-10 10:00:02Z'),
    (4, 'd.requested', 'requested', '2026-01-10 10:00:00Z', NULL, '2026-01-10 10:00:00Z'),
    (5, 'd.cancelled', 'cancelled', '2026-01-10 10:00:00Z', '2026-01-10 10:00:01Z',
                                    '2026-01-10 11:00:01Z'),
    (6, 'd.canceling', 'canceling', '2026-01-10 10:00:00Z', '2026-01-10 10:00:01Z',
                                    '2026-01-10 10:30:00Z'),
    (7, 'd.timeout',   'timeout',   '2026-01-10 10:00:00Z', '2026-01-10 10:00:00.5Z',
                                    '2026-01-10 10:10:00.5Z')
"""


@pytest.fixture(scope="module")
def derived(pg: ThrowawayServer) -> Iterator[pd.DataFrame]:
    """The frame of DERIVED_ROWS, indexed by id."""
    url = pg.create_database(name="frames_derived")
    db = attune_nb.connect(url)
    sql(db, DERIVED_ROWS)
    yield db.executions.frame().set_index("id")
    db.close()
    pg.drop_database("frames_derived")


@pytest.mark.parametrize(
    ("execution_id", "queue_wait", "run_time"),
    [
        (1, "5s", "60s"),
        (2, "30s", None),
        (3, None, None),
        (4, None, None),
        (5, "1s", "1h"),
        (6, "1s", None),
        (7, "500ms", "10min"),
    ],
    ids=[
        "completed",
        "running",
        "failed-never-started",
        "requested",
        "cancelled",
        "canceling",
        "timeout",
    ],
)
def test_queue_wait_and_run_time(
    derived: pd.DataFrame, execution_id: int, queue_wait: str | None, run_time: str | None
) -> None:
    row = derived.loc[execution_id]
    for column, expected in (("queue_wait", queue_wait), ("run_time", run_time)):
        if expected is None:
            assert row[column] is pd.NaT, column
        else:
            assert row[column] == pd.Timedelta(expected), column
    if queue_wait is not None:
        assert row["queue_wait"] == row["started_at"] - row["created"]


def test_json_columns_hold_python_objects(db: attune_nb.Database) -> None:
    db.executions.create(
        "core.echo",
        config={"a": [1, 2]},
        result=[{"ok": True}],
        env_vars={"X": "1"},
        workflow_task={"task_name": "t"},
    )
    frame = db.executions.frame(include=JSON_COLUMNS)
    assert all(frame[name].dtype == object for name in JSON_COLUMNS)
    assert frame.iloc[0][list(JSON_COLUMNS)].tolist() == [
        {"a": [1, 2]},
        [{"ok": True}],
        {"X": "1"},
        {"task_name": "t"},
    ]


def test_missing_values_are_na(db: attune_nb.Database) -> None:
    db.executions.create("core.echo")
    row = db.executions.frame(include=["result"]).iloc[0]
    for name in (
        "parent",
        "enforcement",
        "rule_ref",
        "executor",
        "worker",
        "action",
        "workflow_def",
        "timeout_seconds",
        "max_retries",
        "retry_reason",
        "trace_tag",
    ):
        assert row[name] is pd.NA, name
    assert row["started_at"] is pd.NaT and row["queue_wait"] is pd.NaT
    assert row["result"] is None
    assert row["retry_count"] == 0


def test_an_empty_string_is_not_read_as_missing(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo", trace_tag="", retry_reason="")
    assert db.executions.get(created.id).trace_tag == ""
    row = db.executions.frame().iloc[0]
    assert (row["trace_tag"], row["retry_reason"]) == ("", "")


AWKWARD = ["NA", "null", "None", "\\N", "a,b", 'say "hi"', "two\nlines", "  padded  ", "日本 😀"]


@pytest.fixture(scope="module")
def awkward(pg: ThrowawayServer) -> Iterator[pd.DataFrame]:
    """Executions whose trace_tag and retry_reason are AWKWARD[i], action_ref text.<i>."""
    url = pg.create_database(name="frames_awkward")
    db = attune_nb.connect(url)
    for i, text in enumerate(AWKWARD):
        db.executions.create(f"text.{i}", trace_tag=text, retry_reason=text)
    yield db.executions.frame().set_index("action_ref")
    db.close()
    pg.drop_database("frames_awkward")


@pytest.mark.parametrize(
    "index",
    range(len(AWKWARD)),
    ids=["NA", "null", "None", "backslash-N", "comma", "quotes", "newline", "spaces", "unicode"],
)
def test_awkward_text_reads_back_exactly(awkward: pd.DataFrame, index: int) -> None:
    row = awkward.loc[f"text.{index}"]
    assert (row["trace_tag"], row["retry_reason"]) == (AWKWARD[index], AWKWARD[index])


# -- inquiry frames ------------------------------------------------------------------------

INQUIRY_LAYOUT = inquiry_layout(["response_schema"])


def test_inquiry_layout_appends_the_included_json_columns() -> None:
    assert inquiry_layout() == list(INQUIRY_COLUMNS)
    assert INQUIRY_JSON_COLUMNS == ("response_schema",)
    extended = inquiry_layout(["response_schema"])
    assert extended[:-1] == list(INQUIRY_COLUMNS)
    assert (extended[-1].name, extended[-1].kind) == ("response_schema", "json")


def test_an_empty_inquiry_frame_with_the_schema_keeps_its_layout(db: attune_nb.Database) -> None:
    frame = db.inquiries.frame(include=["response_schema"])
    assert frame.empty
    assert list(frame.columns) == [c.name for c in INQUIRY_LAYOUT]
    assert [frame[c.name].dtype for c in INQUIRY_LAYOUT] == [c.dtype for c in INQUIRY_LAYOUT]


def test_a_workflow_parent_without_started_at_gets_its_times_from_history(
    db: attune_nb.Database,
) -> None:
    """Upstream leaves started_at NULL on workflow parents: the history says when it ran."""
    with db.transaction() as conn:
        root, plain, never = (
            conn.execute(
                sa.text(
                    "INSERT INTO attune.execution (action_ref, workflow_def) "
                    "VALUES (:ref, :wf) RETURNING id"
                ),
                {"ref": ref, "wf": wf},
            ).scalar_one()
            for ref, wf in (("wf.root", 1), ("core.echo", None), ("core.never", None))
        )
    # One transaction each, so that each change has its own time. The plain one's
    # started_at is set (to a time of its own): the row wins over its history.
    sql(db, "UPDATE attune.execution SET status = 'running' WHERE id = :a", a=root)
    sql(
        db,
        "UPDATE attune.execution SET status = 'running', "
        "started_at = created + interval '1 second' WHERE id = :b",
        b=plain,
    )
    sql(
        db, "UPDATE attune.execution SET status = 'completed' WHERE id IN (:a, :b)", a=root, b=plain
    )
    sql(db, "UPDATE attune.execution SET status = 'cancelled' WHERE id = :c", c=never)
    ran = db.scalar(
        "SELECT time FROM attune.execution_history WHERE entity_id = :i "
        "AND new_values->>'status' = 'running'",
        i=root,
    )
    frame = db.executions.frame().set_index("id")
    row = frame.loc[root]
    assert row["started_at"] is pd.NaT  # the row as it is
    assert row["queue_wait"] == pd.Timestamp(ran) - row["created"]
    assert row["run_time"] == row["updated"] - pd.Timestamp(ran)
    assert frame.loc[plain, "queue_wait"] == pd.Timedelta(seconds=1)
    assert (
        frame.loc[plain, "run_time"] == frame.loc[plain, "updated"] - frame.loc[plain, "started_at"]
    )
    assert frame.loc[never, "queue_wait"] is pd.NaT  # cancelled before it ran
    assert frame.loc[never, "run_time"] is pd.NaT
    down = db.executions.descendants(root).set_index("id")
    assert down.loc[root, "run_time"] == row["run_time"]
