"""Tests for the LISTEN/NOTIFY triggers of migrations/0003_notifications.sql.

A raw psycopg2 connection listens; writes go through another connection and commit.
Absence of a notification is checked with a sentinel: notifications arrive in commit
order, so when the next expected one comes first, the skipped write sent nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import select
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from attune_nb import Database

EXECUTION_KEYS = {
    "entity_type",
    "entity_id",
    "id",
    "action_id",
    "action_ref",
    "status",
    "trace_tag",
    "enforcement",
    "rule_ref",
    "trigger_ref",
    "parent",
    "started_at",
    "workflow_task",
    "created",
    "updated",
}
INQUIRY_KEYS = {
    "entity_type",
    "entity_id",
    "id",
    "created_by_execution",
    "status",
    "timeout_at",
    "updated",
    "created",
}
COMPACT_KEYS = {"id", "status", "old_status", "auth_mode"}
CHANNELS = (
    "execution_created",
    "execution_status_changed",
    "inquiry_created",
    "inquiry_responded",
    "inquiry_timeout",
)


class Listener:
    """A psycopg2 connection LISTENing on every channel of 0003."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.conn = psycopg2.connect(
            host=parsed.query["host"], user="postgres", dbname=parsed.database
        )
        self.conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with self.conn.cursor() as cur:
            for channel in CHANNELS:
                cur.execute(f"LISTEN {channel}")
        self.pending: list[Any] = []

    def next(self, *, timeout: float = 5.0) -> tuple[str, dict[str, Any], str]:
        """The next notification as (channel, payload, raw payload text)."""
        while not self.pending:
            ready, _, _ = select.select([self.conn], [], [], timeout)
            assert ready, f"no notification within {timeout}s"
            self.conn.poll()
            self.pending.extend(self.conn.notifies)
            self.conn.notifies.clear()
        notify = self.pending.pop(0)
        return notify.channel, json.loads(notify.payload), notify.payload

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def listener(db_url: str) -> Iterator[Listener]:
    listening = Listener(db_url)
    yield listening
    listening.close()


@pytest.fixture
def refs(db: Database) -> dict[str, int]:
    """A pack, an action and an enforcement (with its rule and trigger refs)."""
    with db.transaction() as conn:
        pack = conn.execute(
            sa.text(
                "INSERT INTO attune.pack (ref, label, version) VALUES ('core', 'Core', '1.0') "
                "RETURNING id"
            )
        ).scalar_one()
        action = conn.execute(
            sa.text(
                "INSERT INTO attune.action (ref, pack, pack_ref, label, entrypoint) "
                "VALUES ('core.echo', :p, 'core', 'Echo', 'echo.sh') RETURNING id"
            ),
            {"p": pack},
        ).scalar_one()
        enforcement = conn.execute(
            sa.text(
                "INSERT INTO attune.enforcement (rule_ref, trigger_ref, payload) "
                "VALUES ('core.on_tick', 'core.tick', '{}') RETURNING id"
            )
        ).scalar_one()
    return {"action": action, "enforcement": enforcement}


def _insert_execution(db: Database, refs: dict[str, int], **values: Any) -> int:
    values = {
        "action": refs["action"],
        "action_ref": "core.echo",
        "enforcement": refs["enforcement"],
        **values,
    }
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    with db.transaction() as conn:
        return conn.execute(
            sa.text(f"INSERT INTO attune.execution ({columns}) VALUES ({params}) RETURNING id"),
            values,
        ).scalar_one()


def _set_status(db: Database, execution_id: int, status: str) -> None:
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "UPDATE attune.execution SET status = CAST(:s AS "
                "execution_status_enum) WHERE id = :id"
            ),
            {"s": status, "id": execution_id},
        )


def _row(db: Database, table: str, row_id: int) -> dict[str, Any]:
    with db.transaction() as conn:
        return dict(
            conn.execute(sa.text(f"SELECT * FROM attune.{table} WHERE id = :id"), {"id": row_id})
            .mappings()
            .one()
        )


