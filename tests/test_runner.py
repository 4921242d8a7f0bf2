"""Tests for attune_nb/runner.py and attune_nb/report.py: papermill, parameters, the report.

Small notebooks written here check the parameters, ``--in-place`` and the pages. The
shipped notebooks run once for the whole module (``report``), every one with other
parameters than their defaults (the runbook with ``APPLY = True``), against their own
copy of the demo data, in real kernels; the tests read that one run: its outputs, the
database afterwards, the report's HTML, and the report in a real browser. The notebooks'
default runs are nbval's (``notebooks/``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
import sqlalchemy as sa
from _jupyter import CHROMIUM_ARGS, find_chromium

import attune_nb
from attune_nb.demo import ANCHOR, DEMO_EXECUTIONS, DEMO_SEED
from attune_nb.errors import ConfigurationError
from attune_nb.report import INDEX, WIDGET_NOTE, describe
from attune_nb.runner import (
    NotebookRun,
    check_parameters,
    parse_value,
    run_notebook,
    run_notebooks,
)
from attune_nb.testing import ThrowawayServer

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PLOTLY = "application/vnd.plotly.v1+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _notebook(*cells: tuple[str, list[str]], markdown: str | None = None) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    if markdown is not None:
        nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def _text(notebook: Any) -> str:
    """Everything the notebook's cells printed or displayed."""
    parts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") + out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _executed(run: NotebookRun) -> Any:
    assert run.executed is not None
    return nbformat.read(run.executed, as_version=4)


# -- parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["True", "False", "None", "42", "-3", "1_000", "2.5", "1e3", "2026-01-10", "true", "x y", ""],
)
def test_values_are_read_as_papermill_reads_them(text: str) -> None:
    from papermill.cli import _resolve_type  # what `papermill -p NAME VALUE` does

    assert parse_value(text) == _resolve_type(text)
    assert type(parse_value(text)) is type(_resolve_type(text))


def test_literal_values_pass() -> None:
    given = {
        "A": True,
        "B": None,
        "C": -3,
        "D": 2.5,
        "E": 'it\'s "quoted"\n\\ é',
        "F": [1, "x", None, [False]],
        "G": {"k": [1.5], "l": {}},
    }
    assert check_parameters(given) == given


