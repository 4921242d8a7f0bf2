"""Tests for bench/run.py: ``--quick`` runs every benchmark end to end, so none can rot.

One run of ``bench/run.py --quick`` in a subprocess (small sizes, one run each, about
a minute and a half); the report it writes must have the machine header and a
section per benchmark, and no benchmark may have failed. The figures themselves are
never asserted: they depend on the machine.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# Issue 12's items: the section headings run.py writes (item 9 when bench/export.py exists).
SECTIONS = {
    1: "The bulk reader",
    2: "`descendants` and `tree`",
    3: "`intervals`",
    4: "Pushed-down analysis",
    5: "Seeding demo data",
    6: "`lifecycle_timeline`",
    7: "A bulk change",
    8: "The live monitor",
    9: "Export",
}
MACHINE = ("date", "CPU", "cores", "RAM", "Python", "PostgreSQL", "pandas", "pyarrow")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    output = tmp_path_factory.mktemp("bench") / "results.md"
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return output.read_text()


def test_quick_run_has_the_machine_header(report: str) -> None:
    assert report.startswith("# Benchmark results")
    assert "## Machine" in report
    machine = report.split("## Machine", 1)[1].split("\n## ", 1)[0]
    for fact in MACHINE:
        assert re.search(rf"^\| {re.escape(fact)} \| .+ \|$", machine, re.M), fact
    assert "## Summary: the goals" in report


def test_quick_run_has_every_benchmark(report: str) -> None:
    items = dict(SECTIONS)
    if not (BENCH / "export.py").exists():
        del items[9]
    headings = re.findall(r"^## (\d+)\. (.+)$", report, re.M)
    assert [int(n) for n, _ in headings] == sorted(items)
    for (number, title), item in zip(headings, sorted(items), strict=True):
        assert title.startswith(SECTIONS[item]), (number, title)
        assert "FAILED" not in title
    # Each section has a table of figures and its goals judged (met / MISSED) where set.
    for part in report.split("\n## ")[3:]:
        assert "\n|---" in part, part[:80]


def test_quick_run_judges_the_goals(report: str) -> None:
    summary = report.split("## Summary: the goals", 1)[1].split("\n## ", 1)[0]
    verdicts = re.findall(r"\| (met|\*\*MISSED\*\*) \|$", summary, re.M)
    assert verdicts, summary
    assert re.search(r"\d+ of \d+ goals met", summary)


def _run_module() -> Any:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("run")


def test_merge_replaces_the_sections_and_summary_rows_run_again(report: str) -> None:
    run = _run_module()
    again = re.sub(r"(^## 1\. .+$)", r"\1\n\nTHE NEW READER SECTION", report, count=1, flags=re.M)
    again = re.sub(r"^(\| 1 \| reader \| .*)\| met \|$", r"\1| **MISSED** |", again, flags=re.M)
    merged = run.merge(report, again, {1}, "NOTE: item 1 was run again.")
    head, _ = merged.split("\n## Machine", 1)
    assert "NOTE: item 1 was run again." in head
    assert "THE NEW READER SECTION" in merged and "THE NEW READER SECTION" not in report
    old_two = report.split("\n## 2. ", 1)[1].split("\n## ", 1)[0]
    assert old_two in merged  # what was not run again is kept as it was
    headings = re.findall(r"^## (\d+)\. ", merged, re.M)
    assert headings == re.findall(r"^## (\d+)\. ", report, re.M)

    def summary(text: str) -> list[str]:
        part = text.split("## Summary: the goals", 1)[1].split("\n## ", 1)[0]
        return re.findall(r"^\| \d+ \|.*\|$", part, re.M)

    assert len(summary(merged)) == len(summary(report))
    assert summary(merged)[0].startswith("| 1 |")
    assert [r for r in summary(merged) if r.startswith("| 1 |")] == [
        r for r in summary(again) if r.startswith("| 1 |")
    ]
    verdicts = [r for r in summary(merged) if r.endswith("| met |")]
    missed = [r for r in summary(merged) if r.endswith("| **MISSED** |")]
    assert f"{len(verdicts)} of {len(verdicts) + len(missed)} goals met; {len(missed)} missed." in (
        merged
    )
