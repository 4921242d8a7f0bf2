"""The docstring examples of the package run, against the demo's own data.

Every example of every module is a test: each docstring gets a fresh copy of the
database that ``attune-nb demo`` builds (20,000 executions, seed 42), reachable
as ``db`` and through ``ATTUNE_DB_URL`` (so ``attune_nb.connect()`` opens it), in a
temporary working directory. What an example prints is compared, with ``...``
for what truly varies (paths, timings).
"""

from __future__ import annotations

import doctest
import importlib
import itertools
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.demo.load import seed
from attune_nb.embedded import ENV_HOME
from attune_nb.engine import ENV_URL
from attune_nb.testing import ThrowawayServer

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(attune_nb.__path__, f"{attune_nb.__name__}.")
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# Examples that may not run here, each with the reason; everything else runs.
SKIPPED = {
    "attune_nb.runner.run_notebooks": (
        "runs every notebook of the clone; tests/test_cli.py runs it on a small folder"
    ),
}

_names = itertools.count(1)


def _doctests() -> dict[str, str]:
    """Each docstring with examples: its name, and the module that holds it."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    return {
        test.name: module
        for module in (attune_nb.__name__, *MODULES)
        for test in finder.find(importlib.import_module(module), module)
        if test.examples
    }


OWNERS = _doctests()
DOCTESTS = sorted(OWNERS)


def _find(name: str) -> doctest.DocTest:
    module = importlib.import_module(OWNERS[name])
    (test,) = (t for t in doctest.DocTestFinder().find(module, OWNERS[name]) if t.name == name)
    return test


@pytest.fixture(scope="module")
def demo_template(pg: ThrowawayServer) -> Iterator[str]:
    """The name of a database seeded as ``attune-nb demo`` seeds the default one."""
    name = "doctest_demo"
    db = attune_nb.connect(pg.create_database(name=name))
    try:
        seed(db)
    finally:
        db.close()
    yield name
    pg.drop_database(name)


@pytest.mark.parametrize("name", DOCTESTS)
def test_example_runs(
    name: str,
    pg: ThrowawayServer,
    demo_template: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    test = _find(name)
    copy = f"doctest_{next(_names)}"
    url = pg.create_database(template=demo_template, name=copy)
    monkeypatch.setenv(ENV_URL, url)
    monkeypatch.delenv(ENV_HOME, raising=False)
    monkeypatch.chdir(tmp_path)
    db = attune_nb.connect(url)
    test.globs.update({"attune_nb": attune_nb, "db": db, "pd": pd, "sa": sa, "Path": Path})
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    try:
        runner.run(test, out=report.append)
    finally:
        db.close()
        pg.drop_database(copy)
    assert runner.failures == 0, "".join(report)


def test_every_module_with_examples_is_collected() -> None:
    with_examples = {
        name
        for name in MODULES
        if ">>>" in Path(importlib.import_module(name).__file__ or "").read_text()
    }
    assert with_examples <= set(OWNERS.values())


def test_examples_are_skipped_only_where_named() -> None:
    skipping = {
        name for name in DOCTESTS if any(e.options.get(doctest.SKIP) for e in _find(name).examples)
    }
    assert skipping == set(SKIPPED)
