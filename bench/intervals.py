"""Benchmark: ``executions.intervals(limit=None)`` against loading the history into pandas.

On N seeded executions (default 1,000,000; about five history rows each), each way in
its own process (so peak memory is its own), one row per (execution, status it was in):

- ``ours``: ``db.executions.intervals(limit=None)``: a window function in SQL, the
  frame built from ADBC batches;
- ``read_sql``: the naive way: ``pandas.read_sql("SELECT * FROM attune.execution_history")``,
  then the status from the JSON, the status changes kept, sorted and ``shift``-ed per
  execution in pandas;
- ``adbc``: the same pandas code on the needed columns only (status extracted in SQL),
  loaded the fastest way there is (ADBC -> Arrow -> pandas).

Time is the median of ``--repeat`` runs; memory is the peak RSS above the RSS after
imports and connecting. The answers are compared (rows, total duration, current
rows); nothing is asserted about the figures.

    .venv/bin/python bench/intervals.py                    # 1,000,000 executions
    .venv/bin/python bench/intervals.py --executions 100000 --repeat 3
"""

from __future__ import annotations

import argparse
from typing import Any

import _harness as h

WAYS = ("ours", "read_sql", "adbc")
LABELS = {
    "ours": "`ex.intervals(limit=None)` (window function in SQL)",
    "read_sql": "`read_sql('SELECT * FROM execution_history')` + pandas (naive)",
    "adbc": "ADBC of the needed columns + the same pandas",
}
STAR = "SELECT * FROM attune.execution_history"
COLUMNS = (
    "SELECT entity_id, entity_ref, operation, changed_fields, "
    "new_values ->> 'status' AS status, time FROM attune.execution_history"
)


def pandas_intervals(history: Any) -> Any:
    """Intervals from raw history rows, in pandas: what a user would write.

    ``history`` has ``entity_id``, ``entity_ref``, ``operation``, ``changed_fields``,
    ``status`` (the new status, or None) and ``time``. Ties in time are ordered as
    ``intervals`` orders them: the INSERT first, then by lifecycle order.
    """
    import pandas as pd

    from attune_nb.lifecycle import ExecutionStatus

    order = {s.value: i for i, s in enumerate(ExecutionStatus)}
    moved = history["changed_fields"].map(lambda fields: fields is not None and "status" in fields)
    steps = history.loc[(history["operation"] == "INSERT") | moved].copy()
    steps["op"] = (steps["operation"] != "INSERT").astype("int8")
    steps["life"] = steps["status"].map(order)
    steps = steps.sort_values(["entity_id", "time", "op", "life"], kind="stable")
    by = steps.groupby("entity_id", sort=False)
    out = pd.DataFrame(
        {
            "execution_id": steps["entity_id"].astype("Int64"),
            "action_ref": steps["entity_ref"].astype("string"),
            "status": steps["status"].astype("category"),
            "seq": (by.cumcount() + 1).astype("Int64"),
            "entered": pd.to_datetime(steps["time"], utc=True),
            "left": pd.to_datetime(by["time"].shift(-1), utc=True),
        }
    )
    out["duration"] = out["left"] - out["entered"]
    out["current"] = out["left"].isna()
    return out.sort_values(["execution_id", "seq"], ascending=[False, True], ignore_index=True)


