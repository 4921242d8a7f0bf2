"""Tests for attune_nb/widgets/monitor.py (LiveMonitor) on the real database: what the
table and the counts show follows the changes another connection makes, across a
forced disconnect, and stopping, the Stop button, closing the widget (or its comm)
all stop the listener and close its connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from attune_nb import Database, DatabaseUnavailable, connect
from attune_nb.testing import ThrowawayServer
from attune_nb.widgets._base import WidgetBase
from attune_nb.widgets.monitor import COLUMNS, STOP, LiveMonitor

DEADLINE = 10.0


@pytest.fixture
def action(db: Database) -> int:
    with db.transaction() as conn:
        pack = conn.execute(
            sa.text(
                "INSERT INTO attune.pack (ref, label, version) VALUES ('core', 'Core', '1.0') "
                "RETURNING id"
            )
        ).scalar_one()
        return int(
            conn.execute(
                sa.text(
                    "INSERT INTO attune.action (ref, pack, pack_ref, label, entrypoint) "
                    "VALUES ('core.echo', :p, 'core', 'Echo', 'echo.sh') RETURNING id"
                ),
                {"p": pack},
            ).scalar_one()
        )


@pytest.fixture
def monitors(db: Database) -> Iterator[Callable[..., LiveMonitor]]:
    """Make monitors on ``db``; all are stopped before the database is dropped."""
    made: list[LiveMonitor] = []

    def make(**options: object) -> LiveMonitor:
        monitor = LiveMonitor(db, **options)  # type: ignore[arg-type]
        made.append(monitor)
        return monitor

    yield make
    for monitor in made:
        monitor.stop()


def _insert(db: Database, action: int, count: int = 1) -> list[int]:
    with db.transaction() as conn:
        return [
            int(
                conn.execute(
                    sa.text(
                        "INSERT INTO attune.execution (action, action_ref) "
                        "VALUES (:a, 'core.echo') RETURNING id"
                    ),
                    {"a": action},
                ).scalar_one()
            )
            for _ in range(count)
        ]


def _move(db: Database, execution_id: int, status: str) -> None:
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "UPDATE attune.execution SET status = CAST(:s AS execution_status_enum) "
                "WHERE id = :id"
            ),
            {"s": status, "id": execution_id},
        )


def _sessions(db: Database, monitor: LiveMonitor) -> int:
    assert monitor.listener is not None
    return int(
        db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n",
            n=monitor.listener.application_name,
        )
    )


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE}s: {what}")
        time.sleep(0.01)


def test_table_and_counts_follow_the_changes(
    db: Database, action: int, monitors: Callable[..., LiveMonitor]
) -> None:
    monitor = monitors()
    assert isinstance(monitor, WidgetBase)
    assert monitor.state == "listening"
    assert "listening" in monitor.status_text
    assert "no changes yet" in monitor.table.value
    first, second = _insert(db, action, 2)
    _move(db, first, "scheduling")
    _move(db, first, "cancelled")
    _move(db, second, "cancelled")
    assert monitor.wait_for(5, timeout=DEADLINE)
    assert [(r["id"], r["change"]) for r in monitor.rows] == [
        (second, "requested → cancelled"),
        (first, "scheduling → cancelled"),
        (first, "requested → scheduling"),
        (second, "created requested"),
        (first, "created requested"),
    ]
    assert all(set(r) == set(COLUMNS) for r in monitor.rows)
    assert monitor.rows[0]["ref"] == "core.echo"
    assert dict(monitor.counts) == {"requested": 2, "scheduling": 1, "cancelled": 2}
    # What the widgets show, not only the plain state.
    assert monitor.table.value.index("requested → cancelled") < monitor.table.value.index(
        "created requested"
    )
    assert "core.echo" in monitor.table.value
    assert "cancelled</span> 2" in monitor.counts_line.value
    assert monitor.seen == 5
    # The same changes as a frame of a fixed layout, oldest first.
    frame = monitor.frame()
    assert list(frame.columns) == list(COLUMNS)
    assert [str(d) for d in frame.dtypes] == [
        "datetime64[ns, UTC]",
        "string",
        "Int64",
        "string",
        "string",
        "string",
    ]
    assert frame[["id", "change"]].values.tolist() == [
        [r["id"], r["change"]] for r in reversed(monitor.rows)
    ]
    assert frame["time"].is_monotonic_increasing


def test_the_table_is_bounded_newest_first(
    db: Database, action: int, monitors: Callable[..., LiveMonitor]
) -> None:
    monitor = monitors(limit=3)
    ids = _insert(db, action, 5)
    assert monitor.wait_for(5, timeout=DEADLINE)
    assert [r["id"] for r in monitor.rows] == ids[::-1][:3]
    assert monitor.counts["requested"] == 5
    assert monitor.table.value.count("<tr>") == 1 + 3


def test_inquiries_show_too(db: Database, monitors: Callable[..., LiveMonitor]) -> None:
    monitor = monitors()
    with db.transaction() as conn:
        inquiry = conn.execute(
            sa.text(
                "INSERT INTO attune.inquiry (created_by_execution, prompt, response_options) "
                "VALUES (9, 'Deploy?', '[\"yes\"]') RETURNING id"
            )
        ).scalar_one()
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "UPDATE attune.inquiry SET status = 'responded', "
                'response = \'{"pin": "4321"}\' WHERE id = :id'
            ),
            {"id": inquiry},
        )
    assert monitor.wait_for(2, timeout=DEADLINE)
    assert [(r["entity"], r["id"], r["change"]) for r in monitor.rows] == [
        ("inquiry", inquiry, "responded"),
        ("inquiry", inquiry, "asked"),
    ]
    assert monitor.rows[0]["ref"] == "execution 9"
    assert dict(monitor.counts) == {"asked": 1, "responded": 1}
    assert "4321" not in monitor.table.value + repr(monitor.rows)


def test_a_forced_disconnect_shows_every_change_once(
    db: Database, action: int, monitors: Callable[..., LiveMonitor]
) -> None:
    monitor = monitors(limit=500)
    assert monitor.listener is not None
    ids = _insert(db, action, 4)
    stop = threading.Event()
    moves = 0

    def write() -> None:
        nonlocal moves
        statuses = ("scheduling", "requested")
        while not stop.is_set() or moves < 40:
            for execution_id in ids:
                _move(db, execution_id, statuses[(moves // len(ids)) % 2])
                moves += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        _wait(lambda: monitor.seen > 20, "changes arriving")
        pid = monitor.listener.backend_pid
        assert db.scalar("SELECT pg_terminate_backend(:p)", p=pid)
        _wait(
            lambda: monitor.listener is not None and monitor.listener.reconnects == 1, "reconnected"
        )
    finally:
        stop.set()
        writer.join()
    expected = 4 + moves
    assert monitor.wait_for(expected, timeout=DEADLINE)
    assert not monitor.wait_for(expected + 1, timeout=0.3)
    recorded = db.scalar(
        "SELECT count(*) FROM attune.execution_history WHERE operation = 'INSERT' "
        "OR 'status' = ANY(changed_fields)"
    )
    assert monitor.seen == recorded == expected
    shown = [(r["id"], r["time"], r["change"]) for r in monitor.rows]
    assert len(shown) == len(set(shown)) == expected
    assert sum(monitor.counts.values()) == expected
    assert monitor.state == "listening"


def test_stop_cleans_up(db: Database, monitors: Callable[..., LiveMonitor]) -> None:
    monitor = monitors()
    assert _sessions(db, monitor) == 1
    started = time.monotonic()
    monitor.stop()
    assert time.monotonic() - started < 1.0
    assert monitor.listener is not None and not monitor.listener.running
    assert monitor.state == "stopped"
    assert monitor.status_text == "stopped"
    assert monitor.stop_button.disabled
    _wait(lambda: _sessions(db, monitor) == 0, "the listener's session gone")
    monitor.stop()  # again: nothing happens


def test_the_stop_button_stops_it(db: Database, monitors: Callable[..., LiveMonitor]) -> None:
    monitor = monitors()
    assert monitor.stop_button.description == STOP
    monitor.stop_button.click()
    assert monitor.listener is not None and not monitor.listener.running
    assert monitor.state == "stopped"


def test_closing_the_widget_stops_it(db: Database, monitors: Callable[..., LiveMonitor]) -> None:
    monitor = monitors()
    monitor.widget.close()
    assert monitor.listener is not None and not monitor.listener.running
    _wait(lambda: _sessions(db, monitor) == 0, "the listener's session gone")


def test_the_frontend_closing_its_comm_stops_it(
    db: Database, monitors: Callable[..., LiveMonitor]
) -> None:
    monitor = monitors()
    comm = monitor.widget.comm
    assert comm is not None
    comm.handle_close({"content": {"comm_id": comm.comm_id, "data": {}}})
    assert monitor.listener is not None and not monitor.listener.running
    assert monitor.state == "stopped"


def test_since_shows_what_was_recorded(
    db: Database, action: int, monitors: Callable[..., LiveMonitor]
) -> None:
    before = db.scalar("SELECT now()")
    (execution_id,) = _insert(db, action)
    _move(db, execution_id, "cancelled")
    monitor = monitors(since=before)
    assert monitor.wait_for(2, timeout=DEADLINE)
    assert [(r["change"], r["source"]) for r in monitor.rows] == [
        ("requested → cancelled", "backfill"),
        ("created requested", "backfill"),
    ]


def test_an_unreachable_database_shows_in_the_status_line(pg: ThrowawayServer) -> None:
    url = pg.create_database(name="monitor_gone")
    gone = connect(url)
    try:
        pg.drop_database("monitor_gone")
        monitor = LiveMonitor(gone)
    finally:
        gone.close()
    assert monitor.listener is None
    assert isinstance(monitor.last_error, DatabaseUnavailable)
    assert "DatabaseUnavailable" in monitor.status_text
    assert monitor.stop_button.disabled
    monitor.stop()
