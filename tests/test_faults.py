"""Faults on the real database (issue 13): killed writers, restarts, timeouts, a full disk.

- A process SIGKILLed in the middle of a bulk apply (held there by a lock this test
  holds, and seen waiting in ``pg_stat_activity``) leaves nothing of it; the apply
  then goes through whole.
- A server of this module's own (never the session's ``pg``) is stopped and started
  under an open :class:`~attune_nb.Database`: calls while it is down raise
  :class:`~attune_nb.DatabaseUnavailable` at once, calls after it is back work, on
  the SQLAlchemy path and the ADBC frame reader alike; a server that accepts but never
  answers times out instead of hanging; the live monitor reconnects and backfills.
- An embedded server left running by a SIGKILLed process is found and reused, and
  stopped by ``attune-nb db stop``.
- A statement cancelled by ``statement_timeout`` / ``lock_timeout``, and a full disk (a
  real tablespace on a 1 MB tmpfs when this runs as root, and a server-raised
  ``disk_full`` on every driver path), give a clear error and no half write.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb import Database, DatabaseUnavailable
from attune_nb.embedded import SYSTEM_USER, EmbeddedServer
from attune_nb.engine import CONNECT_TIMEOUT
from attune_nb.errors import DiskFull, QueryCancelled
from attune_nb.frames import Column
from attune_nb.testing import ThrowawayServer

DEADLINE = 60.0  # a guard against a hang, never a timing assertion
X = [Column("x", "int")]


def _bounded(call: Callable[[], Any], *, timeout: float = DEADLINE) -> Any:
    """``call()`` in a thread: what it returned or raised; the test fails if it hangs."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"{call} hung for {timeout}s")
    return box.get("error", box.get("value"))


def _wait(condition: Callable[[], Any], what: str, *, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout}s: {what}")
        time.sleep(0.02)
    return value


def _first(db: Database, sql: str, **params: Any) -> Any:
    """The first row of ``sql`` (or None), in a transaction of its own."""
    with db.transaction() as conn:
        return conn.execute(sa.text(sql), params).first()


def _executions(db: Database, n: int, *, ref: str = "core.fault") -> list[int]:
    with db.transaction() as conn:
        rows = conn.execute(
            sa.text(
                "INSERT INTO attune.execution (action_ref) "
                "SELECT :ref FROM generate_series(1, :n) RETURNING id"
            ),
            {"ref": ref, "n": n},
        )
        return sorted(int(r[0]) for r in rows)


def _state(db: Database, ids: list[int]) -> tuple[Counter[str], int]:
    """The statuses of ``ids`` and how many status changes their history records."""
    with db.transaction() as conn:
        statuses = Counter(
            str(s)
            for (s,) in conn.execute(
                sa.text("SELECT status FROM attune.execution WHERE id = ANY(:ids)"), {"ids": ids}
            )
        )
        moves = conn.execute(
            sa.text(
                "SELECT count(*) FROM attune.execution_history WHERE entity_id = ANY(:ids) "
                "AND time > now() - interval '1 day' AND operation = 'UPDATE' "
                "AND 'status' = ANY(changed_fields)"
            ),
            {"ids": ids},
        ).scalar_one()
    return statuses, int(moves)


def _with_options(url: str, **settings: str) -> str:
    """``url`` with server settings for its sessions (libpq ``options``)."""
    options = "%20".join(f"-c%20{name}%3D{value}" for name, value in settings.items())
    return f"{url}&options={options}"


# -- a process killed in the middle of a bulk apply ---------------------------------------------

N_APPLY = 200


def _apply_in_child(url: str, ids: list[int]) -> None:
    """A spawned process: preview moving ``ids`` to cancelled, and apply it."""
    db = attune_nb.connect(url)
    preview = db.executions.bulk_transition("cancelled", ids=ids)
    db.executions.apply(preview)


# Where the child is held, what it then runs, and how many of the rows only the child locks.
BLOCKS = {
    # a row lock on the last row: the child has locked every other one (id order)
    "locking-rows": ("SELECT id FROM attune.execution WHERE id = :last FOR UPDATE", "SELECT", 1),
    # the history table locked: the UPDATE has written every row, its history trigger waits
    "updating": ("LOCK TABLE attune.execution_history IN SHARE MODE", "UPDATE", 0),
}


