"""Benchmark: ``descendants`` and ``tree`` of a 100,000-node workflow against the naive ways.

Into a copy of the database seeded with N executions (default 1,000,000) goes one
workflow: a root with 50 sub-workflows of 40 tasks of 49 leaves (100,051 nodes). Then,
on the same data, in one run, each timed as the median of ``--repeat`` runs:

- ``descendants(root)``: one recursive query; ``tree(root)``: the same, built into nodes;
- one query per level: ``frame(parent=[ids of the level], limit=None)`` until a level
  is empty;
- one query per node: ``children(id)`` for every node, breadth-first, timed on one
  sub-workflow (2,001 nodes, the same data) and scaled by node count (on the whole
  tree it would take minutes per run).

    .venv/bin/python bench/repository.py                    # 1,000,000 executions
    .venv/bin/python bench/repository.py --executions 200000
"""

from __future__ import annotations

import argparse
from typing import Any

import _harness as h
import sqlalchemy as sa

import attune_nb

GOAL_VS_PER_NODE = 50.0  # at least 50 x faster than one query per node
SHAPE = (50, 40, 49)  # branches, tasks per branch, leaves per task: 100,051 nodes
QUICK_SHAPE = (20, 2, 24)  # 1,021 nodes, branches of 51


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


def per_node(db: attune_nb.Database, root: int) -> int:
    """Breadth-first, one ``children()`` query per node: the per-node way peers use."""
    seen, queue = 0, [root]
    while queue:
        node = queue.pop()
        seen += 1
        queue.extend(int(i) for i in db.executions.children(node)["id"])
    return seen


def per_level(db: attune_nb.Database, root: int) -> int:
    """One query per level of the tree: the children of every node of the level above."""
    seen, level = 1, [root]
    while level:
        children = db.executions.frame(parent=level, limit=None)
        level = [int(i) for i in children["id"]]
        seen += len(level)
    return seen


def measure_size(ctx: h.Context, executions: int) -> dict[str, Any]:
    url = ctx.scratch(executions, label="bench_repository")
    db = attune_nb.connect(url)
    try:
        branches, tasks, leaves = QUICK_SHAPE if ctx.quick else SHAPE
        root = build_workflow(db, branches=branches, tasks=tasks, leaves=leaves)
        branch = int(db.executions.children(root)["id"].iloc[0])
        nodes = len(db.executions.descendants(root))
        part = len(db.executions.descendants(branch))
        ctx.log(f"  a workflow of {nodes:,} nodes; per-node on a branch of {part:,}")
        runs: dict[str, list[float]] = {}
        for _ in range(ctx.repeat):
            for way, fn in (
                ("descendants", lambda: len(db.executions.descendants(root))),
                ("tree", lambda: len(db.executions.tree(root))),
                ("per_level", lambda: per_level(db, root)),
                ("branch_descendants", lambda: len(db.executions.descendants(branch))),
                ("branch_per_node", lambda: per_node(db, branch)),
            ):
                seconds, count = h.timed(fn)
                expected = nodes if not way.startswith("branch") else part
                if count != expected:
                    raise RuntimeError(f"{way} found {count} nodes, expected {expected}")
                runs.setdefault(way, []).append(seconds)
    finally:
        db.close()
        ctx.drop(url)
    found: dict[str, Any] = {way: h.median(s) for way, s in runs.items()}
    found["per_node_scaled"] = found["branch_per_node"] * nodes / part
    found["nodes"], found["branch_nodes"] = nodes, part
    return found


def run(ctx: h.Context) -> h.Section:
    section = h.Section(
        key="repository",
        item=2,
        title="`descendants` and `tree` of a 100,000-node workflow against per node and per level",
        about=(
            "A root with 50 sub-workflows of 40 tasks of 49 leaves each (100,051 nodes; "
            "`--quick`: 20 of 2 of 24, 1,021 nodes) added to a copy of the seeded database. "
            "One query per node (`children(id)`, breadth-first) is timed on one "
            "sub-workflow of the same tree (2,001 nodes; `--quick`: 51) and scaled by node "
            "count; one query per level is "
            "`frame(parent=[…], limit=None)` per level. Median of the runs."
        ),
    )
    for n in ctx.sizes:
        f = measure_size(ctx, n)
        section.data[str(n)] = f
        where = f"{n:,} executions, {f['nodes']:,} nodes"
        goals = {
            way: h.Goal(
                f"`{way}` against one query per node",
                f"≥ {GOAL_VS_PER_NODE:.0f} x",
                h.fmt_x(f["per_node_scaled"] / f[way]),
                f["per_node_scaled"] / f[way] >= GOAL_VS_PER_NODE,
                where,
            )
            for way in ("descendants", "tree")
        }
        table = h.Table(
            ["way", "time", "per node / this", "per level / this", "goal"],
            caption=f"**{n:,} executions, a workflow of {f['nodes']:,} nodes**, "
            f"median of {ctx.repeat}:",
        )
        rows = [
            ("`descendants(root)` (one recursive query)", "descendants"),
            ("`tree(root)` (the same, as nodes)", "tree"),
            ("one query per level", "per_level"),
            (f"one query per node (scaled from {f['branch_nodes']:,} nodes)", "per_node_scaled"),
        ]
        for label, way in rows:
            table.rows.append(
                [
                    label,
                    h.fmt_s(f[way]),
                    h.fmt_x(f["per_node_scaled"] / f[way]),
                    h.fmt_x(f["per_level"] / f[way]),
                    goals[way].cell() if way in goals else "",
                ]
            )
        table.rows.append(
            [
                f"on the {f['branch_nodes']:,}-node branch: `descendants` / per node",
                f"{h.fmt_s(f['branch_descendants'])} / {h.fmt_s(f['branch_per_node'])}",
                h.fmt_x(f["branch_per_node"] / f["branch_descendants"]),
                "",
                "",
            ]
        )
        section.tables.append(table)
        if n == max(ctx.sizes):
            section.goals += list(goals.values())
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    h.common_arguments(parser, executions=1_000_000, repeat=3)
    args = parser.parse_args()
    sizes = (2_000,) if args.quick else (args.executions,)
    h.standalone(run, args, sizes=sizes)


if __name__ == "__main__":
    main()
