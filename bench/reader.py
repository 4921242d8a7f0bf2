"""Benchmark: the bulk reader, ``executions.frame(limit=None)``, against its limit and naive way.

On N seeded executions (default 1,000,000), in one run, each reader in its own
process (so peak memory is its own), the same query, columns and order:

- ``ours``: ``db.executions.frame(limit=None)`` (ADBC, batches converted to the layout);
- ``adbc``: the limit: ADBC cursor -> ``fetch_arrow_table()`` -> ``to_pandas()``;
- ``adbc_arrow_dtype``: the same with ``types_mapper=pd.ArrowDtype`` (no layout at all);
- ``read_sql``: ``pandas.read_sql`` of the same SQL through psycopg2.

Time is the median of ``--repeat`` runs; memory is the peak RSS (``VmHWM``, reset after
imports, connecting and a warm-up read of 1,000 rows) above the RSS at that point, as a
multiple of the final frame (``memory_usage(deep=True)``).
The goals of issue 6 are printed beside the figures; nothing here is asserted.

    .venv/bin/python bench/reader.py                       # 1,000,000 executions
    .venv/bin/python bench/reader.py --executions 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

GOAL_VS_ADBC = 1.15  # frame(limit=None) within 1.15 x of the raw ADBC read
GOAL_MEMORY = 1.5  # peak memory at most 1.5 x the final frame
READERS = ("ours", "adbc", "adbc_arrow_dtype", "read_sql")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> None:
    # Linux: writing 5 to clear_refs resets this process's peak RSS (VmHWM) to now.
    # ru_maxrss would not do: after fork + exec it still holds the parent's peak.
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


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
    else:
        with conn.cursor() as cur:
            cur.execute(sql + " LIMIT 1000")
            cur.fetch_arrow_table().to_pandas()
    _reset_peak()
    base = _status_kib("VmRSS") * 1024
    started = time.perf_counter()
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
    else:
        raise SystemExit(f"unknown reader {name}")
    seconds = time.perf_counter() - started
    peak = _status_kib("VmHWM") * 1024
    return {
        "reader": name,
        "seconds": seconds,
        "rows": len(frame),
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "peak_above_base": peak - base,
    }


def _run(name: str, url: str, sql: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, "--url", url],
        input=sql,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _frame_sql(db: Any) -> str:
    """The literal SQL that frame(limit=None) hands the reader."""
    seen: list[str] = []
    with db.tracer(lambda sql, _params: seen.append(sql)):
        db.executions.frame(limit=10)
    select = next(s for s in seen if s.startswith("SELECT") and "LIMIT 10" in s)
    return select.replace(" LIMIT 10", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--readers", default=",".join(READERS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.url, sys.stdin.read())))
        return

    import attune_nb
    from attune_nb.demo import seed
    from attune_nb.testing import ThrowawayServer

    with ThrowawayServer() as server:
        url = server.create_database(name="bench_reader")
        db = attune_nb.connect(url)
        started = time.perf_counter()
        seed(db, executions=args.executions, random_seed=42)
        print(
            f"setup: seeded {args.executions:,} executions in {time.perf_counter() - started:.1f} s"
        )
        sql = _frame_sql(db)
        db.close()
        results: dict[str, list[dict[str, Any]]] = {}
        for _ in range(args.repeat):
            for name in args.readers.split(","):
                results.setdefault(name, []).append(_run(name, url, sql))
    rows = {name: runs[0]["rows"] for name, runs in results.items()}
    assert len(set(rows.values())) == 1, f"the readers disagree on the row count: {rows}"
    median = {name: statistics.median(r["seconds"] for r in runs) for name, runs in results.items()}
    print(
        f"{rows['ours'] if 'ours' in rows else next(iter(rows.values())):,} rows, "
        f"median of {args.repeat} runs, each reader in its own process:"
    )
    print(f"{'reader':<18} {'time':>8} {'vs adbc':>8} {'frame':>9} {'peak/frame':>11}")
    for name, runs in results.items():
        frame_mib = runs[0]["frame_bytes"] / 2**20
        peak = statistics.median(r["peak_above_base"] / r["frame_bytes"] for r in runs)
        ratio = median[name] / median["adbc"] if "adbc" in median else float("nan")
        print(
            f"{name:<18} {median[name]:>7.2f}s {ratio:>7.2f}x {frame_mib:>6.0f} MiB {peak:>10.2f}x"
        )
    if "ours" in median and "adbc" in median:
        ratio = median["ours"] / median["adbc"]
        peak = statistics.median(r["peak_above_base"] / r["frame_bytes"] for r in results["ours"])
        print(
            f"goal: ours within {GOAL_VS_ADBC} x of adbc: {ratio:.2f} x "
            f"({'met' if ratio <= GOAL_VS_ADBC else 'NOT met'}); peak memory at most "
            f"{GOAL_MEMORY} x the frame: {peak:.2f} x "
            f"({'met' if peak <= GOAL_MEMORY else 'NOT met'})"
        )
    if "ours" in median and "read_sql" in median:
        print(
            f"read_sql of the same columns: {median['read_sql'] / median['ours']:.1f} x "
            "slower than ours"
        )


if __name__ == "__main__":
    main()
