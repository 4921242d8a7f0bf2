"""Tests for attune_nb/db.py: ``connect``, URL handling, session settings and ``Database``."""

from __future__ import annotations

import time

import psycopg2
import psycopg2.extensions
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

import attune_nb
from attune_nb import (
    Database,
    DatabaseUnavailable,
    ReadOnlyError,
    SchemaMismatch,
    SchemaMissing,
)
from attune_nb.engine import REQUIRED_COLUMNS, mask_url

PASSWORD = "s3cret"


def _with_password(url: str) -> str:
    """``url`` with ``PASSWORD`` for user postgres (the embedded server trusts any password)."""
    assert "://postgres@" in url
    return url.replace("://postgres@", f"://postgres:{PASSWORD}@", 1)


def _raw_conn(url: str) -> psycopg2.extensions.connection:
    parsed = make_url(url)
    conn = psycopg2.connect(host=parsed.query["host"], user="postgres", dbname=parsed.database)
    conn.autocommit = True
    return conn


# -- session settings --------------------------------------------------------------


def test_search_path_is_set_on_every_new_connection(db: Database) -> None:
    # Two connections checked out at once: the second one is new too.
    with db.engine.connect() as first, db.engine.connect() as second:
        paths = [c.execute(sa.text("SHOW search_path")).scalar() for c in (first, second)]
        pids = {c.execute(sa.text("SELECT pg_backend_pid()")).scalar() for c in (first, second)}
    assert len(pids) == 2
    assert paths == ["attune, public", "attune, public"]


def test_unqualified_enum_cast_works(db: Database) -> None:
    assert db.scalar("SELECT 'running'::execution_status_enum::text") == "running"
    assert db.scalar("SELECT pg_typeof('running'::execution_status_enum)::text") == (
        "execution_status_enum"
    )


def test_session_timezone_is_utc(db: Database) -> None:
    assert db.scalar("SHOW timezone") == "UTC"


# -- Database ----------------------------------------------------------------------


def test_scalar_binds_parameters_and_returns_first_column(db: Database) -> None:
    assert db.scalar("SELECT :a + :b, 'ignored'", a=40, b=2) == 42
    assert db.scalar("SELECT 1 WHERE false") is None


