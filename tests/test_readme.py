"""The README is a user's manual: what it teaches must be public API.

Every ``from attune_nb… import …`` in its Python examples names a public module and
names in that module's ``__all__``; every ``attune_nb.x.y`` it mentions in prose or
code resolves to a public name.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
PUBLIC_MODULES = (
    "attune_nb",
    "attune_nb.lifecycle",
    "attune_nb.frames",
    "attune_nb.style",
    "attune_nb.demo",
    "attune_nb.testing",
)

TEXT = README.read_text()
CODE = "\n".join(re.findall(r"```python\n(.*?)```", TEXT, flags=re.S))
IMPORTS = re.findall(r"^\s*from (attune_nb[\w.]*) import ([\w, ]+)", CODE, flags=re.M)
DOTTED = sorted(set(re.findall(r"\b(attune_nb(?:\.\w+)+)", TEXT)))


def test_the_readme_has_python_examples() -> None:
    assert IMPORTS, "no `from attune_nb… import …` found: did the README lose its examples?"


@pytest.mark.parametrize(("module", "names"), IMPORTS, ids=[m for m, _ in IMPORTS])
def test_readme_imports_are_public(module: str, names: str) -> None:
    assert module in PUBLIC_MODULES, f"the README imports the private module {module}"
    loaded = importlib.import_module(module)
    for name in (n.strip() for n in names.split(",")):
        assert name in loaded.__all__, f"{module}.{name} is not in {module}.__all__"


@pytest.mark.parametrize("dotted", DOTTED)
def test_readme_dotted_names_are_public(dotted: str) -> None:
    parts = dotted.split(".")
    # The longest public module that prefixes the name, then attributes in its __all__.
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        if module in PUBLIC_MODULES:
            break
    else:  # pragma: no cover - every dotted name starts with attune_nb
        pytest.fail(dotted)
    rest = parts[cut:]
    import attune_nb

    if module == "attune_nb" and rest and rest[0] not in attune_nb.__all__:
        # attune_nb.driver, attune_nb.schema_migration (a table) … : named as what they are
        assert rest[0] in _MENTIONED_PRIVATE, f"the README names {dotted}, which is private"
        return
    obj: object = importlib.import_module(module)
    for attr in rest:
        assert attr in getattr(obj, "__all__", dir(obj)), f"{dotted} is not public"
        obj = getattr(obj, attr)


# Private modules and database objects the README may name to explain, never to use.
_MENTIONED_PRIVATE = {"driver", "schema_migration"}
