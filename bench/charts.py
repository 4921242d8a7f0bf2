"""Build time and JSON size of ``charts.lifecycle_timeline`` for 10,000 and 100,000 executions.

    .venv/bin/python bench/charts.py           # 10,000 and 100,000 executions
    .venv/bin/python bench/charts.py --quick   # 1,000 and 10,000

Intervals are synthesized in the layout of ``executions.intervals(...)`` (five
statuses per execution, with a failed or timed-out end for some), so the bench needs
no database. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from attune_nb.charts import lifecycle_timeline
from attune_nb.frames import STATUS_DTYPE

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 executions")
    args = parser.parse_args()
    sizes = (1_000, 10_000) if args.quick else (10_000, 100_000)
    for n in sizes:
        intervals = synthesize(n)
        start = time.perf_counter()
        fig = lifecycle_timeline(intervals, order="start")
        built = time.perf_counter() - start
        start = time.perf_counter()
        size = len(fig.to_json())
        dumped = time.perf_counter() - start
        print(
            f"{n:>7,} executions ({len(intervals):,} intervals): built in {built:.2f}s, "
            f"{size / 1e6:.1f} MB of JSON (to_json {dumped:.2f}s), {len(fig.data)} traces"
        )


if __name__ == "__main__":
    main()
