"""The public surface of attune_nb and the layering of its modules.

``__all__`` is pinned here: adding or removing a public name is a deliberate change
that edits this test too. The layering tests read the source with ``ast`` (nothing
is imported) and check every import inside the package, lazy ones in function
bodies included, against a rank table: a module may import only modules of its own
rank or below, and no import cycle is allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import attune_nb

PUBLIC = [
    "AttuneNbError",
    "AttuneNbWarning",
    "Cancellation",
    "ConfigurationError",
    "Database",
    "DatabaseOnlyWarning",
    "DatabaseUnavailable",
    "DiskFull",
    "Execution",
    "ExecutionNode",
    "ExecutionNotFound",
    "ExecutionStatus",
    "Inquiry",
    "InquiryClosed",
    "InquiryField",
    "InquiryNotFound",
    "InquiryOption",
    "InvalidFilter",
    "InvalidResponse",
    "InvalidStatus",
    "InvalidTransition",
    "MigrationError",
    "NotFound",
    "NotebookError",
    "QueryCancelled",
    "ReadOnlyError",
    "SchemaMismatch",
    "SchemaMissing",
    "SeedError",
    "SkippedRowsWarning",
    "StaleUpdate",
    "Trace",
    "WritesNotAllowed",
    "connect",
]

# -- __all__ --------------------------------------------------------------------------------


def test_all_is_pinned() -> None:
    assert attune_nb.__all__ == PUBLIC


def test_all_is_sorted_and_unique() -> None:
    assert attune_nb.__all__ == sorted(attune_nb.__all__)
    assert len(set(attune_nb.__all__)) == len(attune_nb.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_is_importable_and_documented(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from attune_nb import {name}", namespace)
    obj = namespace[name]
    assert obj is getattr(attune_nb, name)
    # a class's __doc__ is its own (None when absent), never inherited from a base
    assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from attune_nb import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == PUBLIC


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in PUBLIC
        if n[0].isupper()
        and isinstance(getattr(attune_nb, n), type)
        and issubclass(getattr(attune_nb, n), BaseException)
    ],
)
def test_public_errors_and_warnings_share_one_base_each(name: str) -> None:
    cls = getattr(attune_nb, name)
    if issubclass(cls, Warning):
        assert issubclass(cls, attune_nb.AttuneNbWarning)
        assert issubclass(cls, UserWarning)
    else:
        assert issubclass(cls, attune_nb.AttuneNbError)


# -- layering ----------------------------------------------------------------------------

PACKAGE = Path(attune_nb.__file__).resolve().parent

# Lowest first. A module may import modules of its own rank or below, never above.
# The database layer is split: the engine and its parts (rank 4) sit below the
# repositories; ``db`` (``connect`` and the ``Database`` facade, which hands out the
# repositories) sits above them.
RANKS: dict[str, int] = {
    # 0: errors and the lifecycle
    "errors": 0,
    "lifecycle": 0,
    # 1: frame layouts, records, hierarchies, the shared look
    "frames": 1,
    "records": 1,
    "hierarchy": 1,
    "style": 1,
    # 2: pure analysis and charts, the pure demo simulation
    "analysis": 2,
    "charts": 2,
    "demo.catalogue": 2,
    "demo.simulation": 2,
    # 3: table descriptions and filters (SQLAlchemy Core, no connection)
    "schema": 3,
    "filters": 3,
    # 4: the database layer: driver errors, the engine, the bulk reader, migrations
    "driver": 4,
    "_reader": 4,
    "engine": 4,
    "embedded": 4,
    "migrations": 4,
    # 5: repositories (all SQL about Attune's rows), the demo loader
    "repository": 5,
    "inquiries": 5,
    "trace": 5,
    "listener": 5,
    "demo.load": 5,
    "demo": 5,
    # 6: the facade
    "db": 6,
    # 7: widgets
    "widgets": 7,
    # 8: command line, notebook runner and its HTML report, test helpers, the public surface
    "cli": 8,
    "runner": 8,
    "report": 8,
    "testing": 8,
    "__init__": 8,
}
DRIVERS = {"sqlalchemy", "psycopg2", "adbc_driver_postgresql", "adbc_driver_manager"}
# Only ranks 3 to 6 talk to the database (STYLE.md rule 1); testing creates databases.
MAY_IMPORT_DRIVERS = {name for name, rank in RANKS.items() if 3 <= rank <= 6} | {"testing"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _rank(module: str) -> int:
    """The rank of a module: its own entry, else its package's (``widgets.browser``)."""
    name = module
    while name not in RANKS and "." in name:
        name = name.rsplit(".", 1)[0]
    if name not in RANKS:
        raise KeyError(f"attune_nb.{module} has no rank: add it to RANKS")
    return RANKS[name]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module, module: str = "m") -> set[str]:
    """Every absolute name a module imports, lazy (function-level) imports included,
    ``if TYPE_CHECKING:`` blocks (never run) excluded. ``from attune_nb import x``
    yields ``attune_nb.x``; relative imports are resolved against ``module``."""
    found: set[str] = set()
    package = module.split(".")[:-1] if module != "__init__" else []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["attune_nb", *package[: len(package) - node.level + 1]]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _package_imports(module: str, path: Path) -> set[str]:
    """The attune_nb modules that ``module`` imports."""
    known = set(_modules())
    out: set[str] = set()
    for name in _imports(ast.parse(path.read_text(), filename=str(path)), module):
        if name.startswith("attune_nb."):
            inner = name.removeprefix("attune_nb.")
            while inner and inner not in known:
                inner = inner.rsplit(".", 1)[0] if "." in inner else ""
            if inner and inner != module:
                out.add(inner)
    return out