@pytest.mark.parametrize("block", BLOCKS)
def test_a_bulk_apply_killed_midway_writes_nothing(db: Database, db_url: str, block: str) -> None:
    ids = _executions(db, N_APPLY)
    hold, running, unlocked = BLOCKS[block]
    blocker = db.engine.connect()
    held = blocker.begin()
    blocker.execute(sa.text(hold), {"last": ids[-1]})
    child = multiprocessing.get_context("spawn").Process(
        target=_apply_in_child, args=(db_url, ids), daemon=True
    )
    child.start()
    try:
        app = f"attune_nb[{child.pid}]"
        # In the middle: the child's apply statement runs and waits for our lock.
        pid, query = _wait(
            lambda: _first(
                db,
                "SELECT pid, query FROM pg_stat_activity WHERE application_name = :app "
                "AND state = 'active' AND wait_event_type = 'Lock'",
                app=app,
            ),
            f"the child's apply waiting on the lock ({block})",
        )
        assert query.lstrip().startswith(running), query
        # It holds the lock of every row but ours (SKIP LOCKED skips rows another locks).
        free = blocker.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT id FROM attune.execution WHERE id = ANY(:ids) "
                "FOR UPDATE SKIP LOCKED) AS s"
            ),
            {"ids": ids},
        ).scalar_one()
        assert free == unlocked
        if block == "updating":
            waits_for = db.scalar(
                "SELECT relation = 'attune.execution_history'::regclass FROM pg_locks "
                "WHERE pid = :pid AND NOT granted",
                pid=pid,
            )
            assert waits_for is True
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join(DEADLINE)
        assert child.exitcode == -signal.SIGKILL
    finally:
        held.rollback()
        blocker.close()
        if child.is_alive():  # pragma: no cover - only when the test failed early
            child.kill()
    # Its server session ends (the client is gone); nothing of the apply was committed.
    _wait(
        lambda: (
            not db.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app", app=app
            )
        ),
        "the killed child's session to end",
    )
    assert _state(db, ids) == (Counter({"requested": N_APPLY}), 0)
    # And nothing is left locked or half done: the same apply goes through whole.
    done = db.executions.apply(db.executions.bulk_transition("cancelled", ids=ids))
    assert done["applied"].all()
    assert _state(db, ids) == (Counter({"cancelled": N_APPLY}), N_APPLY)


# -- a server of our own, stopped and started under an open Database ---------------------------


@pytest.fixture(scope="module")
def own() -> Iterator[ThrowawayServer]:
    """A server for this module alone: it is stopped, started and filled up here."""
    server = ThrowawayServer()
    yield server
    server.close()


_own_names = itertools.count(1)


@pytest.fixture
def own_url(own: ThrowawayServer) -> Iterator[str]:
    """A new migrated database on :func:`own`; the server runs again afterwards."""
    name = f"fault_{next(_own_names)}"
    url = own.create_database(migrated=True, name=name)
    yield url
    if not own.server.is_running():
        own.server.start()
    own.drop_database(name)


@pytest.fixture
def own_db(own_url: str) -> Iterator[Database]:
    database = attune_nb.connect(own_url)
    yield database
    database.close()


def _restart(own: ThrowawayServer) -> None:
    assert own.server.stop() is True
    own.server.start()


