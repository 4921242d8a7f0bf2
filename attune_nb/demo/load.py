"""Writing the demo history into a database: :func:`seed` and its bulk COPY loader.

Reference data is upserted, the simulated :class:`~attune_nb.demo.simulation.Plan` goes
in with binary COPY, and ``execution_history`` is written in the shape its trigger writes.
"""

from __future__ import annotations

import io
import json
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from attune_nb.demo.catalogue import (
    AB,
    ACTIONS,
    ANCHOR,
    DEMO_EXECUTIONS,
    DEMO_SEED,
    FLAKY_WORKER,
    HUMANS,
    IDENTITIES,
    INQUIRY_OPTIONS,
    INQUIRY_SCHEMA,
    MAX_STEPS,
    PACKS,
    RU,
    RULES,
    SD,
    STATUSES,
    TERMINAL_CODES,
    TRIGGERS,
    WINDOW,
    WORKERS,
    WORKFLOW_PATH_BASE,
    WORKFLOWS,
)
from attune_nb.demo.simulation import Plan, plan
from attune_nb.driver import translate_errors
from attune_nb.errors import ConfigurationError, SeedError

if TYPE_CHECKING:
    from attune_nb.engine import Engine

__all__ = ["MIN_EXECUTIONS", "SEED_PHASES", "SeedReport", "seed"]

MIN_EXECUTIONS = 100
"""The smallest demo history :func:`seed` writes."""
SEED_PHASES = 6
"""How many times :func:`seed` reports progress (one call per phase, as it starts)."""


@dataclass
class SeedReport:
    """What :func:`seed` wrote."""

    executions: int
    history_rows: int
    workflows: int
    inquiries: int
    events: int
    random_seed: int
    as_of: datetime
    seconds: float
    status_counts: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"seeded {self.executions:,} executions ({self.workflows:,} workflows), "
            f"{self.history_rows:,} history rows, {self.inquiries:,} inquiries, "
            f"{self.events:,} events in {self.seconds:.1f}s (seed {self.random_seed}, "
            f"history ends {self.as_of:%Y-%m-%d %H:%M:%S} UTC)"
        )


