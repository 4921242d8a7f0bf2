"""The one exception tree of attune_nb.

Every error a user can meet derives from :class:`AttuneNbError`, carries the
values it is about as attributes, and says in its message what to do::

    AttuneNbError
    ├── ConfigurationError          bad URL, bad option value or type
    │   ├── InvalidFilter           a filter of the wrong type or value
    │   └── InvalidStatus           not one of the ten execution statuses
    ├── InvalidTransition           a move the lifecycle forbids
    ├── StaleUpdate                 compare-and-set lost: the status changed meanwhile
    ├── NotFound
    │   ├── ExecutionNotFound       no execution with that id
    │   └── InquiryNotFound         no inquiry with that id
    ├── InquiryClosed               the inquiry is not pending (or has expired)
    ├── InvalidResponse             a response its schema or options refuse
    ├── DatabaseUnavailable         cannot reach or start the database
    ├── QueryCancelled              the server cancelled a statement (a timeout): nothing written
    ├── DiskFull                    the server's disk is full: nothing of the write was kept
    ├── SchemaMissing               the database has no ``attune`` schema
    ├── SchemaMismatch              the ``attune`` schema lacks what we need
    ├── MigrationError              a migration cannot be applied
    ├── ReadOnlyError               a write on a read-only connection
    ├── SeedError                   demo data refused or failed
    └── NotebookError               a notebook failed to execute

Warnings have a small tree of their own::

    AttuneNbWarning (UserWarning)
    ├── DatabaseOnlyWarning         a write that a live Attune's services will not hear about
    └── SkippedRowsWarning          a read left rows out (the message says how many and why)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AttuneNbError",
    "AttuneNbWarning",
    "ConfigurationError",
    "DatabaseOnlyWarning",
    "DatabaseUnavailable",
    "DiskFull",
    "ExecutionNotFound",
    "InquiryClosed",
    "InquiryNotFound",
    "InvalidFilter",
    "InvalidResponse",
    "InvalidStatus",
    "InvalidTransition",
    "MigrationError",
    "NotFound",
    "NotebookError",
    "QueryCancelled",
    "ReadOnlyError",
    "SchemaMismatch",
    "SchemaMissing",
    "SeedError",
    "SkippedRowsWarning",
    "StaleUpdate",
    "WritesNotAllowed",
]


class AttuneNbError(Exception):
    """Base of every error raised by attune_nb."""


class ConfigurationError(AttuneNbError, ValueError):
    """An option or URL that attune_nb cannot use.

    ``name`` is the option, ``value`` what was given, ``allowed`` what would do.
    """

    def __init__(self, name: str, value: object, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{name}={value!r} is not valid: {allowed}")


class InvalidFilter(ConfigurationError):
    """A query filter of the wrong type or with a value that is not allowed."""


class InvalidStatus(ConfigurationError):
    """A value that is not one of the ten execution statuses; ``allowed_statuses`` lists them."""

    def __init__(self, value: object, allowed: list[str]) -> None:
        super().__init__("status", value, "one of " + ", ".join(allowed))
        self.allowed_statuses = allowed


class InvalidTransition(AttuneNbError):
    """A status change the lifecycle forbids; nothing was written.

    ``current`` and ``requested`` are statuses, ``allowed_statuses`` what ``current``
    may become (``allowed`` says it in words, as on every error), ``execution_id``
    the execution (None for a check that names none).
    """

    def __init__(
        self,
        current: str,
        requested: str,
        allowed_statuses: list[str],
        *,
        execution_id: int | None = None,
    ) -> None:
        self.current = current
        self.requested = requested
        self.allowed_statuses = list(allowed_statuses)
        self.execution_id = execution_id
        self.allowed = (
            ", ".join(allowed_statuses) if allowed_statuses else f"nothing: {current} is terminal"
        )
        what = "an execution" if execution_id is None else f"execution {execution_id}"
        super().__init__(
            f"cannot move {what} from {current} to {requested}; from {current} it may "
            f"become {self.allowed}"
        )


class DatabaseUnavailable(AttuneNbError):
    """The database cannot be reached (or the embedded one cannot start).

    ``url`` is the masked URL, ``reason`` the underlying cause.
    """

    def __init__(self, url: str, reason: str, *, hint: str | None = None) -> None:
        self.url = url
        self.reason = reason
        self.hint = hint or (
            "check that the server is running and the URL is right; for the embedded "
            "default run `attune-nb db start`"
        )
        super().__init__(f"cannot use database {url}: {reason}. Fix: {self.hint}")


class QueryCancelled(AttuneNbError):
    """The server cancelled a statement: ``statement_timeout``, ``lock_timeout`` or a cancel.

    The transaction it ran in was rolled back, so nothing of it was written.
    ``statement`` is its first line, ``reason`` the server's message, ``sqlstate``
    57014 (query_canceled) or 55P03 (lock_not_available), ``hint`` what to do.
    """

    def __init__(self, url: str, statement: str, reason: str, *, sqlstate: str) -> None:
        self.url = url
        self.statement = statement
        self.reason = reason
        self.sqlstate = sqlstate
        if "statement timeout" in reason:
            self.hint = (
                "it ran longer than the session's statement_timeout: narrow it, or raise the "
                "limit (SET statement_timeout, or options=-c statement_timeout=... in the URL)"
            )
        elif "lock timeout" in reason or sqlstate == "55P03":
            self.hint = (
                "another session holds a lock on these rows for longer than lock_timeout: "
                "run it again when that one has finished, or raise lock_timeout"
            )
        else:
            self.hint = "it was cancelled (pg_cancel_backend or an interrupt): run it again"
        what = f"statement {statement!r}" if statement else "a statement"
        super().__init__(
            f"database {url} cancelled {what}: {reason}; its transaction was rolled back and "
            f"nothing of it was written. Fix: {self.hint}"
        )


class DiskFull(AttuneNbError):
    """The database server ran out of disk space (SQLSTATE 53100, disk_full).

    The transaction of the write was rolled back: nothing of it was kept.
    ``statement`` is its first line, ``reason`` the server's message (the file it
    could not extend).
    """

    def __init__(self, url: str, statement: str, reason: str) -> None:
        self.url = url
        self.statement = statement
        self.reason = reason
        what = f"statement {statement!r}" if statement else "a statement"
        super().__init__(
            f"database {url} is out of disk space: {reason}. The {what} and its "
            "transaction were rolled back; nothing of it was written. Fix: free space on the "
            "database server's disk (or the tablespace's), then run it again"
        )


class SchemaMissing(AttuneNbError):
    """The database has no ``attune`` schema."""

    def __init__(self, url: str, *, schema: str = "attune") -> None:
        self.url = url
        self.schema = schema
        super().__init__(
            f"database {url} has no {schema!r} schema. Point ATTUNE_DB_URL at an Attune "
            f"database, or create the schema with `attune-nb migrate`"
        )


class SchemaMismatch(AttuneNbError):
    """The ``attune`` schema exists but lacks tables, columns or enum values we need."""

    def __init__(self, url: str, missing: Sequence[str]) -> None:
        self.url = url
        self.missing = list(missing)
        super().__init__(
            f"database {url} has an 'attune' schema without {', '.join(self.missing)}. "
            "attune_nb needs the Attune schema described in ATTUNE_SCHEMA.md; upgrade "
            "Attune or, for an attune_nb database, run `attune-nb migrate`"
        )


class MigrationError(AttuneNbError):
    """A migration cannot be applied; nothing of it was written.

    ``migration`` is the file name (or None when the whole run is refused).
    """

    def __init__(self, migration: str | None, reason: str) -> None:
        self.migration = migration
        self.reason = reason
        where = f"migration {migration}" if migration else "migrations"
        super().__init__(f"{where} refused: {reason}")


class ReadOnlyError(AttuneNbError):
    """A write was attempted on a connection opened with ``readonly=True``."""

    def __init__(self, statement: str) -> None:
        self.statement = statement
        super().__init__(
            f"this connection is read-only; refused: {statement}. "
            "Open it with attune_nb.connect(readonly=False) to write"
        )


class WritesNotAllowed(AttuneNbError):
    """A write on a database attune_nb did not create, without ``allow_writes=True``."""

    def __init__(self, url: str, action: str) -> None:
        self.url = url
        self.action = action
        super().__init__(
            f"{action} refused: {url} was not created by attune_nb (it looks like a real "
            "Attune database), and attune_nb writes there only when asked. Reads need no "
            "opt-in. attune_nb.connect(url, allow_writes=True) allows writes; it means that "
            "you change Attune's tables directly, and that Attune's services (the executor, "
            "the workers, the API) are not told: each such write warns DatabaseOnlyWarning "
            "first, saying what will not happen. Prefer Attune's API where it has the action"
        )


class SeedError(AttuneNbError):
    """Demo data was refused (the database already has executions) or failed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NotebookError(AttuneNbError):
    """A notebook failed while executing headlessly.

    ``notebook`` is its path, ``cell_index`` the failing cell, ``ename``/``evalue`` the error.
    """

    def __init__(self, notebook: str, *, cell_index: int | None, ename: str, evalue: str) -> None:
        self.notebook = notebook
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        cell = f" in cell {cell_index}" if cell_index is not None else ""
        super().__init__(f"notebook {notebook} failed{cell}: {ename}: {evalue}")


