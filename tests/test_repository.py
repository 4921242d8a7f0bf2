"""The read side of ExecutionRepository: records, frames, updates, history and intervals.

The first half ports Attune's own execution repository tests (create, get, list,
update, delete, find, hierarchy, timestamps, JSON); every test gets a fresh database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.errors import (
    AttuneNbError,
    ConfigurationError,
    ExecutionNotFound,
    InvalidFilter,
    InvalidStatus,
    NotFound,
)
from attune_nb.frames import STATUS_DTYPE
from attune_nb.lifecycle import ExecutionStatus
from attune_nb.records import Execution
from attune_nb.testing import ThrowawayServer

TEN = [s.value for s in ExecutionStatus]


def sql(db: attune_nb.Database, statement: str, **params: Any) -> list[sa.Row]:
    """Run one statement in its own transaction; the rows it returns, if any."""
    with db.transaction() as conn:
        result = conn.execute(sa.text(statement), params)
        return list(result) if result.returns_rows else []


def make_identity(db: attune_nb.Database, login: str) -> int:
    return sql(db, "INSERT INTO attune.identity (login) VALUES (:l) RETURNING id", l=login)[0].id


def make_worker(db: attune_nb.Database, name: str) -> int:
    return sql(
        db,
        "INSERT INTO attune.worker (name, worker_type, worker_role) "
        "VALUES (:n, 'local', 'action') RETURNING id",
        n=name,
    )[0].id


def make_action(db: attune_nb.Database, ref: str) -> int:
    pack = ref.split(".")[0]
    return sql(
        db,
        """
        WITH p AS (INSERT INTO attune.pack (ref, label, version) VALUES (:pack, :pack, '1.0')
                   RETURNING id)
        INSERT INTO attune.action (ref, pack, pack_ref, label, entrypoint)
        SELECT :ref, p.id, :pack, :ref, 'run.sh' FROM p RETURNING id""",
        ref=ref,
        pack=pack,
    )[0].id


def make_enforcement(db: attune_nb.Database, rule_ref: str, trigger_ref: str) -> int:
    return sql(
        db,
        "INSERT INTO attune.enforcement (rule_ref, trigger_ref, payload) "
        "VALUES (:r, :t, '{}') RETURNING id",
        r=rule_ref,
        t=trigger_ref,
    )[0].id


def history_count(db: attune_nb.Database) -> int:
    return db.scalar("SELECT count(*) FROM attune.execution_history")


# -- create -----------------------------------------------------------------------------


def test_create_basic(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    assert isinstance(created, Execution)
    assert created.action_ref == "core.echo"
    assert created.status is ExecutionStatus.REQUESTED
    assert (created.parent, created.enforcement, created.executor, created.worker) == (
        None,
        None,
        None,
        None,
    )
    assert (created.config, created.result, created.retry_count) == (None, None, 0)
    assert created.permission_set_refs == ()
    assert db.executions.get(created.id) == created


def test_create_without_action_leaves_action_null(db: attune_nb.Database) -> None:
    created = db.executions.create("adhoc.script")
    assert created.action is None
    row = sql(db, "SELECT action, action_ref FROM attune.execution WHERE id = :i", i=created.id)
    assert (row[0].action, row[0].action_ref) == (None, "adhoc.script")


def test_create_with_all_fields(db: attune_nb.Database) -> None:
    action = make_action(db, "deploy.build")
    executor = make_identity(db, "alice")
    worker = make_worker(db, "worker-1")
    enforcement = make_enforcement(db, "deploy.on_push", "core.webhook")
    parent = db.executions.create("deploy.release")
    original = db.executions.create("deploy.build", status="failed")
    fields: dict[str, Any] = {
        "action": action,
        "config": {"branch": "main", "targets": ["a", "b"]},
        "env_vars": {"CI": "true"},
        "result": {"exit_code": 0, "stdout": "ok"},
        "workflow_task": {
            "workflow_execution": parent.id,
            "task_name": "build",
            "task_index": 0,
            "retry_count": 1,
            "max_retries": 3,
        },
        "parent": parent.id,
        "enforcement": enforcement,
        "executor": executor,
        "worker": worker,
        "status": "running",
        "timeout_seconds": 600,
        "max_retries": 3,
        "retry_count": 1,
        "retry_reason": "worker lost",
        "original_execution": original.id,
        "trace_tag": "trace-42",
        "permission_set_refs": ("ops", "deploy"),
        "started_at": "2026-01-10T12:00:00Z",
    }
    created = db.executions.create("deploy.build", **fields)
    expected = {
        **fields,
        "status": ExecutionStatus.RUNNING,
        "started_at": pd.Timestamp("2026-01-10T12:00:00Z").to_pydatetime(),
    }
    fetched = db.executions.get(created.id)
    for name, value in expected.items():
        assert getattr(created, name) == value, name
        assert getattr(fetched, name) == value, name


def test_create_with_parent(db: attune_nb.Database) -> None:
    parent = db.executions.create("ops.nightly_maintenance")
    child = db.executions.create("ops.rotate_logs", parent=parent.id)
    assert child.parent == parent.id
    assert db.executions.get(child.id).parent == parent.id


@pytest.mark.parametrize(
    ("kwargs", "error", "name", "value"),
    [
        ({"parent": 999}, ExecutionNotFound, None, 999),
        ({"status": "done"}, InvalidStatus, "status", "done"),
        ({"parent": "7"}, InvalidFilter, "parent", "7"),
        ({"timeout_seconds": 0}, ConfigurationError, "timeout_seconds", 0),
        ({"max_retries": 1.5}, ConfigurationError, "max_retries", 1.5),
    ],
    ids=["missing-parent", "unknown-status", "parent-not-int", "timeout-zero", "max-retries-float"],
)
def test_create_refuses_and_writes_nothing(
    db: attune_nb.Database,
    kwargs: dict[str, Any],
    error: type[AttuneNbError],
    name: str | None,
    value: object,
) -> None:
    with pytest.raises(error) as info:
        db.executions.create("core.echo", **kwargs)
    err: Any = info.value
    if error is ExecutionNotFound:
        assert err.execution_id == value
        assert str(value) in str(err)
    else:
        assert (err.name, err.value) == (name, value)
    assert db.scalar("SELECT count(*) FROM attune.execution") == 0
    assert history_count(db) == 0


# -- get / list ---------------------------------------------------------------------------


def test_get(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo", config={"message": "hi"})
    fetched = db.executions.get(created.id)
    assert fetched == created
    assert repr(fetched) == f"<Execution {created.id} core.echo requested>"


def test_get_not_found(db: attune_nb.Database) -> None:
    with pytest.raises(ExecutionNotFound) as info:
        db.executions.get(12345)
    assert info.value.execution_id == 12345
    assert isinstance(info.value, NotFound) and isinstance(info.value, LookupError)
    assert "12345" in str(info.value)


@pytest.mark.parametrize("bad", ["1", 1.0, True, None], ids=["str", "float", "bool", "none"])
def test_get_refuses_a_non_integer_id(db: attune_nb.Database, bad: object) -> None:
    with pytest.raises(InvalidFilter) as info:
        db.executions.get(bad)  # type: ignore[arg-type]
    assert (info.value.name, info.value.value) == ("id", bad)


def test_list_as_frame(db: attune_nb.Database) -> None:
    ids = [db.executions.create(ref).id for ref in ("core.echo", "core.local_cmd", "ops.x")]
    frame = db.executions.frame()
    assert isinstance(frame, pd.DataFrame)
    assert sorted(frame["id"]) == ids
    assert set(frame["action_ref"]) == {"core.echo", "core.local_cmd", "ops.x"}


def test_list_newest_first_and_by_id_for_equal_created(db: attune_nb.Database) -> None:
    # One transaction: NOW() is the same for every row, so only the id can order them.
    with db.transaction() as conn:
        for ref in ("batch.a", "batch.b", "batch.c"):
            conn.execute(
                sa.text("INSERT INTO attune.execution (action_ref) VALUES (:r)"), {"r": ref}
            )
    later = db.executions.create("batch.later")
    frame = db.executions.frame()
    assert list(frame["action_ref"]) == ["batch.later", "batch.c", "batch.b", "batch.a"]
    assert frame["created"].iloc[1:].nunique() == 1
    assert frame["created"].iloc[0] > frame["created"].iloc[1]
    assert frame["id"].iloc[0] == later.id


def test_latest_is_the_newest_match_or_none(db: attune_nb.Database) -> None:
    assert db.executions.latest() is None  # an empty database
    old = db.executions.create("pick.a", status="failed")
    db.executions.create("pick.b", status="failed")
    newest_a = db.executions.create("pick.a", status="failed")
    db.executions.create("pick.a", status="completed")
    assert db.executions.latest(action_ref="pick.a", status="failed") == newest_a
    assert db.executions.latest(action_ref="pick.a", status="failed", until="2000-01-01") is None
    assert old != newest_a


def test_latest_refuses_a_bad_filter(db: attune_nb.Database) -> None:
    with pytest.raises(attune_nb.InvalidFilter):
        db.executions.latest(colour="red")  # type: ignore[call-arg]


# -- update -------------------------------------------------------------------------------


def test_update_status_skips_the_lifecycle_check_when_forced(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    updated = db.executions.update(created.id, status="running", force=True)
    assert updated.status is ExecutionStatus.RUNNING
    assert db.executions.get(created.id).status is ExecutionStatus.RUNNING
    history = db.executions.history(created.id)
    assert list(history["new_status"].astype(str)) == ["requested", "running"]


def test_update_result(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo", status="running")
    result = {"stdout": "hello", "exit_code": 0}
    assert db.executions.update(created.id, result=result).result == result
    assert db.executions.get(created.id).result == result
    assert db.executions.update(created.id, result=None).result is None
    assert sql(db, "SELECT result FROM attune.execution WHERE id = :i", i=created.id)[0][0] is None


def test_update_executor(db: attune_nb.Database) -> None:
    alice, bob = make_identity(db, "alice"), make_identity(db, "bob")
    created = db.executions.create("core.echo", executor=alice)
    assert db.executions.update(created.id, executor=bob).executor == bob
    assert db.executions.get(created.id).executor == bob


def test_update_to_an_unknown_status_changes_nothing(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    before = history_count(db)
    with pytest.raises(InvalidStatus) as info:
        db.executions.update(created.id, status="finished", result={"x": 1})
    assert info.value.value == "finished"
    assert info.value.allowed_statuses == TEN
    assert db.executions.get(created.id) == created
    assert history_count(db) == before


def test_update_with_no_changes_returns_the_row_unchanged(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    before = history_count(db)
    assert db.executions.update(created.id) == created
    assert db.executions.get(created.id).updated == created.updated
    assert history_count(db) == before


def test_update_of_a_missing_execution(db: attune_nb.Database) -> None:
    with pytest.raises(ExecutionNotFound) as info:
        db.executions.update(404, status="running")
    assert info.value.execution_id == 404


# -- delete -------------------------------------------------------------------------------


def test_delete(db: attune_nb.Database) -> None:
    keep, gone = db.executions.create("core.a"), db.executions.create("core.b")
    assert db.executions.delete(gone.id) is True
    with pytest.raises(ExecutionNotFound):
        db.executions.get(gone.id)
    assert list(db.executions.frame()["id"]) == [keep.id]


def test_delete_of_a_missing_execution(db: attune_nb.Database) -> None:
    db.executions.create("core.a")
    assert db.executions.delete(999) is False
    assert db.scalar("SELECT count(*) FROM attune.execution") == 1


# -- find ---------------------------------------------------------------------------------


def test_find_by_status(db: attune_nb.Database) -> None:
    running = [db.executions.create("core.a", status="running").id for _ in range(2)]
    db.executions.create("core.a", status="completed")
    db.executions.create("core.a")
    frame = db.executions.frame(status="running")
    assert sorted(frame["id"]) == running
    assert set(frame["status"].astype(str)) == {"running"}


def test_find_by_enforcement(db: attune_nb.Database) -> None:
    first = make_enforcement(db, "ops.nightly", "core.cronjob")
    second = make_enforcement(db, "deploy.on_push", "core.webhook")
    mine = [db.executions.create("ops.x", enforcement=first).id for _ in range(2)]
    db.executions.create("deploy.y", enforcement=second)
    db.executions.create("core.z")
    frame = db.executions.frame(enforcement=first)
    assert sorted(frame["id"]) == mine
    assert set(frame["rule_ref"]) == {"ops.nightly"}
    assert set(frame["trigger_ref"]) == {"core.cronjob"}


# -- hierarchy ----------------------------------------------------------------------------


def test_parent_and_child(db: attune_nb.Database) -> None:
    parent = db.executions.create("ops.nightly_maintenance")
    children = [db.executions.create("ops.step", parent=parent.id).id for _ in range(3)]
    db.executions.create("core.unrelated")
    assert list(db.executions.children(parent.id)["id"]) == children
    assert sorted(db.executions.frame(parent=parent.id)["id"]) == children
    assert list(db.executions.frame(top_level_only=True)["action_ref"]) == [
        "core.unrelated",
        "ops.nightly_maintenance",
    ]


def test_three_level_hierarchy(db: attune_nb.Database) -> None:
    root = db.executions.create("wf.root")
    middle = db.executions.create("wf.middle", parent=root.id)
    leaf = db.executions.create("wf.leaf", parent=middle.id)
    down = db.executions.descendants(root.id)
    assert list(down["id"]) == [root.id, middle.id, leaf.id]
    assert list(down["depth"]) == [0, 1, 2]
    up = db.executions.ancestors(leaf.id)
    assert list(up["id"]) == [middle.id, root.id]
    assert list(db.executions.children(middle.id)["id"]) == [leaf.id]
    assert db.executions.children(leaf.id).empty


# -- timestamps ---------------------------------------------------------------------------


def test_created_equals_updated_on_create(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    assert created.created is not None and created.created.tzinfo is not None
    assert created.created == created.updated


def test_update_in_a_later_transaction_moves_updated_only(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    updated = db.executions.update(created.id, status="scheduling")
    assert updated.created == created.created
    assert updated.updated is not None and created.updated is not None
    assert updated.updated > created.updated
    fetched = db.executions.get(created.id)
    assert (fetched.created, fetched.updated) == (created.created, updated.updated)


# -- JSON ---------------------------------------------------------------------------------

NESTED_CONFIG = {
    "message": 'quotes " and commas, and a\nnewline\ttab',
    "unicode": "é ü 日本 😀 \u2028",
    "levels": {"one": {"two": {"three": [1, [2, [3, {"four": None}]]]}}},
    "numbers": [0, -1, 2.5, 1e-7, 12345678901234567890],
    "flags": [True, False, None],
    "empty": {"object": {}, "list": [], "string": ""},
    "looks_null": ["NULL", "\\N", "NA", "null", "None"],
}
NESTED_RESULT = [
    {"task": "a", "ok": True},
    {"task": "b", "ok": False, "errors": ["x", "y"]},
    "",
    None,
    0,
]


def test_nested_json_round_trips_through_get(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo", config=NESTED_CONFIG, result=NESTED_RESULT)
    fetched = db.executions.get(created.id)
    assert fetched.config == NESTED_CONFIG
    assert fetched.result == NESTED_RESULT


def test_nested_json_round_trips_through_frame(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo", config=NESTED_CONFIG, result=NESTED_RESULT)
    db.executions.create("core.echo")  # NULL JSON beside it
    frame = db.executions.frame(include=["config", "result"]).set_index("id")
    assert frame.at[created.id, "config"] == NESTED_CONFIG
    assert frame.at[created.id, "result"] == NESTED_RESULT
    assert frame["config"].isna().sum() == 1


SCALARS = ["", 0, False, "null", [], {}, "text", 1.5]


@pytest.fixture(scope="module")
def scalars(pg: ThrowawayServer) -> Iterator[attune_nb.Database]:
    """One execution per SCALARS[i] as its config, action_ref json.<i>, and one NULL."""
    url = pg.create_database(name="repository_scalars")
    db = attune_nb.connect(url)
    for i, value in enumerate(SCALARS):
        db.executions.create(f"json.{i}", config=value)
    db.executions.create("json.null")
    yield db
    db.close()
    pg.drop_database("repository_scalars")


@pytest.mark.parametrize(
    "index",
    range(len(SCALARS)),
    ids=[
        "empty-string",
        "zero",
        "false",
        "null-string",
        "empty-list",
        "empty-object",
        "string",
        "float",
    ],
)
def test_scalar_json_is_not_confused_with_null(scalars: attune_nb.Database, index: int) -> None:
    value = SCALARS[index]
    frame = scalars.executions.frame(include="config").set_index("action_ref")
    execution_id = int(cast(int, frame.at[f"json.{index}", "id"]))
    assert scalars.executions.get(execution_id).config == value
    got = frame.at[f"json.{index}", "config"]
    assert got == value and type(got) is type(value)
    assert frame.at["json.null", "config"] is None


# -- history ------------------------------------------------------------------------------


def test_history_has_the_insert_then_one_row_per_status_change(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    db.executions.update(created.id, status="scheduling")
    with db.transaction() as conn:  # two changes in one transaction share `time`
        conn.execute(
            sa.text(
                "UPDATE attune.execution SET status = 'running', started_at = now() WHERE id = :i"
            ),
            {"i": created.id},
        )
        conn.execute(
            sa.text("UPDATE attune.execution SET status = 'completed' WHERE id = :i"),
            {"i": created.id},
        )
    history = db.executions.history(created.id)
    assert list(history["operation"]) == ["INSERT", "UPDATE", "UPDATE", "UPDATE"]
    assert list(history["new_status"].astype(str)) == [
        "requested",
        "scheduling",
        "running",
        "completed",
    ]
    assert history["old_status"].isna().iloc[0]
    assert list(history["old_status"].iloc[1:].astype(str)) == [
        "requested",
        "scheduling",
        "running",
    ]
    assert history["time"].is_monotonic_increasing
    assert history["time"].iloc[2] == history["time"].iloc[3]
    assert history["changed_fields"].iloc[2] == ["status", "started_at"]
    assert history["new_status"].dtype == STATUS_DTYPE
    assert history["old_status"].dtype == STATUS_DTYPE


def test_history_breaks_time_ties_by_lifecycle_order(db: attune_nb.Database) -> None:
    # Audit rows with one time, stored in the wrong physical order (a restored backup).
    created = db.executions.create("core.echo")
    sql(
        db,
        """
        INSERT INTO attune.execution_history
            (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        SELECT now() + interval '1 second', 'UPDATE', :i, 'core.echo', '{status}',
               jsonb_build_object('status', old), jsonb_build_object('status', new)
        FROM (VALUES ('running', 'completed'), ('scheduling', 'running'),
                     ('requested', 'scheduling')) AS steps(old, new)""",
        i=created.id,
    )
    history = db.executions.history(created.id)
    assert list(history["new_status"].astype(str)) == [
        "requested",
        "scheduling",
        "running",
        "completed",
    ]


def test_history_of_a_deleted_execution(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    db.executions.update(created.id, status="cancelled")
    db.executions.delete(created.id)
    history = db.executions.history(created.id)
    assert list(history["operation"]) == ["INSERT", "UPDATE", "DELETE"]
    assert history["new_status"].isna().iloc[-1]
    assert history["new_values"].iloc[-1] is None


def test_history_of_an_id_never_seen(db: attune_nb.Database) -> None:
    db.executions.create("core.echo")
    with pytest.raises(ExecutionNotFound) as info:
        db.executions.history(777)
    assert info.value.execution_id == 777


def test_history_since_and_until(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    db.executions.update(created.id, status="scheduling")
    full = db.executions.history(created.id)
    cut = full["time"].iloc[1]
    assert list(db.executions.history(created.id, since=cut)["operation"]) == ["UPDATE"]
    assert list(db.executions.history(created.id, until=cut)["operation"]) == ["INSERT"]


# -- intervals ----------------------------------------------------------------------------


def _walk(db: attune_nb.Database, execution_id: int, *statuses: str) -> None:
    """One transaction per step, so each status gets a time of its own."""
    for status in statuses:
        db.executions.update(execution_id, status=status)


def test_intervals_one_row_per_status(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo")
    _walk(db, created.id, "scheduling", "scheduled", "running", "completed")
    intervals = db.executions.intervals()
    assert list(intervals["status"].astype(str)) == [
        "requested",
        "scheduling",
        "scheduled",
        "running",
        "completed",
    ]
    assert list(intervals["seq"]) == [1, 2, 3, 4, 5]
    assert set(intervals["execution_id"]) == {created.id}
    assert list(intervals["current"]) == [False, False, False, False, True]
    # Each interval ends when the next one starts.
    assert list(intervals["left"].iloc[:-1]) == list(intervals["entered"].iloc[1:])
    closed = intervals.iloc[:-1]
    assert (closed["duration"] == closed["left"] - closed["entered"]).all()
    assert (closed["duration"] > pd.Timedelta(0)).all()
    last = intervals.iloc[-1]
    assert last["left"] is pd.NaT and last["duration"] is pd.NaT
    history = db.executions.history(created.id)
    assert list(intervals["entered"]) == list(history["time"])


def test_intervals_of_changes_in_one_transaction(db: attune_nb.Database) -> None:
    created = db.executions.create("core.echo", status="scheduled")
    with db.transaction() as conn:
        conn.execute(
            sa.text("UPDATE attune.execution SET status = 'running' WHERE id = :i"),
            {"i": created.id},
        )
        conn.execute(
            sa.text("UPDATE attune.execution SET status = 'failed' WHERE id = :i"),
            {"i": created.id},
        )
    intervals = db.executions.intervals()
    assert list(intervals["status"].astype(str)) == ["scheduled", "running", "failed"]
    assert intervals["duration"].iloc[1] == pd.Timedelta(0)


def test_intervals_filters_select_executions(db: attune_nb.Database) -> None:
    deploy = db.executions.create("deploy.build")
    core = db.executions.create("core.echo")
    _walk(db, deploy.id, "scheduling")
    _walk(db, core.id, "cancelled")
    only_deploy = db.executions.intervals(action_ref="deploy.*")
    assert set(only_deploy["execution_id"]) == {deploy.id}
    assert list(only_deploy["status"].astype(str)) == ["requested", "scheduling"]
    both = db.executions.intervals()
    assert list(both["execution_id"]) == [core.id, core.id, deploy.id, deploy.id]
    assert db.executions.intervals(status="failed").empty
    assert set(db.executions.intervals(limit=1)["execution_id"]) == {core.id}


def test_intervals_refuse_bad_filters(db: attune_nb.Database) -> None:
    with pytest.raises(InvalidFilter) as info:
        db.executions.intervals(worker="w1")  # type: ignore[arg-type]
    assert (info.value.name, info.value.value) == ("worker", "w1")
    with pytest.raises(InvalidFilter) as info:
        db.executions.intervals(limit=-5)
    assert info.value.name == "limit"


# -- streaming every row ------------------------------------------------------------------


def test_limit_none_streams_with_a_progress_bar_when_large(
    db: attune_nb.Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from attune_nb import _reader

    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO attune.execution (action_ref, status) "
                "SELECT 'bulk.n' || g, 'completed' FROM generate_series(1, 3000) g"
            )
        )
    # The bar appears above PROGRESS_ROWS rows; lower the bar instead of writing 100,000.
    monkeypatch.setattr(_reader, "PROGRESS_ROWS", 1000)
    frame = db.executions.frame(limit=None)
    assert len(frame) == 3000
    assert frame["id"].is_monotonic_decreasing
    err = capsys.readouterr().err
    assert "reading executions" in err and "3000/3000" in err
    # Below the threshold there is no bar.
    db.executions.frame(limit=None, action_ref=["bulk.n1", "bulk.n2"])
    assert "reading executions" not in capsys.readouterr().err
