"""Benchmark: the bulk reader, ``executions.frame(limit=None)``, against its limit and naive way.

On N seeded executions (default 1,000,000), in one run, each reader in its own
process (so peak memory is its own), the same query, columns and order:

- ``ours``: ``db.executions.frame(limit=None)`` (ADBC, batches converted to the layout);
- ``adbc``: the limit: ADBC cursor -> ``fetch_arrow_table()`` -> ``to_pandas()``;
- ``adbc_arrow_dtype``: the same with ``types_mapper=pd.ArrowDtype`` (no layout at all);
- ``read_sql``: ``pandas.read_sql`` of the same SQL through psycopg2;
- ``select_star``: the naive way: ``pandas.read_sql("SELECT * FROM attune.execution …")``
  (every column, the JSON ones too).

Time is the median of ``--repeat`` runs; memory is the peak RSS (``VmHWM``, reset after
imports, connecting and a warm-up read of 1,000 rows) above the RSS at that point, as a
multiple of the final frame (``memory_usage(deep=True)``).
The goals of issue 12 (item 1) are printed beside the figures; nothing here is asserted.

    .venv/bin/python bench/reader.py                       # 1,000,000 executions
    .venv/bin/python bench/reader.py --executions 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import _harness as h

GOAL_VS_ADBC = 1.15  # frame(limit=None) within 1.15 x of the raw ADBC read
GOAL_MEMORY = 1.5  # peak memory at most 1.5 x the final frame
GOAL_VS_READ_SQL = 2.5  # at least 2.5 x faster than read_sql of the same columns
READERS = ("ours", "adbc", "adbc_arrow_dtype", "read_sql", "select_star")
LABELS = {
    "ours": "`ex.frame(limit=None)` (the layout)",
    "adbc": "ADBC -> `fetch_arrow_table()` -> `to_pandas()` (the limit)",
    "adbc_arrow_dtype": "the same with `types_mapper=pd.ArrowDtype`",
    "read_sql": "`pandas.read_sql` of the same SQL (psycopg2)",
    "select_star": "`pandas.read_sql('SELECT * …')` (naive: every column)",
}
STAR = "SELECT * FROM attune.execution ORDER BY created DESC, id DESC"


def worker(name: str, url: str, sql: str) -> dict[str, Any]:
    """Run one reader once in this process; return its time and memory."""
    import pandas as pd

    import attune_nb

    db = attune_nb.connect(url, readonly=True)
    if name.startswith("adbc"):
        import adbc_driver_postgresql.dbapi as adbc

        conn = adbc.connect(db.reader._uri, autocommit=True)
        with conn.cursor() as cur:
            cur.execute("SET search_path TO attune, public")
    # Warm every code path on 1,000 rows first: what is measured is the read, not imports.
    if name == "ours":
        db.executions.frame(limit=1000)
    elif name == "read_sql":
        pd.read_sql(sql + " LIMIT 1000", db.engine)
    elif name == "select_star":
        pd.read_sql(STAR + " LIMIT 1000", db.engine)
    else:
        with conn.cursor() as cur:
            cur.execute(sql + " LIMIT 1000")
            cur.fetch_arrow_table().to_pandas()
    with h.measure() as m:
        if name == "ours":
            frame = db.executions.frame(limit=None)
        elif name in ("adbc", "adbc_arrow_dtype"):
            with conn.cursor() as cur:
                cur.execute(sql)
                table = cur.fetch_arrow_table()
            mapper = pd.ArrowDtype if name == "adbc_arrow_dtype" else None
            frame = table.to_pandas(types_mapper=mapper)
            del table
        elif name == "read_sql":
            frame = pd.read_sql(sql, db.engine)
        elif name == "select_star":
            frame = pd.read_sql(STAR, db.engine)
            for column in ("created", "updated", "started_at"):
                frame[column] = pd.to_datetime(frame[column], utc=True)
        else:
            raise SystemExit(f"unknown reader {name}")
    return {
        "reader": name,
        "seconds": m.seconds,
        "rows": len(frame),
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "peak_above_base": m.peak_above_base,
    }


def _frame_sql(db: Any) -> str:
    """The literal SQL that frame(limit=None) hands the reader."""
    seen: list[str] = []
    with db.tracer(lambda sql, _params: seen.append(sql)):
        db.executions.frame(limit=10)
    select = next(s for s in seen if s.startswith("SELECT") and "LIMIT 10" in s)
    return select.replace(" LIMIT 10", "")


def measure_size(
    ctx: h.Context, executions: int, readers: tuple[str, ...] = READERS
) -> dict[str, Any]:
    """Every reader ``ctx.repeat`` times (interleaved) on the seeded database."""
    import attune_nb

    url = ctx.source(executions)
    db = attune_nb.connect(url, readonly=True)
    sql = _frame_sql(db)
    db.close()
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(ctx.repeat):
        for name in readers:
            ctx.log(f"  reader {name} on {executions:,}")
            runs.setdefault(name, []).append(h.run_worker(__file__, name, "--url", url, stdin=sql))
    rows = {name: r[0]["rows"] for name, r in runs.items()}
    if len(set(rows.values())) != 1:
        raise RuntimeError(f"the readers disagree on the row count: {rows}")
    return {
        name: {
            "seconds": h.median(x["seconds"] for x in r),
            "frame_bytes": r[0]["frame_bytes"],
            "peak_over_frame": h.median(x["peak_above_base"] / x["frame_bytes"] for x in r),
            "rows": r[0]["rows"],
        }
        for name, r in runs.items()
    }


def _sizes(ctx: h.Context) -> tuple[int, ...]:
    # One worker process per way and size: --quick keeps to its largest size.
    return ctx.sizes[-1:] if ctx.quick else ctx.sizes


def run(ctx: h.Context, *, readers: tuple[str, ...] = READERS) -> h.Section:
    section = h.Section(
        key="reader",
        item=1,
        title="The bulk reader: `frame(limit=None)` against `read_sql`, `SELECT *` and ADBC",
        about=(
            "Every reader in its own process, the same query, columns and order as "
            "`frame(limit=None)` (default columns); `select_star` reads every column. "
            "Time: median of the runs. Peak: the reader's peak RSS above its RSS after "
            "imports, connecting and a warm-up read, as a multiple of the final frame."
        ),
    )
    for n in _sizes(ctx):
        found = measure_size(ctx, n, readers)
        section.data[str(n)] = found
        ours, adbc = found.get("ours"), found.get("adbc")
        where = f"{n:,} executions"
        goal_adbc = goal_mem = goal_sql = None
        if ours and adbc:
            ratio = ours["seconds"] / adbc["seconds"]
            goal_adbc = h.Goal(
                "`frame(limit=None)` against the raw ADBC read (time)",
                f"≤ {GOAL_VS_ADBC} x",
                h.fmt_x(ratio),
                ratio <= GOAL_VS_ADBC,
                where,
            )
        if ours:
            peak = ours["peak_over_frame"]
            goal_mem = h.Goal(
                "`frame(limit=None)` peak memory / the frame",
                f"≤ {GOAL_MEMORY} x",
                h.fmt_x(peak),
                peak <= GOAL_MEMORY,
                where,
            )
        if ours and "read_sql" in found:
            speedup = found["read_sql"]["seconds"] / ours["seconds"]
            goal_sql = h.Goal(
                "`read_sql` of the same columns / `frame(limit=None)` (time)",
                f"≥ {GOAL_VS_READ_SQL} x",
                h.fmt_x(speedup),
                speedup >= GOAL_VS_READ_SQL,
                where,
            )
        table = h.Table(
            ["reader", "time", "vs ADBC (limit)", "vs ours", "frame", "peak / frame", "goal"],
            caption=f"**{n:,} executions** ({next(iter(found.values()))['rows']:,} rows), "
            f"median of {ctx.repeat}:",
        )
        for name, r in found.items():
            goals = []
            if name == "ours":
                goals = [g.cell() for g in (goal_adbc, goal_mem) if g]
            elif name == "read_sql" and goal_sql:
                goals = [goal_sql.cell().replace("goal", "goal ours", 1)]
            table.rows.append(
                [
                    LABELS.get(name, name),
                    h.fmt_s(r["seconds"]),
                    h.fmt_x(r["seconds"] / adbc["seconds"]) if adbc else "-",
                    h.fmt_x(r["seconds"] / ours["seconds"]) if ours else "-",
                    h.fmt_mib(r["frame_bytes"]),
                    h.fmt_x(r["peak_over_frame"]),
                    "; ".join(goals),
                ]
            )
        section.tables.append(table)
        if n == max(ctx.sizes):
            section.goals += [g for g in (goal_adbc, goal_mem, goal_sql) if g]
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    h.common_arguments(parser, executions=1_000_000, repeat=3)
    parser.add_argument("--readers", default=",".join(READERS))
    args = parser.parse_args()
    if args.worker:
        h.print_json(worker(args.worker, args.url, sys.stdin.read()))
        return
    sizes = (5_000,) if args.quick else (args.executions,)
    readers = tuple(args.readers.split(","))
    h.standalone(lambda ctx: run(ctx, readers=readers), args, sizes=sizes)


if __name__ == "__main__":
    main()
