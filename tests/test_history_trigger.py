"""Tests for record_execution_history() and the ``updated`` trigger (migrations/0002, 0001).

Each test writes through plain SQL and reads ``attune.execution_history`` back, as the
contract in ATTUNE_SCHEMA.md describes it. The tests share one migrated database (a
new one per test costs more than the tests): each looks only at the rows it wrote.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from attune_nb import Database
from attune_nb.db import open_database
from attune_nb.testing import ThrowawayServer

_unique = itertools.count(1)


@pytest.fixture(scope="module")
def db(pg: ThrowawayServer) -> Iterator[Database]:
    """One migrated database for this module; tests select only their own rows."""
    name = "test_history_trigger"
    database = open_database(pg.create_database(migrated=True, name=name))
    yield database
    database.close()
    pg.drop_database(name)


INSERT_KEYS = {
    "status",
    "action_ref",
    "executor",
    "worker",
    "parent",
    "enforcement",
    "started_at",
    "trace_tag",
}


def _insert(db: Database, **values: Any) -> int:
    values = {"action_ref": "core.echo", **values}
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    with db.transaction() as conn:
        return conn.execute(
            sa.text(f"INSERT INTO attune.execution ({columns}) VALUES ({params}) RETURNING id"),
            values,
        ).scalar_one()


def _update(db: Database, execution_id: int, assignments: str, **params: Any) -> None:
    with db.transaction() as conn:
        conn.execute(
            sa.text(f"UPDATE attune.execution SET {assignments} WHERE id = :id"),
            {"id": execution_id, **params},
        )


def _history(db: Database, execution_id: int) -> list[dict[str, Any]]:
    with db.transaction() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT time, operation, entity_id, entity_ref, changed_fields, old_values, "
                    "new_values FROM attune.execution_history "
                    "WHERE entity_id = :id AND time > now() - interval '1 day' "
                    "ORDER BY time, "
                    "CASE operation WHEN 'INSERT' THEN 0 WHEN 'UPDATE' THEN 1 ELSE 2 END"
                ),
                {"id": execution_id},
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def _identity_and_worker(db: Database) -> tuple[int, int]:
    n = next(_unique)
    with db.transaction() as conn:
        identity = conn.execute(
            sa.text("INSERT INTO attune.identity (login) VALUES (:l) RETURNING id"),
            {"l": f"ops{n}"},
        ).scalar_one()
        worker = conn.execute(
            sa.text(
                "INSERT INTO attune.worker (name, worker_type, worker_role) "
                "VALUES (:n, 'local', 'action') RETURNING id"
            ),
            {"n": f"w{n}"},
        ).scalar_one()
    return identity, worker


def test_insert_writes_one_row_with_initial_values(db: Database) -> None:
    identity, worker = _identity_and_worker(db)
    started = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    execution_id = _insert(
        db,
        executor=identity,
        worker=worker,
        parent=9001,
        enforcement=9002,
        started_at=started,
        trace_tag="trace-1",
        status="running",
    )
    (row,) = _history(db, execution_id)
    assert row["operation"] == "INSERT"
    assert row["entity_id"] == execution_id
    assert row["entity_ref"] == "core.echo"
    assert row["changed_fields"] == []
    assert row["old_values"] is None
    new = row["new_values"]
    assert set(new) == INSERT_KEYS
    assert dt.datetime.fromisoformat(new.pop("started_at")) == started
    assert new == {
        "status": "running",
        "action_ref": "core.echo",
        "executor": identity,
        "worker": worker,
        "parent": 9001,
        "enforcement": 9002,
        "trace_tag": "trace-1",
    }


def test_insert_with_defaults_keeps_every_key(db: Database) -> None:
    execution_id = _insert(db)
    (row,) = _history(db, execution_id)
    assert row["new_values"] == {
        "status": "requested",
        "action_ref": "core.echo",
        "executor": None,
        "worker": None,
        "parent": None,
        "enforcement": None,
        "started_at": None,
        "trace_tag": None,
    }


def test_status_update_writes_only_status(db: Database) -> None:
    execution_id = _insert(db)
    _update(db, execution_id, "status = 'scheduling'")
    insert, update = _history(db, execution_id)
    assert insert["operation"] == "INSERT"
    assert update["operation"] == "UPDATE"
    assert update["entity_id"] == execution_id
    assert update["entity_ref"] == "core.echo"
    assert update["changed_fields"] == ["status"]
    assert update["old_values"] == {"status": "requested"}
    assert update["new_values"] == {"status": "scheduling"}


def test_update_of_several_tracked_fields_lists_them_all(db: Database) -> None:
    identity, worker = _identity_and_worker(db)
    execution_id = _insert(db, status="scheduled")
    _update(
        db,
        execution_id,
        "status = 'running', worker = :w, executor = :e, started_at = :s, trace_tag = 't2', "
        'result = \'{"ok": true}\', workflow_task = \'{"task_name": "a"}\', '
        'env_vars = \'{"A": "1"}\'',
        w=worker,
        e=identity,
        s=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    update = _history(db, execution_id)[-1]
    tracked = {
        "status",
        "result",
        "executor",
        "worker",
        "workflow_task",
        "env_vars",
        "started_at",
        "trace_tag",
    }
    assert set(update["changed_fields"]) == tracked
    assert len(update["changed_fields"]) == len(tracked)
    assert set(update["old_values"]) == tracked
    assert set(update["new_values"]) == tracked
    assert update["old_values"]["status"] == "scheduled"
    assert update["old_values"]["worker"] is None
    assert update["new_values"]["worker"] == worker
    assert update["new_values"]["executor"] == identity
    assert (
        update["new_values"]["result"]["digest"]
        == "md5:" + _md5_and_size(db, "result", execution_id)[0]
    )
    assert update["new_values"]["workflow_task"] == {"task_name": "a"}  # kept as it is
    assert update["new_values"]["env_vars"]["type"] == "object"
    assert update["new_values"]["trace_tag"] == "t2"


def test_update_of_two_fields_names_only_those(db: Database) -> None:
    execution_id = _insert(db, status="running")
    _update(db, execution_id, "status = 'completed', result = '{\"n\": 1}', config = '{}'")
    md5, size = _md5_and_size(db, "result", execution_id)
    update = _history(db, execution_id)[-1]
    assert sorted(update["changed_fields"]) == ["result", "status"]
    assert update["old_values"] == {"status": "running", "result": None}
    assert update["new_values"] == {
        "status": "completed",
        "result": {"digest": f"md5:{md5}", "size": size, "type": "object"},
    }


@pytest.mark.parametrize(
    ("assignments", "check"),
    [
        pytest.param("config = '{\"x\": 1}'", "config = '{\"x\": 1}'", id="config"),
        pytest.param("retry_reason = 'flaky'", "retry_reason = 'flaky'", id="retry_reason"),
        pytest.param(
            "max_retries = 3, timeout_seconds = 60",
            "max_retries = 3 AND timeout_seconds = 60",
            id="max_retries-timeout_seconds",
        ),
        pytest.param("status = 'requested'", "status = 'requested'", id="status-unchanged"),
    ],
)
def test_update_of_untracked_or_unchanged_fields_writes_no_row(
    db: Database, assignments: str, check: str
) -> None:
    execution_id = _insert(db)
    _update(db, execution_id, assignments)
    # The update itself did happen.
    assert db.scalar(f"SELECT {check} FROM attune.execution WHERE id = :id", id=execution_id)
    history = _history(db, execution_id)
    assert [row["operation"] for row in history] == ["INSERT"]


def _value(kind: str, size: str) -> Any:
    if kind == "object":
        return {"log": "x" * 2000} if size == "large" else {"ok": True}
    if kind == "array":
        return ["y" * 100 for _ in range(20)] if size == "large" else [1, 2]
    return "done" if size == "small" else "z" * 3000


@pytest.mark.parametrize("column", ["result", "env_vars"])
@pytest.mark.parametrize("kind", ["object", "array", "string"])
@pytest.mark.parametrize("size", ["small", "large"])
def test_json_is_always_stored_as_a_digest_summary(
    db: Database, column: str, kind: str, size: str
) -> None:
    """As upstream's _jsonb_digest_summary(): never the value, whatever its size."""
    execution_id = _insert(db)
    _update(db, execution_id, f"{column} = CAST(:v AS jsonb)", v=json.dumps(_value(kind, size)))
    text_md5, octets = _md5_and_size(db, column, execution_id)
    update = _history(db, execution_id)[-1]
    assert update["changed_fields"] == [column]
    assert update["old_values"] == {column: None}
    assert update["new_values"] == {
        column: {"digest": f"md5:{text_md5}", "size": octets, "type": kind},
    }