def test_a_restart_between_calls_goes_unnoticed_on_both_paths(
    own: ThrowawayServer, own_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    execution_id = _executions(own_db, 1)[0]
    assert len(own_db.executions.frame()) == 1  # both paths hold a connection now
    _restart(own)
    # SQLAlchemy: the pool's connection died with the server; the pre-ping replaces it.
    moved = _bounded(lambda: own_db.executions.transition(execution_id, "scheduling"))
    assert isinstance(moved, attune_nb.Execution) and moved.status == "scheduling"
    _restart(own)
    # ADBC: the reader's cached connection died too; it is replaced once, quietly.
    with caplog.at_level("INFO", logger="attune_nb"):
        frame = _bounded(lambda: own_db.read("SELECT 1 AS x", X))
    assert isinstance(frame, type(own_db.executions.frame())), frame
    assert list(frame["x"]) == [1]
    assert "connection to" in caplog.text and "reconnecting once" in caplog.text
    assert list(own_db.executions.frame()["status"].astype(str)) == ["scheduling"]


PATHS_DOWN: dict[str, Callable[[Database, int], Any]] = {
    "statement": lambda db, e: db.executions.get(e),
    "write": lambda db, e: db.executions.transition(e, "cancelled"),
    "frame": lambda db, e: db.executions.frame(),
    "reader": lambda db, e: db.read("SELECT 1 AS x", X),  # ADBC alone, no SQLAlchemy first
}


@pytest.mark.parametrize("path", PATHS_DOWN)
def test_while_the_server_is_down_a_call_raises_database_unavailable(
    own: ThrowawayServer, own_db: Database, path: str
) -> None:
    execution_id = _executions(own_db, 1)[0]
    assert len(own_db.executions.frame()) == 1
    assert own.server.stop() is True
    try:
        error = _bounded(lambda: PATHS_DOWN[path](own_db, execution_id))
    finally:
        own.server.start()
    assert isinstance(error, DatabaseUnavailable), error
    assert error.url == own_db.url
    assert "No such file or directory" in error.reason  # the socket is gone
    assert "attune-nb db start" in str(error)
    # Back up: the same Database works again, and nothing was written meanwhile.
    assert own_db.executions.get(execution_id).status == "requested"
    assert len(own_db.executions.frame()) == 1


def test_a_transaction_open_across_a_restart_is_rolled_back(
    own: ThrowawayServer, own_db: Database
) -> None:
    def write_across_a_stop() -> None:
        with own_db.transaction() as conn:
            conn.execute(sa.text("INSERT INTO attune.execution (action_ref) VALUES ('core.lost')"))
            assert own.server.stop() is True
            conn.execute(sa.text("SELECT 1"))

    try:
        error = _bounded(write_across_a_stop)
    finally:
        own.server.start()
    assert isinstance(error, DatabaseUnavailable), error
    assert own_db.executions.count(action_ref="core.lost") == 0
    assert own_db.executions.create("core.kept").status == "requested"


def test_an_unresponsive_server_times_out_instead_of_hanging(
    own: ThrowawayServer, own_url: str
) -> None:
    url = f"{own_url}&connect_timeout=2"
    db = attune_nb.connect(url)
    try:
        execution_id = _executions(db, 1)[0]
        assert len(db.executions.frame()) == 1
        assert own.server.stop() is True
        # Something takes the server's socket and never answers (a hung server, a proxy).
        path = own.server.socket_dir / ".s.PGSQL.5432"
        silent = socket.socket(socket.AF_UNIX)
        try:
            silent.bind(str(path))
            silent.listen(64)
            calls: dict[str, Callable[[], Any]] = {
                "statement": lambda: db.executions.get(execution_id),
                "reader": lambda: db.read("SELECT 1 AS x", X),
                "connect": lambda: attune_nb.connect(url),
            }
            for name, call in calls.items():
                error = _bounded(call, timeout=30)
                assert isinstance(error, DatabaseUnavailable), (name, error)
                assert "timeout expired" in error.reason, (name, error.reason)
        finally:
            silent.close()
            path.unlink(missing_ok=True)
            own.server.start()
        assert db.executions.get(execution_id).status == "requested"
    finally:
        db.close()


def test_connections_time_out_by_default_unless_the_url_says(db: Database, db_url: str) -> None:
    raw = db.engine.raw_connection()
    try:
        assert f"connect_timeout={CONNECT_TIMEOUT}" in raw.driver_connection.dsn  # type: ignore[union-attr]
    finally:
        raw.close()
    assert f"connect_timeout={CONNECT_TIMEOUT}" in db.reader._uri
    own = attune_nb.connect(f"{db_url}&connect_timeout=3")
    try:
        raw = own.engine.raw_connection()
        assert "connect_timeout=3" in raw.driver_connection.dsn  # type: ignore[union-attr]
        raw.close()
        assert "connect_timeout=3" in own.reader._uri
        assert f"connect_timeout={CONNECT_TIMEOUT}" not in own.reader._uri
    finally:
        own.close()


def test_url_options_reach_both_paths(db_url: str) -> None:
    # libpq reads a "+" in a URI as a plus: the reader's URI must encode spaces as %20.
    db = attune_nb.connect(_with_options(db_url, statement_timeout="1234", lock_timeout="567"))
    try:
        assert db.scalar("SHOW statement_timeout") == "1234ms"
        frame = db.read(
            "SELECT current_setting('statement_timeout') || ' ' || "
            "current_setting('lock_timeout') AS x",
            [Column("x", "str")],
        )
        assert list(frame["x"]) == ["1234ms 567ms"]
    finally:
        db.close()


def test_the_live_monitor_survives_a_restart_and_backfills_each_change_once(
    own: ThrowawayServer, own_url: str, own_db: Database
) -> None:
    from attune_nb.widgets.monitor import LiveMonitor

    # The monitor connects as a role of its own, so that it can be kept out after the
    # restart while the changes it must backfill are made (as postgres).
    role = f"monitor_{uuid.uuid4().hex[:8]}"
    own._admin(f"CREATE ROLE {role} LOGIN SUPERUSER")
    watcher = attune_nb.connect(own_url.replace("postgres@", f"{role}@"))
    monitor = LiveMonitor(watcher, limit=100)
    try:
        first = own_db.executions.create("core.before")
        assert monitor.wait_for(1, timeout=DEADLINE)
        own._admin(f"ALTER ROLE {role} NOLOGIN")
        _restart(own)
        _wait(lambda: monitor.state == "reconnecting", "the monitor to notice the restart")
        # Made while the monitor cannot connect: only the history can tell it of them.
        gap = [own_db.executions.create("core.during").id for _ in range(3)]
        for execution_id in gap:
            own_db.executions.transition(execution_id, "scheduling")
            own_db.executions.transition(execution_id, "cancelled")
        own_db.executions.transition(first.id, "abandoned")
        assert monitor.seen == 1 and monitor.state == "reconnecting"
        assert "connection lost" in monitor.status_line.value
        own._admin(f"ALTER ROLE {role} LOGIN")
        assert monitor.wait_for(1 + 10, timeout=DEADLINE), monitor.frame()
        # A change after the reconnect comes by notification, after all of the gap.
        last = own_db.executions.create("core.after")
        assert monitor.wait_for(1 + 10 + 1, timeout=DEADLINE), monitor.frame()
        assert monitor.state == "listening"
    finally:
        monitor.stop()
        watcher.close()
        own._admin(f"DROP ROLE {role}")
    rows = monitor.frame()
    seen = Counter(zip(rows["id"].astype(int), rows["change"], strict=True))
    expected = Counter(
        {(first.id, "created requested"): 1, (first.id, "requested → abandoned"): 1}
        | {(e, "created requested"): 1 for e in gap}
        | {(e, "requested → scheduling"): 1 for e in gap}
        | {(e, "scheduling → cancelled"): 1 for e in gap}
        | {(last.id, "created requested"): 1}
    )
    assert seen == expected  # each change once, none missing
    keys = zip(rows["id"].astype(int), rows["change"], strict=True)
    sources = dict(zip(keys, rows["source"], strict=True))
    assert {sources[(e, "scheduling → cancelled")] for e in gap} == {"backfill"}
    assert sources[(last.id, "created requested")] == "notify"


# -- an embedded server left behind by a killed process ---------------------------------------

_STARTER = textwrap.dedent(
    """
    import sys, time
    import psycopg2
    from attune_nb.embedded import EmbeddedServer
    server = EmbeddedServer(sys.argv[1])
    server.start()
    conn = psycopg2.connect(host=str(server.socket_dir), user="postgres", dbname="attune")
    with server.exclusive():  # killed while it holds the home's lock, too
        print(server.status().pid, flush=True)
        time.sleep(600)
    """
)


def test_a_server_left_by_a_killed_process_is_reused_and_stopped_by_the_cli() -> None:
    home = Path(tempfile.mkdtemp(prefix="attune_nb_orphan_", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "ATTUNE_DB_URL"}
    env["ATTUNE_NB_HOME"] = str(home)
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTER, str(home)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert starter.stdout is not None
        line = _bounded(starter.stdout.readline)
        postmaster = int(line)
        starter.send_signal(signal.SIGKILL)
        assert starter.wait(DEADLINE) == -signal.SIGKILL
        # The server outlives it, and the lock it held is free: start() finds and reuses it.
        server = EmbeddedServer(home)
        assert server.status().running and server.status().pid == postmaster
        url = _bounded(server.start)
        assert url == server.url()
        assert server.status().pid == postmaster  # the same server, not a new one
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()
        cli = Path(sys.executable).parent / "attune-nb"
        status = subprocess.run(
            [str(cli), "db", "status"], capture_output=True, text=True, env=env, timeout=DEADLINE
        )
        assert status.returncode == 0 and f"pid {postmaster}" in status.stdout, status
        stop = subprocess.run(
            [str(cli), "db", "stop"], capture_output=True, text=True, env=env, timeout=DEADLINE
        )
        assert (stop.returncode, stop.stdout.strip()) == (0, "stopped"), stop
        assert not server.is_running()
        assert not (server.pgdata / "postmaster.pid").exists()
    finally:
        if starter.poll() is None:  # pragma: no cover - only when the test failed early
            starter.kill()
            starter.wait()
        if starter.stdout is not None:
            starter.stdout.close()
        EmbeddedServer(home).destroy()
        shutil.rmtree(home, ignore_errors=True)


# -- statement timeouts and a full disk: a clear error, no half write ---------------------------


@pytest.mark.parametrize(
    ("setting", "hold", "sqlstate"),
    [
        pytest.param(
            "statement_timeout",
            "LOCK TABLE attune.execution_history IN SHARE MODE",
            "57014",
            id="statement_timeout-mid-update",
        ),
        pytest.param(
            "lock_timeout",
            "SELECT id FROM attune.execution WHERE id = :last FOR UPDATE",
            "55P03",
            id="lock_timeout-row-locked",
        ),
    ],
)
def test_a_cancelled_bulk_apply_says_so_and_writes_nothing(
    db: Database, db_url: str, setting: str, hold: str, sqlstate: str
) -> None:
    ids = _executions(db, N_APPLY)
    timed = attune_nb.connect(_with_options(db_url, **{setting: "300"}))
    blocker = db.engine.connect()
    held = blocker.begin()
    try:
        blocker.execute(sa.text(hold), {"last": ids[-1]})
        preview = timed.executions.bulk_transition("cancelled", ids=ids)
        error = _bounded(lambda: timed.executions.apply(preview))
        assert isinstance(error, QueryCancelled), error
        assert error.sqlstate == sqlstate
        assert error.statement.startswith("UPDATE" if sqlstate == "57014" else "SELECT")
        assert setting.replace("_", " ") in error.reason  # "statement timeout", "lock timeout"
        assert setting in error.hint and "nothing of it was written" in str(error)
    finally:
        held.rollback()
        blocker.close()
    try:
        assert _state(db, ids) == (Counter({"requested": N_APPLY}), 0)
        # The same Database goes on working, and the apply goes through once unblocked.
        assert timed.executions.apply(preview)["applied"].all()
        assert _state(db, ids) == (Counter({"cancelled": N_APPLY}), N_APPLY)
    finally:
        timed.close()


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT 1 AS x FROM pg_sleep(5)", id="before-the-stream"),
        pytest.param(
            "SELECT CASE WHEN g > 2 THEN (SELECT 1 FROM pg_sleep(0.2 + g * 0)) END AS x "
            "FROM generate_series(1, 20) AS g",
            id="in-the-stream",
        ),
    ],
)
def test_a_statement_timeout_on_the_frame_reader(db_url: str, sql: str) -> None:
    timed = attune_nb.connect(_with_options(db_url, statement_timeout="300"))
    try:
        error = _bounded(lambda: timed.read(sql, X))
        assert isinstance(error, QueryCancelled), error
        assert error.sqlstate == "57014" and "statement timeout" in error.reason
        assert error.statement.startswith("SELECT")
        assert list(timed.read("SELECT 7 AS x", X)["x"]) == [7]  # the reader is usable again
    finally:
        timed.close()


