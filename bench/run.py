"""Every benchmark of issue 12 in one command; writes ``bench/RESULTS.md``.

Seeds throwaway embedded databases of 100,000 and 1,000,000 demo executions (once
each), runs items 1-8 against them (9, the export, when ``bench/export.py`` exists),
and writes the machine, the versions, the date and, per benchmark, the medians, the
ratios against the naive way and the limit, and each goal with met / MISSED.

    .venv/bin/python bench/run.py                          # the real run (about 40 min)
    .venv/bin/python bench/run.py --sizes 100000           # one size
    .venv/bin/python bench/run.py --quick                  # 2,000 and 5,000, one run
    .venv/bin/python bench/run.py --quick --output /tmp/results.md --only reader,bulk

``--quick`` never writes ``bench/RESULTS.md`` unless ``--output`` says so; without
``--output`` it writes a temporary file and prints its path. A benchmark that fails is
reported in its section and makes the command exit 1. ``--merge`` (with ``--only``)
re-runs some benchmarks and puts their sections and summary rows into the existing
results in place of the old ones, saying so at the top; the rest is kept as it was:

    .venv/bin/python bench/run.py --only reader,analysis,bulk --merge
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import _harness as h
import analysis
import bulk
import charts
import intervals
import monitor
import reader
import repository
import seed

SIZES = (100_000, 1_000_000)
QUICK_SIZES = (2_000, 5_000)
RESULTS = h.BENCH / "RESULTS.md"
EXPORT = h.BENCH / "export.py"

Runner = Callable[[h.Context], h.Section]
BENCHMARKS: dict[str, tuple[int, Runner]] = {
    "reader": (1, reader.run),
    "repository": (2, repository.run),
    "intervals": (3, intervals.run),
    "analysis": (4, analysis.run),
    "seed": (5, seed.run),
    "charts": (6, charts.run),
    "bulk": (7, bulk.run),
    "monitor": (8, monitor.run),
}


# -- item 9: bench/export.py, written elsewhere ------------------------------------------
#
# The protocol, either of:
# - it defines ``run(ctx: _harness.Context) -> _harness.Section`` like the others
#   (then it uses the databases seeded here);
# - or, run as ``export.py --executions N --repeat R [--quick]``, it prints JSON on
#   stdout (the whole output or its last line): an object (a flat one, or one per
#   size / way) or a list of objects. Keys named ``goal``/``met`` (or ``*_met``) are
#   shown as the goal's verdict.


def _export_module() -> ModuleType | None:
    spec = importlib.util.spec_from_file_location("export", EXPORT)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception:  # its own imports may not suit us: run it as a script then
        return None
    return module


def _last_json(text: str) -> Any:
    with contextlib.suppress(json.JSONDecodeError):
        return json.loads(text)
    for line in reversed(text.strip().splitlines()):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(line)
    raise ValueError("export.py printed no JSON")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "met" if value else "**MISSED**"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value)[:120]}`"
    return str(value)


def _rows(data: Any) -> list[dict[str, Any]]:
    """JSON as table rows: a list of objects, an object of objects, or one object."""
    if isinstance(data, list):
        return [r if isinstance(r, dict) else {"value": r} for r in data]
    if isinstance(data, dict):
        nested = {k: v for k, v in data.items() if isinstance(v, dict)}
        if nested and len(nested) == len(data):
            return [{"": k, **v} for k, v in nested.items()]
        return [data]
    return [{"value": data}]


def export_section(ctx: h.Context) -> h.Section:
    module = _export_module()
    run = getattr(module, "run", None) if module is not None else None
    if callable(run):
        found = run(ctx)
        if isinstance(found, h.Section):
            return found
        outputs = {"run(ctx)": found}
    else:
        outputs = {}
        sizes = ctx.sizes
        for n in sizes:
            args = ["--executions", str(n), "--repeat", str(ctx.repeat)]
            if ctx.quick:
                args.append("--quick")
            command = [sys.executable, str(EXPORT), *args]
            ctx.log(f"  {shlex.join(command[1:])}")
            out = subprocess.run(command, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                sys.stderr.write(out.stderr)
                raise RuntimeError(f"export.py {' '.join(args)} exited {out.returncode}")
            outputs[f"{n:,} executions"] = _last_json(out.stdout)
            if ctx.quick:
                break  # --quick picks its own size
    section = h.Section(
        key="export",
        item=9,
        title="Export to Parquet / CSV against `frame(limit=None).to_parquet()`",
        about=(
            "`bench/export.py` (its own database and figures, shown as it reports them; "
            "see its docstring for what it measures)."
        ),
        data={"outputs": outputs},
    )
    for where, data in outputs.items():
        rows = _rows(data)
        headers = list(dict.fromkeys(k for r in rows for k in r))
        section.tables.append(
            h.Table(
                headers, [[_cell(r.get(k, "")) for k in headers] for r in rows], f"**{where}**:"
            )
        )
        for r in rows:
            for key, value in r.items():
                if isinstance(value, bool) and (key == "met" or key.endswith("_met")):
                    what = str(r.get("goal", key.removesuffix("_met") or "goal"))
                    section.goals.append(
                        h.Goal(what, str(r.get("target", "")), str(r.get("value", "")), value)
                    )
                    section.goals[-1].where = where
    return section


# -- the report ---------------------------------------------------------------------------


def report(
    sections: list[h.Section],
    facts: dict[str, str],
    *,
    command: str,
    ctx: h.Context,
    seconds: float,
) -> str:
    sizes = ", ".join(f"{n:,}" for n in ctx.sizes)
    kind = "quick run (small sizes, one run: the figures mean little)" if ctx.quick else "run"
    lines = [
        "# Benchmark results (issue 12)",
        "",
        f"Written by `{command}` on {facts['date']}: a {kind} on throwaway embedded "
        f"databases of {sizes} demo executions (seed {ctx.seed}, each seeded once), "
        f"the median of {ctx.repeat} run{'s' if ctx.repeat != 1 else ''} unless a "
        f"section says otherwise; it took {seconds / 60:.1f} min (load average at the end: "
        f"{h.load_average()}). Absolute times vary by "
        "±20 % with the machine's load, the ratios less. The goals are those of issue 12 "
        "(item 6: of the charts issue); a goal is judged at the largest size.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in facts.items()],
        "",
        "## Summary: the goals",
        "",
    ]
    goals = [g for s in sections for g in s.goals]
    if goals:
        lines.append(h.goals_table(goals, item=True, sections=sections).markdown())
    else:
        lines.append("No goal was measured.")
    met = sum(1 for g in goals if g.met)
    missed = [g for g in goals if g.met is False]
    lines += ["", f"{met} of {len(goals)} goals met; {len(missed)} missed.", ""]
    failed = [s for s in sections if s.data.get("error")]
    if failed:
        lines += ["Failed: " + ", ".join(f"{s.item}. {s.key}" for s in failed) + ".", ""]
    lines += [s.markdown() + "\n" for s in sections]
    return "\n".join(lines).rstrip() + "\n"


_SECTION = re.compile(r"^## (\d+)\. ", re.MULTILINE)
_SUMMARY_ROW = re.compile(r"^\| (\d+) \|.*\|$")


def _blocks(text: str) -> tuple[str, dict[int, str]]:
    """``text`` cut at its numbered sections: what comes before them, and each by item."""
    starts = [m.start() for m in _SECTION.finditer(text)]
    if not starts:
        return text, {}
    blocks = {}
    for at, end in zip(starts, [*starts[1:], len(text)], strict=True):
        item = int(_SECTION.match(text, at).group(1))  # type: ignore[union-attr]
        blocks[item] = text[at:end].rstrip() + "\n"
    return text[: starts[0]], blocks


def merge(old: str, new: str, items: set[int], note: str) -> str:
    """``old`` results with the sections and summary rows of ``items`` taken from ``new``."""
    old_head, old_blocks = _blocks(old)
    new_head, new_blocks = _blocks(new)
    fresh = [line for line in new_head.splitlines() if (m := _SUMMARY_ROW.match(line))
             and int(m.group(1)) in items]  # fmt: skip
    head: list[str] = []
    placed = False
    for line in old_head.splitlines():
        m = _SUMMARY_ROW.match(line)
        if m and int(m.group(1)) in items:
            if not placed:
                head += fresh
                placed = True
            continue
        head.append(line)
    # The summary rows in item order (stable within an item), where they stood.
    at = [i for i, line in enumerate(head) if _SUMMARY_ROW.match(line)]
    ordered = sorted((head[i] for i in at), key=lambda r: int(_SUMMARY_ROW.match(r).group(1)))  # type: ignore[union-attr]
    for i, line in zip(at, ordered, strict=True):
        head[i] = line
    rows = [head[i] for i in at]
    met = sum(1 for r in rows if r.rstrip("| ").endswith("met"))
    missed = sum(1 for r in rows if r.rstrip("| ").endswith("**MISSED**"))
    text = "\n".join(head) + "\n"
    text = re.sub(
        r"^\d+ of \d+ goals met; \d+ missed\.$",
        f"{met} of {met + missed} goals met; {missed} missed.",
        text,
        count=1,
        flags=re.MULTILINE,
    )
    first_break = text.index("\n\n") + 2
    text = text[:first_break] + note + "\n\n" + text[first_break:]
    blocks = old_blocks | {i: b for i, b in new_blocks.items() if i in items}
    return text + "\n".join(blocks[i] for i in sorted(blocks))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 5,000 executions, one run")
    parser.add_argument("--sizes", help="comma-separated execution counts (100000,1000000)")
    parser.add_argument("--repeat", type=int, help="runs per measurement (3; --quick: 1)")
    parser.add_argument("--output", type=Path, help="where to write (bench/RESULTS.md)")
    parser.add_argument("--only", help="comma-separated benchmarks: " + ", ".join(BENCHMARKS))
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument(
        "--merge", action="store_true", help="with --only: update the existing results"
    )
    args = parser.parse_args()
    if args.merge and not args.only:
        parser.error("--merge needs --only: which benchmarks to run again")
    sizes = (
        tuple(int(s.replace("_", "")) for s in args.sizes.split(","))
        if args.sizes
        else (QUICK_SIZES if args.quick else SIZES)
    )
    repeat = args.repeat or (1 if args.quick else 3)
    output: Path = args.output or (
        Path(tempfile.mkstemp(prefix="attune_nb_bench_", suffix=".md")[1])
        if args.quick
        else RESULTS
    )
    chosen = dict(BENCHMARKS)
    if EXPORT.exists():
        chosen["export"] = (9, export_section)
    if args.only:
        keys = args.only.split(",")
        unknown = [k for k in keys if k not in chosen]
        if unknown:
            parser.error(f"unknown benchmarks {unknown}; there are {list(chosen)}")
        chosen = {k: v for k, v in chosen.items() if k in keys}

    command = shlex.join([".venv/bin/python", "bench/run.py", *sys.argv[1:]])
    started = time.perf_counter()
    sections: list[h.Section] = []
    with h.Context(sizes=sizes, repeat=repeat, quick=args.quick) as ctx:
        facts = h.machine(ctx)
        for size in sizes:  # seeded up front, once each: every benchmark reuses them
            ctx.source(size)
        for key, (item, run) in chosen.items():
            ctx.log(f"{item}. {key}")
            begun = time.perf_counter()
            try:
                section = run(ctx)
            except Exception as exc:
                traceback.print_exc()
                section = h.Section(
                    key=key,
                    item=item,
                    title=f"{key}: FAILED",
                    about=f"The benchmark failed: `{type(exc).__name__}: {exc}`.",
                    data={"error": traceback.format_exc()},
                )
            section.seconds = time.perf_counter() - begun
            ctx.log(f"   {key} took {section.seconds:.0f} s")
            sections.append(section)
        seconds = time.perf_counter() - started
        text = report(sections, facts, command=command, ctx=ctx, seconds=seconds)
    if args.merge and output.exists():
        items = {s.item for s in sections}
        note = (
            f"**Items {', '.join(str(i) for i in sorted(items))} were run again** by "
            f"`{command}` on {facts['date']} (load average at the end: "
            f"{h.load_average()}; {seconds / 60:.1f} min): their summary rows and sections "
            "are from that run, the rest from the run described here."
        )
        text = merge(output.read_text(), text, items, note)
    output.write_text(text)
    if args.json:
        raw = {s.key: {"item": s.item, "data": s.data, "seconds": s.seconds} for s in sections}
        args.json.write_text(json.dumps({"machine": facts, "sections": raw}, indent=1, default=str))
    print(f"wrote {output} in {seconds:.0f} s", file=sys.stderr)
    if any(s.data.get("error") for s in sections):
        sys.exit(1)


if __name__ == "__main__":
    main()