def worker(way: str, url: str) -> dict[str, Any]:
    """Compute the intervals of every execution once, one way, in this process."""
    import pandas as pd

    import attune_nb

    db = attune_nb.connect(url, readonly=True)
    if way == "adbc":
        import adbc_driver_postgresql.dbapi as adbc

        conn = adbc.connect(db.reader._uri, autocommit=True)
    # Warm every code path first: what is measured is the work, not imports.
    if way == "ours":
        db.executions.intervals(limit=10)
    elif way == "read_sql":
        pandas_intervals(
            pd.read_sql(STAR + " LIMIT 100", db.engine).assign(
                status=lambda f: f["new_values"].str.get("status")
            )
        )
    else:
        with conn.cursor() as cur:
            cur.execute(COLUMNS + " LIMIT 100")
            pandas_intervals(cur.fetch_arrow_table().to_pandas())
    with h.measure() as m:
        if way == "ours":
            frame = db.executions.intervals(limit=None)
        elif way == "read_sql":
            history = pd.read_sql(STAR, db.engine)
            history["status"] = history["new_values"].str.get("status")
            frame = pandas_intervals(history)
            del history
        elif way == "adbc":
            with conn.cursor() as cur:
                cur.execute(COLUMNS)
                history = cur.fetch_arrow_table().to_pandas()
            frame = pandas_intervals(history)
            del history
        else:
            raise SystemExit(f"unknown way {way}")
    return {
        "way": way,
        "seconds": m.seconds,
        "peak_above_base": m.peak_above_base,
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "rows": len(frame),
        "current": int(frame["current"].sum()),
        # in microseconds: the history's resolution, whatever unit each frame holds
        "total_us": int(
            frame["duration"].dropna().to_numpy().astype("timedelta64[us]").astype("int64").sum()
        ),
    }


def measure_size(ctx: h.Context, executions: int, ways: tuple[str, ...]) -> dict[str, Any]:
    url = ctx.source(executions)
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(ctx.repeat):
        for way in ways:
            ctx.log(f"  intervals {way} on {executions:,}")
            runs.setdefault(way, []).append(h.run_worker(__file__, way, "--url", url))
    answers = {way: (r[0]["rows"], r[0]["current"], r[0]["total_us"]) for way, r in runs.items()}
    found: dict[str, Any] = {
        way: {
            "seconds": h.median(x["seconds"] for x in r),
            "peak": h.median(x["peak_above_base"] for x in r),
            "frame_bytes": r[0]["frame_bytes"],
            "rows": r[0]["rows"],
        }
        for way, r in runs.items()
    }
    found["same_answers"] = len(set(answers.values())) == 1
    found["answers"] = {way: list(a) for way, a in answers.items()}
    return found


def _sizes(ctx: h.Context) -> tuple[int, ...]:
    # One worker process per way and size: --quick keeps to its largest size.
    return ctx.sizes[-1:] if ctx.quick else ctx.sizes


def run(ctx: h.Context, *, ways: tuple[str, ...] = WAYS) -> h.Section:
    section = h.Section(
        key="intervals",
        item=3,
        title="`intervals` over the whole history against loading it into pandas",
        about=(
            "One row per (execution, status it was in) for every execution. Each way in "
            "its own process; peak: RSS above that after imports, connecting and a "
            "warm-up. The pandas code keeps the INSERT and status-change rows, orders "
            "ties as `intervals` does, and takes the next row's time per execution "
            "(`groupby().shift(-1)`). The answers are compared: rows, current rows and "
            "total duration. Median of the runs. The issue sets no goal here."
        ),
    )
    for n in _sizes(ctx):
        f = measure_size(ctx, n, ways)
        section.data[str(n)] = f
        ours = f.get("ours")
        history = ctx.history_rows.get(n)
        table = h.Table(
            ["way", "time", "this / ours", "peak memory", "peak / frame", "same answer"],
            caption=f"**{n:,} executions** ({history or 0:,} history rows, "
            f"{next(iter(f.values()))['rows']:,} intervals), median of {ctx.repeat}:",
        )
        for way in ways:
            r = f[way]
            table.rows.append(
                [
                    LABELS[way],
                    h.fmt_s(r["seconds"]),
                    h.fmt_x(r["seconds"] / ours["seconds"]) if ours else "-",
                    h.fmt_mib(r["peak"]),
                    h.fmt_x(r["peak"] / r["frame_bytes"]),
                    "yes" if f["same_answers"] else f"**NO** {f['answers'][way]}",
                ]
            )
        section.tables.append(table)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    h.common_arguments(parser, executions=1_000_000, repeat=3)
    parser.add_argument("--ways", default=",".join(WAYS))
    args = parser.parse_args()
    if args.worker:
        h.print_json(worker(args.worker, args.url))
        return
    sizes = (5_000,) if args.quick else (args.executions,)
    ways = tuple(args.ways.split(","))
    h.standalone(lambda ctx: run(ctx, ways=ways), args, sizes=sizes)


if __name__ == "__main__":
    main()
