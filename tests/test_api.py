"""The public surface of attune_nb and the layering of its modules.

``__all__`` is pinned here: adding or removing a public name is a deliberate change
that edits this test too. The layering test reads the source with ``ast`` (nothing
is imported), so it sees what each module imports when it is loaded.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import attune_nb

PUBLIC = [
    "AttuneNbError",
    "ConfigurationError",
    "Database",
    "DatabaseOnlyWarning",
    "DatabaseUnavailable",
    "Execution",
    "ExecutionNode",
    "ExecutionNotFound",
    "ExecutionStatus",
    "HierarchyLoop",
    "Inquiry",
    "InquiryClosed",
    "InquiryNotFound",
    "InvalidFilter",
    "InvalidResponse",
    "InvalidStatus",
    "InvalidTransition",
    "MigrationError",
    "NotFound",
    "NotebookError",
    "ReadOnlyError",
    "SchemaMismatch",
    "SchemaMissing",
    "SeedError",
    "StaleUpdate",
    "Trace",
    "connect",
]

PACKAGE = Path(attune_nb.__file__).resolve().parent
DRIVERS = {"sqlalchemy", "psycopg2"}
# STYLE.md rule 1: only the database layer and the repositories talk SQL.
MAY_IMPORT_DRIVERS = {"db.py", "migrations.py", "seed.py", "testing.py", "repository.py",
                      "inquiries.py", "trace.py", "filters.py", "schema.py", "embedded.py"}
PURE = ["lifecycle.py", "frames.py", "hierarchy.py", "records.py", "errors.py", "cli.py",
        "runner.py"]


# -- __all__ --------------------------------------------------------------------------------


def test_all_is_pinned() -> None:
    assert attune_nb.__all__ == PUBLIC


def test_all_is_sorted_and_unique() -> None:
    assert attune_nb.__all__ == sorted(attune_nb.__all__)
    assert len(set(attune_nb.__all__)) == len(attune_nb.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_is_importable_and_documented(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from attune_nb import {name}", namespace)  # noqa: S102 - the import is the test
    obj = namespace[name]
    assert obj is getattr(attune_nb, name)
    # a class's __doc__ is its own (None when absent), never inherited from a base
    assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from attune_nb import *", namespace)  # noqa: S102 - the import is the test
    assert sorted(k for k in namespace if k != "__builtins__") == PUBLIC


@pytest.mark.parametrize("name", [n for n in PUBLIC if n[0].isupper()
                                  and isinstance(getattr(attune_nb, n), type)
                                  and issubclass(getattr(attune_nb, n), BaseException)])
def test_public_errors_share_one_base(name: str) -> None:
    cls = getattr(attune_nb, name)
    if issubclass(cls, Warning):
        assert issubclass(cls, UserWarning)
    else:
        assert issubclass(cls, attune_nb.AttuneNbError)


# -- layering ----------------------------------------------------------------------------


def _load_time_imports(tree: ast.Module) -> set[str]:
    """Top-level package names a module imports when it is loaded.

    Walks the module body, including ``if``/``try``/``with`` blocks and class bodies
    (they run at import), but not function bodies (lazy imports) or
    ``if TYPE_CHECKING:`` blocks (never run).
    """
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            elif isinstance(node, ast.If):
                test = node.test
                is_type_checking = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") \
                    or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
                if not is_type_checking:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, (ast.ClassDef, ast.With)):
                visit(node.body)

    visit(tree.body)
    return found


def _imports(filename: str) -> set[str]:
    path = PACKAGE / filename
    return _load_time_imports(ast.parse(path.read_text(), filename=str(path)))


def test_only_the_sql_layer_imports_the_drivers() -> None:
    importers = {path.name for path in sorted(PACKAGE.glob("*.py"))
                 if _imports(path.name) & DRIVERS}
    assert importers <= MAY_IMPORT_DRIVERS, importers - MAY_IMPORT_DRIVERS
    assert {"db.py", "repository.py", "inquiries.py", "schema.py"} <= importers


@pytest.mark.parametrize("filename", PURE)
def test_pure_module_does_not_import_the_drivers(filename: str) -> None:
    assert (PACKAGE / filename).is_file()
    assert not _imports(filename) & DRIVERS


@pytest.mark.parametrize(("source", "expected"), [
    ("import sqlalchemy as sa", {"sqlalchemy"}),
    ("from sqlalchemy.engine import URL", {"sqlalchemy"}),
    ("import psycopg2.extensions", {"psycopg2"}),
    ("try:\n    import psycopg2\nexcept ImportError:\n    pass", {"psycopg2"}),
    ("class A:\n    import sqlalchemy", {"sqlalchemy"}),
    ("def f():\n    import sqlalchemy", set()),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sqlalchemy",
     {"typing"}),
    ("from . import db", set()),
], ids=["import", "from", "submodule", "try", "class-body", "lazy", "type-checking",
        "relative"])
def test_import_scanner(source: str, expected: set[str]) -> None:
    assert _load_time_imports(ast.parse(source)) == expected