def _md5_and_size(db: Database, column: str, execution_id: int) -> tuple[str, int]:
    with db.transaction() as conn:
        text, md5, size = conn.execute(
            sa.text(
                f"SELECT {column}::text, md5({column}::text), octet_length({column}::text) "
                "FROM attune.execution WHERE id = :id"
            ),
            {"id": execution_id},
        ).one()
    # The digest is of the jsonb text as PostgreSQL renders it.
    assert hashlib.md5(text.encode()).hexdigest() == md5
    return md5, size


def test_old_value_is_a_digest_summary_too(db: Database) -> None:
    execution_id = _insert(db, result=json.dumps({"small": False}))
    md5, size = _md5_and_size(db, "result", execution_id)
    _update(db, execution_id, "result = NULL")
    update = _history(db, execution_id)[-1]
    assert update["old_values"] == {
        "result": {"digest": f"md5:{md5}", "size": size, "type": "object"},
    }
    assert update["new_values"] == {"result": None}


def test_history_holds_no_result_value(db: Database) -> None:
    execution_id = _insert(db, status="running")
    result = {"stdout": "hello", "exit_code": 0, "timed_out": False}
    _update(
        db, execution_id, "status = 'completed', result = CAST(:v AS jsonb)", v=json.dumps(result)
    )
    stored = _history(db, execution_id)[-1]["new_values"]["result"]
    assert set(stored) == {"digest", "size", "type"}
    assert "hello" not in json.dumps(stored)


