"""Tests for attune_nb/listener.py, on the real database: every change another
connection makes arrives once, compact payloads are re-read, and a forced disconnect
(``pg_terminate_backend``) loses nothing and doubles nothing (checked against
``execution_history``). Waits are on conditions with a deadline, never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb import ConfigurationError, Database, DatabaseUnavailable
from attune_nb.listener import CHANNELS, Change, Listener
from attune_nb.testing import ThrowawayServer

DEADLINE = 10.0


@pytest.fixture
def refs(db: Database) -> dict[str, int]:
    """An action and an enforcement (with its rule and trigger refs)."""
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


@pytest.fixture
def listen(db: Database) -> Iterator[Callable[..., Listener]]:
    """Start listeners on ``db``; every one is stopped before the database is dropped."""
    started: list[Listener] = []

    def start(**options: Any) -> Listener:
        listener = db.listen(**options)
        started.append(listener)
        return listener

    yield start
    for listener in started:
        listener.stop()


def _insert(db: Database, refs: dict[str, int], *, task: str | None = None) -> int:
    with db.transaction() as conn:
        return int(
            conn.execute(
                sa.text(
                    "INSERT INTO attune.execution (action, action_ref, enforcement, workflow_task) "
                    "VALUES (:a, 'core.echo', :e, CAST(:w AS jsonb)) RETURNING id"
                ),
                {"a": refs["action"], "e": refs["enforcement"], "w": task},
            ).scalar_one()
        )


def _move(db: Database, execution_id: int, *statuses: str) -> None:
    """Set the statuses one after the other, in one transaction."""
    with db.transaction() as conn:
        for status in statuses:
            conn.execute(
                sa.text(
                    "UPDATE attune.execution SET status = CAST(:s AS execution_status_enum) "
                    "WHERE id = :id"
                ),
                {"s": status, "id": execution_id},
            )


def _huge_task() -> str:
    return json.dumps({"task_name": "t", "task_batch": "x" * 7500})


def _history_keys(db: Database) -> Counter[tuple[Any, ...]]:
    """Every creation and status transition recorded, as :attr:`Change.key` says them."""
    with db.transaction() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT time, operation, entity_id, old_values ->> 'status', "
                "new_values ->> 'status' FROM attune.execution_history "
                "WHERE operation = 'INSERT' OR "
                "(operation = 'UPDATE' AND 'status' = ANY(changed_fields))"
            )
        ).all()
    return Counter(
        ("execution", eid, "created") if op == "INSERT" else ("execution", eid, t, old, new)
        for t, op, eid, old, new in rows
    )


def _take(listener: Listener, count: int, *, timeout: float = DEADLINE) -> list[Change]:
    """``count`` changes from the listener's queue, failing at the deadline."""
    deadline = time.monotonic() + timeout
    got: list[Change] = []
    while len(got) < count:
        left = deadline - time.monotonic()
        try:
            got.append(listener.get(timeout=max(left, 0.001)))
        except queue.Empty:
            pytest.fail(f"{len(got)} of {count} changes within {timeout}s: {got[-3:]}")
    return got


def _quiet(listener: Listener, *, for_: float = 0.3) -> list[Change]:
    """What else arrives within ``for_`` seconds (expected: nothing)."""
    extra: list[Change] = []
    deadline = time.monotonic() + for_
    while (left := deadline - time.monotonic()) > 0:
        try:
            extra.append(listener.get(timeout=left))
        except queue.Empty:
            break
    return extra


def _wait(condition: Callable[[], bool], what: str, *, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout}s: {what}")
        time.sleep(0.01)


def _listener_sessions(db: Database, listener: Listener) -> int:
    return int(
        db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name",
            name=listener.application_name,
        )
    )


# -- what arrives ----------------------------------------------------------------------


def test_sees_every_change_another_connection_makes(
    db: Database, refs: dict[str, int], listen: Callable[..., Listener]
) -> None:
    listener = listen()
    ids = [_insert(db, refs) for _ in range(10)]
    for execution_id in ids:
        _move(db, execution_id, "scheduling")
        _move(db, execution_id, "scheduled")
        _move(db, execution_id, "running")
    changes = _take(listener, 40)
    assert not _quiet(listener)
    assert Counter(c.key for c in changes) == _history_keys(db)
    assert {c.source for c in changes} == {"notify"}
    first = changes[0]
    assert (first.channel, first.id, first.status, first.old_status) == (
        "execution_created",
        ids[0],
        "requested",
        None,
    )
    moves = [(c.old_status, c.status) for c in changes if c.id == ids[-1]]
    assert moves == [
        (None, "requested"),
        ("requested", "scheduling"),
        ("scheduling", "scheduled"),
        ("scheduled", "running"),
    ]
    assert first.action_ref == "core.echo"
    assert first.payload["rule_ref"] == "core.on_tick"
    assert first.payload["trigger_ref"] == "core.tick"
    assert listener.delivered == 40
    assert listener.reconnects == 0


