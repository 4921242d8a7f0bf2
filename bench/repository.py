"""Benchmark: the execution repository against the naive way, on the same data, in one run.

- ``frame(limit=None)`` on N executions (default 1,000,000) against the naive
  ``pandas.read_sql("SELECT * FROM attune.execution")`` (every column, JSON included,
  then the same dtype fixes by hand).
- ``descendants`` of a 100,000-node workflow (one recursive query) against walking the
  tree with one ``children`` query per node (timed on a 5,000-node subtree, the same
  data, and scaled by node count).

    .venv/bin/python bench/repository.py                    # 1,000,000 executions
    .venv/bin/python bench/repository.py --executions 200000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import sqlalchemy as sa

import attune_nb
from attune_nb.demo import seed
from attune_nb.testing import ThrowawayServer

FRAME_LIMIT_S = 10.0  # goal: every row of 1,000,000 executions in under 10 s
DESCENDANTS_LIMIT_S = 2.0  # goal: a 100,000-node workflow in under 2 s


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def build_workflow(
    db: attune_nb.Database, *, branches: int = 50, tasks: int = 40, leaves: int = 49
) -> int:
    """A root with `branches` sub-workflows of `tasks` sub-tasks of `leaves` leaves each."""
    with db.transaction() as conn:
        root = conn.execute(
            sa.text(
                "INSERT INTO attune.execution (action_ref, status) VALUES "
                "('bench.big_workflow', 'running') RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            sa.text("""
            INSERT INTO attune.execution (action_ref, status, parent)
            SELECT 'bench.branch', 'running', :root FROM generate_series(1, :n)"""),
            {"root": root, "n": branches},
        )
        conn.execute(
            sa.text("""
            INSERT INTO attune.execution (action_ref, status, parent)
            SELECT 'bench.task', 'running', b.id
            FROM attune.execution b CROSS JOIN generate_series(1, :n)
            WHERE b.parent = :root"""),
            {"root": root, "n": tasks},
        )
        conn.execute(
            sa.text("""
            INSERT INTO attune.execution (action_ref, status, parent)
            SELECT 'bench.leaf', 'completed', t.id
            FROM attune.execution t CROSS JOIN generate_series(1, :n)
            WHERE t.action_ref = 'bench.task'"""),
            {"n": leaves},
        )
        conn.execute(sa.text("ANALYZE attune.execution"))
    return int(root)


def naive_frame(db: attune_nb.Database) -> pd.DataFrame:
    frame = pd.read_sql("SELECT * FROM attune.execution ORDER BY created DESC, id DESC", db.engine)
    for column in ("created", "updated", "started_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def naive_descendants(db: attune_nb.Database, root: int) -> int:
    """Breadth-first, one children() query per node: the per-node way peers use."""
    seen, queue = 0, [root]
    while queue:
        node = queue.pop()
        seen += 1
        queue.extend(int(i) for i in db.executions.children(node)["id"])
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1_000_000)
    args = parser.parse_args()
    with ThrowawayServer() as server:
        db = attune_nb.connect(server.create_database(name="bench_repository"))
        seconds, _ = timed(lambda: seed(db, executions=args.executions, random_seed=42))
        print(f"setup: seeded {args.executions:,} executions in {seconds:.1f} s")
        root = build_workflow(db)
        n_nodes = len(db.executions.descendants(root))
        print(f"setup: a workflow of {n_nodes:,} nodes under execution {root}")

        ours_s, ours = timed(lambda: db.executions.frame(limit=None))
        naive_s, naive = timed(lambda: naive_frame(db))
        assert len(ours) == len(naive)
        print(
            f"frame(limit=None): {len(ours):,} rows in {ours_s:.2f} s; naive read_sql "
            f"{naive_s:.2f} s; speed-up {naive_s / ours_s:.1f}x; "
            f"{ours_s / FRAME_LIMIT_S:.2f} of the {FRAME_LIMIT_S:.0f} s limit "
            f"(memory {ours.memory_usage(deep=True).sum() / 2**20:,.0f} MiB vs "
            f"{naive.memory_usage(deep=True).sum() / 2**20:,.0f} MiB)"
        )

        full_s, full = timed(lambda: db.executions.descendants(root))
        branch = int(db.executions.children(root)["id"].iloc[0])
        part_s, part = timed(lambda: db.executions.descendants(branch))
        naive_part_s, naive_count = timed(lambda: naive_descendants(db, branch))
        assert naive_count == len(part)
        scaled = naive_part_s * len(full) / len(part)
        print(
            f"descendants: {len(full):,} nodes in {full_s:.2f} s; "
            f"{full_s / DESCENDANTS_LIMIT_S:.2f} of the {DESCENDANTS_LIMIT_S:.0f} s limit"
        )
        print(
            f"descendants vs per-node queries on the same {len(part):,}-node subtree: "
            f"{part_s:.3f} s vs {naive_part_s:.2f} s, speed-up {naive_part_s / part_s:.0f}x "
            f"(per-node on the whole tree would take ~{scaled:.0f} s)"
        )
        tree_s, tree = timed(lambda: db.executions.tree(branch))
        print(f"tree: {len(tree):,} nodes built in {tree_s:.2f} s")
        db.close()


if __name__ == "__main__":
    main()
