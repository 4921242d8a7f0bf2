"""Build time and JSON size of ``charts.lifecycle_timeline`` for 10,000 and 100,000 executions.

    .venv/bin/python bench/charts.py           # 10,000 and 100,000 executions
    .venv/bin/python bench/charts.py --quick   # 1,000 and 10,000

Intervals are synthesized in the layout of ``executions.intervals(...)`` (five
statuses per execution, with a failed or timed-out end for some), so the bench needs
no database. Build time and ``to_json`` are the median of ``--repeat`` runs; the goals
of the charts issue (10,000 in under 2 s and 10 MB of JSON, 100,000 in under 10 s)
are printed beside them; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import _harness as h
import numpy as np
import pandas as pd

from attune_nb.charts import lifecycle_timeline
from attune_nb.frames import STATUS_DTYPE

# executions -> (build seconds, JSON bytes) at most; None: no goal for that size
GOALS: dict[int, tuple[float, float | None]] = {10_000: (2.0, 10e6), 100_000: (10.0, None)}
SIZES = (10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)

_NAT = np.iinfo(np.int64).min


def synthesize(executions: int, *, seed: int = 42) -> pd.DataFrame:
    """An intervals frame: requested, scheduling, scheduled, running, then an end status."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01", tz="UTC").value + rng.integers(
        0, 14 * 86_400 * 10**9, executions
    )
    steps = rng.exponential([0.5e9, 0.5e9, 2e9, 30e9], (executions, 4)).astype(np.int64)
    times = np.column_stack([start, start[:, None] + np.cumsum(steps, axis=1)])
    ends = rng.choice(["completed", "failed", "timeout"], executions, p=[0.9, 0.07, 0.03])
    statuses = np.column_stack(
        [np.tile(["requested", "scheduling", "scheduled", "running"], (executions, 1)), ends]
    ).ravel()
    left = np.column_stack([times[:, 1:], np.full(executions, _NAT)]).ravel()
    actions = rng.choice([f"pack.action_{i}" for i in range(20)], executions)
    frame = pd.DataFrame(
        {
            "execution_id": pd.array(np.repeat(np.arange(1, executions + 1), 5), dtype="Int64"),
            "action_ref": pd.array(np.repeat(actions, 5), dtype="string"),
            "status": pd.Categorical(statuses, dtype=STATUS_DTYPE),
            "seq": pd.array(np.tile(np.arange(1, 6), executions), dtype="Int64"),
            "entered": pd.to_datetime(times.ravel(), utc=True).as_unit("ns"),
            "left": pd.to_datetime(left, utc=True).as_unit("ns"),
        }
    )
    frame["duration"] = frame["left"] - frame["entered"]
    frame["current"] = pd.array(frame["left"].isna().to_numpy(), dtype="boolean")
    return frame


def measure_size(executions: int, repeat: int) -> dict[str, Any]:
    intervals = synthesize(executions)
    built, dumped = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        fig = lifecycle_timeline(intervals, order="start")
        built.append(time.perf_counter() - start)
        start = time.perf_counter()
        size = len(fig.to_json())
        dumped.append(time.perf_counter() - start)
    return {
        "intervals": len(intervals),
        "build": h.median(built),
        "to_json": h.median(dumped),
        "json_bytes": size,
        "traces": len(fig.data),
        "title": str(fig.layout.title.text or ""),
    }


def run(ctx: h.Context, *, sizes: tuple[int, ...] | None = None) -> h.Section:
    sizes = sizes or (QUICK_SIZES if ctx.quick else SIZES)
    section = h.Section(
        key="charts",
        item=6,
        title="`lifecycle_timeline` for 10,000 and 100,000 executions",
        about=(
            "Intervals synthesized in the layout of `executions.intervals(...)` (five "
            "statuses per execution, some failed or timed out), so no database is "
            "involved. Build: the `lifecycle_timeline(intervals, order='start')` call; "
            "then `fig.to_json()` and its size. Median of the runs. Goals from the "
            "charts issue: 10,000 executions built in under 2 s with under 10 MB of JSON; "
            "100,000 in under 10 s."
        ),
    )
    table = h.Table(
        ["executions", "intervals", "build", "JSON", "to_json", "traces", "goal"],
        caption=f"Median of {ctx.repeat}:",
    )
    for n in sizes:
        ctx.log(f"  lifecycle_timeline of {n:,}")
        f = measure_size(n, ctx.repeat)
        section.data[str(n)] = f
        goals = []
        if n in GOALS:
            seconds, nbytes = GOALS[n]
            goals.append(
                h.Goal(
                    "`lifecycle_timeline` build time",
                    f"< {seconds:.0f} s",
                    h.fmt_s(f["build"]),
                    f["build"] < seconds,
                    f"{n:,} executions",
                )
            )
            if nbytes is not None:
                goals.append(
                    h.Goal(
                        "`lifecycle_timeline` figure JSON",
                        f"< {nbytes / 1e6:.0f} MB",
                        f"{f['json_bytes'] / 1e6:.1f} MB",
                        f["json_bytes"] < nbytes,
                        f"{n:,} executions",
                    )
                )
        table.rows.append(
            [
                f"{n:,}",
                f"{f['intervals']:,}",
                h.fmt_s(f["build"]),
                f"{f['json_bytes'] / 1e6:.1f} MB",
                h.fmt_s(f["to_json"]),
                str(f["traces"]),
                "; ".join(g.cell() for g in goals),
            ]
        )
        section.goals += goals
    section.tables.append(table)
    titles = {f["title"] for f in section.data.values() if f["title"]}
    if titles:
        section.notes.append("Titles: " + "; ".join(f"“{t}”" for t in sorted(titles)))
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 executions")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    # No database: the context is never asked for one.
    ctx = h.Context(sizes=(), repeat=repeat, quick=args.quick)
    started = time.perf_counter()
    section = run(ctx)
    section.seconds = time.perf_counter() - started
    print(section.markdown())


if __name__ == "__main__":
    main()
