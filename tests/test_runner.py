"""Tests for attune_nb/runner.py: parameters, and the shipped notebooks off their defaults.

The notebooks' default runs are nbval's (``notebooks/``); here they run with other
parameters against their own copy of the demo data, in a real kernel.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.demo import ANCHOR, DEMO_EXECUTIONS, DEMO_SEED
from attune_nb.errors import ConfigurationError
from attune_nb.runner import inject_parameters, run_notebook
from attune_nb.testing import ThrowawayServer

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _notebook(*cells: tuple[str, list[str]]) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
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


# -- parameters --------------------------------------------------------------------------


def test_parameters_go_right_after_the_parameters_cell() -> None:
    nb = _notebook(("import os", []), ("A = 1\nB = 'x'", ["parameters"]), ("print(A, B)", []))
    inject_parameters(nb, {"A": 2, "B": "y", "C": [1, None, True]})
    assert [c.source for c in nb.cells][1:3] == [
        "A = 1\nB = 'x'",
        "# Injected parameters\nA = 2\nB = 'y'\nC = [1, None, True]",
    ]
    assert nb.cells[2].metadata["tags"] == ["injected-parameters"]


def test_without_a_parameters_cell_they_come_first() -> None:
    nb = _notebook(("print(A)", []))
    inject_parameters(nb, {"A": 1.5})
    assert nb.cells[0].source == "# Injected parameters\nA = 1.5"


@pytest.mark.parametrize(
    ("parameters", "name"),
    [
        ({"not a name": 1}, "parameter name"),
        ({"class": 1}, "parameter name"),
        ({"A": object()}, "parameter A"),
        ({"A": float("nan")}, "parameter A"),
    ],
    ids=["space", "keyword", "object", "nan"],
)
def test_bad_parameters_are_refused(parameters: dict[str, Any], name: str) -> None:
    nb = _notebook(("A = 1", ["parameters"]))
    with pytest.raises(ConfigurationError) as info:
        inject_parameters(nb, parameters)
    assert info.value.name == name
    assert len(nb.cells) == 1


def test_parameters_never_overwrite_the_stored_outputs(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    nbformat.write(_notebook(("A = 1", ["parameters"])), path)
    before = path.read_text()
    with pytest.raises(ConfigurationError):
        run_notebook(path, output=None, parameters={"A": 2})
    assert path.read_text() == before


def test_a_parameter_reaches_the_kernel(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    nbformat.write(_notebook(("A = 1", ["parameters"]), ("print(A * 10)", [])), path)
    run = run_notebook(path, output=tmp_path / "out", parameters={"A": 4})
    assert run.ok, run.error
    assert run.executed is not None
    assert _text(nbformat.read(run.executed, as_version=4)).strip() == "40"


# -- the shipped notebooks, off their defaults --------------------------------------------


@pytest.fixture
def demo_url(pg: ThrowawayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh copy of the demo data, handed to kernels through ATTUNE_DB_URL."""
    url = pg.create_seeded_database(
        executions=DEMO_EXECUTIONS, seed=DEMO_SEED, name="runner_notebook"
    )
    monkeypatch.setenv("ATTUNE_DB_URL", url)
    yield url
    pg.drop_database("runner_notebook")


def db_statuses(url: str, ids: list[int]) -> list[str]:
    db = attune_nb.connect(url, readonly=True)
    try:
        return [db.executions.get(i).status.value for i in ids]
    finally:
        db.close()


def _run(name: str, tmp_path: Path, **parameters: Any) -> str:
    copy = tmp_path / name
    shutil.copy(NOTEBOOKS / name, copy)
    run = run_notebook(copy, output=tmp_path / "out", parameters=parameters)
    assert run.ok, run.error
    assert run.executed is not None
    return _text(nbformat.read(run.executed, as_version=4))


def test_history_notebook_runs_on_another_window(demo_url: str, tmp_path: Path) -> None:
    text = _run(
        "02_history_analysis.ipynb",
        tmp_path,
        SINCE="2026-01-10",
        UNTIL="2026-01-12",
        SPLIT="2026-01-11",
    )
    db = attune_nb.connect(demo_url, readonly=True)
    try:
        runs = db.executions.count(since="2026-01-10", until="2026-01-12")
    finally:
        db.close()
    assert f"{runs:,} executions and " in text
    assert "from 2026-01-10 to 2026-01-12" in text


def test_retries_notebook_on_an_empty_window_says_so_and_goes_on(
    demo_url: str, tmp_path: Path
) -> None:
    text = _run("07_retries_and_failures.ipynb", tmp_path, SINCE="2030-01-01", UNTIL="2030-01-02")
    assert "0 chains from 0 executions; 0 retried" in text
    assert "no chain still failed between 2030-01-01 and 2030-01-02" in text


def test_quickstart_traces_the_failed_task_not_the_root(demo_url: str, tmp_path: Path) -> None:
    text = _run("01_quickstart.ipynb", tmp_path)
    db = attune_nb.connect(demo_url, readonly=True)
    try:
        root = db.executions.latest(
            status="failed",
            workflows_only=True,
            top_level_only=True,
            since="2026-01-07",
            until="2026-01-14",
        )
        assert root is not None
        task = db.executions.tree(root.id).tasks(status=["failed", "timeout"])[0]
    finally:
        db.close()
    assert task.id != root.id
    assert f"<root {root.id} {root.action_ref} failed> -> <execution {task.id} " in text


def test_workflow_notebook_takes_the_slowest_of_another_action(
    demo_url: str, tmp_path: Path
) -> None:
    text = _run("03_workflow_hierarchies.ipynb", tmp_path, ACTION="ops.nightly_maintenance")
    db = attune_nb.connect(demo_url, readonly=True)
    try:
        roots = db.executions.frame(
            action_ref="ops.nightly_maintenance",
            top_level_only=True,
            since="2026-01-07",
            until="2026-01-14",
            limit=None,
        )
    finally:
        db.close()
    slowest = int(roots.sort_values(["run_time", "id"], ascending=False)["id"].iloc[0])
    assert f"<ExecutionNode {slowest} ops.nightly_maintenance " in text


def test_runbook_applies_exactly_its_preview(demo_url: str, tmp_path: Path) -> None:
    db = attune_nb.connect(demo_url, readonly=True)
    try:
        stuck = db.executions.stuck(now=ANCHOR, limit=None)
        movable = stuck[stuck["status"] != "canceling"]  # canceling may only become cancelled
        waiting = db.executions.frame(status="requested", waiting_for_slot=True, limit=None)
        text = _run("04_runbook_stuck_executions.ipynb", tmp_path, APPLY=True)
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
        s == "requested" for s in db_statuses(demo_url, waiting["id"].tolist())
    )
    assert last["new_status"] == "abandoned"  # the runbook's change is in the history
    assert set(left["status"].astype(str)) == {"canceling"}
    assert "applied" in text and "set APPLY = True" not in text
