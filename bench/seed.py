"""Benchmark: seeding demo data against its limit and against the naive way, on the same data.

- ``ours``: ``attune_nb.demo.seed`` of N executions (default 1,000,000) into an empty
  migrated database: simulating them, COPY, writing the history, rebuilding indexes.
- the limit: a plain binary ``COPY … FROM STDIN (FORMAT binary)`` of the same rows,
  already generated (dumped from the seeded database beforehand, untimed), into an
  empty migrated database with its indexes in place and triggers off, one transaction.
- the naive way: replaying a sample's history statement by statement (one INSERT per
  execution, one UPDATE per status change, through the history and notify triggers),
  as a loader without COPY would; reported as a rate and scaled to N.

    .venv/bin/python bench/seed.py                      # 1,000,000 executions
    .venv/bin/python bench/seed.py --executions 100000  # quicker
"""

from __future__ import annotations

import argparse
import io
from typing import Any

import _harness as h
import sqlalchemy as sa

import attune_nb
from attune_nb.demo import seed

GOAL_VS_LIMIT = 2.0  # seeding within 2 x of a plain binary COPY of the same rows


def naive(ctx: h.Context, sample: int) -> tuple[float, int]:
    """Replay a seeded sample's history row by row into an empty database."""
    source = attune_nb.connect(ctx.source(sample))
    with source.transaction() as conn:
        executions = {
            r.id: r
            for r in conn.execute(
                sa.text(
                    "SELECT id, action_ref, parent, enforcement, executor FROM attune.execution"
                )
            )
        }
        steps = list(
            conn.execute(
                sa.text(
                    "SELECT entity_id, operation, new_values->>'status' AS status "
                    "FROM attune.execution_history ORDER BY time, entity_id"
                )
            )
        )
    source.close()
    url = ctx.empty(label="bench_naive")
    target = attune_nb.connect(url)
    with h.measure() as m, target.transaction() as conn:
        for step in steps:
            if step.operation == "INSERT":
                e = executions[step.entity_id]
                conn.execute(
                    sa.text(
                        "INSERT INTO attune.execution (id, action_ref, parent, executor) "
                        "VALUES (:id, :ref, :parent, NULL)"
                    ),
                    {"id": e.id, "ref": e.action_ref, "parent": e.parent},
                )
            else:
                conn.execute(
                    sa.text(
                        "UPDATE attune.execution "
                        "SET status = CAST(:s AS attune.execution_status_enum) WHERE id = :id"
                    ),
                    {"s": step.status, "id": step.entity_id},
                )
    target.close()
    ctx.drop(url)
    return m.seconds, len(steps)


def dump(url: str) -> tuple[list[tuple[str, str, bytes]], tuple[Any, Any]]:
    """Every attune table's rows in binary COPY format; and the history's first/last day."""
    conn = h.pg_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT c.oid::regclass::text, string_agg(quote_ident(a.attname), ', ' "
                "ORDER BY a.attnum) FROM pg_class AS c "
                "JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 "
                "AND NOT a.attisdropped AND a.attgenerated = '' "
                "WHERE c.relnamespace = 'attune'::regnamespace AND c.relkind IN ('r', 'p') "
                "AND NOT c.relispartition GROUP BY c.oid ORDER BY 1"
            )
            tables = cur.fetchall()
            cur.execute("SELECT min(time)::date, max(time)::date FROM attune.execution_history")
            days = cur.fetchone() or (None, None)
            out = []
            for table, columns in tables:
                buffer = io.BytesIO()
                cur.copy_expert(
                    f"COPY (SELECT {columns} FROM {table}) TO STDOUT (FORMAT binary)", buffer
                )
                out.append((table, columns, buffer.getvalue()))
    finally:
        conn.close()
    return out, (days[0], days[1])


def copy_limit(ctx: h.Context, executions: int) -> tuple[float, int]:
    """Time a plain binary COPY of the seeded rows into an empty migrated database."""
    tables, (first, last) = dump(ctx.source(executions))
    total = sum(len(data) for _t, _c, data in tables)
    url = ctx.empty(label="bench_copy")
    conn = h.pg_connect(url)
    try:
        with h.measure() as m, conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")
            cur.execute("SET synchronous_commit = off")
            if first is not None:
                cur.execute(
                    "SELECT attune.ensure_execution_history_partitions(%s, %s)", (first, last)
                )
            for table, columns, data in tables:
                # Reference rows the migration wrote (if any) make way for the copied ones.
                cur.execute(f"TRUNCATE {table} CASCADE")
                cur.copy_expert(
                    f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)", io.BytesIO(data)
                )
            conn.commit()
    finally:
        conn.close()
        ctx.drop(url)
    return m.seconds, total


