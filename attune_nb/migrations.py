"""Migrations: the SQL files in ``migrations/`` that create attune_nb's subset of the Attune schema.

Files named ``NNNN_name.sql`` run in order, each in its own transaction, and are
recorded with a checksum in the ledger ``attune_nb.schema_migration``. Running again
is a no-op; an applied file whose content changed is refused; concurrent runs are
serialized by an advisory lock. A database whose ``attune`` schema attune_nb did not
create (a real Attune database) is never altered.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg2
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from attune_nb.driver import translate, translate_errors
from attune_nb.engine import Engine
from attune_nb.errors import MigrationError

__all__ = ["Migration", "applied_migrations", "discover", "migrate"]

log = logging.getLogger("attune_nb")

LEDGER_SCHEMA = "attune_nb"
LEDGER = f"{LEDGER_SCHEMA}.schema_migration"
# pg_advisory_lock key: the first 8 bytes of sha256("attune_nb.migrate"), as a signed bigint.
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"attune_nb.migrate").digest()[:8], "big", signed=True)
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """The folder of the migration files: the checkout's ``migrations/``, or the installed copy."""
    checkout = Path(__file__).resolve().parent.parent / "migrations"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("attune_nb") / "_migrations"))


def discover(directory: Path | None = None) -> list[Migration]:
    """The migration files of ``directory`` (default :func:`migrations_dir`), in order."""
    folder = directory or migrations_dir()
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(path.name, "file names must look like 0001_name.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(None, f"two files in {folder} share a version number")
    return found


def applied_migrations(db: Engine) -> dict[str, str]:
    """``{file name: checksum}`` of the migrations applied to ``db`` (empty without a ledger)."""
    with db.transaction() as conn:
        if conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": LEDGER}).scalar() is None:
            return {}
        rows = conn.execute(sa.text(f"SELECT name, checksum FROM {LEDGER} ORDER BY version"))
        return dict(rows.all())


def migrate(db: Engine, *, directory: Path | None = None) -> list[str]:
    """Apply the pending migrations to ``db``; return the names of those applied.

    >>> migrate(db)                     # already up to date: nothing applied
    []
    """
    files = discover(directory)
    with translate_errors(db.url), db.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        conn.commit()
        try:
            return _migrate_locked(conn, files, db.url)
        finally:
            conn.rollback()
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            conn.commit()


def _migrate_locked(conn: sa.Connection, files: list[Migration], url: str) -> list[str]:
    has_ledger = conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": LEDGER}).scalar() is not None
    has_attune = conn.execute(sa.text("SELECT to_regnamespace('attune')")).scalar() is not None
    applied: dict[str, str] = {}
    if has_ledger:
        applied = dict(conn.execute(sa.text(f"SELECT name, checksum FROM {LEDGER}")).all())
    conn.commit()
    if has_attune and not applied:
        raise MigrationError(
            None,
            "this database already holds an 'attune' schema that attune_nb did not create "
            "(a real Attune database?). attune_nb never alters an Attune schema: use it as it "
            "is with attune_nb.connect(), or migrate an empty database",
        )
    for migration in files:
        recorded = applied.get(migration.name)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationError(
                migration.name,
                f"its content changed after it was applied (checksum {recorded[:12]}… in the "
                f"ledger, {migration.checksum[:12]}… on disk); restore the file and put the "
                "change in a new migration",
            )
    done: list[str] = []
    for migration in files:
        if migration.name in applied:
            continue
        log.info("applying migration %s", migration.name)
        try:
            with conn.begin():
                conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {LEDGER_SCHEMA}"))
                conn.execute(
                    sa.text(
                        f"CREATE TABLE IF NOT EXISTS {LEDGER} (version INTEGER PRIMARY KEY, "
                        "name TEXT NOT NULL UNIQUE, checksum TEXT NOT NULL, "
                        "applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())"
                    )
                )
                # The raw cursor runs the whole file as written (no parameter parsing).
                with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
                    cur.execute(migration.sql)
                conn.execute(
                    sa.text(f"INSERT INTO {LEDGER} (version, name, checksum) VALUES (:v, :n, :c)"),
                    {"v": migration.version, "n": migration.name, "c": migration.checksum},
                )
        except (DBAPIError, psycopg2.Error) as exc:
            # What the driver table knows (read-only, connection lost) keeps its meaning;
            # any other failure of the file is this migration's.
            known = translate(exc, url)
            if known is not None:
                raise known from exc
            orig = exc.orig if isinstance(exc, DBAPIError) else exc
            reason = str(orig).strip()
            raise MigrationError(migration.name, f"{reason}; nothing of it was applied") from exc
        done.append(migration.name)
    return done
