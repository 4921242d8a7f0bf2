"""Benchmark: a bulk status change of 10,000 executions against one ``transition`` per row.

In a copy of the database seeded with N executions (default 1,000,000), each run adds
three sets of 10,000 ``requested`` executions (one INSERT each set, untimed) and moves
them to ``cancelled``:

- ``bulk``: ``db.executions.bulk_transition("cancelled", status="requested",
  action_ref=…, dry_run=True)`` (the preview), then ``db.executions.apply(preview)``;
- ``per row``: ``db.executions.transition(id, "cancelled", expected="requested")`` for
  each of the second 10,000 (the naive way);
- the limit: the one compare-and-set ``UPDATE … FROM unnest(ids, expected, targets)``
  that ``apply`` runs, alone, on a bare psycopg2 connection, under ``EXPLAIN ANALYZE``
  (so that the time Attune's row triggers take is known).

Transactions that wrote are counted from the rows themselves: the distinct ``xmin``
(the id of the transaction that wrote a row version) of the changed executions and of
the history rows their update wrote. Commits: SQLAlchemy's ``commit`` event (read-only
transactions too). Time is the median of ``--repeat`` runs.

    .venv/bin/python bench/bulk.py                         # 1,000,000 executions
    .venv/bin/python bench/bulk.py --executions 100000 --changes 10000
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable
from typing import Any

import _harness as h
import sqlalchemy as sa

GOAL_SPEEDUP = 20.0  # bulk at least 20 x faster than one transition per row
CHANGES = 10_000
QUICK_CHANGES = 500
_runs = itertools.count(1)
LIMIT_SQL = """
EXPLAIN (ANALYZE, FORMAT JSON)
UPDATE attune.execution AS e SET status = CAST(guard.target AS attune.execution_status_enum)
FROM unnest(CAST(%s AS bigint[]), CAST(%s AS text[]), CAST(%s AS text[]))
    AS guard(id, expected, target)