def test_connect_commits_on_success(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute(sa.text("INSERT INTO attune.identity (login) VALUES ('alice')"))
    assert db.scalar("SELECT count(*) FROM attune.identity WHERE login = 'alice'") == 1


def test_connect_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"), db.transaction() as conn:  # noqa: PT012
        conn.execute(sa.text("INSERT INTO attune.identity (login) VALUES ('bob')"))
        raise RuntimeError("boom")
    assert db.scalar("SELECT count(*) FROM attune.identity") == 0


def _backends(monitor: psycopg2.extensions.connection) -> int:
    """Other sessions on the monitor's database (the monitor itself excluded)."""
    with monitor.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cur.fetchone()[0]


def test_context_manager_closes_pooled_connections(db_url: str) -> None:
    # One monitoring session for the whole test, so that its own comings and goings
    # never show up in the counts.
    monitor = _raw_conn(db_url)
    try:
        with attune_nb.connect(db_url) as database:
            assert isinstance(database, Database)
            assert database.scalar("SELECT 1") == 1
            pool = database.engine.pool
            assert isinstance(pool, QueuePool)
            assert pool.checkedin() >= 1
            assert _backends(monitor) >= 1
        pool = database.engine.pool  # dispose() replaced the pool with an empty one
        assert isinstance(pool, QueuePool)
        assert pool.checkedin() == 0
        # A backend exits shortly after its client hangs up: wait for that, do not time it.
        deadline = time.monotonic() + 10
        while _backends(monitor) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _backends(monitor) == 0
    finally:
        monitor.close()


# -- read-only ---------------------------------------------------------------------


def test_readonly_write_raises_with_statement_and_changes_nothing(
    db: Database, db_url: str
) -> None:
    with db.transaction() as conn:
        conn.execute(sa.text("INSERT INTO attune.identity (login) VALUES ('before')"))
    ro = attune_nb.connect(db_url, readonly=True)
    try:
        assert ro.readonly is True
        assert "read-only" in repr(ro)
        with pytest.raises(ReadOnlyError) as info, ro.transaction() as conn:
            conn.execute(sa.text("INSERT INTO attune.identity (login) VALUES ('intruder')"))
        assert info.value.statement.startswith("INSERT INTO attune.identity")
        assert info.value.statement in str(info.value)
        assert "readonly=False" in str(info.value)
        # Reads still work on the read-only connection.
        assert ro.scalar("SELECT count(*) FROM attune.identity") == 1
    finally:
        ro.close()
    assert db.scalar("SELECT count(*) FROM attune.identity") == 1
    assert db.scalar("SELECT count(*) FROM attune.identity WHERE login = 'intruder'") == 0


def test_readonly_scalar_write_raises(db_url: str) -> None:
    with attune_nb.connect(db_url, readonly=True) as ro, pytest.raises(ReadOnlyError) as info:
        ro.scalar("UPDATE attune.execution SET status = 'failed' RETURNING id")
    assert info.value.statement.startswith("UPDATE attune.execution")


def test_read_write_repr(db: Database) -> None:
    assert db.readonly is False
    assert repr(db).startswith("<Database postgresql+psycopg2://postgres@")
    assert repr(db).endswith(" read-write>")


# -- URLs --------------------------------------------------------------------------


def test_repr_masks_password(db_url: str) -> None:
    with attune_nb.connect(_with_password(db_url)) as database:
        assert database.scalar("SELECT current_user") == "postgres"
        for text in (repr(database), str(database.url)):
            assert PASSWORD not in text
            assert "***" in text


def test_postgresql_url_is_mapped_to_psycopg2(db_url: str) -> None:
    plain = db_url.replace("postgresql+psycopg2://", "postgresql://", 1)
    assert plain.startswith("postgresql://")
    with attune_nb.connect(plain) as database:
        assert database.engine.url.drivername == "postgresql+psycopg2"
        assert database.scalar("SELECT 1") == 1


def test_env_var_is_used_when_url_is_none(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTUNE_DB_URL", db_url)
    with attune_nb.connect() as database:
        assert database.embedded is False
        assert database.scalar("SELECT current_database()") == make_url(db_url).database


def test_explicit_url_wins_over_env_var(
    db_url: str, empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The env var points at a database without the schema: using it would raise.
    monkeypatch.setenv("ATTUNE_DB_URL", empty_url)
    with attune_nb.connect(db_url) as database:
        assert database.scalar("SELECT current_database()") == make_url(db_url).database


@pytest.mark.parametrize(
    ("url", "reason_part"),
    [
        pytest.param("not a url at all s3cret", "cannot be parsed", id="unparseable"),
        pytest.param("mysql://root:s3cret@localhost/attune", "not PostgreSQL", id="mysql"),
        pytest.param(
            "postgresql+psycopg://postgres:s3cret@localhost/attune",
            "not supported",
            id="psycopg3-driver",
        ),
        pytest.param(
            "postgresql://postgres:s3cret@127.0.0.1:1/attune",
            "",
            id="unreachable-host",
        ),
    ],
)
def test_bad_url_raises_database_unavailable(url: str, reason_part: str) -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        attune_nb.connect(url)
    error = info.value
    assert PASSWORD not in str(error)
    assert PASSWORD not in error.url
    assert reason_part in error.reason
    assert error.hint
    assert f"Fix: {error.hint}" in str(error)


def test_unreachable_host_names_host_and_port() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        attune_nb.connect("postgresql://postgres:s3cret@127.0.0.1:1/attune")
    assert "127.0.0.1" in info.value.url
    assert "***" in info.value.url
    assert info.value.__cause__ is not None


def test_non_numeric_port_raises_database_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        attune_nb.connect("postgresql://postgres:s3cret@localhost:notaport/attune")
    assert PASSWORD not in str(info.value)


def test_missing_database_raises_database_unavailable(db_url: str) -> None:
    url = make_url(db_url).set(database="no_such_database").render_as_string(hide_password=False)
    with pytest.raises(DatabaseUnavailable) as info:
        attune_nb.connect(url)
    assert "no_such_database" in info.value.reason


# -- schema checks -----------------------------------------------------------------


def test_database_without_schema_raises_schema_missing(empty_url: str) -> None:
    with pytest.raises(SchemaMissing) as info:
        attune_nb.connect(empty_url)
    assert info.value.schema == "attune"
    assert "attune-nb migrate" in str(info.value)
    assert info.value.url == mask_url(empty_url)


def _execute_raw(url: str, sql: str) -> None:
    conn = _raw_conn(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def test_schema_without_execution_history_raises_schema_mismatch(empty_url: str) -> None:
    tables = [
        f"CREATE TABLE attune.{table} (" + ", ".join(f"{c} TEXT" for c in columns) + ")"
        for table, columns in REQUIRED_COLUMNS.items()
        if table != "execution_history"
    ]
    _execute_raw(empty_url, "CREATE SCHEMA attune; " + "; ".join(tables))
    with pytest.raises(SchemaMismatch) as info:
        attune_nb.connect(empty_url)
    expected = [f"execution_history.{c}" for c in REQUIRED_COLUMNS["execution_history"]]
    assert info.value.missing == expected
    for name in expected:
        assert name in str(info.value)
    assert "attune-nb migrate" in str(info.value)


def test_execution_missing_a_column_raises_schema_mismatch(empty_url: str) -> None:
    # Every required column but one (the check goes by name: their types do not matter).
    tables = [
        f"CREATE TABLE attune.{table} ("
        + ", ".join(f"{c} TEXT" for c in columns if (table, c) != ("execution", "started_at"))
        + ")"
        for table, columns in REQUIRED_COLUMNS.items()
    ]
    _execute_raw(empty_url, "CREATE SCHEMA attune; " + "; ".join(tables))
    with pytest.raises(SchemaMismatch) as info:
        attune_nb.connect(empty_url)
    assert info.value.missing == ["execution.started_at"]


def test_migrated_database_passes_check_schema(db: Database) -> None:
    db.check_schema()  # raises on failure
    assert db.scalar("SELECT count(*) FROM attune.execution") == 0


def test_tracer_shows_every_statement_inside_the_block(db_url: str) -> None:
    db = attune_nb.connect(db_url)
    seen: list[tuple[str, object]] = []
    with db.tracer(lambda sql, params: seen.append((sql, params))):
        db.executions.count(status="failed")
        db.executions.frame(limit=5)
    assert any("count(*)" in sql and params == {"status_1_1": "failed"} for sql, params in seen)
    # The frame's query goes to the ADBC reader as literal SQL, its parameters bound in.
    assert any(
        sql.startswith("SELECT") and "LIMIT 5" in sql and _params is None for sql, _params in seen
    )
    before = len(seen)
    db.executions.count()
    assert len(seen) == before  # the tracer is gone after the block
    db.close()


def test_summary_counts_rows_and_spans_per_table(db_url: str) -> None:
    db = attune_nb.connect(db_url)
    empty = db.summary()
    assert list(empty.columns) == ["table", "rows", "oldest", "newest"]
    assert [str(t) for t in empty.dtypes] == [
        "string",
        "Int64",
        "datetime64[ns, UTC]",
        "datetime64[ns, UTC]",
    ]
    assert list(empty["table"])[:2] == ["execution", "execution_history"]
    assert (empty["rows"] == 0).all() and empty["oldest"].isna().all()
    first = db.executions.create("core.echo")
    db.executions.create("core.echo")
    summary = db.summary().set_index("table")
    assert summary.loc["execution", "rows"] == 2
    assert summary.loc["execution_history", "rows"] == 2
    assert summary.loc["execution", "oldest"] == first.created
    db.close()


def test_managed_tells_an_attune_nb_database_from_a_real_one(db_url: str) -> None:
    db = attune_nb.connect(db_url)
    assert db.managed is True
    with db.transaction() as conn:
        conn.execute(sa.text("DROP SCHEMA attune_nb CASCADE"))
    assert attune_nb.connect(db_url).managed is False
    db.close()
