"""The demo loader: deterministic, realistic data telling one story in rows and history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.demo import ANCHOR, DEMO_EXECUTIONS, DEMO_SEED, seed
from attune_nb.demo.catalogue import INQUIRY_SCHEMA
from attune_nb.errors import ConfigurationError, SeedError
from attune_nb.inquiries import validate_response
from attune_nb.lifecycle import ALLOWED_TRANSITIONS, ExecutionStatus
from attune_nb.records import is_json_schema
from attune_nb.testing import ThrowawayServer

SIZE, SEED = 3000, 7


@pytest.fixture(scope="module")
def seeded(pg: ThrowawayServer) -> Iterator[attune_nb.Database]:
    db = attune_nb.connect(
        pg.create_seeded_database(executions=SIZE, seed=SEED, name="seed_tests"), readonly=True
    )
    yield db
    db.close()
    pg.drop_database("seed_tests")


def rows(db: attune_nb.Database, sql: str, **params: object) -> list[sa.Row]:
    with db.transaction() as conn:
        return list(conn.execute(sa.text(sql), params))


def test_exact_count(seeded: attune_nb.Database) -> None:
    assert seeded.scalar("SELECT count(*) FROM attune.execution") == SIZE


def test_all_ten_statuses_present(seeded: attune_nb.Database) -> None:
    found = {r[0] for r in rows(seeded, "SELECT DISTINCT status::text FROM attune.execution")}
    assert found == {s.value for s in ExecutionStatus}


def test_history_ends_at_anchor(seeded: attune_nb.Database) -> None:
    newest = seeded.scalar("SELECT max(time) FROM attune.execution_history")
    assert newest <= ANCHOR
    assert seeded.scalar("SELECT max(updated) FROM attune.execution") <= ANCHOR


def test_history_tells_the_same_story_as_the_rows(seeded: attune_nb.Database) -> None:
    executions = {
        r.id: r
        for r in rows(
            seeded,
            "SELECT id, status::text AS status, created, updated, started_at, workflow_def "
            "FROM attune.execution",
        )
    }
    history = rows(
        seeded,
        """
        SELECT entity_id, time, operation, changed_fields, old_values, new_values
        FROM attune.execution_history WHERE time >= :lo
        ORDER BY entity_id, time, operation <> 'INSERT'""",
        lo=ANCHOR.replace(year=2025),
    )
    by_id: dict[int, list[sa.Row]] = {}
    for h in history:
        by_id.setdefault(h.entity_id, []).append(h)
    assert set(by_id) == set(executions)
    for exec_id, events in by_id.items():
        row = executions[exec_id]
        insert, *updates = events
        assert insert.operation == "INSERT" and insert.time == row.created
        assert insert.new_values["status"] == "requested"
        assert all(u.operation == "UPDATE" and "status" in u.changed_fields for u in updates)
        status, last_time = "requested", insert.time
        for u in updates:
            assert u.old_values["status"] == status, exec_id
            new = u.new_values["status"]
            assert ExecutionStatus(new) in ALLOWED_TRANSITIONS[ExecutionStatus(status)], (
                exec_id,
                status,
                new,
            )
            assert u.time >= last_time
            if new == "running" and row.workflow_def is None:
                assert u.new_values["started_at"] is not None
                assert u.time == row.started_at, exec_id
            elif new == "running":  # a workflow parent: upstream leaves started_at NULL
                assert "started_at" not in u.changed_fields, exec_id
            status, last_time = new, u.time
        assert status == row.status, exec_id
        assert last_time == row.updated, exec_id
        entered_running = any(u.new_values["status"] == "running" for u in updates)
        if row.workflow_def is None:
            assert entered_running == (row.started_at is not None), exec_id
        else:
            assert row.started_at is None, exec_id


def test_history_value_shapes_match_the_trigger(seeded: attune_nb.Database) -> None:
    insert_keys = rows(
        seeded,
        "SELECT DISTINCT (SELECT array_agg(k ORDER BY k) FROM "
        "jsonb_object_keys(new_values) AS k) FROM attune.execution_history "
        "WHERE operation = 'INSERT'",
    )
    assert [r[0] for r in insert_keys] == [
        sorted(
            [
                "status",
                "action_ref",
                "executor",
                "worker",
                "parent",
                "enforcement",
                "started_at",
                "trace_tag",
            ]
        )
    ]
    digests = seeded.scalar(
        "SELECT count(*) FROM attune.execution_history WHERE new_values->'result' ? 'digest'"
    )
    assert digests > 0


def test_workflows_nest_at_least_three_levels(seeded: attune_nb.Database) -> None:
    depth = seeded.scalar("""
        WITH RECURSIVE tree AS (
            SELECT id, 0 AS depth FROM attune.execution WHERE parent IS NULL
            UNION ALL
            SELECT e.id, t.depth + 1 FROM attune.execution e JOIN tree t ON e.parent = t.id)
        SELECT max(depth) FROM tree""")
    assert depth >= 3
    assert (
        seeded.scalar(
            "SELECT count(*) FROM attune.execution e WHERE e.parent IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM attune.execution p "
            "WHERE p.id = e.parent)"
        )
        == 0
    )


def test_children_run_inside_their_parent(seeded: attune_nb.Database) -> None:
    bad = seeded.scalar("""
        SELECT count(*) FROM attune.execution c JOIN attune.execution p ON p.id = c.parent
        WHERE c.created < p.created OR (p.status IN ('completed', 'failed', 'cancelled')
                                        AND c.updated > p.updated)""")
    assert bad == 0


def test_retry_chains(seeded: attune_nb.Database) -> None:
    chains = rows(
        seeded,
        """
        SELECT r.retry_count, o.retry_count AS original_count, o.status::text AS original_status,
               r.retry_reason, r.created > o.updated AS later
        FROM attune.execution r JOIN attune.execution o ON o.id = r.original_execution""",
    )
    assert chains
    assert all(c.retry_count == c.original_count + 1 for c in chains)
    assert all(c.original_status == "failed" and c.retry_reason and c.later for c in chains)


def test_events_lead_to_enforcements_lead_to_executions(seeded: attune_nb.Database) -> None:
    linked = rows(
        seeded,
        """
        SELECT e.id, enf.rule_ref, ev.trigger_ref, r.action_ref, e.action_ref AS executed
        FROM attune.execution e
        JOIN attune.enforcement enf ON enf.id = e.enforcement
        JOIN attune.event ev ON ev.id = enf.event
        JOIN attune.rule r ON r.id = enf.rule
        WHERE e.original_execution IS NULL""",
    )
    assert len(linked) > SIZE / 4
    assert all(r.action_ref == r.executed for r in linked)
    manual = seeded.scalar(
        "SELECT count(*) FROM attune.execution WHERE parent IS NULL "
        "AND enforcement IS NULL AND executor IS NOT NULL"
    )
    assert manual > 0


def test_inquiries_pending_responded_timed_out(seeded: attune_nb.Database) -> None:
    found = {r[0] for r in rows(seeded, "SELECT DISTINCT status::text FROM attune.inquiry")}
    assert {"pending", "responded", "timeout"} <= found
    answered = rows(
        seeded,
        "SELECT response, responded_by, assigned_to FROM attune.inquiry WHERE status = 'responded'",
    )
    assert all(a.response["action"] in ("restart", "escalate", "ignore") for a in answered)
    assert all(a.responded_by is not None for a in answered)
    assert all(a.responded_by == a.assigned_to for a in answered if a.assigned_to is not None)


def test_inquiries_are_written_as_attune_writes_them(seeded: attune_nb.Database) -> None:
    inquiries = [seeded.inquiries.get(r.id) for r in rows(seeded, "SELECT id FROM attune.inquiry")]
    assert inquiries
    for inquiry in inquiries:
        assert not is_json_schema(inquiry.response_schema)
        assert inquiry.response_schema == INQUIRY_SCHEMA
        assert all(isinstance(o, dict) for o in inquiry.response_options)
        for option in inquiry.options:
            assert validate_response(inquiry, option.response) == [], option
        if inquiry.response is not None:
            assert validate_response(inquiry, inquiry.response) == [], inquiry
    fields = {f.name: f for f in inquiries[0].fields}
    assert {f.type for f in fields.values()} >= {"boolean", "string", "integer"}
    assert any(f.required for f in fields.values()) and not all(f.required for f in fields.values())
    assert any(f.enum for f in fields.values() if f.type == "string")
    assert any(f.secret for f in fields.values())
    assert {o.style for o in inquiries[0].options} == {"positive", "destructive", "default"}
    secret = [f.name for f in fields.values() if f.secret]
    assert any(set(secret) <= set(i.response or {}) for i in inquiries), "no secret answered"


def test_inquiries_assigned_unassigned_answerable_expired(seeded: attune_nb.Database) -> None:
    (counts,) = rows(
        seeded,
        """
        SELECT count(*) FILTER (WHERE assigned_to IS NULL) AS unassigned,
               count(*) FILTER (WHERE assigned_to IS NOT NULL) AS assigned,
               count(*) FILTER (WHERE status = 'pending' AND timeout_at IS NULL) AS answerable,
               count(*) FILTER (WHERE status = 'pending'
                                  AND timeout_at IS NOT NULL AND timeout_at > :anchor) AS later,
               count(*) FILTER (WHERE status = 'pending') AS pending,
               count(*) FILTER (WHERE status = 'timeout' AND timeout_at <= :anchor) AS expired
        FROM attune.inquiry""",
        anchor=ANCHOR,
    )
    assert counts.unassigned > 0 and counts.assigned > 0
    # A pending inquiry never times out, or timed out before the history ends.
    assert counts.pending > 0 and counts.answerable > 0 and counts.later == 0
    assert counts.expired > 0


def test_demo_pending_inquiries_answerable_and_expired(pg: ThrowawayServer) -> None:
    """The default demo: three pending inquiries answerable at any time, one already expired."""
    db = attune_nb.connect(
        pg.create_seeded_database(
            executions=DEMO_EXECUTIONS, seed=DEMO_SEED, name="seed_demo_inquiries"
        ),
        readonly=True,
    )
    try:
        pending = rows(
            db,
            "SELECT id, assigned_to, timeout_at, created FROM attune.inquiry "
            "WHERE status = 'pending' ORDER BY id",
        )
        total = db.scalar("SELECT count(*) FROM attune.inquiry")
    finally:
        db.close()
        pg.drop_database("seed_demo_inquiries")
    assert total == 392
    assert [r.id for r in pending] == [316, 317, 318, 392]
    never = [r.id for r in pending if r.timeout_at is None]
    assert never == [316, 317, 392]
    (expired,) = (r for r in pending if r.timeout_at is not None)
    assert expired.created < expired.timeout_at < ANCHOR
    # Answerable by anyone, and by the assignee only.
    assert {r.assigned_to is None for r in pending if r.id in never} == {True, False}


def test_workers_packs_and_identities(seeded: attune_nb.Database) -> None:
    assert seeded.scalar("SELECT count(DISTINCT worker) FROM attune.execution") >= 3
    assert (
        seeded.scalar("SELECT count(DISTINCT split_part(action_ref, '.', 1)) FROM attune.execution")
        >= 4
    )
    assert seeded.scalar("SELECT count(*) FROM attune.rule") >= 5
    # Workflow parents run on no worker.
    assert (
        seeded.scalar(
            "SELECT count(*) FROM attune.execution e JOIN attune.action a "
            "ON a.id = e.action WHERE a.workflow_def IS NOT NULL "
            "AND e.worker IS NOT NULL"
        )
        == 0
    )


def test_durations_differ_by_action_with_a_long_tail(seeded: attune_nb.Database) -> None:
    stats = {
        r.action_ref: r
        for r in rows(
            seeded,
            """
        SELECT action_ref,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM updated - started_at)) AS p50,
               max(extract(epoch FROM updated - started_at)) AS worst
        FROM attune.execution WHERE status = 'completed' AND started_at IS NOT NULL
        GROUP BY action_ref""",
        )
    }
    assert stats["deploy.build"].p50 > 50 * stats["core.echo"].p50
    assert any(s.worst > 5 * s.p50 for s in stats.values())


def test_timeouts_and_system_results_carry_provenance(seeded: attune_nb.Database) -> None:
    assert seeded.scalar(
        "SELECT bool_and((result->>'timed_out')::boolean) FROM attune.execution "
        "WHERE status = 'timeout'"
    )
    assert seeded.scalar(
        "SELECT bool_and(result ? 'cancelled_by') FROM attune.execution WHERE status = 'cancelled'"
    )
    assert seeded.scalar(
        "SELECT bool_and(result ? 'abandoned_by') FROM attune.execution WHERE status = 'abandoned'"
    )


FINGERPRINT = """
SELECT md5(string_agg(e::text, '|' ORDER BY e.id)) FROM attune.execution e
UNION ALL
SELECT md5(string_agg(h::text, '|' ORDER BY h.entity_id, h.time, h.operation,
                      h.new_values::text)) FROM attune.execution_history h
