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
    "attune_nb.analysis",
    "attune_nb.charts",
    "attune_nb.widgets",
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
        if f"{module}.{name}" in PUBLIC_MODULES:
            continue  # `from attune_nb import analysis`: a public module itself
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


DOCS = [README, *sorted((README.parent / "docs").glob("*.md"))]
LINKS = [
    (doc, target)
    for doc in DOCS
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text())
    if "://" not in target
]


def test_the_readme_links_a_reference_of_the_attune_database() -> None:
    assert (README, "docs/attune.md") in LINKS


@pytest.mark.parametrize(("doc", "target"), LINKS, ids=[f"{d.name}:{t}" for d, t in LINKS])
def test_relative_links_point_at_files_of_the_clone(doc: Path, target: str) -> None:
    resolved = (doc.parent / target).resolve()
    assert resolved.exists(), f"{doc.name} links {target}, which is not in the clone"
    assert README.parent in resolved.parents or resolved == README.parent


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


ANCHORS = [
    (doc, target, anchor)
    for doc in DOCS
    for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", doc.read_text())
]


@pytest.mark.parametrize(
    ("doc", "target", "anchor"), ANCHORS, ids=[f"{d.name}:{t}#{a}" for d, t, a in ANCHORS]
)
def test_anchors_point_at_headings(doc: Path, target: str, anchor: str) -> None:
    linked = (doc.parent / target).resolve() if target else doc
    headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
    assert anchor in {_slug(h) for h in headings}, f"{doc.name} links {target}#{anchor}"
