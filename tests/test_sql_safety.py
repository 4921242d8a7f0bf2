"""All SQL is parameterized: a scan of the package for SQL built from f-strings.

Every f-string that starts like a statement (or is passed to ``text()``) is listed
here with why what it interpolates is not user input: a constant, a number, or a
name checked against a fixed set first. A new one fails this test until it is
reviewed and listed; one that went away fails too, so the list stays true.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import pytest

from attune_nb.errors import ConfigurationError
from attune_nb.testing import ThrowawayServer

PACKAGE = Path(__file__).resolve().parent.parent / "attune_nb"
STATEMENT = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|SET|LISTEN|NOTIFY|WITH|GRANT|REVOKE|"
    r"TRUNCATE|COPY|EXPLAIN|ANALYZE|VACUUM)\b"
)

REVIEWED: dict[tuple[str, str], tuple[int, str]] = {
    # (module, function): (how many, why the interpolated values are safe)
    ("demo/load.py", "_next_id"): (1, "table names from the loader's fixed list"),
    ("demo/load.py", "_copy_binary"): (1, "table and column names from the fixed layouts"),
    ("demo/load.py", "_load"): (1, "table names from the loader's fixed list"),
    ("demo/load.py", "_drop_indexes"): (1, "index names read from pg_indexes, quoted"),
    ("embedded.py", "_ensure_database"): (1, "the constant DATABASE"),
    ("engine.py", "session_settings"): (1, "application_name(): attune_nb[<pid>]"),
    ("listener.py", "_open"): (1, "channels checked against CHANNELS in __init__"),
    ("migrations.py", "applied_migrations"): (1, "the constant LEDGER"),
    ("migrations.py", "_migrate_locked"): (4, "the constants LEDGER and LEDGER_SCHEMA"),
    ("repository/analysis.py", "_rows"): (1, "the constant WORK_MEM"),
    ("repository/analysis.py", "_series"): (1, "seconds: an int from the fixed FREQS"),
    ("repository/hierarchy.py", "descendants"): (1, "max_depth checked to be an int, int()"),
    ("testing.py", "create_database"): (1, "names checked by _database_name"),
    ("testing.py", "drop_database"): (1, "names checked by _database_name"),
    ("testing.py", "_migrated_template"): (1, "a constant name"),
}


def _built_sql() -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.JoinedStr):
                continue
            first = node.values[0] if node.values else None
            lead = first.value if isinstance(first, ast.Constant) else ""
            call = parents.get(node)
            in_text = isinstance(call, ast.Call) and (
                getattr(call.func, "attr", None) == "text"
                or getattr(call.func, "id", None) == "text"
            )
            if not (STATEMENT.match(str(lead)) or in_text):
                continue
            function = "<module>"
            up: ast.AST = node
            while up in parents:
                up = parents[up]
                if isinstance(up, ast.FunctionDef | ast.AsyncFunctionDef):
                    function = up.name
                    break
            found[(path.relative_to(PACKAGE).as_posix(), function)] += 1
    return found


def test_sql_is_built_from_strings_only_where_reviewed() -> None:
    found = _built_sql()
    assert found, "the scan found nothing: it no longer sees the package"
    unreviewed = {k: n for k, n in found.items() if k not in REVIEWED}
    assert not unreviewed, f"SQL built from f-strings, not reviewed: {unreviewed}"
    assert dict(found) == {k: n for k, (n, _why) in REVIEWED.items()}


@pytest.mark.parametrize("name", ['x"; DROP DATABASE postgres; --', "Upper", "", "a" * 64, "1st"])
def test_database_names_are_checked_before_they_reach_sql(pg: ThrowawayServer, name: str) -> None:
    with pytest.raises(ConfigurationError):
        pg.create_database(name=name)
    with pytest.raises(ConfigurationError):
        pg.drop_database(name)
    with pytest.raises(ConfigurationError):
        pg.create_database(template=name)