def test_change_time_is_the_history_time(
    db: Database, refs: dict[str, int], listen: Callable[..., Listener]
) -> None:
    listener = listen(channels=["execution_status_changed"])
    execution_id = _insert(db, refs)
    _move(db, execution_id, "scheduling")
    (change,) = _take(listener, 1)
    recorded = db.executions.history(execution_id)
    assert change.time == recorded["time"].iloc[-1].to_pydatetime()
    assert change.time.tzinfo is not None


def test_two_moves_in_one_transaction_share_a_time_and_both_arrive(
    db: Database, refs: dict[str, int], listen: Callable[..., Listener]
) -> None:
    listener = listen()
    execution_id = _insert(db, refs)
    _move(db, execution_id, "scheduling", "scheduled", "running")
    created, *moves = _take(listener, 4)
    assert created.channel == "execution_created"
    assert [(c.old_status, c.status) for c in moves] == [
        ("requested", "scheduling"),
        ("scheduling", "scheduled"),
        ("scheduled", "running"),
    ]
    assert len({c.time for c in moves}) == 1
    assert len({c.key for c in moves}) == 3


def test_compact_payloads_are_reread(
    db: Database, refs: dict[str, int], listen: Callable[..., Listener]
) -> None:
    listener = listen()
    execution_id = _insert(db, refs, task=_huge_task())
    _move(db, execution_id, "scheduling")
    created, moved = _take(listener, 2)
    for change in (created, moved):
        assert change.source == "reread"
        assert "auth_mode" not in change.payload
        assert change.action_ref == "core.echo"
        assert change.payload["rule_ref"] == "core.on_tick"
        assert change.payload["workflow_task"]["task_name"] == "t"
    assert (created.status, created.old_status) == ("requested", None)
    assert (moved.old_status, moved.status) == ("requested", "scheduling")
    assert moved.payload["old_status"] == "requested"
    assert Counter([created.key, moved.key]) == _history_keys(db)


def test_compact_payload_keeps_the_status_it_announced(
    db: Database, refs: dict[str, int], listen: Callable[..., Listener]
) -> None:
    # The row moved on before the listener re-read it: the change is still the first move.
    listener = listen(channels=["execution_status_changed"])
    execution_id = _insert(db, refs, task=_huge_task())
    _move(db, execution_id, "scheduling")
    _move(db, execution_id, "scheduled")
    first, second = _take(listener, 2)
    assert [(c.old_status, c.status) for c in (first, second)] == [
        ("requested", "scheduling"),
        ("scheduling", "scheduled"),
    ]
    assert first.time < second.time


def test_inquiry_changes_carry_no_response(db: Database, listen: Callable[..., Listener]) -> None:
    listener = listen(channels=["inquiry_created", "inquiry_responded", "inquiry_timeout"])
    with db.transaction() as conn:
        ids = [
            conn.execute(
                sa.text(
                    "INSERT INTO attune.inquiry (created_by_execution, prompt, response_options) "
                    "VALUES (7, 'Deploy?', '[\"yes\"]') RETURNING id"
                )
            ).scalar_one()
            for _ in range(2)
        ]
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "UPDATE attune.inquiry SET status = 'responded', "
                'response = \'{"token": "s3cret"}\' WHERE id = :id'
            ),
            {"id": ids[0]},
        )
        conn.execute(
            sa.text("UPDATE attune.inquiry SET status = 'timeout' WHERE id = :id"), {"id": ids[1]}
        )
    changes = _take(listener, 4)
    assert [(c.channel, c.id) for c in changes] == [
        ("inquiry_created", ids[0]),
        ("inquiry_created", ids[1]),
        ("inquiry_responded", ids[0]),
        ("inquiry_timeout", ids[1]),
    ]
    assert all(c.entity == "inquiry" for c in changes)
    assert changes[0].payload["created_by_execution"] == 7
    assert all("response" not in c.payload for c in changes)
    assert "s3cret" not in repr(changes)


