"""The engine under every repository: URLs, session settings, transactions, the bulk reader.

:class:`Engine` wraps a SQLAlchemy engine (psycopg2) for statements and writes and an
:class:`~attune_nb._reader.ArrowReader` (ADBC) for frames, with the same session
settings on both: ``search_path``, UTC, and read-only in the database itself when
asked. Driver errors are translated by :mod:`attune_nb.driver` on both paths.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Self
from urllib.parse import quote, unquote, urlencode

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from attune_nb import schema
from attune_nb._reader import ArrowReader, Total
from attune_nb.driver import translate_errors
from attune_nb.errors import (
    DatabaseOnlyWarning,
    DatabaseUnavailable,
    SchemaMismatch,
    SchemaMissing,
    WritesNotAllowed,
)
from attune_nb.frames import Column
from attune_nb.schema import ADMISSION_ENTRY, OPTIONAL_EXECUTION_COLUMNS

__all__ = [
    "CONNECT_TIMEOUT",
    "ENV_URL",
    "SCHEMA",
    "Engine",
    "mask_url",
    "open_engine",
    "resolve_url",
]

log = logging.getLogger("attune_nb")

SCHEMA = "attune"
ENV_URL = "ATTUNE_DB_URL"

CONNECT_TIMEOUT = 10
"""Seconds a new connection may take (libpq's ``connect_timeout``) unless the URL sets
one: a server that accepts but never answers raises DatabaseUnavailable, never hangs."""

# What attune_nb reads; a database lacking one of these is not one we can serve. Every
# column of the execution table is selected by some read (get, trace, the frames), so
# all are required, except the optional ones of newer schemas (probed, read as NULL).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "execution": tuple(
        c.name for c in schema.execution.columns if c.name not in OPTIONAL_EXECUTION_COLUMNS
    ),
    "execution_history": (
        "time",
        "operation",
        "entity_id",
        "entity_ref",
        "changed_fields",
        "old_values",
        "new_values",
    ),
    "enforcement": ("id", "rule_ref", "trigger_ref"),  # joined into every frame
}


def mask_url(url: str | URL) -> str:
    """Render a URL with its password hidden (``***``)."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"
    # Unquoted so that a socket directory reads as a path, not %2F-escaped.
    return unquote(parsed.render_as_string(hide_password=True))


def resolve_url(url: str | None = None) -> tuple[str, bool]:
    """The URL to use and whether it is the embedded default (started on demand)."""
    if url:
        return url, False
    env = os.environ.get(ENV_URL)
    if env:
        return env, False
    from attune_nb.embedded import EmbeddedServer

    server = EmbeddedServer()
    started = server.start()
    # Stopped again as this process exits, unless kept running or still in use.
    atexit.register(server.release, ignore_application=application_name())
    return started, True


def application_name() -> str:
    """How this process's connections name themselves in ``pg_stat_activity``."""
    return f"attune_nb[{os.getpid()}]"


def psycopg2_url(url: str) -> URL:
    """``url`` parsed, checked to be PostgreSQL, with the psycopg2 driver."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: e.g. a port that is not a number
        raise DatabaseUnavailable(
            "<unparseable URL>",
            "the URL cannot be parsed",
            hint="use a URL like postgresql://user:password@host:5432/dbname",
        ) from exc
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise DatabaseUnavailable(
            mask_url(parsed),
            f"{parsed.get_backend_name()!r} is not PostgreSQL",
            hint="attune_nb works on Attune's PostgreSQL database: use a postgresql:// URL",
        )
    if parsed.drivername not in ("postgresql", "postgres", "postgresql+psycopg2"):
        raise DatabaseUnavailable(
            mask_url(parsed),
            f"driver {parsed.drivername!r} is not supported",
            hint="use postgresql:// or postgresql+psycopg2://",
        )
    return parsed.set(drivername="postgresql+psycopg2")


def libpq_uri(url: URL) -> str:
    """The libpq form of ``url`` (what ADBC wants), password included: never show it.

    The query is encoded as libpq decodes it (a space is ``%20``: libpq reads ``+`` as
    a plus, which would break ``options=-c statement_timeout=...``), with
    ``connect_timeout`` set to :data:`CONNECT_TIMEOUT` unless the URL sets one.
    """
    base = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    pairs = [
        (key, item)
        for key, value in url.query.items()
        for item in (value if isinstance(value, tuple) else (value,))
    ]
    if "connect_timeout" not in url.query:
        pairs.append(("connect_timeout", str(CONNECT_TIMEOUT)))
    return f"{base}?{urlencode(pairs, quote_via=quote, safe='/')}"


def session_settings(*, readonly: bool) -> list[str]:
    """The statements run on every new connection, on both paths."""
    settings = [
        "SET search_path TO attune, public",
        "SET timezone TO 'UTC'",
        f"SET application_name TO '{application_name()}'",
    ]
    if readonly:
        settings.append("SET default_transaction_read_only TO on")
    return settings


class Engine:
    """An open Attune database: statements and writes through SQLAlchemy, frames through ADBC.

    The repositories run on it; users get it as a :class:`~attune_nb.db.Database`.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        readonly: bool,
        embedded: bool = False,
        allow_writes: bool = False,
        reader: ArrowReader | None = None,
    ) -> None:
        self.engine = engine
        self.readonly = readonly
        self.embedded = embedded
        self.allow_writes = allow_writes
        self.url = mask_url(engine.url)
        self.reader = reader or ArrowReader(
            libpq_uri(engine.url), url=self.url, settings=session_settings(readonly=readonly)
        )
        self._tracers: list[Callable[[str, Any], None]] = []
        self._hidden = threading.local()
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(
        self,
        _conn: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        self.emit_sql(statement, parameters)

    def emit_sql(self, statement: str, parameters: Any = None) -> None:
        """Hand a statement to the active tracers (the reader's queries go through here).

        The values of parameters named in a :meth:`hiding` block reach them as ``***``.
        """
        if not self._tracers:
            return
        hidden = getattr(self._hidden, "names", ())
        if hidden and isinstance(parameters, Mapping):
            parameters = {k: "***" if k in hidden else v for k, v in parameters.items()}
        for tracer in self._tracers:
            tracer(statement, parameters)

    @contextlib.contextmanager
    def hiding(self, *names: str) -> Iterator[None]:
        """Inside the block (this thread), tracers see the parameters ``names`` as ``***``.

        For values that must never be shown (a response with secret fields).
        """
        before = getattr(self._hidden, "names", ())
        self._hidden.names = (*before, *names)
        try:
            yield
        finally:
            self._hidden.names = before

    @contextlib.contextmanager
    def tracer(self, callback: Callable[[str, Any], None]) -> Iterator[None]:
        """Call ``callback(sql, parameters)`` for every statement run inside the block.

        >>> with db.tracer(print):
        ...     db.executions.count(status="failed")
        SELECT count(*) AS count_1 ... {...'failed'...}
        1183
        """
        self._tracers.append(callback)
        try:
            yield
        finally:
            self._tracers.remove(callback)

    def __repr__(self) -> str:
        mode = "read-only" if self.readonly else "read-write"
        return f"<{type(self).__name__} {self.url} {mode}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection (both paths); the next call opens new ones."""
        self.reader.close()
        self.engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside one transaction, committed on success, with errors translated.

        >>> with db.transaction() as conn:
        ...     conn.execute(sa.text("SELECT count(*) FROM attune.execution")).scalar()
        20000
        """
        with translate_errors(self.url), self.engine.begin() as conn:
            yield conn

    def scalar(self, sql: str, /, **params: Any) -> Any:
        """Run one SQL statement and return the first column of its first row."""
        with self.transaction() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def render(self, stmt: Any) -> str:
        """``stmt`` (SQLAlchemy) as literal SQL, its parameters quoted by psycopg2."""
        compiled = stmt.compile(
            dialect=postgresql.psycopg2.dialect(), compile_kwargs={"render_postcompile": True}
        )
        with translate_errors(self.url), self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            with raw.cursor() as cur:  # type: ignore[union-attr]
                return str(cur.mogrify(str(compiled), compiled.params).decode())

    def read(
        self,
        stmt: Any,
        layout: Sequence[Column],
        *,
        total: Total = None,
        desc: str = "reading rows",
    ) -> pd.DataFrame:
        """The rows of ``stmt`` (a SQLAlchemy select, or SQL text) as a frame of ``layout``."""
        sql = stmt if isinstance(stmt, str) else self.render(stmt)
        self.emit_sql(sql)
        return self.reader.read(sql, layout, total=total, desc=desc)

    @functools.cached_property
    def managed(self) -> bool:
        """Whether attune_nb created this database's schema (its migration ledger exists).

        False means a real Attune database: status changes made here reach no worker.
        """
        return bool(self.scalar("SELECT to_regclass('attune_nb.schema_migration') IS NOT NULL"))

    @functools.cached_property
    def schema_features(self) -> frozenset[str]:
        """What this database has of the parts only newer Attune schemas have (probed once).

        The optional ``attune.execution`` columns it has (``workflow_def``), and
        ``execution_admission_entry`` when that table exists.
        """
        names = self.scalar(
            "SELECT array_agg(column_name::text) FROM information_schema.columns "
            "WHERE table_schema = 'attune' AND table_name = 'execution'"
        )
        features = set(names or ()) & set(OPTIONAL_EXECUTION_COLUMNS)
        if self.scalar("SELECT to_regclass('attune.execution_admission_entry') IS NOT NULL"):
            features.add(ADMISSION_ENTRY)
        return frozenset(features)

    def check_write(self, action: str, *, unheard: str | None = None, stacklevel: int = 3) -> None:
        """Call before every write: refuse it or warn, as the database requires.

        On a database attune_nb did not create (not :attr:`managed`), a write needs
        ``allow_writes=True`` (:class:`WritesNotAllowed` otherwise) and, when
        ``unheard`` says what Attune's services will not do because of it, warns
        :class:`DatabaseOnlyWarning` first (``stacklevel`` as for ``warnings.warn``,
        counted from the caller of this method). Our own databases (the demo, tests)
        pass.
        """
        if self.managed:
            return
        if not self.allow_writes:
            raise WritesNotAllowed(self.url, action)
        if unheard:
            warnings.warn(
                f"{action} writes to the database only: {unheard}. Attune's services learn "
                "of changes through their message broker, which a database write does not "
                "reach.",
                DatabaseOnlyWarning,
                stacklevel=stacklevel,
            )

    def check_schema(self) -> None:
        """Raise :class:`SchemaMissing` or :class:`SchemaMismatch` unless the schema serves us."""
        with self.transaction() as conn:
            if conn.execute(sa.text("SELECT to_regnamespace(:s)"), {"s": SCHEMA}).scalar() is None:
                raise SchemaMissing(self.url)
            rows = conn.execute(
                sa.text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = :s AND table_name = ANY(:t)"
                ),
                {"s": SCHEMA, "t": list(REQUIRED_COLUMNS)},
            ).all()
        present = {(t, c) for t, c in rows}
        missing = [
            f"{table}.{column}"
            for table, columns in REQUIRED_COLUMNS.items()
            for column in columns
            if (table, column) not in present
        ]
        if missing:
            raise SchemaMismatch(self.url, missing)


def open_engine(url: str, *, readonly: bool = False) -> tuple[sa.Engine, str]:
    """A SQLAlchemy engine on ``url`` with the session settings, checked to answer.

    Returns the engine and its masked URL; raises :class:`DatabaseUnavailable`.
    """
    parsed = psycopg2_url(url)
    masked = mask_url(parsed)
    try:
        # A bounded connect: a server that accepts but never answers must not hang us.
        connect_args = (
            {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
        )
        # hide_parameters: SQLAlchemy's statement log and its errors never show values
        # (a secret inquiry response, a result).
        engine = sa.create_engine(
            parsed, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args
        )
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseUnavailable(masked, str(exc)) from exc
    settings = session_settings(readonly=readonly)

    @event.listens_for(engine, "connect")
    def _session_settings(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            for statement in settings:
                cur.execute(statement)
        dbapi_conn.commit()

    if readonly:
        # The session default can be turned off from inside (SET default_transaction_
        # read_only = off); a transaction declared read only, once a query ran in it,
        # cannot be (a later SET TRANSACTION READ WRITE fails with 25001).
        # On the DBAPI cursor: a setting of ours, not a statement for tracers to show.
        @event.listens_for(engine, "begin")
        def _read_only(conn: Connection) -> None:
            with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
                cur.execute("SET TRANSACTION READ ONLY; SELECT 1")

    with translate_errors(masked):
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except DBAPIError as exc:
            # A connection that cannot be made at all says so without a SQLSTATE.
            if exc.orig is not None and getattr(exc.orig, "pgcode", None) is None:
                engine.dispose()
                raise DatabaseUnavailable(masked, str(exc.orig).strip().splitlines()[0]) from exc
            raise
    return engine, masked
