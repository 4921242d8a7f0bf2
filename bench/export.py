"""Benchmark: ``executions.export`` (streamed) against ``frame(limit=None).to_parquet()``.

On N seeded executions (default 1,000,000), in one run, each way in its own process
(so that peak memory is its own), every execution in the default layout:

- ``export``: ``db.executions.export("….parquet")``: ADBC batches converted to the
  layout and written one row group at a time;
- ``naive``: ``db.executions.frame(limit=None).to_parquet("….parquet")``: the whole
  frame in memory first;
- ``export_csv``: ``db.executions.export("….csv")`` (and, with ``--ways``,
  ``naive_csv``: ``frame(limit=None).to_csv(…)``).

Time is the median of ``--repeat`` runs; memory is the peak RSS (``VmHWM``, reset after
imports, connecting and a warm-up export of 1,000 rows) above the RSS at that point.
The Parquet files of both ways are compared (the same rows and types). The goal of
issue 12 (item 9) is printed beside the figures; nothing here is asserted.

    .venv/bin/python bench/export.py                       # 1,000,000 executions
    .venv/bin/python bench/export.py --executions 100000 --repeat 3
    .venv/bin/python bench/export.py --quick               # 5,000, one run
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import _harness as h

GOAL_PEAK_MIB = 200  # the export's peak memory above import, at 1,000,000 executions
WAYS = ("export", "naive", "export_csv")
ALL_WAYS = (*WAYS, "naive_csv")
LABELS = {
    "export": "`ex.export('….parquet')` (streamed)",
    "naive": "`ex.frame(limit=None).to_parquet(…)` (naive)",
    "export_csv": "`ex.export('….csv')` (streamed)",
    "naive_csv": "`ex.frame(limit=None).to_csv(…)` (naive)",
}


def worker(way: str, url: str, out: Path) -> dict[str, Any]:
    """Export every execution once, one way, in this process; its time and memory."""
    import attune_nb

    db = attune_nb.connect(url, readonly=True)
    suffix = ".csv" if way.endswith("_csv") else ".parquet"
    path, warm = out / f"{way}{suffix}", out / f"warm-{way}{suffix}"
    # Warm every code path on 1,000 rows first: what is measured is the export.
    if way.startswith("export"):
        db.executions.export(warm, id=list(range(1, 1001)), progress=False)
    else:
        _naive(db.executions.frame(limit=1000), warm)
    warm.unlink()
    with h.measure() as m:
        if way.startswith("export"):
            rows = db.executions.export(path, progress=False, overwrite=True).rows
        else:
            frame = db.executions.frame(limit=None)
            _naive(frame, path)
            rows = len(frame)
            del frame
    return {
        "way": way,
        "seconds": m.seconds,
        "rows": rows,
        "file_bytes": path.stat().st_size,
        "peak_above_base": m.peak_above_base,
        "path": str(path),
    }


def _naive(frame: Any, path: Path) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def _same_parquet(a: str, b: str) -> bool:
    import pyarrow.parquet as pq

    return bool(pq.read_table(a).equals(pq.read_table(b), check_metadata=False))


def measure_size(
    ctx: h.Context, executions: int, ways: tuple[str, ...] = WAYS
) -> dict[str, dict[str, Any]]:
    """Every way ``ctx.repeat`` times (interleaved) on the seeded database."""
    url = ctx.source(executions)
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_export_") as out:
        for _ in range(ctx.repeat):
            for way in ways:
                ctx.log(f"  {way} on {executions:,}")
                runs.setdefault(way, []).append(
                    h.run_worker(__file__, way, "--url", url, "--out", out)
                )
        same = (
            _same_parquet(runs["export"][0]["path"], runs["naive"][0]["path"])
            if {"export", "naive"} <= set(runs)
            else None
        )
    rows = {way: r[0]["rows"] for way, r in runs.items()}
    if len(set(rows.values())) != 1:
        raise RuntimeError(f"the ways disagree on the row count: {rows}")
    return {
        way: {
            "seconds": h.median(x["seconds"] for x in r),
            "peak_above_base": h.median(x["peak_above_base"] for x in r),
            "file_bytes": r[0]["file_bytes"],
            "rows": r[0]["rows"],
            "same_table_as_naive": same if way == "export" else None,
        }
        for way, r in runs.items()
    }


def run(ctx: h.Context, *, ways: tuple[str, ...] = WAYS) -> h.Section:
    section = h.Section(
        key="export",
        item=9,
        title="Export to Parquet / CSV against `frame(limit=None).to_parquet()`",
        about=(
            "Every execution (default layout) written to a file, each way in its own "
            "process. Time: median of the runs. Peak: the way's peak RSS above its RSS "
            "after imports, connecting and a warm-up export of 1,000 rows."
        ),
    )
    for n in ctx.sizes:
        found = measure_size(ctx, n, ways)
        section.data[str(n)] = found
        where = f"{n:,} executions"
        goal = None
        if "export" in found:
            peak = found["export"]["peak_above_base"]
            goal = h.Goal(
                "`export` to Parquet: peak memory above import",
                f"< {GOAL_PEAK_MIB} MiB",
                h.fmt_mib(peak),
                peak < GOAL_PEAK_MIB * h.MIB,
                where,
            )
        naive = found.get("naive")
        table = h.Table(
            ["way", "time", "vs naive", "peak memory", "vs naive", "file", "goal"],
            caption=f"**{where}**, median of {ctx.repeat}:",
        )
        for way, r in found.items():
            table.rows.append(
                [
                    LABELS.get(way, way),
                    h.fmt_s(r["seconds"]),
                    h.fmt_x(r["seconds"] / naive["seconds"]) if naive else "–",  # noqa: RUF001
                    h.fmt_mib(r["peak_above_base"]),
                    h.fmt_x(r["peak_above_base"] / naive["peak_above_base"]) if naive else "–",  # noqa: RUF001
                    h.fmt_mib(r["file_bytes"]),
                    goal.cell() if goal and way == "export" else "",
                ]
            )
        section.tables.append(table)
        same = found.get("export", {}).get("same_table_as_naive")
        if same is not None:
            section.notes.append(
                f"{where}: the two Parquet files hold the same table: {'yes' if same else 'NO'}."
            )
        if n == max(ctx.sizes) and goal:
            section.goals.append(goal)
    if len(ctx.sizes) > 1:
        small, large = str(min(ctx.sizes)), str(max(ctx.sizes))
        growth = {
            way: section.data[large][way]["peak_above_base"]
            / max(section.data[small][way]["peak_above_base"], 1)
            for way in section.data[large]
        }
        section.notes.append(
            f"Peak memory from {int(small):,} to {int(large):,} executions: "
            + ", ".join(f"{way} {h.fmt_x(g)}" for way, g in growth.items())
            + " (flat: about 1 x)."
        )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    h.common_arguments(parser, executions=1_000_000, repeat=3)
    parser.add_argument("--ways", default=",".join(WAYS), help=f"some of {','.join(ALL_WAYS)}")
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        h.print_json(worker(args.worker, args.url, Path(args.out)))
        return
    ways = tuple(args.ways.split(","))
    unknown = sorted(set(ways) - set(ALL_WAYS))
    if unknown:
        parser.error(f"unknown way {unknown[0]!r}: use some of {', '.join(ALL_WAYS)}")
    sizes = (5_000,) if args.quick else (args.executions,)
    h.standalone(lambda ctx: run(ctx, ways=ways), args, sizes=sizes)


if __name__ == "__main__":
    main()
