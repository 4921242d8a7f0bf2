"""Connecting to an Attune database: URL resolution, the engine, error translation.

:func:`connect` is the one way in. It resolves the URL (argument, then
``$ATTUNE_DB_URL``, then the embedded default), sets ``search_path`` on every new
connection, can make every transaction read-only in the database itself, and turns
driver errors into :mod:`attune_nb.errors` in one place (:func:`translate_errors`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from attune_nb.errors import (
    AttuneNbError,
    DatabaseUnavailable,
    ReadOnlyError,
    SchemaMismatch,
    SchemaMissing,
)

if TYPE_CHECKING:
    import pandas as pd

    from attune_nb.inquiries import InquiryRepository
    from attune_nb.records import Trace
    from attune_nb.repository import ExecutionRepository

__all__ = ["Database", "connect", "mask_url", "resolve_url", "translate_driver_error",
           "translate_errors"]

log = logging.getLogger("attune_nb")

SCHEMA = "attune"
ENV_URL = "ATTUNE_DB_URL"

# What attune_nb reads; a database lacking one of these is not one we can serve.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "execution": ("id", "action_ref", "parent", "enforcement", "status", "created", "updated",
                  "started_at"),
    "execution_history": ("time", "operation", "entity_id", "changed_fields", "old_values",
                          "new_values"),
}


# The tables Database.summary() reports, with the column that dates their rows.
SUMMARY_TABLES = (
    ("execution", "created"), ("execution_history", "time"), ("inquiry", "created"),
    ("event", "created"), ("enforcement", "created"), ("rule", "created"),
    ("action", "created"), ("pack", "created"), ("worker", "created"), ("identity", "created"),
)


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

    return EmbeddedServer().start(), True


def _psycopg2_url(url: str) -> URL:
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


@contextlib.contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn driver errors we understand into attune_nb errors (``raise ... from``)."""
    try:
        yield
    except AttuneNbError:
        raise
    except DBAPIError as exc:
        raise _translate(exc, url) from exc


def translate_driver_error(exc: Exception, url: str, statement: str = "") -> Exception:
    """The attune_nb error for a raw psycopg2 error (from a cursor we drive ourselves)."""
    pgcode = getattr(exc, "pgcode", None)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if pgcode == "25006":
        return ReadOnlyError(statement or message)
    if pgcode == "3F000":
        return SchemaMissing(url)
    if pgcode is None or pgcode.startswith(("08", "57P")):
        return DatabaseUnavailable(url, message)
    return exc


def _translate(exc: DBAPIError, url: str) -> Exception:
    pgcode = getattr(exc.orig, "pgcode", None)
    message = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    if pgcode == "25006":  # read_only_sql_transaction
        statement = (exc.statement or "").strip().split("\n")[0][:120]
        return ReadOnlyError(statement)
    if pgcode == "3F000":  # invalid_schema_name
        return SchemaMissing(url)
    if exc.connection_invalidated or pgcode is None and isinstance(
        exc, sa.exc.OperationalError
    ):
        return DatabaseUnavailable(url, message)
    if pgcode in ("57P01", "57P02", "57P03", "08006", "08001", "08004", "3D000", "28P01", "28000"):
        return DatabaseUnavailable(url, message)
    return exc


