"""Driver errors, translated in one place: one table from SQLSTATE to attune_nb error.

Every path that talks to PostgreSQL (SQLAlchemy, a raw psycopg2 cursor, the ADBC
bulk reader) runs inside :func:`translate_errors`. What the table knows becomes an
:class:`~attune_nb.errors.AttuneNbError` (``raise … from`` the driver error); what it
does not know is re-raised as it is, untouched.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg2
from sqlalchemy.exc import DBAPIError

from attune_nb.errors import (
    AttuneNbError,
    DatabaseUnavailable,
    DiskFull,
    QueryCancelled,
    ReadOnlyError,
    SchemaMissing,
)

__all__ = [
    "SQLSTATE_ERRORS",
    "STREAM_MESSAGES",
    "Failure",
    "describe",
    "translate",
    "translate_errors",
]


@dataclass(frozen=True)
class Failure:
    """What a driver error says, whichever driver raised it."""

    url: str  # masked
    sqlstate: str | None
    message: str  # the first line of the server's (or driver's) message
    statement: str  # the first line of the statement, shortened
    connection_lost: bool  # the connection broke (no SQLSTATE, or SQLAlchemy says so)


def _unavailable(f: Failure) -> AttuneNbError:
    return DatabaseUnavailable(f.url, f.message)


def _cancelled(f: Failure) -> AttuneNbError:
    return QueryCancelled(f.url, f.statement, f.message, sqlstate=f.sqlstate or "57014")


SQLSTATE_ERRORS: dict[str, Callable[[Failure], AttuneNbError]] = {
    "25006": lambda f: ReadOnlyError(f.statement or f.message),  # read_only_sql_transaction
    "25001": lambda f: ReadOnlyError(f.statement or f.message),  # active_sql_transaction
    "3F000": lambda f: SchemaMissing(f.url),  # invalid_schema_name
    "57014": _cancelled,  # query_canceled: statement_timeout, a cancel request
    "55P03": _cancelled,  # lock_not_available: lock_timeout
    "53100": lambda f: DiskFull(f.url, f.statement, f.message),  # disk_full
    "3D000": _unavailable,  # invalid_catalog_name: no such database
    "28000": _unavailable,  # invalid_authorization_specification
    "28P01": _unavailable,  # invalid_password
    "57P01": _unavailable,  # admin_shutdown
    "57P02": _unavailable,  # crash_shutdown
    "57P03": _unavailable,  # cannot_connect_now
    "08000": _unavailable,  # connection_exception, and its subclasses below
    "08001": _unavailable,
    "08003": _unavailable,
    "08004": _unavailable,
    "08006": _unavailable,
}
"""SQLSTATE -> the attune_nb error it means. Codes not listed are re-raised as they are."""


# ADBC reports an error raised while the COPY stream runs (not when it is prepared) as
# a pyarrow error with the server's message but without its SQLSTATE: for the codes of
# the table that can happen then, the message says which (PostgreSQL's own wording).
STREAM_MESSAGES: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(r"in a read-only transaction"), "25006"),
    (re.compile(r"schema \S+ does not exist"), "3F000"),
    (re.compile(r"terminating connection due to administrator command"), "57P01"),
    (re.compile(r"canceling statement due to lock timeout"), "55P03"),
    (re.compile(r"canceling statement due to"), "57014"),
    (re.compile(r"could not extend file|No space left on device"), "53100"),
    (
        re.compile(
            r"server closed the connection|connection to server .* failed|"
            r"no connection to the server|SSL connection has been closed"
        ),
        None,
    ),
)
"""Message pattern -> SQLSTATE (None: the connection was lost) for ADBC stream errors."""


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else ""


def _adbc_error() -> type[Exception] | None:
    try:
        from adbc_driver_manager import Error
    except ImportError:  # pragma: no cover - adbc is a dependency
        return None
    return Error


def _is_stream_error(exc: BaseException) -> bool:
    try:
        from pyarrow import ArrowException
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return False
    # pyarrow raises a plain OSError for an IO status (a cancelled statement, a dropped
    # connection), ArrowException subclasses for the others.
    return isinstance(exc, (ArrowException, OSError)) and "[libpq]" in str(exc)


def describe(exc: BaseException, url: str, *, statement: str = "") -> Failure | None:
    """The :class:`Failure` a driver error describes, or None for anything else.

    ``statement`` is what was run, for drivers whose errors do not carry it.
    """
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        statement = exc.statement or statement
        sqlstate = getattr(orig, "pgcode", None)
        message = _first_line(orig if orig is not None else exc)
        lost = bool(exc.connection_invalidated) or (
            sqlstate is None and isinstance(orig, psycopg2.OperationalError)
        )
    elif isinstance(exc, psycopg2.Error):
        sqlstate = exc.pgcode
        message = _first_line(exc) or type(exc).__name__
        lost = sqlstate is None and isinstance(
            exc, (psycopg2.OperationalError, psycopg2.InterfaceError)
        )
    elif _is_stream_error(exc):
        message = _first_line(exc)
        sqlstate, lost = None, False
        for pattern, code in STREAM_MESSAGES:
            if pattern.search(str(exc)):
                sqlstate, lost = code, code is None
                break
        message = message.split("ERROR:", 1)[-1].strip() or message
    else:
        adbc = _adbc_error()
        if adbc is None or not isinstance(exc, adbc):
            return None
        sqlstate = getattr(exc, "sqlstate", None) or None
        message = _first_line(exc) or type(exc).__name__
        # libpq reports a broken connection without a SQLSTATE: ADBC calls it IO.
        lost = sqlstate is None and "IO" in message.split(":", 1)[0]
    return Failure(
        url=url,
        sqlstate=sqlstate,
        message=message,
        statement=_first_line(statement)[:120],
        connection_lost=lost,
    )


def translate(exc: BaseException, url: str, *, statement: str = "") -> AttuneNbError | None:
    """The attune_nb error for a driver error, or None when the table does not know it."""
    failure = describe(exc, url, statement=statement)
    if failure is None:
        return None
    if failure.sqlstate is not None:
        make = SQLSTATE_ERRORS.get(failure.sqlstate)
        return make(failure) if make is not None else None
    if failure.connection_lost:
        return DatabaseUnavailable(url, failure.message)
    return None


@contextlib.contextmanager
def translate_errors(url: str, *, statement: str = "") -> Iterator[None]:
    """Turn the driver errors of the block that the table knows into attune_nb errors.

    >>> with translate_errors(db.url), db.engine.begin() as conn:
    ...     _ = conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    ...     _ = conn.exec_driver_sql("DELETE FROM attune.execution")
    Traceback (most recent call last):
    attune_nb.errors.ReadOnlyError: ...
    """
    try:
        yield
    except AttuneNbError:
        raise
    except Exception as exc:
        mapped = translate(exc, url, statement=statement)
        if mapped is None:
            raise
        raise mapped from exc
