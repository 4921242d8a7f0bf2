"""Regenerate the chart PNGs of docs/charts/ from the demo data (20,000 executions, seed 42).

    .venv/bin/python docs/charts/make.py            # a throwaway embedded server, seeded
    .venv/bin/python docs/charts/make.py --url URL  # an already seeded database

The inputs come from ``attune_nb.analysis`` (helpers A and B's functions); every
figure is exported by ``attune_nb.charts.to_png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import attune_nb
from attune_nb import analysis, charts
from attune_nb.analysis.concurrency import concurrency
from attune_nb.analysis.retries import retry_chains
from attune_nb.analysis.workflows import critical_path

HERE = Path(__file__).resolve().parent
END = pd.Timestamp("2026-01-14", tz="UTC")  # where the demo's history ends


def make(db: attune_nb.Database, out: Path = HERE) -> list[Path]:
    executions = db.executions.frame(limit=None)
    intervals = db.executions.intervals(limit=None)
    written: list[Path] = []

    def save(name: str, fig: object, **size: int) -> None:
        start = time.perf_counter()
        written.append(charts.to_png(fig, out / f"{name}.png", **size))  # type: ignore[arg-type]
        print(f"{name}.png in {time.perf_counter() - start:.1f}s")

    # The biggest workflow that did not simply complete: nested, with parallel tasks.
    parent = dict(zip(executions["id"], executions["parent"], strict=True))
    size: dict[int, int] = {}
    for i in executions["id"]:
        top = int(i)
        while not pd.isna(parent.get(top)):
            top = int(parent[top])
        size[top] = size.get(top, 0) + 1
    status = dict(zip(executions["id"], executions["status"].astype(str), strict=True))
    root = max((n, r) for r, n in size.items() if status[r] != "completed")[1]
    tree = db.executions.descendants(root)
    tree_intervals = intervals[intervals["execution_id"].isin(tree["id"])]
    save("lifecycle_timeline_workflow", charts.lifecycle_timeline(tree_intervals, descendants=tree))

    # The last hour before the end, with retries linked to their originals.
    recent = executions[executions["created"] >= END - pd.Timedelta(minutes=45)]
    save(
        "lifecycle_timeline_recent",
        charts.lifecycle_timeline(
            intervals[intervals["execution_id"].isin(recent["id"])], executions=executions
        ),
    )
    save(
        "lifecycle_timeline_light",
        charts.lifecycle_timeline(intervals, executions=executions, order="start"),
        height=700,
    )

    path = critical_path(tree, intervals, root=root)
    save("critical_path", charts.critical_path(path, tree_intervals, descendants=tree))
    save("workflow_icicle", charts.workflow_icicle(tree, size="duration"))
    save("workflow_treemap", charts.workflow_icicle(tree, kind="treemap"))

    day = END - pd.Timedelta(days=1)
    week = END - pd.Timedelta(days=7)
    save(
        "status_over_time",
        charts.status_over_time(analysis.throughput(executions, since=day, until=END, freq="hour")),
    )
    save("duration_distribution", charts.duration_distribution(executions))
    save("outcome_calendar", charts.outcome_calendar(executions[executions["created"] >= week]))
    save(
        "concurrency",
        charts.concurrency(concurrency(intervals, since=END - pd.Timedelta(hours=6), until=END)),
    )
    save("retry_chains", charts.retry_chains(retry_chains(executions)))
    comparison = analysis.compare_windows(
        intervals,
        a=(END - pd.Timedelta(days=2), END - pd.Timedelta(days=1)),
        b=(END - pd.Timedelta(days=1), END),
    )
    save("window_comparison", charts.window_comparison(comparison))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a database seeded with 20,000 executions, seed 42")
    args = parser.parse_args()
    if args.url:
        make(attune_nb.connect(args.url))
        return
    from attune_nb.testing import ThrowawayServer

    with ThrowawayServer() as server:
        url = server.create_seeded_database(executions=20_000, seed=42)
        db = attune_nb.connect(url)
        try:
            make(db)
        finally:
            db.close()


if __name__ == "__main__":
    main()