def seed(
    db: Engine,
    *,
    executions: int = DEMO_EXECUTIONS,
    random_seed: int = DEMO_SEED,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Write a realistic, deterministic execution history into ``db``.

    Refuses (:class:`SeedError`) when executions exist already, unless ``force=True``.
    All of it is one transaction: on any failure nothing is written.

    >>> report = seed(db, executions=10_000, random_seed=7, force=True)
    >>> print(report)
    seeded 10,000 executions ... (seed 7, ...)
    """
    if isinstance(executions, bool) or not isinstance(executions, int):
        raise ConfigurationError("executions", executions, "an integer")
    if executions < MIN_EXECUTIONS:
        raise ConfigurationError("executions", executions, f"at least {MIN_EXECUTIONS}")
    if isinstance(random_seed, bool) or not isinstance(random_seed, int):
        raise ConfigurationError("random_seed", random_seed, "an integer")
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    with translate_errors(db.url), db.engine.connect() as conn:
        ledger = sa.text("SELECT to_regclass('attune_nb.schema_migration')")
        if conn.execute(ledger).scalar() is None:
            raise SeedError(
                f"database {db.url} was not created by attune_nb (no migration ledger); demo "
                "data is never written into a real Attune database. Seed an embedded or empty "
                "database prepared with `attune-nb migrate`"
            )
        enum = conn.execute(
            sa.text("SELECT enum_range(NULL::attune.execution_status_enum)::text[]")
        ).scalar_one()
        if tuple(enum) != STATUSES:
            raise SeedError(f"execution_status_enum is {enum}, expected {list(STATUSES)}")
        existing = conn.execute(sa.text("SELECT count(*) FROM attune.execution")).scalar_one()
        if existing and not force:
            raise SeedError(
                f"the database already holds {existing:,} executions; demo data is only added "
                "to an empty database. Pass force=True (`attune-nb seed --force`) to add it anyway"
            )
        conn.rollback()
        say("simulating executions")
        planned = plan(executions, random_seed=random_seed)
        with conn.begin():
            # Bulk load with triggers and FK checks off; the history is written below in
            # exactly the shape the triggers would have written it.
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
            ids = _reference_data(conn, ANCHOR - WINDOW)
            report = _load(conn, planned, ids, say)
    report.seconds = time.perf_counter() - started
    return report


def _copy_binary(cursor: Any, table: str, columns: dict[str, np.ndarray]) -> None:
    """COPY fixed-width numpy columns into ``table`` in PostgreSQL's binary format.

    Supported dtypes: int16/int32/int64 (smallint/integer/bigint), float64 (double
    precision) and bool. Building the rows is one numpy record array: no Python loop.
    """
    arrays = [np.asarray(v) for v in columns.values()]
    n = len(arrays[0])
    kinds = {"i2": ">i2", "i4": ">i4", "i8": ">i8", "f8": ">f8", "b1": "u1"}
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, arr in enumerate(arrays):
        code = arr.dtype.str[1:]
        if code not in kinds:
            raise TypeError(f"column {list(columns)[i]} has unsupported dtype {arr.dtype}")
        fields += [(f"len{i}", ">i4"), (f"val{i}", kinds[code])]
    records = np.empty(n, dtype=fields)
    records["count"] = len(arrays)
    for i, arr in enumerate(arrays):
        records[f"len{i}"] = arr.dtype.itemsize
        records[f"val{i}"] = arr
    payload = (
        b"PGCOPY\n\xff\r\n\x00"
        + struct.pack(">ii", 0, 0)
        + records.tobytes()
        + struct.pack(">h", -1)
    )
    cursor.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)", io.BytesIO(payload)
    )


def _id_or_zero(values: np.ndarray, base: int) -> np.ndarray:
    """Row indexes to ids (``base`` + index + 1); -1 (none) becomes 0, read back as NULL."""
    return np.where(values >= 0, values + base + 1, 0).astype(np.int64)


def _reference_data(conn: sa.Connection, base: datetime) -> dict[str, dict[str, int]]:
    """Packs, actions, triggers, rules, identities, workers; returns ref -> id maps."""
    ids: dict[str, dict[str, int]] = {}
    at = base - timedelta(days=60)
    q = conn.execute

    def upsert(sql: str, params: dict[str, Any]) -> int:
        return int(q(sa.text(sql), params).scalar_one())

    ids["identity"] = {
        login: upsert(
            "INSERT INTO attune.identity (login, display_name, created, updated) "
            "VALUES (:l, :d, :t, :t) ON CONFLICT (login) DO UPDATE SET login = EXCLUDED.login "
            "RETURNING id",
            {"l": login, "d": name, "t": at},
        )
        for login, name in IDENTITIES
    }
    ids["pack"] = {
        ref: upsert(
            "INSERT INTO attune.pack (ref, label, description, version, is_standard, tags, "
            "created, updated) VALUES (:r, :l, :d, '1.4.0', :s, ARRAY[:r], :t, :t) "
            "ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref RETURNING id",
            {"r": ref, "l": label, "d": desc, "s": std, "t": at},
        )
        for ref, label, desc, std in PACKS
    }
    ids["action"] = {}
    # Every workflow has a definition, a nested one (a task that runs a workflow) too;
    # the top-level templates keep the first numbers.
    nested = [a.ref for a in ACTIONS if a.workflow and a.ref not in WORKFLOWS]
    definition = {ref: i + 1 for i, ref in enumerate([*WORKFLOWS, *nested])}
    for spec in ACTIONS:
        pack = spec.ref.split(".")[0]
        ids["action"][spec.ref] = upsert(
            "INSERT INTO attune.action (ref, pack, pack_ref, label, description, entrypoint, "
            "timeout_seconds, max_retries, workflow_def, param_schema, created, updated) "
            "VALUES (:r, :p, :pr, :l, :d, :e, :to, :mr, :wf, CAST(:ps AS jsonb), :t, :t) "
            "ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref RETURNING id",
            {
                "r": spec.ref,
                "p": ids["pack"][pack],
                "pr": pack,
                "l": spec.ref.split(".")[1].replace("_", " ").title(),
                "d": f"Demo action {spec.ref}",
                "e": f"{spec.ref.split('.')[1]}.py",
                "to": spec.timeout_seconds,
                "mr": spec.max_retries,
                "wf": definition.get(spec.ref),
                "ps": '{"type": "object"}',
                "t": at,
            },
        )
    ids["trigger"] = {
        ref: upsert(
            "INSERT INTO attune.trigger (ref, pack, pack_ref, label, created, updated) "
            "VALUES (:r, :p, :pr, :l, :t, :t) ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref "
            "RETURNING id",
            {
                "r": ref,
                "p": ids["pack"][ref.split(".")[0]],
                "pr": ref.split(".")[0],
                "l": label,
                "t": at,
            },
        )
        for ref, label in TRIGGERS
    }
    ids["rule"] = {
        ref: upsert(
            "INSERT INTO attune.rule (ref, pack, pack_ref, label, action, action_ref, trigger, "
            "trigger_ref, created, updated) VALUES (:r, :p, :pr, :l, :a, :ar, :tr, :trr, :t, :t) "
            "ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref RETURNING id",
            {
                "r": ref,
                "p": ids["pack"][ref.split(".")[0]],
                "pr": ref.split(".")[0],
                "l": ref.split(".")[1].replace("_", " ").title(),
                "a": ids["action"][action],
                "ar": action,
                "tr": ids["trigger"][trig],
                "trr": trig,
                "t": at,
            },
        )
        for ref, trig, action, _w in RULES
    }
    ids["worker"] = {
        name: upsert(
            "INSERT INTO attune.worker (name, worker_type, worker_role, host, port, status, "
            "capabilities, last_heartbeat, created, updated) VALUES (:n, "
            "CAST(:ty AS attune.worker_type_enum), CAST(:ro AS attune.worker_role_enum), :h, "
            "9100, CAST(:s AS attune.worker_status_enum), CAST(:c AS jsonb), :hb, :t, :t) "
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            {
                "n": name,
                "ty": wtype,
                "ro": role,
                "h": f"{name}.attune.internal",
                "s": status,
                "c": '{"runtimes": ["python", "shell"]}',
                # At the history's end the workers are alive (a heartbeat 15 s ago),
                # but the flaky one, silent for 10 minutes: what runs there is stuck.
                "hb": ANCHOR
                - (timedelta(minutes=10) if status == "error" else timedelta(seconds=15)),
                "t": at,
            },
        )
        for name, wtype, role, status, _w in WORKERS
    }
    return ids


def _next_id(conn: sa.Connection, table: str) -> int:
    sql = f"SELECT coalesce(max(id), 0) FROM attune.{table}"
    return int(conn.execute(sa.text(sql)).scalar_one())


def _load(
    conn: sa.Connection, planned: Plan, ids: dict[str, dict[str, int]], say: Callable[[str], None]
) -> SeedReport:
    rows, n = planned.rows, planned.size
    # The loader's own draws (workers, big results) come from a second, derived stream.
    rng = np.random.default_rng(np.random.PCG64([planned.random_seed, 1]))
    base = _next_id(conn, "execution")
    ev_base, enf_base = _next_id(conn, "event"), _next_id(conn, "enforcement")
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    path = rows["path"]
    status_m = planned.statuses
    steps = planned.steps
    last = np.maximum(steps - 1, 0)
    final = planned.final_status
    times = rows["times"]
    updated = times[np.arange(n), last]
    ran = (status_m == RU) & (np.arange(MAX_STEPS)[None, :] < steps[:, None])
    is_leaf = path < WORKFLOW_PATH_BASE
    # Upstream's scheduler leaves started_at NULL on a workflow's parent execution:
    # when it entered running is in its history only.
    started_col = np.where(
        ran.any(axis=1) & is_leaf, times[np.arange(n), ran.argmax(axis=1)], np.nan
    )
    scheduled = (status_m == SD) & (np.arange(MAX_STEPS)[None, :] < steps[:, None])
    got_worker = is_leaf & scheduled.any(axis=1)
    w_weights = np.array([w[4] for w in WORKERS], dtype=float)
    worker_pick = rng.choice(len(WORKERS), n, p=w_weights / w_weights.sum())
    abandoned = final == AB
    worker_pick = np.where(abandoned & (rng.random(n) < 0.7), FLAKY_WORKER, worker_pick)
    worker_ids = np.array([ids["worker"][w[0]] for w in WORKERS])
    worker = np.where(got_worker, worker_ids[worker_pick], -1)

    # Roots started by a rule get an event and an enforcement just before them.
    root = rows["parent"] < 0
    first_attempt = root & (rows["original"] < 0)
    ruled = first_attempt & (rows["rule"] >= 0)
    ruled_rows = np.flatnonzero(ruled)
    enforcement_of = np.full(n, -1)
    enforcement_of[ruled_rows] = np.arange(len(ruled_rows))
    retried = rows["original"] >= 0
    # A retry keeps the enforcement of its first attempt (tree holds the first attempt).
    enforcement_of[retried] = enforcement_of[rows["tree"][retried]]
    tree_root = rows["tree"]
    human_ids = np.array([ids["identity"][IDENTITIES[h][0]] for h in HUMANS])
    executor = np.where(rows["manual"] >= 0, human_ids[np.maximum(rows["manual"], 0)], -1)

    say(f"loading {len(ruled_rows):,} events and enforcements")
    rule_ids = np.array([ids["rule"][r[0]] for r in RULES], dtype=np.int64)
    ev_ids = np.arange(len(ruled_rows), dtype=np.int64) + ev_base + 1
    enf_ids = np.arange(len(ruled_rows), dtype=np.int64) + enf_base + 1
    cur.execute(
        "CREATE TEMP TABLE seed_event (event bigint, enforcement bigint, rule bigint, "
        "created double precision) ON COMMIT DROP"
    )
    _copy_binary(
        cur,
        "seed_event",
        {
            "event": ev_ids,
            "enforcement": enf_ids,
            "rule": rule_ids[rows["rule"][ruled_rows]],
            "created": rows["created"][ruled_rows],
        },
    )
    cur.execute(_INSERT_EVENTS)
    trace_event = np.zeros(n, dtype=np.int64)
    trace_event[ruled_rows] = ev_ids
    trace_event = trace_event[tree_root]

    say(f"loading {n:,} executions")
    indexes = _drop_indexes(cur, ("execution", "execution_history"))
    action_ids = np.array([ids["action"][a.ref] for a in ACTIONS], dtype=np.int64)
    act = rows["action"].astype(int)
    enforcement = np.where(root & (enforcement_of >= 0), enforcement_of + enf_base + 1, 0)
    prev = status_m[np.arange(n), np.maximum(last - 1, 0)]
    big = np.array([a.big_result for a in ACTIONS])[act] & (rng.random(n) < 0.3)
    task_names = sorted({t for t in rows["task_name"] if t})
    task_code = {name: i for i, name in enumerate(task_names)}
    task = np.array([task_code.get(t, -1) for t in rows["task_name"]], dtype=np.int16)
    cur.execute(
        "CREATE TEMP TABLE seed_execution (id bigint, action bigint, parent bigint, "
        "enforcement bigint, executor bigint, worker bigint, status smallint, "
        "prev_status smallint, started_at double precision, created double precision, "
        "updated double precision, task smallint, task_index smallint, "
        "retry_count smallint, original bigint, trace_event bigint, big boolean) "
        "ON COMMIT DROP"
    )
    _copy_binary(
        cur,
        "seed_execution",
        {
            "id": np.arange(n, dtype=np.int64) + base + 1,
            "action": action_ids[act],
            "parent": _id_or_zero(rows["parent"], base),
            "enforcement": enforcement.astype(np.int64),
            "executor": np.maximum(executor, 0).astype(np.int64),
            "worker": np.maximum(worker, 0).astype(np.int64),
            "status": final.astype(np.int16),
            "prev_status": prev.astype(np.int16),
            "started_at": started_col,
            "created": rows["created"],
            "updated": updated,
            "task": np.where(rows["parent"] >= 0, task, -1).astype(np.int16),
            "task_index": rows["task_index"].astype(np.int16),
            "retry_count": rows["retry_count"].astype(np.int16),
            "original": _id_or_zero(rows["original"], base),
            "trace_event": trace_event,
            "big": big,
        },
    )
    cur.execute("ANALYZE seed_execution")
    cur.execute(_INSERT_EXECUTIONS, {"tasks": task_names})
    cur.execute("ANALYZE attune.execution")

    say("writing execution history")
    step_idx = np.arange(1, MAX_STEPS)
    happened = step_idx[None, :] < steps[:, None]
    r_idx, s_idx = np.nonzero(happened)
    s_idx = s_idx + 1
    new = status_m[r_idx, s_idx]
    first_sched = scheduled.argmax(axis=1)
    # What else changed with the status: 1 result, 2 worker, 3 started_at (never two at once).
    first_worker = (new == SD) & (s_idx == first_sched[r_idx]) & got_worker[r_idx]
    kind = np.select(
        [np.isin(new, TERMINAL_CODES), first_worker, (new == RU) & is_leaf[r_idx]], [1, 2, 3], 0
    )
    order = np.argsort(times[r_idx, s_idx], kind="stable")
    r_idx, s_idx, kind = r_idx[order], s_idx[order], kind[order]
    cur.execute(
        "CREATE TEMP TABLE seed_step (entity_id bigint, time double precision, "
        "old_status smallint, new_status smallint, kind smallint) ON COMMIT DROP"
    )
    _copy_binary(
        cur,
        "seed_step",
        {
            "entity_id": (r_idx + base + 1).astype(np.int64),
            "time": times[r_idx, s_idx],
            "old_status": status_m[r_idx, s_idx - 1].astype(np.int16),
            "new_status": status_m[r_idx, s_idx].astype(np.int16),
            "kind": kind.astype(np.int16),
        },
    )
    first_day = datetime.fromtimestamp(float(rows["created"].min()), UTC).date()
    last_day = datetime.fromtimestamp(planned.as_of, UTC).date()
    cur.execute("ANALYZE seed_step")
    cur.execute("SELECT attune.ensure_execution_history_partitions(%s, %s)", (first_day, last_day))
    cur.execute(_INSERT_HISTORY_CREATED, {"lo": base})
    history_rows = cur.rowcount
    cur.execute(_INSERT_HISTORY, {"lo": base})
    history_rows += cur.rowcount

    # A workflow's executions carry its definition, as newer Attune writes them.
    cur.execute(
        "UPDATE attune.execution e SET workflow_def = a.workflow_def FROM attune.action a "
        "WHERE e.id > %s AND a.id = e.action AND a.workflow_def IS NOT NULL",
        (base,),
    )
    # core.local_cmd runs under a concurrency limit: what holds a slot is active, and
    # the two newest requested executions wait in its queue (the oldest one is lost).
    cur.execute(_INSERT_ADMISSION, {"lo": base, "at": ANCHOR - WINDOW})
    say(f"rebuilding {len(indexes)} indexes")  # counted with the history phase
    for definition in indexes:
        cur.execute(definition)
    # Autovacuum never analyzes a partitioned table itself: without these statistics
    # the planner guesses at every history query.
    cur.execute("ANALYZE attune.execution_history")

    say("writing inquiries")
    cur.execute(
        _INSERT_INQUIRIES,
        {
            "lo": base,
            "humans": [int(h) for h in human_ids],
            "schema": json.dumps(INQUIRY_SCHEMA),
            "options": json.dumps(list(INQUIRY_OPTIONS)),
            "as_of": datetime.fromtimestamp(planned.as_of, UTC),
        },
    )
    inquiries = cur.rowcount
    for table in ("execution", "event", "enforcement", "inquiry"):
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('attune.{table}', 'id'), "
            f"greatest((SELECT max(id) FROM attune.{table}), 1))"
        )
    cur.execute(
        "SELECT status::text, count(*) FROM attune.execution WHERE id > %s GROUP BY 1", (base,)
    )
    counts = dict(cur.fetchall())
    cur.close()
    return SeedReport(
        executions=n,
        history_rows=history_rows,
        workflows=int(((rows["parent"] < 0) & ~is_leaf).sum()),
        inquiries=inquiries,
        events=len(ruled_rows),
        random_seed=planned.random_seed,
        as_of=datetime.fromtimestamp(planned.as_of, UTC),
        seconds=0.0,
        status_counts={s: int(counts.get(s, 0)) for s in STATUSES},
    )


def _drop_indexes(cur: Any, tables: Sequence[str]) -> list[str]:
    """Drop the secondary indexes of ``tables``; return the statements that rebuild them.

    A bulk load and one sorted index build beat a million index insertions; the
    whole seed is one transaction, so nobody sees the tables without them.
    """
    cur.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes AS i "
        "WHERE i.schemaname = 'attune' AND i.tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname "
        "AND c.connamespace = 'attune'::regnamespace) ORDER BY i.indexname",
        (list(tables),),
    )
    found = cur.fetchall()
    for name, _definition in found:
        cur.execute(f'DROP INDEX attune."{name}"')
    # A partitioned table's definition reads `ON ONLY`: rebuilt as such, the index would
    # cover no partition at all. Without ONLY it is built on every partition too.
    return [definition.replace(" ON ONLY ", " ON ", 1) for _name, definition in found]


def _status_case(column: str) -> str:
    """SQL mapping a status code (position in STATUSES) to its name."""
    whens = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(STATUSES))
    return f"(CASE {column} {whens} END)"


_INSERT_EVENTS = """
INSERT INTO attune.event (id, trigger, trigger_ref, payload, rule, rule_ref, trace_tag, created)
SELECT s.event, r.trigger, r.trigger_ref, jsonb_build_object('seq', s.event, 'source', 'demo'),
       r.id, r.ref, 'trace-' || lpad(s.event::text, 8, '0'),
       to_timestamp(s.created) - interval '350 milliseconds'
FROM seed_event AS s JOIN attune.rule AS r ON r.id = s.rule ORDER BY s.event;
INSERT INTO attune.enforcement (id, rule, rule_ref, trigger_ref, event, status, payload,
    condition, created, resolved_at)
SELECT s.enforcement, r.id, r.ref, r.trigger_ref, s.event, 'processed',
       jsonb_build_object('event', s.event), 'all',
       to_timestamp(s.created) - interval '200 milliseconds',
       to_timestamp(s.created) - interval '10 milliseconds'
FROM seed_event AS s JOIN attune.rule AS r ON r.id = s.rule ORDER BY s.enforcement;
"""

_INSERT_EXECUTIONS = (
    """
INSERT INTO attune.execution (id, action, action_ref, config, env_vars, parent, enforcement,
    executor, worker, status, result, started_at, timeout_seconds, created, workflow_task,
    retry_count, max_retries, retry_reason, original_execution, trace_tag, updated)
SELECT s.id, s.action, a.ref,
    jsonb_build_object('request_id', s.id, 'target', 'host-' || (s.id %% 40)),
    CASE WHEN s.id %% 7 = 0 THEN jsonb_build_object('LOG_LEVEL', 'debug') END,
    nullif(s.parent, 0), nullif(s.enforcement, 0), nullif(s.executor, 0),
    nullif(s.worker, 0), st.status,
    CASE st.status
        WHEN 'completed' THEN CASE WHEN s.big
            THEN jsonb_build_object('exit_code', 0, 'status_code', 200,
                                    'body', repeat('{"item": ' || s.id || '}, ', 90))
            ELSE jsonb_build_object('exit_code', 0, 'stdout', 'ok ' || s.id) END
        WHEN 'failed' THEN CASE
            WHEN st.previous = 'scheduling' THEN jsonb_build_object(
                'error', 'no worker available for runtime', 'failed_by', 'scheduler',
                'previous_status', 'scheduling')
            WHEN st.previous = 'scheduled' THEN jsonb_build_object(
                'error', 'dispatch went stale', 'failed_by', 'executor',
                'previous_status', 'scheduled')
            ELSE jsonb_build_object('error', 'action exited with code 1', 'exit_code', 1,
                                    'stderr', 'Traceback (most recent call last): ...') END
        WHEN 'timeout' THEN jsonb_build_object('timed_out', true,
            'error', 'action timed out after ' || a.timeout_seconds || 's')
        WHEN 'cancelled' THEN jsonb_build_object('cancelled_by', 'identity:alice',
            'previous_status', st.previous)
        WHEN 'abandoned' THEN jsonb_build_object('abandoned_by', 'executor',
            'error', 'worker stopped sending heartbeats', 'previous_status', st.previous)
    END,
    CASE WHEN s.started_at = 'NaN' THEN NULL ELSE to_timestamp(s.started_at) END,
    a.timeout_seconds, to_timestamp(s.created),
    CASE WHEN s.parent <> 0 THEN jsonb_build_object(
        'workflow_execution', s.parent, 'task_name', (%(tasks)s::text[])[s.task + 1],
        'task_index', s.task_index, 'task_batch', NULL, 'retry_count', 0,
        'max_retries', a.max_retries, 'timeout_seconds', a.timeout_seconds) END,
    s.retry_count, a.max_retries,
    CASE WHEN s.original <> 0 THEN 'previous attempt failed' END,
    nullif(s.original, 0),
    CASE WHEN s.trace_event <> 0 THEN 'trace-' || lpad(s.trace_event::text, 8, '0') END,
    to_timestamp(s.updated)
FROM seed_execution AS s
JOIN attune.action AS a ON a.id = s.action
CROSS JOIN LATERAL (SELECT """
    + _status_case("s.status")
    + """::attune.execution_status_enum
                    AS status, """
    + _status_case("s.prev_status")
    + """ AS previous) AS st
"""
)

_INSERT_HISTORY_CREATED = """
INSERT INTO attune.execution_history (time, operation, entity_id, entity_ref, changed_fields,
    old_values, new_values)
SELECT e.created, 'INSERT', e.id, e.action_ref, '{}', NULL,
    jsonb_build_object('status', 'requested', 'action_ref', e.action_ref,
                       'executor', e.executor, 'worker', NULL, 'parent', e.parent,
                       'enforcement', e.enforcement, 'started_at', NULL,
                       'trace_tag', e.trace_tag)
FROM attune.execution AS e WHERE e.id > %(lo)s
"""

_INSERT_ADMISSION = """
WITH act AS (SELECT id FROM attune.action WHERE ref = 'core.local_cmd'),
holding AS (
    SELECT e.id, e.created, e.started_at FROM attune.execution e JOIN act ON e.action = act.id
    WHERE e.id > %(lo)s AND e.status IN ('scheduling', 'scheduled', 'running', 'canceling')
),
waiting AS (
    SELECT e.id, e.created FROM attune.execution e JOIN act ON e.action = act.id
    WHERE e.id > %(lo)s AND e.status = 'requested'
    ORDER BY e.created DESC, e.id DESC LIMIT 2
),
state AS (
    INSERT INTO attune.execution_admission_state
        (action_id, group_key, max_concurrent, created, updated)
    SELECT act.id, '', greatest((SELECT count(*) FROM holding), 1), %(at)s, %(at)s FROM act
    ON CONFLICT (action_id, group_key) DO UPDATE SET max_concurrent = EXCLUDED.max_concurrent
    RETURNING id
)
INSERT INTO attune.execution_admission_entry
    (state_id, execution_id, status, queue_order, enqueued_at, activated_at, created, updated)
SELECT state.id, h.id, 'active', NULL, h.created, coalesce(h.started_at, h.created),
       h.created, h.created
FROM state, holding h
UNION ALL
SELECT state.id, w.id, 'queued', row_number() OVER (ORDER BY w.created, w.id), w.created,
       NULL, w.created, w.created
FROM state, waiting w
"""

_INSERT_HISTORY = (
    """
INSERT INTO attune.execution_history (time, operation, entity_id, entity_ref, changed_fields,
    old_values, new_values)
SELECT to_timestamp(st.time), 'UPDATE', e.id, e.action_ref,
    CASE st.kind WHEN 1 THEN '{status,result}'::text[] WHEN 2 THEN '{status,worker}'::text[]
                 WHEN 3 THEN '{status,started_at}'::text[] ELSE '{status}'::text[] END,
    CASE st.kind WHEN 1 THEN jsonb_build_object('status', o.status, 'result', NULL)
                 WHEN 2 THEN jsonb_build_object('status', o.status, 'worker', NULL)
                 WHEN 3 THEN jsonb_build_object('status', o.status, 'started_at', NULL)
                 ELSE jsonb_build_object('status', o.status) END,
    CASE st.kind WHEN 1 THEN jsonb_build_object('status', n.status,
                                                'result', attune._jsonb_digest_summary(e.result))
                 WHEN 2 THEN jsonb_build_object('status', n.status, 'worker', e.worker)
                 WHEN 3 THEN jsonb_build_object('status', n.status, 'started_at', e.started_at)
                 ELSE jsonb_build_object('status', n.status) END
FROM seed_step AS st
JOIN attune.execution AS e ON e.id = st.entity_id
CROSS JOIN LATERAL (SELECT """
    + _status_case("st.old_status")
    + """ AS status) AS o
CROSS JOIN LATERAL (SELECT """
    + _status_case("st.new_status")
    + """ AS status) AS n
WHERE e.id > %(lo)s
"""
)

# One inquiry per core.ask_human task that got to run: answered when the task
# completed, timed out with it, cancelled with it, pending while it still runs.
# Written as Attune writes them (catalogue.INQUIRY_SCHEMA / INQUIRY_OPTIONS). One in
# three is unassigned (anyone may answer); answers are an option's response, one in
# five a free-form one with the optional fields and the secret token. A pending one
# never expires, except one in three, whose timeout_at passed before the history ends
# (halfway between its start and the end): Attune's sweeper has not marked it yet, and
# answering it is refused whatever the clock.
_INSERT_INQUIRIES = """
INSERT INTO attune.inquiry (created_by_execution, prompt, response_schema, response_options,
    assigned_to, status, response, timeout_at, responded_at, responded_by, created, updated)
SELECT e.id,
    'Alert on ' || (e.config->>'target') || ': restart the pod, escalate, or ignore?',
    %(schema)s::jsonb,
    %(options)s::jsonb,
    CASE WHEN e.id %% 3 = 0 THEN NULL ELSE h.assignee END,
    CASE e.status WHEN 'completed' THEN 'responded' WHEN 'timeout' THEN 'timeout'
                  WHEN 'running' THEN 'pending' ELSE 'cancelled' END::attune.inquiry_status_enum,
    CASE WHEN e.status <> 'completed' THEN NULL
         WHEN e.id %% 5 <> 0 THEN o.response
         ELSE o.response
              || jsonb_build_object('comment', 'checked the dashboards first',
                                    'ack_token', 'ack-' || left(md5(e.id::text), 8))
              || CASE WHEN o.response->>'action' = 'restart'
                      THEN jsonb_build_object('replicas', 2 + e.id %% 3)
                      ELSE '{}'::jsonb END END,
    CASE WHEN e.status <> 'running' THEN e.started_at + make_interval(secs => e.timeout_seconds)
         WHEN e.id %% 3 = 1 THEN e.started_at + (%(as_of)s - e.started_at) / 2
         ELSE NULL END,
    CASE WHEN e.status = 'completed' THEN e.updated - interval '1 second' END,
    CASE WHEN e.status = 'completed' THEN h.assignee END,
    e.started_at + interval '1 second',
    CASE e.status WHEN 'running' THEN e.started_at + interval '1 second'
                  WHEN 'completed' THEN e.updated - interval '1 second'
                  ELSE e.updated END
FROM attune.execution AS e
CROSS JOIN LATERAL (SELECT (%(humans)s::bigint[])[1 + (e.id %% 4)] AS assignee) AS h
CROSS JOIN LATERAL (
    SELECT (%(options)s::jsonb -> (ARRAY[0, 0, 1, 2])[1 + e.id %% 4]) -> 'response' AS response
) AS o
WHERE e.id > %(lo)s AND e.action_ref = 'core.ask_human' AND e.started_at IS NOT NULL
ORDER BY e.id
"""
