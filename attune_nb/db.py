"""Connecting to an Attune database: :func:`connect` and the :class:`Database` it returns.

:func:`connect` is the one way in. It resolves the URL (argument, then
``$ATTUNE_DB_URL``, then the embedded default), opens the engine with attune_nb's
session settings (:mod:`attune_nb.engine`) and checks the schema. A
:class:`Database` is that engine with its repositories: ``db.executions``,
``db.inquiries``, ``db.analysis``, ``db.trace(id)``.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa

from attune_nb.engine import ENV_URL, Engine, mask_url, open_engine, resolve_url
from attune_nb.errors import ConfigurationError
from attune_nb.frames import SUMMARY_COLUMNS
from attune_nb.inquiries import InquiryRepository
from attune_nb.listener import CHANNELS, Change, Listener
from attune_nb.records import Trace
from attune_nb.repository import ExecutionRepository
from attune_nb.repository.analysis import AnalysisRepository
from attune_nb.trace import trace

__all__ = ["ENV_DEMO", "ENV_URL", "Database", "connect", "mask_url", "open_database", "resolve_url"]

# The tables Database.summary() reports, with the column that dates their rows.
SUMMARY_TABLES = (
    ("execution", "created"),
    ("execution_history", "time"),
    ("inquiry", "created"),
    ("event", "created"),
    ("enforcement", "created"),
    ("rule", "created"),
    ("action", "created"),
    ("pack", "created"),
    ("worker", "created"),
    ("identity", "created"),
)


class Database(Engine):
    """An open Attune database and its repositories.

    >>> db = attune_nb.connect()
    >>> db
    <Database postgresql+psycopg2://postgres@/...?host=.../pgdata read-write>
    >>> db.scalar("SELECT count(*) FROM attune.execution")
    20000
    """

    @functools.cached_property
    def executions(self) -> ExecutionRepository:
        """The :class:`~attune_nb.repository.ExecutionRepository` of this database."""
        return ExecutionRepository(self)

    @functools.cached_property
    def inquiries(self) -> InquiryRepository:
        """The :class:`~attune_nb.inquiries.InquiryRepository` of this database."""
        return InquiryRepository(self)

    @functools.cached_property
    def analysis(self) -> AnalysisRepository:
        """The :class:`~attune_nb.repository.analysis.AnalysisRepository` of this database:
        the :mod:`attune_nb.analysis` aggregates computed in SQL."""
        return AnalysisRepository(self)

    def trace(self, execution_id: int, /) -> Trace:
        """How an execution came to be: event -> enforcement -> rule -> root -> execution.

        >>> db.trace(42)
        <event 25 core.intervaltimer> -> <enforcement 25 core.heartbeat processed> -> ...
        <execution 42 core.echo completed>
        """
        return trace(self, execution_id)

    def listen(
        self,
        *,
        on_change: Callable[[Change], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        channels: Iterable[str] = CHANNELS,
        since: dt.datetime | None = None,
        **options: Any,
    ) -> Listener:
        """A started :class:`~attune_nb.listener.Listener` on Attune's notifications.

        Changes go to ``on_change`` (called in the listener's thread) or to its queue
        (``listener.get(timeout=...)``); ``since`` replays the recorded changes from
        that time first. ``options`` are the listener's (``overlap``,
        ``connect_timeout``, ``backoff``...). Stop it with ``stop()`` or a ``with`` block.

        >>> with db.listen(channels=["execution_status_changed"]) as listener:
        ...     db.executions.transition(16671, "cancelled", expected="requested")
        ...     listener.get(timeout=5)
        <Execution 16671 core.local_cmd cancelled>
        <Change execution 16671 core.local_cmd requested -> cancelled at ... (notify)>
        """
        return Listener(
            self,
            on_change=on_change,
            on_state=on_state,
            channels=channels,
            since=since,
            **options,
        ).start()

    def summary(self) -> pd.DataFrame:
        """One row per Attune table: how many rows and the time span they cover.

        Columns (:data:`~attune_nb.frames.SUMMARY_COLUMNS`): ``table`` (string),
        ``rows`` (Int64), ``oldest``, ``newest`` (UTC).

        >>> db.summary()[["table", "rows"]].head(3)
                       table   rows
        0          execution  20000
        1  execution_history  ...
        2            inquiry  ...
        """
        parts: list[Any] = [
            sa.select(
                sa.literal(position).label("position"),
                sa.literal(table).label("table"),
                sa.func.count().label("rows"),
                sa.func.min(sa.column(column)).label("oldest"),
                sa.func.max(sa.column(column)).label("newest"),
            ).select_from(sa.table(table, schema="attune"))
            for position, (table, column) in enumerate(SUMMARY_TABLES)
        ]
        union = sa.union_all(*parts).subquery("tables")
        stmt = sa.select(*(union.c[c.name] for c in SUMMARY_COLUMNS)).order_by(union.c.position)
        return self.read(stmt, SUMMARY_COLUMNS)


def open_database(
    url: str | None = None, *, readonly: bool = False, allow_writes: bool = False
) -> Database:
    """Open the database without checking its schema (what ``migrate`` needs)."""
    if not isinstance(allow_writes, bool):
        raise ConfigurationError("allow_writes", allow_writes, "True or False")
    raw, embedded = resolve_url(url)
    engine, _masked = open_engine(raw, readonly=readonly)
    return Database(engine, readonly=readonly, embedded=embedded, allow_writes=allow_writes)


def connect(
    url: str | None = None,
    *,
    readonly: bool = False,
    allow_writes: bool = False,
    demo: bool | None = None,
) -> Database:
    """Open an Attune database and check that it has the schema attune_nb needs.

    The URL comes from ``url``, else ``$ATTUNE_DB_URL``, else the embedded default
    (started on demand, in the home :func:`~attune_nb.embedded.choose_home` finds).
    ``postgresql://`` URLs use psycopg2. With ``readonly=True`` every transaction is
    read-only in the database itself and a write raises
    :class:`~attune_nb.errors.ReadOnlyError`.

    On a database attune_nb did not create (a real Attune one) reads need nothing,
    but every write raises :class:`~attune_nb.errors.WritesNotAllowed` unless
    ``allow_writes=True``: with it, each write that Attune's services will not hear
    about warns :class:`~attune_nb.errors.DatabaseOnlyWarning` before it happens.
    attune_nb's own databases (the embedded demo, test copies) need no opt-in.

    The embedded default is attune_nb's own: it is migrated when needed and, the
    first time it is found empty, gets the demo history (20,000 executions, seed
    42), with one line on stderr saying so; ``readonly=True`` included, so that a
    notebook opened on a fresh clone simply runs. ``demo=False``, or
    ``ATTUNE_NB_DEMO=0`` in the environment, keeps it empty. Other databases are
    never migrated or seeded here.

    >>> ro = attune_nb.connect(readonly=True)
    >>> ro.executions.transition(20000, "failed", expected="running")
    Traceback (most recent call last):
    attune_nb.errors.ReadOnlyError: ...

    Passwords never show: reprs and errors use the masked URL.

    >>> mask_url("postgresql://attune:secret@db:5432/attune")
    'postgresql://attune:***@db:5432/attune'
    """
    seed_demo = _wants_demo(demo)
    db = open_database(url, readonly=readonly, allow_writes=allow_writes)
    try:
        if db.embedded:
            _prepare_embedded(db, demo=seed_demo)
        db.check_schema()
        db.schema_features  # probed now, not inside the first query a user traces  # noqa: B018
    except BaseException:
        db.close()
        raise
    return db


ENV_DEMO = "ATTUNE_NB_DEMO"
_YES = ("", "1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")


def _wants_demo(demo: bool | None) -> bool:
    if demo is not None:
        if not isinstance(demo, bool):
            raise ConfigurationError("demo", demo, "True, False or None (then $ATTUNE_NB_DEMO)")
        return demo
    raw = os.environ.get(ENV_DEMO, "")
    if raw.strip().lower() in _YES:
        return True
    if raw.strip().lower() in _NO:
        return False
    raise ConfigurationError(
        ENV_DEMO, raw, "1 (an empty embedded database gets the demo history) or 0 (it stays empty)"
    )


def _prepare_embedded(db: Database, *, demo: bool) -> None:
    """Migrate the embedded default and, once, give it the demo history when it is empty."""
    from attune_nb.demo import DEMO_EXECUTIONS, DEMO_SEED, seed
    from attune_nb.embedded import DEMO_SEEDED, EmbeddedServer
    from attune_nb.migrations import migrate

    server = EmbeddedServer()
    with server.exclusive():
        writer = open_database(server.url()) if db.readonly else db
        try:
            migrate(writer)
            marker = server.home / DEMO_SEEDED
            if demo and not marker.exists():
                if not writer.scalar("SELECT EXISTS (SELECT 1 FROM attune.execution)"):
                    report = seed(writer, executions=DEMO_EXECUTIONS, random_seed=DEMO_SEED)
                    print(
                        f"attune_nb: the embedded database in {server.home} was empty; "
                        f"{report} ({ENV_DEMO}=0 keeps it empty)",
                        file=sys.stderr,
                    )
                marker.touch()
        finally:
            if writer is not db:
                writer.close()
