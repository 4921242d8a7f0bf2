"""Benchmark: the pushed-down aggregates (``db.analysis``) against loading everything first.

On N seeded executions (default 1,000,000), in one run, each way in its own process
(so that peak memory is its own), for the whole demo window:

- ``sql``: ``db.analysis.durations``, ``failure_rate(by="action_ref")``,
  ``throughput(freq="hour")``, ``compare_windows`` (the last two days) and
  ``concurrency`` (the last day, each minute's peak), one SQL
  statement each, only the answer crosses the wire;
- ``pandas``: ``ex.intervals(limit=None)`` and ``ex.frame(limit=None)`` of the whole
  window, then the same functions of ``attune_nb.analysis`` in memory.

Time is the median of ``--repeat`` runs; memory is the peak RSS (``VmHWM``, reset after
imports and connecting) above the RSS at that point. The answers are compared (they
must be the same frames); nothing is asserted about the figures.

    .venv/bin/python bench/analysis.py                     # 1,000,000 executions
    .venv/bin/python bench/analysis.py --executions 100000 --repeat 3
    .venv/bin/python bench/analysis.py --quick             # 5,000, one run
"""

from __future__ import annotations

import argparse
from typing import Any

import _harness as h

WAYS = ("sql", "pandas")
# "The notebook's memory stays flat as history grows": the pushed-down way's peak at the
# largest size at most this much above its peak at the smallest (a ratio would judge
# noise when both are a few MiB).
FLAT_MIB = 16.0


def worker(way: str, url: str) -> dict[str, Any]:
    """Compute the five aggregates once, one way, in this process."""
    import pandas as pd

    import attune_nb
    from attune_nb import analysis
    from attune_nb.demo import ANCHOR, WINDOW

    db = attune_nb.connect(url, readonly=True)
    since, until = ANCHOR - WINDOW, ANCHOR
    a = (ANCHOR - pd.Timedelta(days=2), ANCHOR - pd.Timedelta(days=1))
    b = (ANCHOR - pd.Timedelta(days=1), ANCHOR)
    db.analysis.throughput(since=until - pd.Timedelta(hours=1), until=until)  # warm up
    with h.measure() as m:
        if way == "sql":
            out = {
                "durations": db.analysis.durations(since=since, until=until),
                "failure_rate": db.analysis.failure_rate(since=since, until=until, by="action_ref"),
                "throughput": db.analysis.throughput(since=since, until=until, freq="hour"),
                "compare": db.analysis.compare_windows(a=a, b=b),
                "concurrency": db.analysis.concurrency(since=b[0], until=until, freq="minute"),
            }
        else:
            spans = db.executions.intervals(since=since, until=until, limit=None)
            runs = db.executions.frame(since=since, until=until, limit=None)
            out = {
                "durations": analysis.durations(spans, since=since, until=until),
                "failure_rate": analysis.failure_rate(
                    runs, since=since, until=until, by="action_ref"
                ),
                "throughput": analysis.throughput(runs, since=since, until=until, freq="hour"),
                "compare": analysis.compare_windows(spans, a=a, b=b),
                "concurrency": analysis.concurrency(spans, since=b[0], until=until, freq="minute"),
            }
    return {
        "way": way,
        "seconds": m.seconds,
        "peak_above_base": m.peak_above_base,
        "answers": {k: v.to_json(orient="split", date_unit="ns") for k, v in out.items()},
    }


def measure_size(ctx: h.Context, executions: int) -> dict[str, Any]:
    url = ctx.source(executions)
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(ctx.repeat):
        for way in WAYS:
            ctx.log(f"  analysis {way} on {executions:,}")
            results.setdefault(way, []).append(h.run_worker(__file__, way, "--url", url))
    same = results["sql"][0]["answers"] == results["pandas"][0]["answers"]
    found: dict[str, Any] = {
        way: {
            "seconds": h.median(r["seconds"] for r in runs),
            "peak": h.median(r["peak_above_base"] for r in runs),
        }
        for way, runs in results.items()
    }
    found["same_answers"] = same
    return found


def run(ctx: h.Context) -> h.Section:
    section = h.Section(
        key="analysis",
        item=4,
        title="Pushed-down analysis against loading everything into pandas first",
        about=(
            "For the whole demo window: durations per action with percentiles, failure "
            "rate by action, hourly throughput, a comparison of the last two days and "
            "the concurrency of the last day (each minute's peak: 1,440 rows, where the "
            "unbucketed step function has one row per change, 413k at 1,000,000). "
            "`sql`: `db.analysis.*`, one statement each, "
            "only the answer crosses the wire. `pandas`: `ex.intervals(limit=None)` and "
            "`ex.frame(limit=None)`, then the same functions of `attune_nb.analysis` in "
            "memory. Each way in its own process; peak: RSS above that after imports and "
            "connecting. Median of the runs; the two answers are compared."
        ),
    )
    table = h.Table(
        ["executions", "way", "time", "pandas / sql", "peak memory", "same answers"],
        caption=f"Median of {ctx.repeat}:",
    )
    for n in ctx.sizes:
        f = measure_size(ctx, n)
        section.data[str(n)] = f
        for way in WAYS:
            table.rows.append(
                [
                    f"{n:,}",
                    way,
                    h.fmt_s(f[way]["seconds"]),
                    h.fmt_x(f["pandas"]["seconds"] / f[way]["seconds"]),
                    h.fmt_mib(f[way]["peak"]),
                    "yes" if f["same_answers"] else "**NO**",
                ]
            )
    section.tables.append(table)
    if len(ctx.sizes) > 1:
        small, large = min(ctx.sizes), max(ctx.sizes)
        lo, hi = section.data[str(small)]["sql"]["peak"], section.data[str(large)]["sql"]["peak"]
        growth = (hi - lo) / h.MIB
        section.goals.append(
            h.Goal(
                "pushed-down peak memory stays flat as history grows",
                f"≤ +{FLAT_MIB:.0f} MiB from {small:,} to {large:,}",
                f"{h.fmt_mib(lo)} -> {h.fmt_mib(hi)} ({growth:+.1f} MiB)",
                growth <= FLAT_MIB,
                f"{small:,} and {large:,} executions",
            )
        )
        pandas_growth = section.data[str(large)]["pandas"]["peak"] / max(
            section.data[str(small)]["pandas"]["peak"], 1
        )
        section.notes.append(
            f"Loading everything first grows {pandas_growth:.1f} x in peak memory from "
            f"{small:,} to {large:,} executions."
        )
    else:
        section.notes.append("The flat-memory goal needs two sizes; this run had one.")
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    h.common_arguments(parser, executions=1_000_000, repeat=3)
    args = parser.parse_args()
    if args.worker:
        h.print_json(worker(args.worker, args.url))
        return
    sizes = (5_000,) if args.quick else (args.executions,)
    h.standalone(run, args, sizes=sizes)


if __name__ == "__main__":
    main()