def test_since_replays_what_was_recorded(
    db: Database, refs: dict[str, int], listen: Callable[..., Listener]
) -> None:
    before = db.scalar("SELECT now()")
    execution_id = _insert(db, refs)
    _move(db, execution_id, "scheduling")
    listener = listen(since=before)
    replayed = _take(listener, 2)
    assert [c.source for c in replayed] == ["backfill", "backfill"]
    assert [(c.old_status, c.status) for c in replayed] == [
        (None, "requested"),
        ("requested", "scheduling"),
    ]
    _move(db, execution_id, "scheduled")
    (live,) = _take(listener, 1)
    assert (live.source, live.status) == ("notify", "scheduled")
    assert not _quiet(listener)


def test_on_change_is_called_and_a_failing_callback_does_not_stop_it(
    db: Database,
    refs: dict[str, int],
    listen: Callable[..., Listener],
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Change] = []

    def on_change(change: Change) -> None:
        seen.append(change)
        if len(seen) == 1:
            raise RuntimeError("a bug in the callback")

    listener = listen(on_change=on_change)
    with caplog.at_level(logging.ERROR, logger="attune_nb"):
        execution_id = _insert(db, refs)
        _move(db, execution_id, "scheduling")
        _wait(lambda: len(seen) == 2, "both changes handed to on_change")
    assert "on_change callback failed" in caplog.text
    assert listener.running
    assert listener.changes.empty()


# -- a lost connection --------------------------------------------------------------------


def _terminate(db: Database, pid: int | None) -> None:
    assert pid is not None
    assert db.scalar("SELECT pg_terminate_backend(:pid)", pid=pid)


def test_forced_disconnects_lose_nothing_and_double_nothing(
    db: Database, refs: dict[str, int], listen: Callable[..., Listener]
) -> None:
    listener = listen(backoff=(0.05, 0.5))
    ids = [_insert(db, refs, task=_huge_task() if i % 3 == 0 else None) for i in range(6)]
    failures: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        # Moves keep coming while the listener's connection is killed, three times;
        # every fourth round two moves share a transaction (and so a time).
        try:
            for round_ in range(40):
                if round_ % 2:
                    moves: tuple[str, ...] = ("requested",)
                else:
                    moves = ("scheduling", "scheduled") if round_ % 4 == 0 else ("scheduling",)
                for execution_id in ids:
                    _move(db, execution_id, *moves)
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for kill in range(3):
            _wait(lambda: listener.state == "listening", "listening again")
            enough = 40 * (kill + 1)
            _wait(lambda n=enough: listener.delivered > n, "some changes arrived")  # type: ignore[misc]
            pid = listener.backend_pid
            _terminate(db, pid)
            _wait(lambda p=pid: listener.backend_pid != p, "a new connection")  # type: ignore[misc]
    finally:
        writer.join()
    assert not failures
    expected = _history_keys(db)
    total = sum(expected.values())
    got: list[Change] = []
    deadline = time.monotonic() + DEADLINE
    while len(got) < total and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            got.append(listener.get(timeout=0.1))
    got += _quiet(listener)
    keys = Counter(c.key for c in got)
    assert keys - expected == Counter(), "doubled or invented"
    assert expected - keys == Counter(), "missed"
    assert listener.reconnects == 3
    assert any(c.source == "backfill" for c in got)
    assert any(c.source == "reread" for c in got)
    assert _listener_sessions(db, listener) == 1


def _allow_connections(pg: ThrowawayServer, db: Database, allow: bool) -> None:
    name = db.scalar("SELECT current_database()")
    pg._admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')


def test_reconnects_with_backoff_while_the_database_refuses(
    db: Database, refs: dict[str, int], listen: Callable[..., Listener], pg: ThrowawayServer
) -> None:
    listener = listen(backoff=(0.05, 0.2))
    execution_id = _insert(db, refs)
    _take(listener, 1)
    # The writes below reuse the engine's pooled connection: only new ones are refused.
    _allow_connections(pg, db, False)
    try:
        _terminate(db, listener.backend_pid)
        _wait(lambda: listener.state == "reconnecting", "reconnecting")
        _move(db, execution_id, "scheduling")
        _move(db, execution_id, "cancelled")
        time.sleep(0.3)  # several refused attempts (the backoff), on purpose
        assert listener.state == "reconnecting"
        assert listener.last_error is not None
    finally:
        _allow_connections(pg, db, True)
    moved = _take(listener, 2)
    assert [(c.old_status, c.status, c.source) for c in moved] == [
        ("requested", "scheduling", "backfill"),
        ("scheduling", "cancelled", "backfill"),
    ]
    assert listener.state == "listening"
    assert not _quiet(listener)