WHERE e.id = guard.id AND e.status::text = guard.expected
RETURNING e.id
"""
WROTE = """
SELECT count(DISTINCT x) FROM (
    SELECT xmin::text AS x FROM attune.execution WHERE action_ref = :ref
    UNION ALL
    SELECT xmin::text FROM attune.execution_history
    WHERE entity_ref = :ref AND operation = 'UPDATE'
) AS versions
"""


def _add(db: Any, ref: str, count: int) -> list[int]:
    with db.transaction() as conn:
        rows = conn.execute(
            sa.text(
                "INSERT INTO attune.execution (action_ref, status) "
                "SELECT :ref, 'requested' FROM generate_series(1, :n) RETURNING id"
            ),
            {"ref": ref, "n": count},
        ).all()
    return sorted(int(r[0]) for r in rows)


def counted(db: Any, ref: str, fn: Callable[[], Any]) -> dict[str, Any]:
    """Time ``fn``; the transactions that wrote ``ref``'s rows, and SQLAlchemy's commits."""
    commits = 0

    def on_commit(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    sa.event.listen(db.engine, "commit", on_commit)
    try:
        seconds, value = h.timed(fn)
    finally:
        sa.event.remove(db.engine, "commit", on_commit)
    wrote = int(db.scalar(WROTE, ref=ref))
    return {"seconds": seconds, "wrote": wrote, "commits": commits, "value": value}


def limit(url: str, ids: list[int]) -> dict[str, Any]:
    """The bulk UPDATE alone, in one transaction, with its trigger times."""
    conn = h.pg_connect(url)
    try:
        with h.measure() as m, conn.cursor() as cur:
            cur.execute(LIMIT_SQL, (ids, ["requested"] * len(ids), ["cancelled"] * len(ids)))
            row = cur.fetchone()
            conn.commit()
    finally:
        conn.close()
    plan = row[0] if row else [{}]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    top = plan[0]
    triggers = {t["Trigger Name"]: t["Time"] / 1000 for t in top.get("Triggers", [])}
    return {
        "seconds": m.seconds,
        "value": int(top["Plan"].get("Actual Rows", 0)),
        "triggers": triggers,
        "wrote": 1,
        "commits": 1,
    }


def one_run(db: Any, url: str, changes: int) -> dict[str, Any]:
    tag = next(_runs)
    bulk_ref, row_ref, limit_ref = f"bench.bulk_{tag}", f"bench.row_{tag}", f"bench.lim_{tag}"
    _add(db, bulk_ref, changes)
    ids = _add(db, row_ref, changes)
    limit_ids = _add(db, limit_ref, changes)

    def bulk() -> int:
        preview = db.executions.bulk_transition(
            "cancelled", status="requested", action_ref=bulk_ref, dry_run=True
        )
        done = db.executions.apply(preview)
        return int(done["applied"].sum())

    def per_row() -> int:
        for execution_id in ids:
            db.executions.transition(execution_id, "cancelled", expected="requested")
        return len(ids)

    found = {
        "bulk": counted(db, bulk_ref, bulk),
        "per_row": counted(db, row_ref, per_row),
        "limit": limit(url, limit_ids),
    }
    found["limit"]["wrote"] = int(db.scalar(WROTE, ref=limit_ref))
    for way, f in found.items():
        if f["value"] != changes:
            raise RuntimeError(f"{way} changed {f['value']} executions, expected {changes}")
    left = db.scalar(
        "SELECT count(*) FROM attune.execution WHERE action_ref IN (:a, :b, :c) "
        "AND status <> 'cancelled'",
        a=bulk_ref,
        b=row_ref,
        c=limit_ref,
    )
    if left:
        raise RuntimeError(f"{left} executions were not cancelled")
    return found


def measure_size(ctx: h.Context, executions: int, changes: int) -> dict[str, Any]:
    import attune_nb

    url = ctx.scratch(executions, label="bench_bulk")
    db = attune_nb.connect(url)
    try:
        one_run(db, url, min(changes, 100))  # warm up: imports, pool, plans
        runs = []
        for _ in range(ctx.repeat):
            ctx.log(f"  bulk change of {changes:,} on {executions:,}")
            runs.append(one_run(db, url, changes))
    finally:
        db.close()
        ctx.drop(url)
    found: dict[str, Any] = {
        way: {
            "seconds": h.median(r[way]["seconds"] for r in runs),
            "wrote": max(r[way]["wrote"] for r in runs),
            "commits": max(r[way]["commits"] for r in runs),
        }
        for way in ("bulk", "per_row", "limit")
    }
    names = runs[0]["limit"]["triggers"]
    found["triggers"] = {
        t: h.median(r["limit"]["triggers"].get(t, 0.0) for r in runs) for t in names
    }
    return found


def run(ctx: h.Context, *, changes: int | None = None) -> h.Section:
    changes = changes or (QUICK_CHANGES if ctx.quick else CHANGES)
    section = h.Section(
        key="bulk",
        item=7,
        title=f"A bulk change of {changes:,} executions against one `transition` per row",
        about=(
            f"{changes:,} `requested` executions moved to `cancelled` in a copy of the "
            "seeded database: the preview (`bulk_transition(…, dry_run=True)`) and "
            "`apply(preview)`, against `transition(id, 'cancelled', expected='requested')` "
            "per row, and against the limit: the compare-and-set `UPDATE … FROM unnest(…)` "
            "that `apply` runs, alone on a bare connection, under `EXPLAIN ANALYZE` (which "
            "gives the time Attune's row triggers take). Transactions that wrote: the "
            "distinct `xmin` of the changed execution rows and of the history rows their "
            "update wrote; commits: SQLAlchemy's `commit` events (read-only ones too). "
            "Median of the runs (transaction counts: the largest seen)."
        ),
    )
    for n in ctx.sizes:
        f = measure_size(ctx, n, changes)
        section.data[str(n)] = f
        where = f"{n:,} executions, {changes:,} changed"
        speedup = f["per_row"]["seconds"] / f["bulk"]["seconds"]
        goal_speed = h.Goal(
            "bulk preview + apply against one `transition` per row",
            f"≥ {GOAL_SPEEDUP:.0f} x faster",
            h.fmt_x(speedup),
            speedup >= GOAL_SPEEDUP,
            where,
        )
        goal_tx = h.Goal(
            "bulk change in one transaction (transactions that wrote)",
            "1",
            str(f["bulk"]["wrote"]),
            f["bulk"]["wrote"] == 1,
            where,
        )
        table = h.Table(
            [
                "way",
                "time",
                "per row / this",
                "this / limit",
                "transactions that wrote",
                "commits",
                "goal",
            ],
            caption=f"**{where}**, median of {ctx.repeat}:",
        )
        for label, way, cell in (
            (
                "`bulk_transition(dry_run=True)` + `apply`",
                "bulk",
                f"{goal_speed.cell()}; {goal_tx.cell()}",
            ),
            ("one `transition(id, …, expected=…)` per row (naive)", "per_row", ""),
            ("the one `UPDATE … FROM unnest(…)` alone (the limit)", "limit", ""),
        ):
            r = f[way]
            table.rows.append(
                [
                    label,
                    h.fmt_s(r["seconds"]),
                    h.fmt_x(f["per_row"]["seconds"] / r["seconds"]),
                    h.fmt_x(r["seconds"] / f["limit"]["seconds"]),
                    f"{r['wrote']:,}",
                    f"{r['commits']:,}",
                    cell,
                ]
            )
        section.tables.append(table)
        triggers = f["triggers"]
        if triggers:
            total = sum(triggers.values())
            section.notes.append(
                f"{where}: of the limit's {h.fmt_s(f['limit']['seconds'])}, Attune's row "
                f"triggers take {h.fmt_s(total)} ("
                + ", ".join(f"`{t}` {h.fmt_s(s)}" for t, s in triggers.items())
                + "): they run once per changed row in any way of changing it, so one "
                f"`transition` per row ({h.fmt_s(f['per_row']['seconds'] / changes)} each) "
                f"can be at most {h.fmt_x(f['per_row']['seconds'] / total)} slower than "
                "any bulk change, and is "
                f"{h.fmt_x(f['per_row']['seconds'] / f['limit']['seconds'])} slower than the "
                "one UPDATE alone"
                + (
                    f": no bulk change on this schema reaches {GOAL_SPEEDUP:.0f} x here."
                    if f["per_row"]["seconds"] / f["limit"]["seconds"] < GOAL_SPEEDUP
                    else "."
                )
            )
        if n == max(ctx.sizes):
            section.goals += [goal_speed, goal_tx]
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    h.common_arguments(parser, executions=1_000_000, repeat=3)
    parser.add_argument("--changes", type=int, default=CHANGES)
    args = parser.parse_args()
    sizes = (5_000,) if args.quick else (args.executions,)
    changes = QUICK_CHANGES if args.quick else args.changes
    h.standalone(lambda ctx: run(ctx, changes=changes), args, sizes=sizes)


if __name__ == "__main__":
    main()
