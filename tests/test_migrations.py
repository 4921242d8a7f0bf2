"""Tests for attune_nb/migrations.py and the schema that migrations/*.sql create.

The expected names below are copied from ATTUNE_SCHEMA.md, the contract with the
real Attune database: a migration may not rename, reorder or invent any of them.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from attune_nb import Database, MigrationError, ReadOnlyError
from attune_nb.db import open_database
from attune_nb.migrations import LEDGER, applied_migrations, migrate, migrations_dir
from attune_nb.testing import ThrowawayServer

# ATTUNE_SCHEMA.md, "Enum types": values in declaration order.
ENUMS: dict[str, list[str]] = {
    "execution_status_enum": [
        "requested",
        "scheduling",
        "scheduled",
        "running",
        "completed",
        "failed",
        "canceling",
        "cancelled",
        "timeout",
        "abandoned",
    ],
    "inquiry_status_enum": ["pending", "responded", "timeout", "cancelled"],
    "enforcement_status_enum": ["created", "processed", "disabled"],
    "enforcement_condition_enum": ["any", "all"],
    "worker_type_enum": ["local", "remote", "container"],
    "worker_role_enum": ["action", "sensor"],
    "worker_status_enum": ["active", "inactive", "busy", "error"],
    "artifact_retention_enum": ["versions", "days", "hours", "minutes"],
}

# ATTUNE_SCHEMA.md, "Tables": every column of the subset, no more.
TABLES: dict[str, set[str]] = {
    "identity": {
        "id",
        "login",
        "display_name",
        "password_hash",
        "attributes",
        "frozen",
        "created",
        "updated",
    },
    "pack": {
        "id",
        "ref",
        "label",
        "description",
        "version",
        "conf_schema",
        "config",
        "meta",
        "tags",
        "runtime_deps",
        "dependencies",
        "is_standard",
        "created",
        "updated",
    },
    "action": {
        "id",
        "ref",
        "pack",
        "pack_ref",
        "label",
        "description",
        "entrypoint",
        "runtime",
        "enabled",
        "param_schema",
        "out_schema",
        "is_adhoc",
        "timeout_seconds",
        "max_retries",
        "workflow_def",
        "created",
        "updated",
    },
    "trigger": {
        "id",
        "ref",
        "pack",
        "pack_ref",
        "label",
        "description",
        "enabled",
        "param_schema",
        "out_schema",
        "created",
        "updated",
    },
    "rule": {
        "id",
        "ref",
        "pack",
        "pack_ref",
        "label",
        "description",
        "action",
        "action_ref",
        "trigger",
        "trigger_ref",
        "conditions",
        "action_params",
        "trigger_params",
        "enabled",
        "created",
        "updated",
    },
    "event": {
        "id",
        "trigger",
        "trigger_ref",
        "config",
        "payload",
        "source",
        "source_ref",
        "rule",
        "rule_ref",
        "trace_tag",
        "created",
    },
    "enforcement": {
        "id",
        "rule",
        "rule_ref",
        "trigger_ref",
        "config",
        "event",
        "status",
        "payload",
        "condition",
        "conditions",
        "created",
        "resolved_at",
    },
    "worker": {
        "id",
        "name",
        "worker_type",
        "worker_role",
        "runtime",
        "host",
        "port",
        "status",
        "capabilities",
        "meta",
        "last_heartbeat",
        "created",
        "updated",
    },
    "execution": {
        "id",
        "action",
        "action_ref",
        "config",
        "env_vars",
        "parent",
        "enforcement",
        "executor",
        "permission_set_refs",
        "worker",
        "status",
        "result",
        "started_at",
        "timeout_seconds",
        "created",
        "workflow_task",
        "retry_count",
        "max_retries",
        "retry_reason",
        "original_execution",
        "trace_tag",
        "updated",
        "workflow_def",  # newer upstream schemas (0006)
    },
    "execution_admission_state": {
        "id",
        "action_id",
        "group_key",
        "max_concurrent",
        "created",
        "updated",
    },
    "execution_admission_entry": {
        "id",
        "state_id",
        "execution_id",
        "status",
        "queue_order",
        "enqueued_at",
        "activated_at",
        "created",
        "updated",
    },
    "execution_history": {
        "time",
        "operation",
        "entity_id",
        "entity_ref",
        "changed_fields",
        "old_values",
        "new_values",
    },
    "inquiry": {
        "id",
        "created_by_execution",
        "prompt",
        "response_schema",
        "response_options",
        "assigned_to",
        "status",
        "response",
        "timeout_at",
        "responded_at",
        "responded_by",
        "created",
        "updated",
    },
}

ENUM_COLUMNS = [
    ("execution", "status", "execution_status_enum"),
    ("inquiry", "status", "inquiry_status_enum"),
    ("enforcement", "status", "enforcement_status_enum"),
    ("enforcement", "condition", "enforcement_condition_enum"),
    ("worker", "worker_type", "worker_type_enum"),
    ("worker", "worker_role", "worker_role_enum"),
    ("worker", "status", "worker_status_enum"),
]

MIGRATION_FILES = sorted(p.name for p in migrations_dir().glob("*.sql"))


def _sql(url: str, sql: str) -> None:
    """Run ``sql`` on ``url`` outside attune_nb (autocommit)."""
    database = open_database(url)
    try:
        with database.engine.connect() as conn:
            conn.connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
            with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
                cur.execute(sql)
    finally:
        database.close()


@pytest.fixture(scope="module")
def schema_db(pg: ThrowawayServer) -> Iterator[Database]:
    """One migrated database shared by the tests that only read the catalog (fast)."""
    name = "test_migrations_schema"
    database = open_database(pg.create_database(migrated=True, name=name))
    yield database
    database.close()
    pg.drop_database(name)


@pytest.fixture
def empty_db(empty_url: str) -> Iterator[Database]:
    """An open database without any schema (what ``attune-nb migrate`` starts from)."""
    database = open_database(empty_url)
    yield database
    database.close()


def _ledger(db: Database) -> list[tuple[int, str, str]]:
    with db.transaction() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(f"SELECT version, name, checksum FROM {LEDGER} ORDER BY version")
            )
        ]


def _exists(db: Database, regclass: str) -> bool:
    return db.scalar("SELECT to_regclass(:r) IS NOT NULL", r=regclass)


# -- the schema --------------------------------------------------------------------


@pytest.mark.parametrize(("type_name", "values"), list(ENUMS.items()), ids=list(ENUMS))
def test_enum_values_in_declaration_order(
    schema_db: Database, type_name: str, values: list[str]
) -> None:
    with schema_db.transaction() as conn:
        found = (
            conn.execute(
                sa.text(
                    "SELECT e.enumlabel FROM pg_enum e "
                    "JOIN pg_type t ON t.oid = e.enumtypid "
                    "JOIN pg_namespace n ON n.oid = t.typnamespace "
                    "WHERE n.nspname = 'attune' AND t.typname = :t ORDER BY e.enumsortorder"
                ),
                {"t": type_name},
            )
            .scalars()
            .all()
        )
    assert found == values


def test_no_other_enum_types(schema_db: Database) -> None:
    with schema_db.transaction() as conn:
        found = (
            conn.execute(
                sa.text(
                    "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                    "WHERE n.nspname = 'attune' AND t.typtype = 'e'"
                )
            )
            .scalars()
            .all()
        )
    assert set(found) == set(ENUMS)


@pytest.mark.parametrize(("table", "columns"), list(TABLES.items()), ids=list(TABLES))
def test_table_has_exactly_the_documented_columns(
    schema_db: Database, table: str, columns: set[str]
) -> None:
    with schema_db.transaction() as conn:
        found = (
            conn.execute(
                sa.text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'attune' AND table_name = :t"
                ),
                {"t": table},
            )
            .scalars()
            .all()
        )
    assert set(found) == columns
    assert len(found) == len(columns)


def test_no_other_tables(schema_db: Database) -> None:
    with schema_db.transaction() as conn:
        found = (
            conn.execute(
                sa.text(
                    "SELECT c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'attune' AND c.relkind IN ('r', 'p') "
                    "AND NOT c.relispartition"
                )
            )
            .scalars()
            .all()
        )
    assert set(found) == set(TABLES)


@pytest.mark.parametrize(
    ("table", "column", "type_name"),
    ENUM_COLUMNS,
    ids=[f"{t}.{c}" for t, c, _ in ENUM_COLUMNS],
)
def test_enum_typed_columns(schema_db: Database, table: str, column: str, type_name: str) -> None:
    found = schema_db.scalar(
        "SELECT udt_schema || '.' || udt_name FROM information_schema.columns "
        "WHERE table_schema = 'attune' AND table_name = :t AND column_name = :c",
        t=table,
        c=column,
    )
    assert found == f"attune.{type_name}"


def test_execution_history_is_partitioned_by_time_with_default(schema_db: Database) -> None:
    with schema_db.transaction() as conn:
        strategy = conn.execute(
            sa.text(
                "SELECT p.partstrat FROM pg_partitioned_table p "
                "WHERE p.partrelid = 'attune.execution_history'::regclass"
            )
        ).scalar()
        key = conn.execute(
            sa.text(
                "SELECT a.attname FROM pg_partitioned_table p "
                "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
                "WHERE p.partrelid = 'attune.execution_history'::regclass"
            )
        ).scalar()
        default = conn.execute(
            sa.text(
                "SELECT n.nspname, c.relname FROM pg_partitioned_table p "
                "JOIN pg_class c ON c.oid = p.partdefid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE p.partrelid = 'attune.execution_history'::regclass"
            )
        ).one_or_none()
    assert strategy == "r"
    assert key == "time"
    assert default is not None
    assert default[0] == "attune"


def _partitions(db: Database) -> dict[str, str]:
    with db.transaction() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'attune.execution_history'::regclass"
            )
        ).all()
    return dict(rows)


def test_ensure_partitions_creates_daily_partitions_idempotently(db: Database) -> None:
    before = _partitions(db)
    made = db.scalar(
        "SELECT attune.ensure_execution_history_partitions('2026-01-01', '2026-01-03')"
    )
    assert made == 3
    after = _partitions(db)
    new = set(after) - set(before)
    assert new == {
        "execution_history_20260101",
        "execution_history_20260102",
        "execution_history_20260103",
    }
    assert "2026-01-02 00:00:00+00" in after["execution_history_20260101"]
    assert (
        db.scalar("SELECT attune.ensure_execution_history_partitions('2026-01-01', '2026-01-03')")
        == 0
    )
    assert _partitions(db) == after


def test_history_rows_land_in_their_daily_partition(db: Database) -> None:
    db.scalar("SELECT attune.ensure_execution_history_partitions('2026-01-02', '2026-01-02')")
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO attune.execution_history (time, operation, entity_id) "
                "VALUES ('2026-01-02 12:00+00', 'INSERT', 1), ('2030-06-01 12:00+00', 'INSERT', 2)"
            )
        )
    assert db.scalar("SELECT entity_id FROM attune.execution_history_20260102") == 1
    assert db.scalar(
        "SELECT tableoid::regclass::text FROM attune.execution_history WHERE entity_id = 2"
    ) == db.scalar(
        "SELECT partdefid::regclass::text FROM pg_partitioned_table "
        "WHERE partrelid = 'attune.execution_history'::regclass"
    )


def test_ensure_partitions_skips_a_day_with_rows_in_default(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO attune.execution_history (time, operation, entity_id) "
                "VALUES ('2026-02-01 08:00+00', 'INSERT', 1)"
            )
        )
    assert (
        db.scalar("SELECT attune.ensure_execution_history_partitions('2026-02-01', '2026-02-02')")
        == 1
    )
    assert set(_partitions(db)) >= {"execution_history_20260202"}
    assert "execution_history_20260201" not in _partitions(db)


# -- migrate() ---------------------------------------------------------------------


def test_migrate_applies_every_file_then_nothing(empty_db: Database) -> None:
    assert applied_migrations(empty_db) == {}
    assert migrate(empty_db) == MIGRATION_FILES
    assert migrate(empty_db) == []
    assert _exists(empty_db, "attune.execution")


def test_migrate_on_migrated_database_is_a_no_op(db: Database) -> None:
    ledger = _ledger(db)
    assert migrate(db) == []
    assert _ledger(db) == ledger


def test_ledger_holds_sha256_of_each_file(db: Database) -> None:
    expected = [
        (
            int(name[:4]),
            name,
            hashlib.sha256((migrations_dir() / name).read_text().encode()).hexdigest(),
        )
        for name in MIGRATION_FILES
    ]
    assert _ledger(db) == expected
    assert applied_migrations(db) == {name: checksum for _, name, checksum in expected}
    assert db.scalar(f"SELECT bool_and(applied_at IS NOT NULL) FROM {LEDGER}") is True


def _copy_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), folder)
    return folder


def test_changed_applied_file_is_refused(db: Database, tmp_path: Path) -> None:
    folder = _copy_migrations(tmp_path)
    changed = folder / "0002_execution_history.sql"
    changed.write_text(changed.read_text() + "\n-- an edit after the fact\n")
    # A pending file next to it must not run either: the whole run is refused.
    (folder / "0099_probe.sql").write_text("CREATE TABLE attune.probe_after_refusal (id int);\n")
    ledger = _ledger(db)
    with pytest.raises(MigrationError) as info:
        migrate(db, directory=folder)
    assert info.value.migration == "0002_execution_history.sql"
    assert "0002_execution_history.sql" in str(info.value)
    assert "new migration" in info.value.reason
    assert _ledger(db) == ledger
    assert not _exists(db, "attune.probe_after_refusal")


def test_new_migration_in_directory_is_applied_once(db: Database, tmp_path: Path) -> None:
    folder = _copy_migrations(tmp_path)
    (folder / "0099_probe.sql").write_text("CREATE TABLE attune.probe (id int);\n")
    assert migrate(db, directory=folder) == ["0099_probe.sql"]
    assert migrate(db, directory=folder) == []
    assert _exists(db, "attune.probe")
    assert [row[1] for row in _ledger(db)] == [*MIGRATION_FILES, "0099_probe.sql"]


# The next free version number after the shipped migrations.
BAD = f"{len(list(migrations_dir().glob('*.sql'))) + 1:04d}_bad.sql"


def _broken_migration(tmp_path: Path) -> Path:
    folder = _copy_migrations(tmp_path)
    (folder / BAD).write_text(
        "CREATE TABLE attune.half_done (id int);\n"
        "SELECT no_such_column FROM attune.no_such_table;\n"
    )
    return folder


def test_broken_migration_raises_migration_error(db: Database, tmp_path: Path) -> None:
    folder = _broken_migration(tmp_path)
    with pytest.raises(MigrationError) as info:
        migrate(db, directory=folder)
    assert info.value.migration == BAD
    assert "no_such_table" in info.value.reason
    assert "nothing of it was applied" in str(info.value)


def test_broken_migration_leaves_no_trace(db: Database, tmp_path: Path) -> None:
    folder = _broken_migration(tmp_path)
    ledger = _ledger(db)
    # The exception type is pinned by test_broken_migration_raises_migration_error;
    # this test is about the state the failure leaves behind.
    with pytest.raises(MigrationError, match="no_such_table"):
        migrate(db, directory=folder)
    assert not _exists(db, "attune.half_done")
    assert _ledger(db) == ledger
    # The advisory lock was released: a fixed file applies, from another connection too.
    (folder / BAD).write_text("CREATE TABLE attune.half_done (id int);\n")
    other = open_database(db.engine.url.render_as_string(hide_password=False))
    try:
        assert migrate(other, directory=folder) == [BAD]
    finally:
        other.close()
    assert _exists(db, "attune.half_done")


@pytest.mark.parametrize(
    ("file_name", "reason_part"),
    [
        pytest.param("4_short.sql", "0001_name.sql", id="bad-name"),
        pytest.param("0003_duplicate_version.sql", "share a version", id="duplicate-version"),
    ],
)
def test_bad_file_names_are_refused(
    db: Database, tmp_path: Path, file_name: str, reason_part: str
) -> None:
    folder = _copy_migrations(tmp_path)
    (folder / file_name).write_text("CREATE TABLE attune.never (id int);\n")
    with pytest.raises(MigrationError) as info:
        migrate(db, directory=folder)
    assert reason_part in info.value.reason
    assert not _exists(db, "attune.never")


def test_foreign_attune_schema_is_never_altered(empty_url: str, empty_db: Database) -> None:
    _sql(empty_url, "CREATE SCHEMA attune; CREATE TABLE attune.execution (id bigint)")
    with pytest.raises(MigrationError) as info:
        migrate(empty_db)
    assert info.value.migration is None
    assert "attune_nb.connect()" in str(info.value)
    assert empty_db.scalar("SELECT to_regnamespace('attune_nb')") is None
    assert (
        empty_db.scalar(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'attune' AND table_name = 'execution'"
        )
        == 1
    )
    assert (
        empty_db.scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'attune'"
        )
        == 1
    )


def test_concurrent_migrations_apply_each_file_once(empty_url: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        database = open_database(empty_url)
        try:
            start.wait()
            results.append(migrate(database))
        except BaseException as exc:
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(results, key=len) == [[], MIGRATION_FILES]
    database = open_database(empty_url)
    try:
        assert [row[1] for row in _ledger(database)] == MIGRATION_FILES
        assert database.scalar(f"SELECT count(*) FROM {LEDGER}") == len(MIGRATION_FILES)
    finally:
        database.close()


def test_migrating_a_read_only_connection_raises(empty_url: str) -> None:
    database = open_database(empty_url, readonly=True)
    try:
        with pytest.raises(ReadOnlyError) as info:
            migrate(database)
        assert info.value.statement
        assert database.scalar("SELECT to_regnamespace('attune_nb')") is None
        assert database.scalar("SELECT to_regnamespace('attune')") is None
    finally:
        database.close()


def test_history_digests_migration_rewrites_inline_values(empty_url: str, tmp_path: Path) -> None:
    """A database migrated before 0004 kept small results inline; 0004 makes them summaries."""
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(migrations_dir().glob("*.sql"))[:3]:
        shutil.copy(path, before / path.name)
    db = open_database(empty_url)
    try:
        migrate(db, directory=before)
        with db.transaction() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO attune.execution (action_ref) VALUES ('core.echo');"
                    "UPDATE attune.execution SET result = '{\"ok\": true}', "
                    "env_vars = '{\"A\": \"1\"}', status = 'scheduling'"
                )
            )
        inline = db.scalar(
            "SELECT new_values FROM attune.execution_history WHERE operation = 'UPDATE'"
        )
        assert inline["result"] == {"ok": True}  # what 0002 wrote
        assert migrate(db)[0] == "0004_history_digests.sql"
        rewritten = db.scalar(
            "SELECT new_values FROM attune.execution_history WHERE operation = 'UPDATE'"
        )
        md5 = db.scalar("SELECT md5(result::text) FROM attune.execution")
        assert rewritten["result"] == {"digest": f"md5:{md5}", "size": 12, "type": "object"}
        assert rewritten["env_vars"]["type"] == "object"
        assert rewritten["status"] == "scheduling"
        assert db.scalar(
            "SELECT old_values FROM attune.execution_history WHERE operation = 'UPDATE'"
        ) == {"result": None, "env_vars": None, "status": "requested"}
    finally:
        db.close()


def test_event_is_partitioned_by_created_as_upstream(db: Database) -> None:
    assert (
        db.scalar(
            "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'attune.event'::regclass"
        )
        == "r"
    )
    key = db.scalar(
        "SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'attune.event'::regclass AND i.indisprimary"
    )
    assert key == ["created", "id"]
    with db.transaction() as conn:
        first = conn.execute(
            sa.text("INSERT INTO attune.event (trigger_ref) VALUES ('core.timer') RETURNING id")
        ).scalar_one()
    assert db.scalar("SELECT pg_get_serial_sequence('attune.event', 'id')") == (
        "attune.event_id_seq"
    )
    assert first >= 1