def test_delete_writes_one_row_and_history_outlives_execution(db: Database) -> None:
    execution_id = _insert(db)
    _update(db, execution_id, "status = 'scheduling'")
    with db.transaction() as conn:
        conn.execute(sa.text("DELETE FROM attune.execution WHERE id = :id"), {"id": execution_id})
    assert db.scalar("SELECT count(*) FROM attune.execution WHERE id = :id", id=execution_id) == 0
    history = _history(db, execution_id)
    assert [row["operation"] for row in history] == ["INSERT", "UPDATE", "DELETE"]
    delete = history[-1]
    assert delete["entity_id"] == execution_id
    assert delete["entity_ref"] == "core.echo"
    assert delete["changed_fields"] == []
    assert delete["old_values"] is None
    assert delete["new_values"] is None


def test_changes_in_one_transaction_share_one_time(db: Database) -> None:
    with db.transaction() as conn:
        execution_id = conn.execute(
            sa.text("INSERT INTO attune.execution (action_ref) VALUES ('core.echo') RETURNING id")
        ).scalar_one()
        conn.execute(sa.text("SELECT pg_sleep(0.01)"))
        conn.execute(
            sa.text("UPDATE attune.execution SET status = 'scheduling' WHERE id = :id"),
            {"id": execution_id},
        )
        conn.execute(
            sa.text("UPDATE attune.execution SET status = 'scheduled' WHERE id = :id"),
            {"id": execution_id},
        )
        transaction_start = conn.execute(sa.text("SELECT now()")).scalar_one()
    history = _history(db, execution_id)
    assert len(history) == 3
    assert {row["time"] for row in history} == {transaction_start}


def test_changes_in_separate_transactions_have_increasing_times(db: Database) -> None:
    execution_id = _insert(db)
    _update(db, execution_id, "status = 'scheduling'")
    first, second = _history(db, execution_id)
    assert second["time"] > first["time"]


def test_updated_column_changes_on_update_and_created_does_not(db: Database) -> None:
    execution_id = _insert(db)
    with db.transaction() as conn:
        created, updated = conn.execute(
            sa.text("SELECT created, updated FROM attune.execution WHERE id = :id"),
            {"id": execution_id},
        ).one()
    _update(db, execution_id, "retry_reason = 'touch'")
    with db.transaction() as conn:
        created_after, updated_after = conn.execute(
            sa.text("SELECT created, updated FROM attune.execution WHERE id = :id"),
            {"id": execution_id},
        ).one()
    assert created_after == created
    assert updated_after > updated


def test_updated_column_ignores_an_explicit_value(db: Database) -> None:
    execution_id = _insert(db)
    with db.transaction() as conn:
        conn.execute(
            sa.text("UPDATE attune.execution SET updated = '2000-01-01' WHERE id = :id"),
            {"id": execution_id},
        )
        now = conn.execute(sa.text("SELECT now()")).scalar_one()
    assert db.scalar("SELECT updated FROM attune.execution WHERE id = :id", id=execution_id) == now


@pytest.mark.parametrize(
    ("table", "insert"),
    [
        pytest.param(
            "identity",
            "INSERT INTO attune.identity (login) VALUES (:u) RETURNING id",
            id="identity",
        ),
        pytest.param(
            "worker",
            "INSERT INTO attune.worker (name, worker_type, worker_role) "
            "VALUES (:u, 'remote', 'sensor') RETURNING id",
            id="worker",
        ),
        pytest.param(
            "inquiry",
            "INSERT INTO attune.inquiry (created_by_execution, prompt, response_options) "
            "VALUES (1, :u, '[\"yes\"]') RETURNING id",
            id="inquiry",
        ),
    ],
)
def test_updated_trigger_on_other_tables(db: Database, table: str, insert: str) -> None:
    with db.transaction() as conn:
        row_id = conn.execute(sa.text(insert), {"u": f"u{next(_unique)}"}).scalar_one()
    before = db.scalar(f"SELECT updated FROM attune.{table} WHERE id = :id", id=row_id)
    with db.transaction() as conn:
        conn.execute(
            sa.text(f"UPDATE attune.{table} SET created = created WHERE id = :id"), {"id": row_id}
        )
    assert db.scalar(f"SELECT updated FROM attune.{table} WHERE id = :id", id=row_id) > before