def measure_size(ctx: h.Context, executions: int, sample: int) -> dict[str, Any]:
    ctx.source(executions)  # seeds it (timed) unless done already
    seeds = [ctx.seed_seconds[executions]]
    for _ in range(ctx.repeat - 1):
        url = ctx.empty(label="bench_seed")
        fresh = attune_nb.connect(url)
        with h.measure() as m:
            seed(fresh, executions=executions, random_seed=ctx.seed)
        fresh.close()
        seconds = m.seconds
        ctx.drop(url)
        seeds.append(seconds)
    copies = []
    for _ in range(ctx.repeat):
        seconds, nbytes = copy_limit(ctx, executions)
        copies.append(seconds)
    naive_s, statements = naive(ctx, sample)
    return {
        "ours": h.median(seeds),
        "limit": h.median(copies),
        "copy_bytes": nbytes,
        "naive_sample": sample,
        "naive_sample_seconds": naive_s,
        "naive_statements": statements,
        "naive_scaled": naive_s * executions / sample,
        "history_rows": ctx.history_rows[executions],
    }


def run(ctx: h.Context, *, sample: int | None = None) -> h.Section:
    sample = sample or (300 if ctx.quick else 3_000)
    section = h.Section(
        key="seed",
        item=5,
        title="Seeding demo data against a plain binary COPY of the same rows",
        about=(
            "`ours` is `attune_nb.demo.seed` into an empty migrated database, everything "
            "included (simulation, COPY, history, index rebuilds, ANALYZE); the first run is "
            "the seeding of the database the other benchmarks use. The limit copies the "
            "same rows, already generated and dumped beforehand, with binary COPY into an "
            "empty migrated database (indexes in place, triggers off, one transaction). The "
            f"naive way replays a {sample:,}-execution sample's history statement by "
            "statement and is scaled by execution count. Median of the runs."
        ),
    )
    for n in ctx.sizes:
        f = measure_size(ctx, n, sample)
        section.data[str(n)] = f
        ratio = f["ours"] / f["limit"]
        goal = h.Goal(
            "seeding against a plain binary COPY of the same rows",
            f"≤ {GOAL_VS_LIMIT:.0f} x",
            h.fmt_x(ratio),
            ratio <= GOAL_VS_LIMIT,
            f"{n:,} executions",
        )
        table = h.Table(
            ["way", "time", "executions / s", "vs limit", "naive / this", "goal"],
            caption=f"**{n:,} executions** ({f['history_rows']:,} history rows, "
            f"{h.fmt_mib(f['copy_bytes'])} of binary COPY data), median of {ctx.repeat}:",
        )
        for label, key, cell in (
            ("`seed()` (ours)", "ours", goal.cell()),
            ("binary COPY of the generated rows (the limit)", "limit", ""),
            (
                f"statement by statement (scaled from {sample:,}: "
                f"{f['naive_statements']:,} statements in {h.fmt_s(f['naive_sample_seconds'])})",
                "naive_scaled",
                "",
            ),
        ):
            table.rows.append(
                [
                    label,
                    h.fmt_s(f[key]),
                    h.fmt_n(n / f[key]),
                    h.fmt_x(f[key] / f["limit"]),
                    h.fmt_x(f["naive_scaled"] / f[key]),
                    cell,
                ]
            )
        section.tables.append(table)
        if n == max(ctx.sizes):
            section.goals.append(goal)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    h.common_arguments(parser, executions=1_000_000, repeat=1)
    parser.add_argument("--naive-sample", type=int, default=3_000)
    args = parser.parse_args()
    sizes = (5_000,) if args.quick else (args.executions,)
    sample = 300 if args.quick else args.naive_sample
    h.standalone(lambda ctx: run(ctx, sample=sample), args, sizes=sizes)


if __name__ == "__main__":
    main()