def _ts(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _assert_execution_payload(payload: dict[str, Any], row: dict[str, Any]) -> None:
    assert payload["entity_type"] == "execution"
    assert payload["entity_id"] == row["id"]
    assert payload["id"] == row["id"]
    assert payload["action_id"] == row["action"]
    assert payload["action_ref"] == row["action_ref"]
    assert payload["status"] == row["status"]
    assert payload["trace_tag"] == row["trace_tag"]
    assert payload["enforcement"] == row["enforcement"]
    assert payload["parent"] == row["parent"]
    assert payload["workflow_task"] == row["workflow_task"]
    assert _ts(payload["started_at"]) == row["started_at"]
    assert _ts(payload["created"]) == row["created"]
    assert _ts(payload["updated"]) == row["updated"]


def test_execution_created_payload(db: Database, refs: dict[str, int], listener: Listener) -> None:
    started = dt.datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=dt.UTC)
    task = {"workflow_execution": 7, "task_name": "build", "task_index": 0}
    execution_id = _insert_execution(
        db,
        refs,
        status="running",
        parent=7,
        trace_tag="trace-9",
        started_at=started,
        workflow_task=json.dumps(task),
    )
    channel, payload, _ = listener.next()
    assert channel == "execution_created"
    assert set(payload) == EXECUTION_KEYS
    row = _row(db, "execution", execution_id)
    _assert_execution_payload(payload, row)
    assert payload["status"] == "running"
    assert payload["action_id"] == refs["action"]
    assert payload["enforcement"] == refs["enforcement"]
    assert payload["rule_ref"] == "core.on_tick"
    assert payload["trigger_ref"] == "core.tick"
    assert payload["parent"] == 7
    assert payload["trace_tag"] == "trace-9"
    assert payload["workflow_task"] == task
    assert _ts(payload["started_at"]) == started


def test_execution_without_enforcement_has_null_refs(
    db: Database, refs: dict[str, int], listener: Listener
) -> None:
    execution_id = _insert_execution(db, refs, enforcement=None)
    channel, payload, _ = listener.next()
    assert channel == "execution_created"
    assert set(payload) == EXECUTION_KEYS
    assert payload["id"] == execution_id
    assert payload["enforcement"] is None
    assert payload["rule_ref"] is None
    assert payload["trigger_ref"] is None
    assert payload["status"] == "requested"


def test_status_change_payload_has_old_status(
    db: Database, refs: dict[str, int], listener: Listener
) -> None:
    execution_id = _insert_execution(db, refs)
    assert listener.next()[0] == "execution_created"
    _set_status(db, execution_id, "scheduling")
    channel, payload, _ = listener.next()
    assert channel == "execution_status_changed"
    assert set(payload) == EXECUTION_KEYS | {"old_status"}
    _assert_execution_payload(payload, _row(db, "execution", execution_id))
    assert payload["old_status"] == "requested"
    assert payload["status"] == "scheduling"
    assert payload["rule_ref"] == "core.on_tick"
    assert payload["trigger_ref"] == "core.tick"


@pytest.mark.parametrize(
    "assignments",
    [
        pytest.param("result = '{\"partial\": true}', retry_reason = 'x'", id="other-fields"),
        pytest.param("status = 'requested'", id="same-status"),
    ],
)
def test_update_without_status_change_sends_nothing(
    db: Database, refs: dict[str, int], listener: Listener, assignments: str
) -> None:
    execution_id = _insert_execution(db, refs)
    assert listener.next()[0] == "execution_created"
    with db.transaction() as conn:
        conn.execute(
            sa.text(f"UPDATE attune.execution SET {assignments} WHERE id = :id"),
            {"id": execution_id},
        )
    _set_status(db, execution_id, "cancelled")  # the sentinel
    channel, payload, _ = listener.next()
    assert channel == "execution_status_changed"
    assert (payload["old_status"], payload["status"]) == ("requested", "cancelled")


def test_rolled_back_insert_sends_nothing(
    db: Database, refs: dict[str, int], listener: Listener
) -> None:
    with pytest.raises(RuntimeError), db.transaction() as conn:  # noqa: PT012
        conn.execute(
            sa.text("INSERT INTO attune.execution (action_ref) VALUES ('core.rolled_back')")
        )
        raise RuntimeError("roll back")
    execution_id = _insert_execution(db, refs)
    channel, payload, _ = listener.next()
    assert channel == "execution_created"
    assert payload["id"] == execution_id
    assert payload["action_ref"] == "core.echo"


def _huge_task() -> str:
    return json.dumps({"task_name": "t", "task_batch": "x" * 7500})


def test_huge_created_payload_is_compact(
    db: Database, refs: dict[str, int], listener: Listener
) -> None:
    execution_id = _insert_execution(db, refs, workflow_task=_huge_task())
    channel, payload, raw = listener.next()
    assert channel == "execution_created"
    assert payload == {
        "id": execution_id,
        "status": "requested",
        "old_status": None,
        "auth_mode": "deferred",
    }
    assert len(raw.encode()) < 7000


def test_huge_status_change_payload_is_compact(
    db: Database, refs: dict[str, int], listener: Listener
) -> None:
    execution_id = _insert_execution(db, refs, workflow_task=_huge_task())
    assert listener.next()[0] == "execution_created"
    _set_status(db, execution_id, "scheduling")
    channel, payload, _ = listener.next()
    assert channel == "execution_status_changed"
    assert set(payload) == COMPACT_KEYS
    assert payload == {
        "id": execution_id,
        "status": "scheduling",
        "old_status": "requested",
        "auth_mode": "deferred",
    }


