"""Tests for attune_nb/driver.py: one table from SQLSTATE to error, on every driver path.

Each path (SQLAlchemy, a raw psycopg2 cursor, the ADBC reader) is made to fail for
real on the test server, and must give the same attune_nb error; a code the table
does not know must come through untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import adbc_driver_manager
import psycopg2
import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

import attune_nb
from attune_nb import DatabaseUnavailable, ReadOnlyError, SchemaMissing
from attune_nb.driver import SQLSTATE_ERRORS, translate, translate_errors
from attune_nb.frames import Column


@pytest.fixture
def ro(db_url: str) -> Iterator[attune_nb.Database]:
    database = attune_nb.connect(db_url, readonly=True)
    yield database
    database.close()


def _sqlalchemy(db: attune_nb.Database, sql: str) -> None:
    with db.transaction() as conn:
        conn.execute(sa.text(sql))


def _raw_cursor(db: attune_nb.Database, sql: str) -> None:
    with (
        translate_errors(db.url),
        db.engine.connect() as conn,
        conn.connection.dbapi_connection.cursor() as cur,  # type: ignore[union-attr]
    ):
        cur.execute(sql)


def _adbc(db: attune_nb.Database, sql: str) -> None:
    db.read(sql, [Column("x", "int")])


PATHS: dict[str, Callable[[attune_nb.Database, str], None]] = {
    "sqlalchemy": _sqlalchemy,
    "raw-cursor": _raw_cursor,
    "adbc": _adbc,
}


def test_the_table_holds_sqlstates() -> None:
    assert all(re.fullmatch(r"[0-9A-Z]{5}", code) for code in SQLSTATE_ERRORS)


@pytest.mark.parametrize("path", PATHS)
def test_a_write_on_a_read_only_connection(ro: attune_nb.Database, path: str) -> None:
    # nextval() writes: PostgreSQL refuses it in a read-only transaction (25006).
    with pytest.raises(ReadOnlyError) as info:
        PATHS[path](ro, "SELECT nextval('attune.execution_id_seq') AS x")
    # The driver's own error is kept as the cause (ADBC's stream reports it as pyarrow's).
    assert isinstance(
        info.value.__cause__,
        (DBAPIError, psycopg2.Error, adbc_driver_manager.Error, pa.ArrowException),
    )
    assert info.value.statement


def test_a_failure_inside_the_adbc_stream_is_translated(ro: attune_nb.Database) -> None:
    # A runtime error comes while the COPY streams, without a SQLSTATE: STREAM_MESSAGES.
    with pytest.raises(ReadOnlyError) as info:
        ro.read(
            "SELECT CASE WHEN g > 2 THEN nextval('attune.execution_id_seq') END AS x "
            "FROM generate_series(1, 5) g",
            [Column("x", "int")],
        )
    assert "generate_series" in info.value.statement
    assert len(ro.executions.frame()) == 0  # and the reader is usable again


@pytest.mark.parametrize("path", PATHS)
def test_a_missing_schema(db: attune_nb.Database, path: str) -> None:
    with pytest.raises(SchemaMissing) as info:
        PATHS[path](db, "SELECT no_such_schema.f() AS x")
    assert info.value.url == db.url


@pytest.mark.parametrize("path", PATHS)
def test_an_unknown_code_is_raised_as_it_is(db: attune_nb.Database, path: str) -> None:
    with pytest.raises(Exception, match="division by zero") as info:
        PATHS[path](db, "SELECT 1 / 0 AS x")  # 22012 division_by_zero: not in the table
    assert not isinstance(info.value, attune_nb.AttuneNbError)
    assert info.value.__cause__ is None or not isinstance(
        info.value.__cause__, attune_nb.AttuneNbError
    )
    assert "22012" not in SQLSTATE_ERRORS
    assert translate(info.value, db.url) is None


def test_an_unreachable_server_on_the_engine_path(tmp_path: object) -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        attune_nb.connect(f"postgresql://nobody@/nowhere?host={tmp_path}")
    assert info.value.url.startswith("postgresql+psycopg2://nobody@/nowhere")


def test_an_error_that_is_not_a_drivers_is_left_alone(db: attune_nb.Database) -> None:
    with pytest.raises(KeyError), translate_errors(db.url):
        raise KeyError("not a database error")
    assert translate(KeyError("x"), db.url) is None
