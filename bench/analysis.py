"""Benchmark: the pushed-down aggregates (``db.analysis``) against loading everything first.

On N seeded executions (default 1,000,000), in one run, each way in its own process
(so that peak memory is its own), for the whole demo window:

- ``sql``: ``db.analysis.durations``, ``failure_rate(by="action_ref")``,
  ``throughput(freq="hour")``, ``compare_windows`` (the last two days) and
  ``concurrency`` (the last day), one SQL
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
import json
import statistics
import subprocess
import sys
import time
from typing import Any

WAYS = ("sql", "pandas")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def worker(way: str, url: str) -> dict[str, Any]:
    """Compute the four aggregates once, one way, in this process."""
    import pandas as pd

    import attune_nb
    from attune_nb import analysis
    from attune_nb.demo import ANCHOR, WINDOW

    db = attune_nb.connect(url, readonly=True)
    since, until = ANCHOR - WINDOW, ANCHOR
    a = (ANCHOR - pd.Timedelta(days=2), ANCHOR - pd.Timedelta(days=1))
    b = (ANCHOR - pd.Timedelta(days=1), ANCHOR)
    db.analysis.throughput(since=until - pd.Timedelta(hours=1), until=until)  # warm up
    _reset_peak()
    base = _status_kib("VmRSS") * 1024
    started = time.perf_counter()
    if way == "sql":
        out = {
            "durations": db.analysis.durations(since=since, until=until),
            "failure_rate": db.analysis.failure_rate(since=since, until=until, by="action_ref"),
            "throughput": db.analysis.throughput(since=since, until=until, freq="hour"),
            "compare": db.analysis.compare_windows(a=a, b=b),
            "concurrency": db.analysis.concurrency(since=b[0], until=until),
        }
    else:
        spans = db.executions.intervals(since=since, until=until, limit=None)
        runs = db.executions.frame(since=since, until=until, limit=None)
        out = {
            "durations": analysis.durations(spans, since=since, until=until),
            "failure_rate": analysis.failure_rate(runs, since=since, until=until, by="action_ref"),
            "throughput": analysis.throughput(runs, since=since, until=until, freq="hour"),
            "compare": analysis.compare_windows(spans, a=a, b=b),
            "concurrency": analysis.concurrency(spans, since=b[0], until=until),
        }
    seconds = time.perf_counter() - started
    peak = _status_kib("VmHWM") * 1024
    return {
        "way": way,
        "seconds": seconds,
        "peak_above_base": peak - base,
        "answers": {k: v.to_json(orient="split", date_unit="ns") for k, v in out.items()},
    }


def _run(way: str, url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", way, "--url", url],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="5,000 executions, one run")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.url)))
        return
    if args.quick:
        args.executions, args.repeat = 5_000, 1

    from attune_nb.testing import ThrowawayServer

    with ThrowawayServer() as server:
        started = time.perf_counter()
        url = server.create_seeded_database(executions=args.executions, seed=42, name="bench")
        print(
            f"setup: seeded {args.executions:,} executions in {time.perf_counter() - started:.1f} s"
        )
        results: dict[str, list[dict[str, Any]]] = {}
        for _ in range(args.repeat):
            for way in WAYS:
                results.setdefault(way, []).append(_run(way, url))
    same = results["sql"][0]["answers"] == results["pandas"][0]["answers"]
    print(f"{args.executions:,} executions, median of {args.repeat} runs, one process each:")
    print(f"{'way':<8} {'time':>8} {'peak memory':>12}")
    for way, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak_above_base"] for r in runs) / 2**20
        print(f"{way:<8} {seconds:>7.2f}s {peak:>8.0f} MiB")
    sql = statistics.median(r["seconds"] for r in results["sql"])
    pandas = statistics.median(r["seconds"] for r in results["pandas"])
    print(f"pushed down: {pandas / sql:.1f} x faster; the two answers are the same: {same}")


if __name__ == "__main__":
    main()