class StaleUpdate(AttuneNbError):
    """Compare-and-set lost: the execution was not in the ``expected`` status any more.

    ``actual`` is what it was when the write was refused; nothing was written.
    """

    def __init__(self, execution_id: int, expected: str, actual: str) -> None:
        self.execution_id = execution_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"execution {execution_id} is {actual}, not {expected}: somebody changed it "
            "first and nothing was written. Read it again and decide anew"
        )


class NotFound(AttuneNbError, LookupError):
    """No row with that id."""


class ExecutionNotFound(NotFound):
    """No execution with ``execution_id``."""

    def __init__(self, execution_id: object) -> None:
        self.execution_id = execution_id
        super().__init__(
            f"no execution with id {execution_id!r}; find ids with db.executions.frame(...)"
        )


class InquiryNotFound(NotFound):
    """No inquiry with ``inquiry_id``."""

    def __init__(self, inquiry_id: object) -> None:
        self.inquiry_id = inquiry_id
        super().__init__(
            f"no inquiry with id {inquiry_id!r}; find ids with db.inquiries.frame(status='pending')"
        )


class InquiryClosed(AttuneNbError):
    """The inquiry cannot be answered: its ``status`` is not pending, or it expired."""

    def __init__(self, inquiry_id: int, status: str, reason: str) -> None:
        self.inquiry_id = inquiry_id
        self.status = status
        self.reason = reason
        super().__init__(f"inquiry {inquiry_id} cannot be answered: {reason}; nothing was written")


class InvalidResponse(AttuneNbError, ValueError):
    """A response refused by the inquiry's ``response_schema`` or ``response_options``."""

    def __init__(self, inquiry_id: int, response: object, messages: list[str]) -> None:
        self.inquiry_id = inquiry_id
        self.response = response
        self.messages = messages
        super().__init__(
            f"response {response!r} to inquiry {inquiry_id} is not valid: " + "; ".join(messages)
        )


class AttuneNbWarning(UserWarning):
    """Base of every warning attune_nb issues."""


class DatabaseOnlyWarning(AttuneNbWarning):
    """A write on a real Attune database that Attune's services will not hear about.

    Issued before the write, saying what will not happen (the worker keeps running,
    the workflow does not resume, no executor schedules it).
    """


class SkippedRowsWarning(AttuneNbWarning):
    """A read left rows out: the message says how many, of how many, and why.

    For example executions whose history rows retention deleted: they have no
    intervals, so the analyses built on ``intervals`` do not count them.
    """