def test_payload_just_under_the_limit_is_complete(
    db: Database, refs: dict[str, int], listener: Listener
) -> None:
    # Grow workflow_task until the full payload is just under 7000 bytes.
    execution_id = _insert_execution(db, refs, workflow_task=json.dumps({"task_batch": ""}))
    _, small, small_raw = listener.next()
    assert set(small) == EXECUTION_KEYS
    # One byte per added character; the update adds old_status (~30 bytes) to the payload.
    filler = "x" * (6950 - len(small_raw.encode()))
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "UPDATE attune.execution SET workflow_task = CAST(:w AS jsonb), "
                "status = 'scheduling' WHERE id = :id"
            ),
            {"w": json.dumps({"task_batch": filler}), "id": execution_id},
        )
    channel, payload, raw = listener.next()
    assert channel == "execution_status_changed"
    assert 6900 < len(raw.encode()) <= 7000
    assert set(payload) == EXECUTION_KEYS | {"old_status"}
    assert payload["workflow_task"] == {"task_batch": filler}


# -- inquiries ---------------------------------------------------------------------


def _insert_inquiry(db: Database, execution_id: int = 42) -> int:
    with db.transaction() as conn:
        return conn.execute(
            sa.text(
                "INSERT INTO attune.inquiry (created_by_execution, prompt, response_options, "
                "timeout_at) VALUES (:e, 'Deploy?', '[\"yes\", \"no\"]', "
                "'2030-01-01 00:00+00') RETURNING id"
            ),
            {"e": execution_id},
        ).scalar_one()


def _assert_inquiry_payload(payload: dict[str, Any], row: dict[str, Any]) -> None:
    assert set(payload) == INQUIRY_KEYS
    assert payload["entity_type"] == "inquiry"
    assert payload["entity_id"] == row["id"]
    assert payload["id"] == row["id"]
    assert payload["created_by_execution"] == row["created_by_execution"]
    assert payload["status"] == row["status"]
    assert _ts(payload["timeout_at"]) == row["timeout_at"]
    assert _ts(payload["updated"]) == row["updated"]
    assert _ts(payload["created"]) == row["created"]


def test_inquiry_created_payload(db: Database, listener: Listener) -> None:
    inquiry_id = _insert_inquiry(db, execution_id=77)
    channel, payload, _ = listener.next()
    assert channel == "inquiry_created"
    _assert_inquiry_payload(payload, _row(db, "inquiry", inquiry_id))
    assert payload["status"] == "pending"
    assert payload["created_by_execution"] == 77


@pytest.mark.parametrize(
    ("status", "channel"),
    [
        pytest.param("responded", "inquiry_responded", id="responded"),
        pytest.param("timeout", "inquiry_timeout", id="timeout"),
    ],
)
def test_inquiry_status_notifications(
    db: Database, listener: Listener, status: str, channel: str
) -> None:
    inquiry_id = _insert_inquiry(db)
    assert listener.next()[0] == "inquiry_created"
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "UPDATE attune.inquiry SET status = CAST(:s AS inquiry_status_enum), "
                "response = CASE WHEN :s = 'responded' THEN '{\"answer\": \"yes\"}'::jsonb END "
                "WHERE id = :id"
            ),
            {"s": status, "id": inquiry_id},
        )
    got, payload, _ = listener.next()
    assert got == channel
    row = _row(db, "inquiry", inquiry_id)
    _assert_inquiry_payload(payload, row)
    assert payload["status"] == status
    assert row["updated"] > row["created"]


@pytest.mark.parametrize(
    "assignments",
    [
        pytest.param("status = 'cancelled'", id="cancelled"),
        pytest.param("prompt = 'Deploy now?'", id="no-status-change"),
    ],
)
def test_other_inquiry_updates_send_nothing(
    db: Database, listener: Listener, assignments: str
) -> None:
    first = _insert_inquiry(db)
    second = _insert_inquiry(db)
    assert [listener.next()[0] for _ in range(2)] == ["inquiry_created", "inquiry_created"]
    with db.transaction() as conn:
        conn.execute(
            sa.text(f"UPDATE attune.inquiry SET {assignments} WHERE id = :id"), {"id": first}
        )
        conn.execute(
            sa.text("UPDATE attune.inquiry SET status = 'timeout' WHERE id = :id"), {"id": second}
        )  # the sentinel, in the same transaction, after
    channel, payload, _ = listener.next()
    assert channel == "inquiry_timeout"
    assert payload["id"] == second