def test_every_module_has_a_rank() -> None:
    for module in _modules():
        _rank(module)


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_point_down_the_ranks(module: str) -> None:
    rank = _rank(module)
    upward = {
        imported: _rank(imported)
        for imported in _package_imports(module, _modules()[module])
        if _rank(imported) > rank
    }
    assert not upward, f"attune_nb.{module} (rank {rank}) imports higher ranks: {upward}"


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {m: _package_imports(m, p) - {"__init__"} for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt] if nxt in stack else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_only_the_sql_layers_import_the_drivers() -> None:
    importers = {
        m
        for m, p in _modules().items()
        if {n.split(".")[0] for n in _imports(ast.parse(p.read_text()), m)} & DRIVERS
    }
    outside = {
        m
        for m in importers
        if m not in MAY_IMPORT_DRIVERS and m.split(".")[0] not in MAY_IMPORT_DRIVERS
    }
    assert not outside, outside
    assert {"driver", "engine", "repository.writes", "inquiries", "schema"} <= importers


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import sqlalchemy as sa", {"sqlalchemy"}),
        ("from sqlalchemy.engine import URL", {"sqlalchemy.engine", "sqlalchemy.engine.URL"}),
        ("import psycopg2.extensions", {"psycopg2.extensions"}),
        ("try:\n    import psycopg2\nexcept ImportError:\n    pass", {"psycopg2"}),
        ("class A:\n    import sqlalchemy", {"sqlalchemy"}),
        ("def f():\n    import sqlalchemy", {"sqlalchemy"}),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sqlalchemy",
            {"typing", "typing.TYPE_CHECKING"},
        ),
        ("from . import db", {"attune_nb", "attune_nb.db"}),
    ],
    ids=["import", "from", "submodule", "try", "class-body", "lazy", "type-checking", "relative"],
)
def test_import_scanner(source: str, expected: set[str]) -> None:
    assert _imports(ast.parse(source), "m") == expected


def test_a_lazy_upward_import_is_caught(tmp_path: Path) -> None:
    # The scanner must see an import inside a function body: that is how a layer is
    # usually broken.
    tree = ast.parse("def f():\n    from attune_nb.db import connect\n")
    assert "attune_nb.db" in _imports(tree, "frames")
    assert _rank("db") > _rank("frames")