# -- stopping -----------------------------------------------------------------------------


def test_stop_is_prompt_and_leaves_no_thread_or_connection(
    db: Database, listen: Callable[..., Listener]
) -> None:
    listener = listen(tick=5.0)  # the wake-up, not the select timeout, ends the wait
    assert _listener_sessions(db, listener) == 1
    started = time.monotonic()
    listener.stop()
    assert time.monotonic() - started < 1.0
    assert not listener.running
    assert listener.state == "stopped"
    assert not [t for t in threading.enumerate() if t.name == "attune_nb-listener"]
    _wait(lambda: _listener_sessions(db, listener) == 0, "the listener's session gone")
    listener.stop()  # again: nothing happens
    with pytest.raises(RuntimeError, match="cannot start again"):
        listener.start()


def test_stop_is_prompt_while_reconnecting(
    db: Database, listen: Callable[..., Listener], pg: ThrowawayServer
) -> None:
    listener = listen(backoff=(2.0, 4.0))
    _allow_connections(pg, db, False)
    try:
        _terminate(db, listener.backend_pid)
        _wait(lambda: listener.state == "reconnecting", "reconnecting")
        started = time.monotonic()
        listener.stop()
        assert time.monotonic() - started < 1.0
    finally:
        _allow_connections(pg, db, True)
    assert not listener.running


def test_context_manager_stops(db: Database, refs: dict[str, int]) -> None:
    with db.listen() as listener:
        assert listener.running
        _insert(db, refs)
        (change,) = _take(listener, 1)
    assert not listener.running
    assert change.channel == "execution_created"
    assert "stopped" in repr(listener)


def test_exiting_without_stop_is_prompt_and_clean(
    db: Database, db_url: str, refs: dict[str, int]
) -> None:
    # What a kernel shutting down does: the exit hook stops the thread, no hang.
    script = (
        "import atexit, attune_nb, sys\n"
        "db = attune_nb.connect(sys.argv[1])\n"
        # Registered first, so it runs after the listener's own exit hook.
        "atexit.register(lambda: print('at exit:', listener.state, listener.running))\n"
        "listener = db.listen()\n"
        "print(listener.application_name, flush=True)\n"
        "sys.stdin.readline()\n"
    )
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", script, db_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ATTUNE_NB_DEMO": "0"},
    )
    assert child.stdout is not None and child.stdin is not None
    name = child.stdout.readline().strip()
    assert name.endswith(" listener")
    count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"
    assert db.scalar(count, n=name) == 1
    _insert(db, refs)  # a change in flight as it exits
    stdout, stderr = child.communicate("\n", timeout=DEADLINE)
    assert child.returncode == 0, stderr
    assert stdout.strip() == "at exit: stopped False"
    assert "Traceback" not in stderr
    assert time.monotonic() - started < DEADLINE
    _wait(lambda: db.scalar(count, n=name) == 0, "the child's listener session gone")


def test_a_database_that_cannot_be_reached_says_so(pg: ThrowawayServer) -> None:
    url = pg.create_database(name="listener_gone")
    gone = attune_nb.connect(url)
    try:
        pg.drop_database("listener_gone")
        with pytest.raises(DatabaseUnavailable):
            Listener(gone).start()
    finally:
        gone.close()


@pytest.mark.parametrize(
    ("options", "name"),
    [
        pytest.param({"channels": ["execution_deleted"]}, "channels", id="unknown-channel"),
        pytest.param({"channels": []}, "channels", id="no-channel"),
        pytest.param({"since": dt.datetime(2026, 1, 1)}, "since", id="naive-since"),
        pytest.param({"connect_timeout": 1}, "connect_timeout", id="connect-timeout"),
    ],
)
def test_options_are_checked(db: Database, options: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Listener(db, **options)
    assert caught.value.name == name
    # The half-made listener in the traceback's frames can still be shown.
    frames = [f.f_locals.get("self") for f, _ in traceback.walk_tb(caught.tb)]
    refused = [f for f in frames if isinstance(f, Listener)]
    assert [repr(f) for f in refused] == ["<Listener (not started: its options were refused)>"]


def test_channels_are_attunes() -> None:
    assert CHANNELS == (
        "execution_created",
        "execution_status_changed",
        "inquiry_created",
        "inquiry_responded",
        "inquiry_timeout",
    )