# A trigger the test installs raises PostgreSQL's own disk_full, with its own wording.
_DISK_FULL_TRIGGER = """
CREATE FUNCTION attune.test_disk_full() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'could not extend file "base/1/2": No space left on device'
        USING ERRCODE = 'disk_full', HINT = 'Check free disk space.';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER test_disk_full BEFORE UPDATE ON attune.execution
    FOR EACH ROW WHEN (NEW.status = 'abandoned') EXECUTE FUNCTION attune.test_disk_full();
CREATE FUNCTION attune.test_disk_full_read(g int) RETURNS int AS $$
BEGIN
    IF g > 2 THEN
        RAISE EXCEPTION 'could not extend file "base/1/3": No space left on device'
            USING ERRCODE = 'disk_full';
    END IF;
    RETURN g;
END;
$$ LANGUAGE plpgsql;
"""

DISK_FULL_PATHS: dict[str, Callable[[Database, list[int]], Any]] = {
    "apply": lambda db, ids: db.executions.apply(
        db.executions.bulk_transition("abandoned", ids=ids)
    ),
    "transition": lambda db, ids: db.executions.transition(ids[-1], "abandoned"),
    "reader": lambda db, ids: db.read(
        "SELECT attune.test_disk_full_read(g) AS x FROM generate_series(1, 5) AS g", X
    ),
}


