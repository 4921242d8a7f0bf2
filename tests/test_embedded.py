"""Tests for attune_nb/embedded.py: the embedded PostgreSQL server and its status.

Every server here lives in its own ``tempfile.mkdtemp`` home under /tmp and is
destroyed afterwards. Starts are few (about a second each): one shared server for
the read-only checks, one for the stop / restart / destroy life cycle.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from attune_nb.embedded import DATABASE, EmbeddedServer, ServerStatus


def _new_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="attune_nb_emb_", dir="/tmp"))


def _query(url: str, sql: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def _execute(url: str, sql: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


@pytest.fixture
def home() -> Iterator[Path]:
    """A fresh, empty home; whatever runs in it is destroyed afterwards."""
    path = _new_home()
    yield path
    EmbeddedServer(path).destroy()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[EmbeddedServer, str]]:
    """One started server (and the URL its first start returned) for the read-only checks."""
    path = _new_home()
    server = EmbeddedServer(path, throwaway=True)
    try:
        url = server.start()
        yield server, url
    finally:
        server.destroy()
        shutil.rmtree(path, ignore_errors=True)


# -- before any start --------------------------------------------------------------


def test_status_of_a_fresh_home(home: Path) -> None:
    server = EmbeddedServer(home)
    status = server.status()
    assert status == ServerStatus(home=home, initialized=False, running=False, pid=None, url=None)
    assert str(status) == (
        f"embedded database in {home}: not created yet (run `attune-nb db start`)"
    )
    assert server.is_running() is False
    assert repr(server) == f"<EmbeddedServer {home} stopped>"
    assert server.stop() is False
    assert not (home / "pgdata").exists()


def test_url_is_known_before_start(home: Path) -> None:
    server = EmbeddedServer(home)
    assert server.url() == f"postgresql+psycopg2://postgres@/{DATABASE}?host={home / 'pgdata'}"
    assert server.url("other").startswith("postgresql+psycopg2://postgres@/other?host=")


def test_relative_home_is_made_absolute(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(home.parent)
    assert EmbeddedServer(home.name).home == home


def test_home_defaults_to_env_var(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTUNE_NB_HOME", str(home))
    assert EmbeddedServer().home == home
    monkeypatch.delenv("ATTUNE_NB_HOME")
    monkeypatch.chdir(home)
    assert EmbeddedServer().home == home / ".attune_nb"


# -- a running server --------------------------------------------------------------


def test_start_returns_a_working_url(running: tuple[EmbeddedServer, str]) -> None:
    server, url = running
    assert url == server.url()
    assert _query(url, "SELECT current_database()") == DATABASE
    assert _query(url, "SHOW timezone") == "UTC"


def test_start_is_idempotent(running: tuple[EmbeddedServer, str]) -> None:
    server, url = running
    pid = server.status().pid
    assert server.start() == url
    assert server.status().pid == pid


def test_status_of_a_running_server(running: tuple[EmbeddedServer, str]) -> None:
    server, url = running
    status = server.status()
    assert status.initialized is True
    assert status.running is True
    assert status.url == url
    assert isinstance(status.pid, int)
    # The pid is the postmaster's: the parent of the backend serving our (open) connection.
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            backend_parent = _ppid(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar())
    finally:
        engine.dispose()
    assert status.pid == backend_parent
    assert str(status) == f"embedded database in {server.home}: running (pid {status.pid}) at {url}"
    assert repr(server) == f"<EmbeddedServer {server.home} running>"


def _ppid(pid: object) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def test_second_object_sees_the_running_server(running: tuple[EmbeddedServer, str]) -> None:
    server, url = running
    other = EmbeddedServer(server.home)
    assert other is not server
    assert other.is_running() is True
    assert other.status() == server.status()
    assert other.start() == url
    assert other.status().pid == server.status().pid


def test_server_is_shared_with_another_process(running: tuple[EmbeddedServer, str]) -> None:
    server, url = running
    script = (
        "import json, sys\n"
        "import sqlalchemy as sa\n"
        "from attune_nb.embedded import EmbeddedServer\n"
        "status = EmbeddedServer(sys.argv[1]).status()\n"
        "engine = sa.create_engine(sys.argv[2])\n"
        "with engine.connect() as conn:\n"
        "    db = conn.execute(sa.text('SELECT current_database()')).scalar()\n"
        "print(json.dumps({'running': status.running, 'pid': status.pid, 'url': status.url,"
        " 'db': db}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(server.home), url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"running": True, "pid": server.status().pid, "url": url, "db": DATABASE}


# -- stop, restart, destroy --------------------------------------------------------


def test_stop_restart_and_destroy(home: Path) -> None:
    server = EmbeddedServer(home, throwaway=True)
    url = server.start()
    _execute(url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")

    assert server.stop() is True
    assert server.stop() is False
    status = server.status()
    assert (status.initialized, status.running, status.pid, status.url) == (True, False, None, None)
    assert str(status) == f"embedded database in {home}: stopped"
    assert EmbeddedServer(home).is_running() is False

    # The data directory survives a stop.
    assert server.start() == url
    assert _query(url, "SELECT n FROM kept") == 7

    server.destroy()
    assert not home.exists()
    assert server.is_running() is False
    assert server.status().initialized is False
    with pytest.raises(sa.exc.OperationalError):
        _query(url, "SELECT 1")
