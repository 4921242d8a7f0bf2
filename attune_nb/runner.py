"""Executing notebooks headlessly: executed copies and HTML, one kernel per notebook.

Kernels inherit ``ATTUNE_DB_URL`` from this process, so every notebook reads the
same database and none starts a server of its own.
"""

from __future__ import annotations

import ast
import keyword
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attune_nb.errors import ConfigurationError, NotebookError

__all__ = [
    "NotebookRun",
    "default_notebooks_dir",
    "inject_parameters",
    "run_notebook",
    "run_notebooks",
]

log = logging.getLogger("attune_nb")


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of one notebook: where its copies went, or the error it raised."""

    notebook: Path
    executed: Path | None
    html: Path | None
    seconds: float
    error: NotebookError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def default_notebooks_dir() -> Path:
    """``./notebooks`` when it exists, else the ``notebooks/`` of the attune_nb checkout."""
    here = Path.cwd() / "notebooks"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "notebooks"


def run_notebook(
    path: Path,
    *,
    output: Path | None,
    timeout: int = 600,
    parameters: Mapping[str, Any] | None = None,
) -> NotebookRun:
    """Execute one notebook; write ``<output>/<name>.ipynb`` and ``.html``.

    With ``output=None`` the executed notebook replaces ``path`` (refreshing the
    stored outputs that nbval compares against) and no HTML is written.
    ``parameters`` go into a cell after the one tagged ``parameters`` (papermill's
    convention), which keeps its defaults; they are refused with ``output=None``,
    since the stored outputs are those of the defaults.
    """
    import time

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    if parameters and output is None:
        raise ConfigurationError(
            "parameters", dict(parameters), "none when refreshing the stored outputs in place"
        )
    started = time.perf_counter()
    notebook = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(notebook, parameters)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    error: NotebookError | None = None
    try:
        client.execute()
    except CellExecutionError as exc:
        cell_index = next(
            (
                i
                for i, cell in enumerate(notebook.cells)
                if any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            ),
            None,
        )
        error = NotebookError(
            str(path),
            cell_index=cell_index,
            ename=exc.ename or "Error",
            evalue=exc.evalue or str(exc).splitlines()[0],
        )
    if output is None:
        if error is None:
            nbformat.write(notebook, path)
        return NotebookRun(path, path, None, time.perf_counter() - started, error)
    output.mkdir(parents=True, exist_ok=True)
    executed = output / path.name
    nbformat.write(notebook, executed)
    body, _resources = HTMLExporter().from_notebook_node(notebook)
    html = executed.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return NotebookRun(path, executed, html, time.perf_counter() - started, error)


def inject_parameters(notebook: Any, parameters: Mapping[str, Any]) -> None:
    """Insert ``NAME = value`` lines after the cell tagged ``parameters`` (else first).

    Names must be identifiers; values Python literals (str, numbers, bools, None,
    and lists, tuples or dicts of them), written with ``repr``.
    """
    import nbformat

    lines = []
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ConfigurationError("parameter name", name, "a Python identifier like APPLY")
        text = repr(value)
        try:
            same = ast.literal_eval(text) == value
        except (ValueError, SyntaxError):
            same = False
        if not same:
            raise ConfigurationError(
                f"parameter {name}", value, "a Python literal: str, number, bool, None or a list"
            )
        lines.append(f"{name} = {text}")
    cell = nbformat.v4.new_code_cell("# Injected parameters\n" + "\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    tagged = (
        i
        for i, c in enumerate(notebook.cells)
        if "parameters" in c.get("metadata", {}).get("tags", [])
    )
    notebook.cells.insert(next(tagged, -1) + 1, cell)


def run_notebooks(
    directory: Path | None = None,
    *,
    output: Path | None,
    url: str | None = None,
    timeout: int = 600,
    parameters: Mapping[str, Any] | None = None,
) -> list[NotebookRun]:
    """Execute every ``*.ipynb`` of ``directory`` in name order against ``url``.

    >>> runs = run_notebooks(output=Path("runs"))     # doctest: +SKIP
    >>> [r.ok for r in runs]                            # doctest: +SKIP
    [True, True]
    """
    folder = directory or default_notebooks_dir()
    if not folder.is_dir():
        raise ConfigurationError("notebooks", str(folder), "a folder holding .ipynb files")
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("_"))
    if not notebooks:
        raise ConfigurationError("notebooks", str(folder), "a folder holding .ipynb files")
    if url:
        os.environ["ATTUNE_DB_URL"] = url
    runs = []
    for path in notebooks:
        log.info("running %s", path.name)
        runs.append(run_notebook(path, output=output, timeout=timeout, parameters=parameters))
    return runs
