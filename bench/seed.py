"""Benchmark: seeding demo data with bulk COPY against the naive way, on the same data.

The naive way replays the same history statement by statement (one INSERT per
execution, one UPDATE per status change, through the history and notify triggers),
as a loader without COPY would. It is measured on a sample of the same seeded data
and reported as a rate; the bulk seed is measured at full size. Both run in one
process on one throwaway server.

    .venv/bin/python bench/seed.py                      # 1,000,000 executions
    .venv/bin/python bench/seed.py --executions 100000  # quicker
"""

from __future__ import annotations

import argparse
import time

import sqlalchemy as sa

import attune_nb
from attune_nb.demo import seed
from attune_nb.testing import ThrowawayServer

LIMIT_SECONDS = 120.0  # the goal: 1,000,000 executions well under two minutes


def bulk(server: ThrowawayServer, executions: int) -> tuple[float, int]:
    db = attune_nb.connect(server.create_database(name="bench_bulk"))
    started = time.perf_counter()
    report = seed(db, executions=executions, random_seed=42)
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed, report.history_rows


def naive(server: ThrowawayServer, sample: int) -> tuple[float, int]:
    """Replay a seeded sample's history row by row into an empty database."""
    source = attune_nb.connect(
        server.create_seeded_database(executions=sample, seed=42, name="bench_source")
    )
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
    target = attune_nb.connect(server.create_database(name="bench_naive"))
    started = time.perf_counter()
    with target.transaction() as conn:
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
    elapsed = time.perf_counter() - started
    target.close()
    return elapsed, len(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--naive-sample", type=int, default=3_000)
    args = parser.parse_args()
    with ThrowawayServer() as server:
        naive_s, naive_rows = naive(server, args.naive_sample)
        bulk_s, _history = bulk(server, args.executions)
    naive_rate = args.naive_sample / naive_s
    bulk_rate = args.executions / bulk_s
    naive_full = args.executions / naive_rate
    print(
        f"bulk seed   : {args.executions:>9,} executions in {bulk_s:7.1f} s "
        f"({bulk_rate:,.0f} executions/s)"
    )
    print(
        f"naive replay: {args.naive_sample:>9,} executions in {naive_s:7.1f} s "
        f"({naive_rate:,.0f} executions/s, {naive_rows:,} statements); "
        f"{args.executions:,} would take ~{naive_full:,.0f} s"
    )
    print(f"speed-up against naive: {bulk_rate / naive_rate:,.1f}x")
    scaled = bulk_s * 1_000_000 / args.executions
    print(
        f"against the limit     : {scaled:.1f} s per 1,000,000 executions = "
        f"{scaled / LIMIT_SECONDS:.2f} of the {LIMIT_SECONDS:.0f} s limit"
    )


if __name__ == "__main__":
    main()
