"""Throwaway databases for tests, benchmarks and notebook runs.

One embedded server per process in a temporary directory (deleted at exit), a
migrated template database, and cheap copies of it: ``CREATE DATABASE … TEMPLATE``
takes a fraction of a second, so every test can have a database of its own.

>>> with ThrowawayServer() as server:
...     fresh = attune_nb.connect(server.create_database(migrated=True))
...     fresh.executions.count()
...     fresh.close()
0
"""

from __future__ import annotations

import atexit
import itertools
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from attune_nb.embedded import SUPERUSER, EmbeddedServer
from attune_nb.errors import ConfigurationError

if TYPE_CHECKING:
    from attune_nb.db import Database

__all__ = ["ThrowawayServer", "shared_server", "write_history"]


class ThrowawayServer:
    """An embedded server in a temporary directory, destroyed by :meth:`close`."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="attune_nb_test_"))
        self.server = EmbeddedServer(self.home, throwaway=True)
        self.server.start()
        self._counter = itertools.count(1)
        self._template: str | None = None
        self._seeded: set[str] = set()
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.server.destroy()

    def url(self, database: str) -> str:
        return self.server.url(database)

    def _admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(host=str(self.server.socket_dir), user=SUPERUSER, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def create_database(
        self, *, migrated: bool = True, template: str | None = None, name: str | None = None
    ) -> str:
        """Create a new database and return its URL.

        ``migrated=True`` copies the migrated template; ``template`` copies that
        database instead; otherwise it is empty (no ``attune`` schema).
        """
        name = _database_name("name", f"test_{next(self._counter)}" if name is None else name)
        if template is not None:
            source: str | None = _database_name("template", template)
        else:
            source = self._migrated_template() if migrated else None
        clause = f' TEMPLATE "{source}" STRATEGY FILE_COPY' if source else ""
        self._admin(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def create_seeded_database(self, *, executions: int, seed: int, name: str | None = None) -> str:
        """A new database holding demo data (seeded once per size and seed, then copied)."""
        source = f"seeded_{executions}_{seed}"
        if source not in self._seeded:
            from attune_nb.db import connect
            from attune_nb.demo import seed as seed_data

            self.create_database(name=source)
            db = connect(self.url(source))
            try:
                seed_data(db, executions=executions, random_seed=seed)
            finally:
                db.close()
            self._seeded.add(source)
        return self.create_database(template=source, name=name)

    def drop_database(self, name: str) -> None:
        _database_name("name", name)
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _migrated_template(self) -> str:
        if self._template is None:
            from attune_nb.db import open_database
            from attune_nb.migrations import migrate

            name = "attune_template"
            self._admin(f'CREATE DATABASE "{name}"')
            db = open_database(self.url(name))
            try:
                migrate(db)
            finally:
                db.close()
            self._template = name
        return self._template


_shared: ThrowawayServer | None = None


def shared_server() -> ThrowawayServer:
    """The process-wide throwaway server, started on first use and destroyed at exit."""
    global _shared
    if _shared is None:
        _shared = ThrowawayServer()
        atexit.register(_shared.close)
    return _shared


_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _database_name(what: str, name: str) -> str:
    """``name`` when it is a plain PostgreSQL identifier (it is written into SQL)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            what, name, "a database name of lower-case letters, digits and _ (at most 63)"
        )
    return name


def write_history(
    db: Database, ref: str, *steps: tuple[str, float], start: Any, **columns: Any
) -> int:
    """Write an execution whose history is exactly ``steps`` and return its id.

    ``steps`` are ``(status, seconds after start)``, in order: the first is the
    creation, each next one a status change, so that every duration a test checks is
    known. The row's ``created`` and ``updated`` are the first and last step,
    ``started_at`` the entry into running; ``columns`` sets other columns of
    ``attune.execution`` (``parent=...``, ``workflow_task={...}``). The trigger's own
    audit, written at the wall clock, is replaced by rows at the given times.

    >>> e = write_history(db, "core.echo", ("requested", 0), ("running", 2),
    ...                   ("completed", 5), start="2026-01-10")
    >>> db.executions.intervals(id=e)[["status", "duration"]]
          status        duration
    0  requested 0 days 00:00:02
    1    running 0 days 00:00:03
    2  completed             NaT
    """
    import pandas as pd
    import sqlalchemy as sa

    from attune_nb import schema as t

    origin = pd.Timestamp(start)
    origin = origin.tz_localize("UTC") if origin.tzinfo is None else origin

    def at(seconds: float) -> Any:
        return (origin + pd.Timedelta(seconds=seconds)).to_pydatetime()

    running = [s for status, s in steps if status == "running"]
    row = {
        "action_ref": ref,
        "status": steps[-1][0],
        "created": at(steps[0][1]),
        "updated": at(steps[-1][1]),
        "started_at": at(running[0]) if running else None,
        **columns,
    }
    h = t.execution_history
    with db.transaction() as conn:
        new_id = int(
            conn.execute(
                sa.insert(t.execution).values(row).returning(t.execution.c.id)
            ).scalar_one()
        )
        conn.execute(sa.delete(h).where(h.c.entity_id == new_id))
        previous = None
        for status, seconds in steps:
            conn.execute(
                sa.insert(h).values(
                    time=at(seconds),
                    operation="INSERT" if previous is None else "UPDATE",
                    entity_id=new_id,
                    entity_ref=ref,
                    changed_fields=[] if previous is None else ["status"],
                    old_values=None if previous is None else {"status": previous},
                    new_values={"status": status},
                )
            )
            previous = status
    return new_id