@pytest.mark.parametrize("path", DISK_FULL_PATHS)
def test_a_server_raised_disk_full_is_translated(db: Database, path: str) -> None:
    ids = _executions(db, 20)
    with db.transaction() as conn:
        conn.exec_driver_sql(_DISK_FULL_TRIGGER)
    error = _bounded(lambda: DISK_FULL_PATHS[path](db, ids))
    assert isinstance(error, DiskFull), error
    assert "No space left on device" in error.reason
    assert "free space" in str(error)
    assert _state(db, ids) == (Counter({"requested": 20}), 0)


@pytest.fixture
def tiny_tablespace(own: ThrowawayServer) -> Iterator[str]:
    """A tablespace on a 1 MB tmpfs (root only: it mounts one); its name."""
    mount = Path(tempfile.mkdtemp(prefix="attune_nb_tiny_", dir="/tmp"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    name = f"tiny_{uuid.uuid4().hex[:8]}"
    try:
        if os.geteuid() == 0:
            shutil.chown(mount, SYSTEM_USER, SYSTEM_USER)
        own._admin(f"CREATE TABLESPACE {name} LOCATION '{mount}'")
        yield name
    finally:
        with contextlib.suppress(Exception):
            own._admin(f"DROP TABLESPACE IF EXISTS {name}")
        subprocess.run(["umount", str(mount)], check=False)
        mount.rmdir()


def test_a_full_disk_says_so_and_writes_nothing(own: ThrowawayServer, tiny_tablespace: str) -> None:
    name = f"fault_disk_{next(_own_names)}"
    url = own.create_database(migrated=True, name=name)
    db = attune_nb.connect(url)
    try:
        with db.transaction() as conn:
            conn.exec_driver_sql(f"ALTER TABLE attune.execution SET TABLESPACE {tiny_tablespace}")
        ids = _executions(db, N_APPLY)  # a few pages: they fit
        # A result that cannot be compressed much, 8 kB a row: 1.6 MB does not fit in 1 MB.
        big = {"pad": os.urandom(4000).hex()}
        preview = db.executions.bulk_transition("cancelled", ids=ids)
        error = _bounded(lambda: db.executions.apply(preview, result=big))
        assert isinstance(error, DiskFull), error
        assert "No space left on device" in error.reason
        assert error.statement.startswith("UPDATE attune.execution")
        # Nothing of it: no status, no result, no history; the connection is still good.
        assert _state(db, ids) == (Counter({"requested": N_APPLY}), 0)
        assert db.scalar("SELECT count(*) FROM attune.execution WHERE result IS NOT NULL") == 0
    finally:
        db.close()
        own.drop_database(name)