UNION ALL
SELECT md5(string_agg(i::text, '|' ORDER BY i.id)) FROM attune.inquiry i
"""


def _fingerprint(url: str) -> list[str]:
    db = attune_nb.connect(url)
    try:
        return [r[0] for r in rows(db, FINGERPRINT)]
    finally:
        db.close()


def test_same_seed_gives_same_rows_ids_included(pg: ThrowawayServer) -> None:
    prints = []
    for seed_value in (11, 11, 12):
        url = pg.create_database()
        db = attune_nb.connect(url)
        seed(db, executions=500, random_seed=seed_value)
        db.close()
        prints.append(_fingerprint(url))
    assert prints[0] == prints[1]
    assert prints[0] != prints[2]


def test_refuses_a_database_with_executions_unless_forced(db: attune_nb.Database) -> None:
    seed(db, executions=200, random_seed=1)
    with pytest.raises(SeedError, match="already holds 200 executions"):
        seed(db, executions=200, random_seed=1)
    assert db.scalar("SELECT count(*) FROM attune.execution") == 200
    report = seed(db, executions=200, random_seed=2, force=True)
    assert report.executions == 200
    assert db.scalar("SELECT count(*) FROM attune.execution") == 400
    assert db.scalar("SELECT min(id) FROM attune.execution WHERE id > 200") == 201


def test_refuses_a_database_attune_nb_did_not_create(empty_url: str) -> None:
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA attune"))
    engine.dispose()
    from attune_nb.db import open_database
    from attune_nb.migrations import migrate

    scratch = open_database(empty_url)
    with pytest.raises(attune_nb.MigrationError):
        migrate(scratch)
    with pytest.raises(SeedError, match="not created by attune_nb"):
        seed(scratch, executions=200)
    scratch.close()


@pytest.mark.parametrize(
    "value", [10, 0, "1000", 2.5, True], ids=["small", "zero", "str", "float", "bool"]
)
def test_bad_sizes_are_refused(db: attune_nb.Database, value: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        seed(db, executions=value)  # type: ignore[arg-type]
    assert info.value.name == "executions"
    assert db.scalar("SELECT count(*) FROM attune.execution") == 0


def test_a_failed_seed_writes_nothing(db: attune_nb.Database) -> None:
    # A progress callback that fails mid-load aborts the one transaction.
    def explode(message: str) -> None:
        if message.startswith("writing execution history"):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        seed(db, executions=300, progress=explode)
    for table in ("execution", "execution_history", "event", "enforcement", "inquiry"):
        assert db.scalar(f"SELECT count(*) FROM attune.{table}") == 0, table
    # The indexes dropped for the bulk load are back.
    assert (
        db.scalar(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'attune' "
            "AND tablename = 'execution'"
        )
        >= 8
    )


def test_workflow_executions_carry_their_definition(seeded: attune_nb.Database) -> None:
    wrong = seeded.scalar(
        "SELECT count(*) FROM attune.execution e JOIN attune.action a ON a.id = e.action "
        "WHERE e.workflow_def IS DISTINCT FROM a.workflow_def"
    )
    assert wrong == 0
    # Every execution with tasks is a workflow's parent, a nested one too.
    plain_parents = seeded.scalar(
        "SELECT count(*) FROM attune.execution p WHERE p.workflow_def IS NULL "
        "AND EXISTS (SELECT 1 FROM attune.execution c WHERE c.parent = p.id)"
    )
    assert plain_parents == 0
    nested = seeded.executions.count(workflows_only=True, top_level_only=False) - (
        seeded.executions.count(workflows_only=True, top_level_only=True)
    )
    assert nested > 0
    assert seeded.executions.count(workflows_only=True) > 0
    roots = seeded.executions.frame(workflows_only=True, top_level_only=True, limit=5)
    assert all(len(seeded.executions.children(int(r))) > 0 for r in roots["id"])


def test_an_action_runs_under_a_concurrency_limit_with_a_queue(
    seeded: attune_nb.Database,
) -> None:
    limit, active = rows(
        seeded,
        "SELECT s.max_concurrent, count(*) FILTER (WHERE en.status = 'active') "
        "FROM attune.execution_admission_state s "
        "JOIN attune.execution_admission_entry en ON en.state_id = s.id GROUP BY s.id",
    )[0]
    assert active <= limit
    queued = seeded.executions.frame(waiting_for_slot=True, limit=None)
    assert len(queued) > 0
    assert set(queued["status"].astype(str)) == {"requested"}