class Database:
    """An open Attune database: an engine with our session settings.

    >>> db = attune_nb.connect()                         # doctest: +SKIP
    >>> db
    <Database postgresql+psycopg2://postgres@/attune?host=… read-write>
    >>> db.scalar("SELECT count(*) FROM attune.execution")  # doctest: +SKIP
    1000
    """

    def __init__(self, engine: Engine, *, readonly: bool, embedded: bool = False) -> None:
        self.engine = engine
        self.readonly = readonly
        self.embedded = embedded
        self.url = mask_url(engine.url)
        self._tracers: list[Callable[[str, Any], None]] = []
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
                    _context: Any, _executemany: bool) -> None:
        self.emit_sql(statement, parameters)

    def emit_sql(self, statement: str, parameters: Any = None) -> None:
        """Hand a statement to the active tracers (the repositories call it for COPY)."""
        for tracer in self._tracers:
            tracer(statement, parameters)

    @contextlib.contextmanager
    def tracer(self, callback: Callable[[str, Any], None]) -> Iterator[None]:
        """Call ``callback(sql, parameters)`` for every statement run inside the block.

        >>> with db.tracer(print):                        # doctest: +SKIP
        ...     db.executions.count(status="failed")
        SELECT count(*) AS count_1 FROM attune.execution LEFT OUTER JOIN … {'status_1_1': 'failed'}
        """
        self._tracers.append(callback)
        try:
            yield
        finally:
            self._tracers.remove(callback)

    def __repr__(self) -> str:
        mode = "read-only" if self.readonly else "read-write"
        return f"<Database {self.url} {mode}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection inside one transaction, committed on success, with errors translated."""
        with translate_errors(self.url), self.engine.begin() as conn:
            yield conn

    def scalar(self, sql: str, /, **params: Any) -> Any:
        """Run one SQL statement and return the first column of its first row."""
        with self.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    @functools.cached_property
    def executions(self) -> ExecutionRepository:
        """The :class:`~attune_nb.repository.ExecutionRepository` of this database."""
        from attune_nb.repository import ExecutionRepository

        return ExecutionRepository(self)

    @functools.cached_property
    def inquiries(self) -> InquiryRepository:
        """The :class:`~attune_nb.inquiries.InquiryRepository` of this database."""
        from attune_nb.inquiries import InquiryRepository

        return InquiryRepository(self)

    def trace(self, execution_id: int, /) -> Trace:
        """How an execution came to be: event -> enforcement -> rule -> root -> execution.

        >>> db.trace(42)                                  # doctest: +SKIP
        <event 7 monitoring.alert_fired> -> <enforcement 7 incident.on_alert processed> -> …
        """
        from attune_nb.trace import trace

        return trace(self, execution_id)

    @functools.cached_property
    def managed(self) -> bool:
        """Whether attune_nb created this database's schema (its migration ledger exists).

        False means a real Attune database: status changes made here reach no worker.
        """
        return self.scalar("SELECT to_regclass('attune_nb.schema_migration') IS NOT NULL")

    def summary(self) -> pd.DataFrame:
        """One row per Attune table: how many rows and the time span they cover.

        Columns: ``table`` (str), ``rows`` (Int64), ``oldest``, ``newest`` (UTC).

        >>> db.summary()                                   # doctest: +SKIP
                       table    rows                     oldest                     newest
        0          execution   20000  2025-12-31 00:00:07+00:00  2026-01-13 23:59:51+00:00
        """
        import pandas as pd

        parts = [
            f"SELECT {position} AS position, '{table}' AS table_name, count(*) AS n, "
            f"min({column}) AS oldest, max({column}) AS newest FROM attune.{table}"
            for position, (table, column) in enumerate(SUMMARY_TABLES)
        ]
        sql = " UNION ALL ".join(parts) + " ORDER BY position"
        with self.connect() as conn:
            rows = [row[1:] for row in conn.execute(sa.text(sql))]
        frame = pd.DataFrame(rows, columns=["table", "rows", "oldest", "newest"])
        frame["table"] = frame["table"].astype("string")
        frame["rows"] = frame["rows"].astype("Int64")
        for column in ("oldest", "newest"):
            frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
        return frame

    def check_schema(self) -> None:
        """Raise :class:`SchemaMissing` or :class:`SchemaMismatch` unless the schema serves us."""
        with self.connect() as conn:
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


def open_database(url: str | None = None, *, readonly: bool = False) -> Database:
    """Open the database without checking its schema (what ``migrate`` needs)."""
    raw, embedded = resolve_url(url)
    parsed = _psycopg2_url(raw)
    masked = mask_url(parsed)
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True, future=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseUnavailable(masked, str(exc)) from exc

    @event.listens_for(engine, "connect")
    def _session_settings(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET search_path TO attune, public")
            cur.execute("SET timezone TO 'UTC'")
            if readonly:
                cur.execute("SET default_transaction_read_only TO on")
        dbapi_conn.commit()

    db = Database(engine, readonly=readonly, embedded=embedded)
    with translate_errors(masked):
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except DBAPIError as exc:
            if exc.orig is not None and getattr(exc.orig, "pgcode", None) is None:
                raise DatabaseUnavailable(masked, str(exc.orig).strip().splitlines()[0]) from exc
            raise
    return db


def connect(url: str | None = None, *, readonly: bool = False) -> Database:
    """Open an Attune database and check that it has the schema attune_nb needs.

    The URL comes from ``url``, else ``$ATTUNE_DB_URL``, else the embedded default
    (started, and migrated, on demand). ``postgresql://`` URLs use psycopg2.
    With ``readonly=True`` every transaction is read-only in the database itself
    and a write raises :class:`~attune_nb.errors.ReadOnlyError`.

    >>> db = attune_nb.connect("postgresql://attune:secret@db:5432/attune", readonly=True)  # doctest: +SKIP
    >>> db
    <Database postgresql+psycopg2://attune:***@db:5432/attune read-only>
    """
    db = open_database(url, readonly=readonly)
    if db.embedded and not readonly:
        from attune_nb.migrations import migrate

        migrate(db)
    db.check_schema()
    return db