@pytest.mark.parametrize(
    ("name", "value", "refused"),
    [
        ("not a name", 1, "parameter name"),
        ("class", 1, "parameter name"),
        ("A", object(), "parameter A"),
        ("A", float("nan"), "parameter A"),
        ("A", float("inf"), "parameter A"),
        ("A", (1, 2), "parameter A"),
        ("A", {1, 2}, "parameter A"),
        ("A", {1: "int key"}, "parameter A"),
        ("A", [1, object()], "parameter A"),
        ("A", ANCHOR, "parameter A"),
    ],
    ids=[
        "space",
        "keyword",
        "object",
        "nan",
        "inf",
        "tuple",
        "set",
        "int-key",
        "nested",
        "datetime",
    ],
)
def test_bad_parameters_are_refused(name: str, value: Any, refused: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_parameters({name: value})
    assert info.value.name == refused
    assert info.value.value is (name if refused == "parameter name" else value)
    assert repr(info.value.value) in str(info.value)


def test_parameters_never_overwrite_the_stored_outputs(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    nbformat.write(_notebook(("A = 1", ["parameters"])), path)
    before = path.read_text()
    with pytest.raises(ConfigurationError):
        run_notebook(path, output=None, parameters={"A": 2})
    with pytest.raises(ConfigurationError):
        run_notebooks(tmp_path, output=None, parameters={"A": 2})
    assert path.read_text() == before


def test_a_parameter_the_notebook_does_not_declare_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    nbformat.write(_notebook(("A = 1  # the a", ["parameters"])), path)
    with pytest.raises(ConfigurationError) as info:
        run_notebook(path, output=tmp_path / "out", parameters={"B": 2})
    assert info.value.name == "parameter B" and info.value.value == 2
    assert "n.ipynb declares in its parameters cell: A" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_a_parameter_no_notebook_declares_is_refused_before_any_runs(tmp_path: Path) -> None:
    nbformat.write(_notebook(("A = 1", ["parameters"])), tmp_path / "a.ipynb")
    nbformat.write(_notebook(("print(1)", [])), tmp_path / "b.ipynb")
    with pytest.raises(ConfigurationError) as info:
        run_notebooks(tmp_path, output=tmp_path / "out", parameters={"A": 2, "APPLY": True})
    assert info.value.name == "parameter APPLY" and info.value.value is True
    assert "a: A; b: none" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_only_picks_notebooks_by_glob(tmp_path: Path) -> None:
    nbformat.write(_notebook(("print(1)", [])), tmp_path / "01_a.ipynb")
    with pytest.raises(ConfigurationError) as info:
        run_notebooks(tmp_path, output=tmp_path / "out", only=["02*"])
    assert info.value.name == "--only" and "01_a" in str(info.value)


def test_papermill_injects_into_each_notebook_what_it_declares(tmp_path: Path) -> None:
    """Three kernels: two notebooks that declare one parameter each, one that fails."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    nbformat.write(
        _notebook(
            ("import os", []),
            ("A = 1  # how many\nB = 'x'", ["parameters"]),
            ("print(A * 10, B)", []),
            ("import ipywidgets\nipywidgets.IntSlider(value=A)", []),
            markdown="# Alpha notebook\n\nMultiplies `A` by ten. Nothing else.",
        ),
        folder / "a.ipynb",
    )
    nbformat.write(
        _notebook(("C = None", ["parameters"]), ("print(repr(C))", [])), folder / "b.ipynb"
    )
    nbformat.write(
        _notebook(("A = 1", ["parameters"]), ("print(A)", []), ("1 / 0", [])), folder / "c.ipynb"
    )
    out = tmp_path / "out"
    quoted = 'it\'s "q"'
    runs = run_notebooks(folder, output=out, parameters={"A": 4, "C": quoted})
    a, b, c = runs
    assert (a.parameters, b.parameters, c.parameters) == ({"A": 4}, {"C": quoted}, {"A": 4})
    assert a.ok and b.ok, (a.error, b.error)
    executed = _executed(a)
    injected = executed.cells[3]  # right after the parameters cell (markdown, import, params)
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert injected.source.splitlines()[-1] == "A = 4"
    assert executed.metadata["papermill"]["parameters"] == {"A": 4}
    assert _text(executed).splitlines()[0] == "40 x"
    assert _text(_executed(b)).strip() == repr(quoted)
    # the failing cell is counted as in the notebook's file, without the injected cell
    assert c.error is not None and c.error.cell_index == 2 and c.error.ename == "ZeroDivisionError"
    assert [p.name for p in a.declared] == ["A", "B"] and a.declared[0].help == "how many"
    page = (out / "a.html").read_text()
    assert WIDGET_NOTE in page and WIDGET_VIEW not in page
    assert "<code>4</code>" in page and "how many" in page  # the parameters at the top
    assert "ZeroDivisionError" in (out / "c.html").read_text()
    index = (out / INDEX).read_text()
    assert "Alpha notebook" in index and "Multiplies <code>A</code> by ten." in index
    assert 'href="a.html"' in index and 'href="c.html"' in index
    assert index.count('class="ok"') == 2 and index.count('class="failed"') == 1


def test_in_place_leaves_no_run_metadata_and_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    nb = _notebook(
        ("A = 1", ["parameters"]),
        ("print(A)", []),
        ("import ipywidgets\nipywidgets.IntSlider(value=A)", ["keep-me"]),
        markdown="# In place",
    )
    nbformat.write(nb, path)
    first = run_notebook(path, output=None)
    assert first.ok, first.error
    once = path.read_text()
    second = run_notebook(path, output=None)
    assert second.ok, second.error
    assert path.read_text() == once  # a refresh on the same data changes nothing
    stored = json.loads(once)
    assert set(stored["metadata"]) == {"kernelspec", "language_info"}
    assert [c["metadata"] for c in stored["cells"]] == [
        {},
        {"tags": ["parameters"]},
        {},
        {"tags": ["keep-me"]},
    ]
    assert stored["cells"][2]["outputs"][0]["text"] == ["1\n"]
    assert stored["cells"][3]["outputs"][0]["data"][WIDGET_VIEW]["model_id"]
    assert "papermill" not in once and "iopub" not in once


def test_describe_takes_the_first_heading_and_sentence() -> None:
    title, description = describe(nbformat.read(NOTEBOOKS / "01_quickstart.ipynb", as_version=4))
    assert title == "Quickstart: connect, look, drill down"
    assert description.startswith("Five minutes with attune_nb") and description.endswith(".")


# -- the shipped notebooks, one run off their defaults, and its report ---------------------

# Every notebook's own parameters are changed: the window, the workflow action, APPLY.
SHARED: dict[str, Any] = {
    "SINCE": "2026-01-10",
    "UNTIL": "2026-01-12",
    "SPLIT": "2026-01-11",
    "ACTION": "ops.nightly_maintenance",
    "APPLY": True,
}


@dataclass(frozen=True)
class Report:
    url: str
    output: Path
    runs: list[NotebookRun]
    before: dict[str, Any]  # what the tests expect, read before the run changed the data

    def run(self, name: str) -> NotebookRun:
        return next(r for r in self.runs if r.notebook.name == name)

    def text(self, name: str) -> str:
        run = self.run(name)
        assert run.ok, run.error
        return _text(_executed(run))


def _expected(url: str) -> dict[str, Any]:
    db = attune_nb.connect(url, readonly=True)
    window: dict[str, Any] = {"since": SHARED["SINCE"], "until": SHARED["UNTIL"]}
    try:
        root = db.executions.latest(
            status="failed", workflows_only=True, top_level_only=True, **window
        )
        assert root is not None
        task = db.executions.tree(root.id).tasks(status=["failed", "timeout"])[0]
        roots = db.executions.frame(
            action_ref=SHARED["ACTION"], top_level_only=True, limit=None, **window
        )
        stuck = db.executions.stuck(now=ANCHOR, limit=None)
        return {
            "root": root,
            "task": task,
            "count": db.executions.count(**window),
            "slowest": int(roots.sort_values(["run_time", "id"], ascending=False)["id"].iloc[0]),
            "stuck": stuck,
            "movable": stuck[stuck["status"] != "canceling"],  # canceling may only be cancelled
            "waiting": db.executions.frame(status="requested", waiting_for_slot=True, limit=None),
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def report(pg: ThrowawayServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    """Every shipped notebook run once into a report, with SHARED, on a demo copy."""
    url = pg.create_seeded_database(
        executions=DEMO_EXECUTIONS, seed=DEMO_SEED, name="runner_report"
    )
    before = _expected(url)
    output = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATTUNE_DB_URL", url)
        runs = run_notebooks(NOTEBOOKS, output=output, url=url, parameters=SHARED)
    yield Report(url, output, runs, before)
    pg.drop_database("runner_report")


def test_every_notebook_ran_with_the_parameters_it_declares(report: Report) -> None:
    assert [r.notebook.name for r in report.runs] == sorted(
        p.name for p in NOTEBOOKS.glob("*.ipynb") if not p.name.startswith("_")
    )
    for run in report.runs:
        assert run.ok, run.error
        declared = {p.name for p in run.declared}
        assert run.parameters == {k: v for k, v in SHARED.items() if k in declared}
    assert report.run("04_runbook_stuck_executions.ipynb").parameters == {"APPLY": True}


def test_history_notebook_runs_on_another_window(report: Report) -> None:
    text = report.text("02_history_analysis.ipynb")
    assert f"{report.before['count']:,} executions and " in text
    assert "from 2026-01-10 to 2026-01-12" in text


def test_quickstart_traces_the_failed_task_not_the_root(report: Report) -> None:
    text = report.text("01_quickstart.ipynb")
    root, task = report.before["root"], report.before["task"]
    assert task.id != root.id
    assert f"<root {root.id} {root.action_ref} failed> -> <execution {task.id} " in text


def test_workflow_notebook_takes_the_slowest_of_another_action(report: Report) -> None:
    text = report.text("03_workflow_hierarchies.ipynb")
    assert f"<ExecutionNode {report.before['slowest']} ops.nightly_maintenance " in text


def db_statuses(url: str, ids: list[int]) -> list[str]:
    db = attune_nb.connect(url, readonly=True)
    try:
        return [db.executions.get(i).status.value for i in ids]
    finally:
        db.close()


def test_runbook_applies_exactly_its_preview(report: Report) -> None:
    """APPLY = True through run_notebooks (papermill); the database checked afterwards."""
    text = report.text("04_runbook_stuck_executions.ipynb")
    stuck, movable, waiting = (report.before[k] for k in ("stuck", "movable", "waiting"))
    db = attune_nb.connect(report.url, readonly=True)
    try:
        after = db.executions.frame(id=stuck["id"], limit=None)
        with db.transaction() as conn:
            marked = (
                conn.execute(
                    sa.text(
                        "SELECT id FROM attune.execution "
                        "WHERE result->>'abandoned_by' = 'runbook:stuck-executions' ORDER BY id"
                    )
                )
                .scalars()
                .all()
            )
        last = db.executions.history(int(movable["id"].min())).iloc[-1]
        left = db.executions.stuck(now=ANCHOR, limit=None)
    finally:
        db.close()
    assert len(movable) > 0 and len(movable) < len(stuck) and len(waiting) > 0
    assert marked == sorted(movable["id"].tolist())  # the preview's allowed rows, nothing else
    status = dict(zip(after["id"], after["status"].astype(str), strict=True))
    assert all(status[i] == "abandoned" for i in movable["id"])
    assert all(status[i] == "canceling" for i in stuck["id"] if i not in set(movable["id"]))
    assert all(  # queued behind a concurrency limit: waiting, not stuck, not touched
        s == "requested" for s in db_statuses(report.url, waiting["id"].tolist())
    )
    assert last["new_status"] == "abandoned"  # the runbook's change is in the history
    assert set(left["status"].astype(str)) == {"canceling"}
    assert "applied" in text and "set APPLY = True" not in text


class _Loads(HTMLParser):
    """Every URL a page's tags would load (links to follow, ``<a href>``, excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str]] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in ("src", "href", "srcset", "data", "poster") and tag != "a":
                self.loads.append((tag, value))
            if tag == "img" and name == "src" and value:
                self.images.append(value)


def _page(path: Path) -> _Loads:
    parser = _Loads()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _remote_loads(path: Path) -> list[str]:
    """What a page would fetch from a network: absolute URLs in tags or in CSS."""
    text = path.read_text(encoding="utf-8")
    remote = [
        f"<{tag}> {url[:80]}" for tag, url in _page(path).loads if re.match(r"\s*(https?:)?//", url)
    ]
    remote += re.findall(r"url\(\s*['\"]?\s*(?:https?:)?//[^)]{0,80}|@import[^;]{0,80}", text)
    return remote


def test_report_index_lists_every_notebook_with_status_and_parameters(report: Report) -> None:
    index = report.output / INDEX
    page = html.unescape(index.read_text(encoding="utf-8"))
    rows = page.split("<tr>")[2:]  # after the header row
    assert len(rows) == len(report.runs)
    for row, run in zip(rows, report.runs, strict=True):
        title, description = describe(nbformat.read(run.notebook, as_version=4))
        assert title is not None and f">{title}</a>" in row
        assert f'href="{run.notebook.stem}.html"' in row and run.notebook.name in row
        assert description and re.sub(r"[`*]", "", description) in re.sub(r"<[^>]+>", "", row)
        assert 'class="ok">ok<' in row and re.search(r"\d+\.\d\xa0s", row)
        injected = [  # the lines papermill wrote into the injected-parameters cell
            line
            for cell in _executed(run).cells
            if "injected-parameters" in cell.metadata.get("tags", [])
            for line in cell.source.splitlines()[1:]
        ]
        assert len(injected) == len(run.parameters)
        for line in injected:
            assert f"<code>{line}</code> (given)" in row
        for p in run.declared:
            if p.name not in run.parameters:
                assert f"<code>{p.name} = {p.default}</code>" in row
    runbook = rows[
        [r.notebook.name for r in report.runs].index("04_runbook_stuck_executions.ipynb")
    ]
    assert "<code>APPLY = True</code> (given)" in runbook and "SINCE" not in runbook
    assert 'Parameters given: <code>SINCE = "2026-01-10"</code>' in page
    assert _remote_loads(index) == []


def test_report_pages_embed_every_chart_as_png_and_load_nothing(report: Report) -> None:
    for run in report.runs:
        assert run.html is not None and run.html.exists()
        executed = _executed(run)
        charts = sum(
            PLOTLY in out.get("data", {})
            for cell in executed.cells
            for out in cell.get("outputs", [])
        )
        assert all(  # every chart of the notebook carries its static PNG
            "image/png" in out["data"]
            for cell in executed.cells
            for out in cell.get("outputs", [])
            if PLOTLY in out.get("data", {})
        )
        page = _page(run.html)
        assert len(page.images) == charts, run.notebook.name
        assert all(src.startswith("data:image/png;base64,") for src in page.images)
        assert _remote_loads(run.html) == [], run.notebook.name
        text = run.html.read_text(encoding="utf-8")
        assert "<script" not in text and PLOTLY not in text and WIDGET_VIEW not in text
        assert '<a href="index.html">' in text and "value used" in text  # parameters at the top
    assert sum(len(_page(r.html).images) for r in report.runs if r.html) >= 5


# -- the report in a real browser --------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        message = (
            "the browser check needs Chromium: none at /usr/bin/chromium, chromium-browser "
            "or google-chrome (install it: `apt-get install -y chromium`)"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: {message}")
        pytest.skip(message)
    return found


@pytest.mark.timeout(120)
def test_report_reads_in_a_browser_without_a_network(
    report: Report, chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    charts = max(report.runs, key=lambda r: len(_page(r.html).images) if r.html else 0)
    assert charts.html is not None
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.goto((report.output / INDEX).as_uri(), wait_until="load")
            links = page.locator("a").evaluate_all("links => links.map(a => a.textContent)")
            assert len(links) == len(report.runs)
            page.get_by_role("link", name=describe(_executed(charts))[0] or "").click()
            page.wait_for_load_state("load")
            assert page.url == charts.html.resolve().as_uri()
            widths = page.evaluate(
                "Promise.all([...document.images].map(i => i.decode().then(() => i.naturalWidth)))"
            )
            page.screenshot(path=str(tmp_path / f"{charts.notebook.stem}.png"), full_page=True)
            header = page.locator("header.attune-report").inner_text()
        finally:
            browser.close()
    assert len(widths) == len(_page(charts.html).images) > 0
    assert all(width > 0 for width in widths), widths
    assert "value used" in header and "SINCE" in header
    assert requests and all(url.startswith(("file://", "data:")) for url in requests), [
        u for u in requests if not u.startswith(("file://", "data:"))
    ]


# -- a notebook on an empty window -------------------------------------------------------


@pytest.fixture
def demo_url(pg: ThrowawayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh copy of the demo data, handed to kernels through ATTUNE_DB_URL."""
    url = pg.create_seeded_database(
        executions=DEMO_EXECUTIONS, seed=DEMO_SEED, name="runner_notebook"
    )
    monkeypatch.setenv("ATTUNE_DB_URL", url)
    yield url
    pg.drop_database("runner_notebook")


def test_retries_notebook_on_an_empty_window_says_so_and_goes_on(
    demo_url: str, tmp_path: Path
) -> None:
    copy = tmp_path / "07_retries_and_failures.ipynb"
    shutil.copy(NOTEBOOKS / copy.name, copy)
    run = run_notebook(
        copy, output=tmp_path / "out", parameters={"SINCE": "2030-01-01", "UNTIL": "2030-01-02"}
    )
    assert run.ok, run.error
    text = _text(_executed(run))
    assert "0 chains from 0 executions; 0 retried" in text
    assert "no chain still failed between 2030-01-01 and 2030-01-02" in text
