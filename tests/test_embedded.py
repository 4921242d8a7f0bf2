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
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa

from attune_nb.embedded import (
    DATABASE,
    ENV_HOME,
    EmbeddedServer,
    ServerStatus,
    choose_home,
    running_servers,
)


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
        f"embedded database in {home}: not created yet (`attune-nb db start` creates it)"
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
    assert str(status) == (
        f"embedded database in {server.home}: running (pid {status.pid}, stops when its last "
        f"user exits) at {url}"
    )
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


# -- which home: found the way git finds .git --------------------------------------------


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git checkout with a notebooks/ folder and no home yet; $ATTUNE_NB_HOME unset."""
    root = tmp_path / "clone"
    (root / ".git").mkdir(parents=True)
    (root / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.delenv(ENV_HOME, raising=False)
    return root


def test_home_of_a_fresh_checkout_is_its_root_from_any_folder(clone: Path) -> None:
    for start in (clone, clone / "notebooks", clone / "notebooks" / "deep"):
        choice = choose_home(start)
        assert choice.path == clone / ".attune_nb"
        assert choice.reason == f"no .attune_nb yet: the root of the git checkout holding {start}"


def test_the_nearest_existing_home_upward_wins(clone: Path) -> None:
    (clone / ".attune_nb").mkdir()
    choice = choose_home(clone / "notebooks" / "deep")
    assert choice.path == clone / ".attune_nb"
    assert choice.reason == f"the nearest .attune_nb upward from {clone / 'notebooks' / 'deep'}"
    (clone / "notebooks" / ".attune_nb").mkdir()
    assert choose_home(clone / "notebooks" / "deep").path == clone / "notebooks" / ".attune_nb"
    assert choose_home(clone / "notebooks").reason == "the nearest .attune_nb here"


def test_a_home_above_the_checkout_is_not_used(clone: Path) -> None:
    (clone.parent / ".attune_nb").mkdir()
    assert choose_home(clone / "notebooks").path == clone / ".attune_nb"


def test_outside_a_checkout_the_home_is_found_upward_or_made_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_HOME, raising=False)
    plain = tmp_path / "plain" / "sub"
    plain.mkdir(parents=True)
    choice = choose_home(plain)
    assert choice.path == plain / ".attune_nb"
    assert "no git checkout" in choice.reason
    (tmp_path / "plain" / ".attune_nb").mkdir()
    assert choose_home(plain).path == tmp_path / "plain" / ".attune_nb"


def test_the_environment_variable_wins(clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clone / ".attune_nb").mkdir()
    monkeypatch.setenv(ENV_HOME, str(clone / "elsewhere"))
    assert choose_home(clone / "notebooks") == type(choose_home(clone))(
        clone / "elsewhere", "$ATTUNE_NB_HOME is set"
    )


# -- release: nothing left running that nobody asked for ----------------------------------


def test_release_stops_an_unused_server_but_not_a_kept_or_busy_one(home: Path) -> None:
    server = EmbeddedServer(home, throwaway=True)
    url = server.start(keep_running=True)
    assert server.status().keep_running is True
    assert server.release() is False  # asked to keep running
    assert server.is_running()
    (home / "keep-running").unlink()
    client = psycopg2.connect(host=str(server.socket_dir), user="postgres", dbname=DATABASE)
    client.autocommit = True
    try:
        assert server.release() is False  # another client is connected
        assert server.is_running()
        with client.cursor() as cur:
            cur.execute("SET application_name TO 'me'")
        assert server.release(ignore_application="me") is True  # only our own connections
    finally:
        client.close()
    assert url == server.url()
    assert server.is_running() is False
    assert server.release() is False  # not running: nothing to do


def test_stop_forgets_keep_running(home: Path) -> None:
    server = EmbeddedServer(home, throwaway=True)
    server.start(keep_running=True)
    assert server.stop() is True
    assert not (home / "keep-running").exists()


# -- a fresh clone, opened from notebooks/ and from the root -------------------------------

_OPEN = """
import sys, time
from pathlib import Path
import attune_nb
db = attune_nb.connect(readonly=True)
print(db.url)
print(db.executions.count())
print(db.scalar("SELECT md5(string_agg(id || ':' || status, ',' ORDER BY id)) FROM execution"))
if len(sys.argv) > 1:  # stay connected until told to go
    Path(sys.argv[1]).touch()
    while not Path(sys.argv[2]).exists():
        time.sleep(0.05)
"""


def _open_in(folder: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ATTUNE_DB_URL", ENV_HOME)}
    return subprocess.Popen(
        [sys.executable, "-c", _OPEN, *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean, **env},
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[list[str], str]:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return out.strip().splitlines(), err


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the process never connected"
        time.sleep(0.05)


def test_a_fresh_clone_opened_from_notebooks_and_root_shares_one_demo_database(
    clone: Path,
) -> None:
    home = clone / ".attune_nb"
    try:
        first, err = _finish(_open_in(clone / "notebooks"))
        assert int(first[1]) == 20_000  # the demo history, read-only connection included
        assert err.count("was empty; seeded 20,000 executions") == 1
        assert "ATTUNE_NB_DEMO=0 keeps it empty" in err
        assert not (clone / "notebooks" / ".attune_nb").exists()
        assert EmbeddedServer(home).is_running() is False  # released as the process exited

        # Two at once, one in the root, one deeper: the same rows, nothing seeded again;
        # the server stops only when the last of them exits.
        ready, go = clone / "ready", clone / "go"
        holder = _open_in(clone / "notebooks" / "deep", str(ready), str(go))
        _wait_for(ready, holder)
        second, err2 = _finish(_open_in(clone))
        assert second == first
        assert "seeded" not in err2
        assert EmbeddedServer(home).is_running() is True  # the holder still uses it
        assert [s.home for s in running_servers(clone)] == [home]
        go.touch()
        third, _ = _finish(holder)
        assert third == first
        assert EmbeddedServer(home).is_running() is False
    finally:
        EmbeddedServer(home).destroy()


def test_a_fresh_home_can_stay_empty(clone: Path) -> None:
    home = clone / ".attune_nb"
    try:
        lines, err = _finish(_open_in(clone / "notebooks", ATTUNE_NB_DEMO="0"))
        assert int(lines[1]) == 0  # migrated (the count works), not seeded
        assert "seeded" not in err
    finally:
        EmbeddedServer(home).destroy()
