"""Executing notebooks headlessly with papermill: parameters, executed copies, the report.

Kernels inherit ``ATTUNE_DB_URL`` from this process, so every notebook reads the
same database and none starts a server of its own. The HTML pages and the index
are :mod:`attune_nb.report`'s.
"""

from __future__ import annotations

import ast
import fnmatch
import keyword
import logging
import math
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attune_nb.errors import ConfigurationError, NotebookError

__all__ = [
    "NotebookRun",
    "Parameter",
    "check_parameters",
    "declared_parameters",
    "default_notebooks_dir",
    "parse_value",
    "run_notebook",
    "run_notebooks",
]

log = logging.getLogger("attune_nb")

# What papermill and nbclient write into a notebook on every run: timestamps, durations,
# the run's paths and parameters, widget state under fresh random ids. Stored outputs
# (``--in-place``) leave all of it out, so that a refresh on the same data changes nothing.
_RUN_METADATA = ("execution", "papermill")
_INJECTED_TAG = "injected-parameters"
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class Parameter:
    """One assignment of a notebook's ``parameters`` cell: its name, default (as written), help.

    >>> Parameter("APPLY", "False", "False: preview only")
    Parameter(name='APPLY', default='False', help='False: preview only')
    """

    name: str
    default: str
    help: str = ""


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of one notebook: where its copies went, or the error it raised.

    ``parameters`` are the values injected into it (by name), ``declared`` what its
    ``parameters`` cell declares, with the defaults.
    """

    notebook: Path
    executed: Path | None
    html: Path | None
    seconds: float
    error: NotebookError | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    declared: tuple[Parameter, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def default_notebooks_dir() -> Path:
    """``./notebooks`` when it exists, else the ``notebooks/`` of the attune_nb checkout."""
    here = Path.cwd() / "notebooks"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "notebooks"


def parse_value(text: str) -> bool | int | float | str | None:
    """A ``-p NAME VALUE`` value read as papermill's command line reads it.

    ``True``/``False``/``None``, then an int, then a float, else the text itself.

    >>> [parse_value(t) for t in ("True", "None", "42", "2.5", "2026-01-10")]
    [True, None, 42, 2.5, '2026-01-10']
    """
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def check_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters, checked: names must be identifiers, values Python literals.

    A value must come back unchanged from the line papermill writes for it (str,
    int, finite float, bool, None, and lists or str-keyed dicts of them); anything
    else would be injected as something other than what was given.

    >>> check_parameters({"APPLY": True, "SINCE": "2026-01-10"})
    {'APPLY': True, 'SINCE': '2026-01-10'}
    >>> check_parameters({"since-day": 1})
    Traceback (most recent call last):
    attune_nb.errors.ConfigurationError: parameter name='since-day' is not valid: ...
    """
    from papermill.translators import PythonTranslator

    checked = {}
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ConfigurationError("parameter name", name, "a Python identifier like APPLY")
        try:
            same = _same(ast.literal_eval(PythonTranslator.translate(value)), value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            same = False
        if not same:
            raise ConfigurationError(
                f"parameter {name}",
                value,
                "a Python literal: a str, a number, True/False, None, or a list or "
                "str-keyed dict of them",
            )
        checked[name] = value
    return checked


def _same(read: Any, given: Any) -> bool:
    """Equal and of the same types all the way down (so 1 is not True, nor 1.0)."""
    if type(read) is not type(given):
        return False
    if isinstance(given, float):
        return math.isfinite(given) and read == given
    if isinstance(given, list):
        return len(read) == len(given) and all(
            _same(r, g) for r, g in zip(read, given, strict=True)
        )
    if isinstance(given, dict):
        return list(read) == list(given) and all(_same(read[k], given[k]) for k in given)
    return bool(read == given)


def declared_parameters(notebook: Any) -> tuple[Parameter, ...]:
    """What the cell tagged ``parameters`` of ``notebook`` (a path or a node) assigns."""
    import nbformat
    from papermill.translators import PythonTranslator

    if isinstance(notebook, Path | str):
        notebook = nbformat.read(notebook, as_version=4)
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return tuple(
                Parameter(p.name, p.default, p.help) for p in PythonTranslator.inspect(cell)
            )
    return ()


def run_notebook(
    path: Path,
    *,
    output: Path | None,
    timeout: int = 600,
    parameters: Mapping[str, Any] | None = None,
) -> NotebookRun:
    """Execute one notebook with papermill; write ``<output>/<name>.ipynb`` and ``.html``.

    ``parameters`` go into a cell after the one tagged ``parameters`` (papermill's
    ``injected-parameters``), which keeps its defaults; each must be one the
    notebook declares there. With ``output=None`` the executed notebook replaces
    ``path`` (refreshing the stored outputs that nbval compares against), without
    the run's timestamps, papermill metadata and widget state, and no HTML is
    written; parameters are refused then, since the stored outputs are those of the
    defaults.
    """
    import nbformat

    from attune_nb.report import write_page

    given = check_parameters(parameters or {})
    if given and output is None:
        raise ConfigurationError(
            "parameters", given, "none when refreshing the stored outputs in place"
        )
    original = nbformat.read(path, as_version=4)
    declared = declared_parameters(original)
    unknown = [name for name in given if name not in {p.name for p in declared}]
    if unknown:
        names = ", ".join(p.name for p in declared) or "none (it has no cell tagged parameters)"
        raise ConfigurationError(
            f"parameter {unknown[0]}",
            given[unknown[0]],
            f"one that {path.name} declares in its parameters cell: {names}",
        )
    started = time.perf_counter()
    executed = None if output is None else output / path.name
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    tagged = [i for i, c in enumerate(original.cells) if "parameters" in c.metadata.get("tags", [])]
    injected_at = tagged[0] + 1 if given else None
    notebook, error = _execute(
        path, executed, parameters=given, timeout=timeout, injected_at=injected_at
    )
    seconds = time.perf_counter() - started
    if executed is None:
        if error is None:
            nbformat.write(_for_storage(notebook, original, name=path.name), path)
        return NotebookRun(path, path, None, seconds, error, given, declared)
    if not executed.exists():  # the kernel died before papermill saved anything
        nbformat.write(notebook, executed)
    run = NotebookRun(
        path, executed, executed.with_suffix(".html"), seconds, error, given, declared
    )
    write_page(notebook, run)
    return run


def _execute(
    path: Path,
    executed: Path | None,
    *,
    parameters: dict[str, Any],
    timeout: int,
    injected_at: int | None,
) -> tuple[Any, NotebookError | None]:
    """Run papermill; the executed notebook (read back when it failed) and the error.

    The error's ``cell_index`` is the cell's in ``path``, not counting the injected one.
    """
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    def literal(p: Path) -> str:  # papermill formats paths with the parameters: {} are literal
        return str(p).replace("{", "{{").replace("}", "}}")

    try:
        notebook = papermill.execute_notebook(
            literal(path),
            None if executed is None else literal(executed),
            parameters=parameters or None,
            kernel_name="python3",
            language="python",
            progress_bar=False,
            cwd=str(path.parent),
            execution_timeout=timeout,
        )
        return notebook, None
    except papermill.PapermillExecutionError as exc:
        error = NotebookError(
            str(path),
            cell_index=exc.cell_index
            - (1 if injected_at is not None and exc.cell_index > injected_at else 0),
            ename=exc.ename or "Error",
            evalue=exc.evalue or "",
        )
    except (CellTimeoutError, DeadKernelError) as exc:
        error = NotebookError(
            str(path),
            cell_index=None,
            ename=type(exc).__name__,
            evalue=(str(exc).strip().splitlines() or [""])[0],
        )
    if executed is not None and executed.exists():
        return nbformat.read(executed, as_version=4), error
    return nbformat.read(path, as_version=4), error


def _for_storage(notebook: Any, original: Any, *, name: str) -> Any:
    """The executed notebook as it is stored: outputs, none of the run's own metadata."""
    notebook.metadata.pop("papermill", None)
    notebook.metadata.pop("widgets", None)  # widget state: random ids, useless without a kernel
    same_cells = len(notebook.cells) == len(original.cells)
    for index, cell in enumerate(notebook.cells):
        for key in _RUN_METADATA:
            cell.metadata.pop(key, None)
        # papermill gives every cell a ``tags`` list; keep only the ones that were there
        if (
            same_cells
            and "tags" not in original.cells[index].metadata
            and not cell.metadata.get("tags")
        ):
            cell.metadata.pop("tags", None)
        for number, out in enumerate(cell.get("outputs", [])):
            view = out.get("data", {}).get(_WIDGET_VIEW)
            if isinstance(view, dict) and "model_id" in view:
                # a fresh random id on every run otherwise (nbval does not compare them)
                seed = f"{name}/{cell.get('id', index)}/{number}"
                view["model_id"] = uuid.uuid5(uuid.NAMESPACE_URL, seed).hex
    return notebook


def _selected(notebooks: list[Path], only: Sequence[str]) -> list[Path]:
    if not only:
        return notebooks
    for pattern in only:
        if not any(_matches(p, pattern) for p in notebooks):
            raise ConfigurationError(
                "--only",
                pattern,
                "a name or glob matching one of " + ", ".join(p.stem for p in notebooks),
            )
    return [p for p in notebooks if any(_matches(p, pattern) for pattern in only)]


def _matches(path: Path, pattern: str) -> bool:
    return fnmatch.fnmatch(path.name, pattern) or fnmatch.fnmatch(path.stem, pattern)


def run_notebooks(
    directory: Path | None = None,
    *,
    output: Path | None,
    url: str | None = None,
    timeout: int = 600,
    parameters: Mapping[str, Any] | None = None,
    only: Sequence[str] = (),
) -> list[NotebookRun]:
    """Execute every ``*.ipynb`` of ``directory`` in name order against ``url``.

    With ``output``, each notebook gets an executed copy and an HTML page there,
    and ``<output>/index.html`` lists them all (:mod:`attune_nb.report`).
    ``only`` keeps the notebooks whose name or stem matches one of its globs.
    Each notebook gets the ``parameters`` that its parameters cell declares; one
    that no notebook run declares is refused before anything runs.

    >>> runs = run_notebooks(output=Path("report"), parameters={"APPLY": True})  # doctest: +SKIP
    >>> [r.ok for r in runs]                            # doctest: +SKIP
    [True, True]
    """
    import nbformat

    folder = directory or default_notebooks_dir()
    if not folder.is_dir():
        raise ConfigurationError("notebooks", str(folder), "a folder holding .ipynb files")
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("_"))
    if not notebooks:
        raise ConfigurationError("notebooks", str(folder), "a folder holding .ipynb files")
    notebooks = _selected(notebooks, only)
    given = check_parameters(parameters or {})
    if given and output is None:
        raise ConfigurationError(
            "parameters", given, "none when refreshing the stored outputs in place"
        )
    declared = {
        path: {p.name for p in declared_parameters(nbformat.read(path, as_version=4))}
        for path in notebooks
    }
    for name, value in given.items():
        if not any(name in names for names in declared.values()):
            raise ConfigurationError(
                f"parameter {name}",
                value,
                "one that a notebook run declares in its parameters cell; "
                + "; ".join(
                    f"{path.stem}: {', '.join(sorted(names)) or 'none'}"
                    for path, names in declared.items()
                ),
            )
    if url:
        os.environ["ATTUNE_DB_URL"] = url
    runs = []
    started = time.time()
    for path in notebooks:
        mine = {name: value for name, value in given.items() if name in declared[path]}
        log.info("running %s%s", path.name, "".join(f" {k}={v!r}" for k, v in mine.items()))
        runs.append(run_notebook(path, output=output, timeout=timeout, parameters=mine))
    if output is not None:
        from attune_nb.report import write_index

        write_index(runs, output, parameters=given, url=url, started=started)
    return runs
