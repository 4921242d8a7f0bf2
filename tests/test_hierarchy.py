"""Workflow hierarchies: descendants, ancestors, tree, children, retries, ExecutionNode.

Real data has dangling parents (no foreign key) and, when corrupted, loops: both
must end cleanly and be flagged. Deep and wide trees are built with one SQL
statement each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb import ExecutionStatus
from attune_nb.errors import ExecutionNotFound, InvalidFilter
from attune_nb.frames import JSON_COLUMNS
from attune_nb.hierarchy import ExecutionNode
from attune_nb.testing import ThrowawayServer


def sql(db: attune_nb.Database, statement: str, **params: Any) -> None:
    with db.transaction() as conn:
        conn.execute(sa.text(statement), params)


def column(frame: pd.DataFrame, name: str) -> list[Any]:
    return [v if isinstance(v, list) else (None if pd.isna(v) else v) for v in frame[name]]


def pre_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by their id path: depth first, whatever order they came in."""
    order = sorted(range(len(frame)), key=lambda i: frame["path"].iloc[i])
    return frame.iloc[order].reset_index(drop=True)


def build_workflow(db: attune_nb.Database) -> dict[str, int]:
    """root -> (a -> (a1, a2), b -> (b1 -> (b1x))), created in this order."""
    ex = db.executions
    ids: dict[str, int] = {"root": ex.create("wf.root", status="running").id}
    ids["a"] = ex.create("wf.a", parent=ids["root"], status="completed").id
    ids["a1"] = ex.create("wf.a1", parent=ids["a"], status="completed").id
    ids["a2"] = ex.create("wf.a2", parent=ids["a"], status="failed").id
    ids["b"] = ex.create("wf.b", parent=ids["root"], status="running").id
    ids["b1"] = ex.create("wf.b1", parent=ids["b"], status="running").id
    ids["b1x"] = ex.create("wf.b1x", parent=ids["b1"]).id
    return ids


@pytest.fixture(scope="module")
def built(pg: ThrowawayServer) -> Iterator[tuple[attune_nb.Database, dict[str, int]]]:
    """One workflow database for the tests that only read it (read-only)."""
    url = pg.create_database(name="hierarchy_workflow")
    writer = attune_nb.connect(url)
    ids = build_workflow(writer)
    writer.close()
    db = attune_nb.connect(url, readonly=True)
    yield db, ids
    db.close()
    pg.drop_database("hierarchy_workflow")


@pytest.fixture
def wdb(built: tuple[attune_nb.Database, dict[str, int]]) -> attune_nb.Database:
    return built[0]


@pytest.fixture
def workflow(built: tuple[attune_nb.Database, dict[str, int]]) -> dict[str, int]:
    return built[1]


PRE_ORDER = ["root", "a", "a1", "a2", "b", "b1", "b1x"]


# -- tasks --------------------------------------------------------------------------------


def test_tasks_are_the_descendants_depth_first(
    wdb: attune_nb.Database, workflow: dict[str, int]
) -> None:
    tree = wdb.executions.tree(workflow["root"])
    assert [t.id for t in tree.tasks()] == [workflow[k] for k in PRE_ORDER[1:]]
    assert tree.find(workflow["a1"]) is not None
    assert tree.find(workflow["a1"]).tasks() == []  # type: ignore[union-attr]


def test_tasks_by_status_never_include_the_node_itself(
    wdb: attune_nb.Database, workflow: dict[str, int]
) -> None:
    tree = wdb.executions.tree(workflow["root"])  # the root runs, as do b and b1
    assert [t.id for t in tree.tasks(status="running")] == [workflow["b"], workflow["b1"]]
    assert [t.id for t in tree.tasks(status=["failed", "requested"])] == [
        workflow["a2"],
        workflow["b1x"],
    ]
    assert tree.tasks(status=ExecutionStatus.TIMEOUT) == []


def test_tasks_refuse_an_unknown_status(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    with pytest.raises(attune_nb.InvalidStatus):
        wdb.executions.tree(workflow["root"]).tasks(status="broken")


# -- descendants --------------------------------------------------------------------------


LEVEL_ORDER = ["root", "a", "b", "a1", "a2", "b1", "b1x"]


def test_descendants_come_level_by_level(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    down = wdb.executions.descendants(workflow["root"])
    assert column(down, "id") == [workflow[n] for n in LEVEL_ORDER]


def test_tree_frame_is_depth_first(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    frame = wdb.executions.tree(workflow["root"]).to_frame()
    assert column(frame, "id") == [workflow[n] for n in PRE_ORDER]


def test_descendants_depth_path_root(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    w = workflow
    down = pre_order(wdb.executions.descendants(w["root"]))
    assert column(down, "id") == [w[n] for n in PRE_ORDER]
    assert column(down, "depth") == [0, 1, 2, 2, 1, 2, 3]
    assert column(down, "path")[-1] == [w["root"], w["b"], w["b1"], w["b1x"]]
    assert column(down, "path")[2] == [w["root"], w["a"], w["a1"]]
    assert set(down["root"]) == {w["root"]}
    assert not down["orphan"].any() and not down["cycle"].any()


def test_descendants_of_a_subtree(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    w = workflow
    down = pre_order(wdb.executions.descendants(w["b"]))
    assert column(down, "id") == [w["b"], w["b1"], w["b1x"]]
    assert column(down, "depth") == [0, 1, 2]
    assert set(down["root"]) == {w["b"]}
    # The subtree's root has a parent, and it exists: not an orphan.
    assert not down["orphan"].any()


@pytest.mark.parametrize(
    ("max_depth", "expected"),
    [
        (0, ["root"]),
        (1, ["root", "a", "b"]),
        (2, ["root", "a", "a1", "a2", "b", "b1"]),
        (3, PRE_ORDER),
        (50, PRE_ORDER),
        (None, PRE_ORDER),
    ],
    ids=["zero", "one", "two", "three", "beyond", "none"],
)
def test_descendants_max_depth(
    wdb: attune_nb.Database, workflow: dict[str, int], max_depth: int | None, expected: list[str]
) -> None:
    down = pre_order(wdb.executions.descendants(workflow["root"], max_depth=max_depth))
    assert column(down, "id") == [workflow[n] for n in expected]


@pytest.mark.parametrize("bad", [-1, True, "2", 1.5], ids=["negative", "bool", "str", "float"])
def test_descendants_refuses_a_bad_max_depth(
    wdb: attune_nb.Database, workflow: dict[str, int], bad: object
) -> None:
    with pytest.raises(InvalidFilter) as info:
        wdb.executions.descendants(workflow["root"], max_depth=bad)  # type: ignore[arg-type]
    assert (info.value.name, info.value.value) == ("max_depth", bad)


@pytest.mark.parametrize("method", ["descendants", "ancestors", "tree", "children", "retries"])
def test_an_unknown_id_raises_not_found(wdb: attune_nb.Database, method: str) -> None:
    with pytest.raises(ExecutionNotFound) as info:
        getattr(wdb.executions, method)(424242)
    assert info.value.execution_id == 424242


def test_descendants_include_json(db: attune_nb.Database) -> None:
    root = db.executions.create("wf.root", config={"n": 1})
    db.executions.create("wf.step", parent=root.id, result={"ok": True})
    down = db.executions.descendants(root.id, include=["config", "result"])
    assert down["config"].tolist() == [{"n": 1}, None]
    assert down["result"].tolist() == [None, {"ok": True}]


# -- ancestors ----------------------------------------------------------------------------


def test_ancestors_nearest_first(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    w = workflow
    up = wdb.executions.ancestors(w["b1x"])
    assert column(up, "id") == [w["b1"], w["b"], w["root"]]
    assert column(up, "depth") == [1, 2, 3]
    assert column(up, "path") == [
        [w["b1x"], w["b1"]],
        [w["b1x"], w["b1"], w["b"]],
        [w["b1x"], w["b1"], w["b"], w["root"]],
    ]
    assert set(up["root"]) == {w["root"]}
    assert not up["orphan"].any() and not up["cycle"].any()


def test_ancestors_of_a_root_is_empty(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    up = wdb.executions.ancestors(workflow["root"])
    assert up.empty
    pd.testing.assert_series_equal(up.dtypes, wdb.executions.ancestors(workflow["a"]).dtypes)


# -- dangling parents ---------------------------------------------------------------------


@pytest.fixture
def orphaned(db: attune_nb.Database) -> dict[str, int]:
    """gone -> top -> leaf, then gone is deleted: top's parent dangles (there is no FK)."""
    gone = db.executions.create("wf.gone")
    top = db.executions.create("wf.top", parent=gone.id)
    leaf = db.executions.create("wf.leaf", parent=top.id)
    assert db.executions.delete(gone.id)
    return {"gone": gone.id, "top": top.id, "leaf": leaf.id}


def test_a_dangling_parent_makes_the_root_an_orphan(
    db: attune_nb.Database, orphaned: dict[str, int]
) -> None:
    down = pre_order(db.executions.descendants(orphaned["top"]))
    assert column(down, "id") == [orphaned["top"], orphaned["leaf"]]
    assert column(down, "orphan") == [True, False]
    assert column(down, "parent") == [orphaned["gone"], orphaned["top"]]


def test_a_dangling_parent_in_the_tree(db: attune_nb.Database, orphaned: dict[str, int]) -> None:
    root = db.executions.tree(orphaned["top"])
    assert root.orphan is True
    assert [n.orphan for n in root.children] == [False]
    assert str(root).splitlines()[0] == f"{orphaned['top']} wf.top requested [orphan]"


def test_ancestors_stop_at_a_dangling_parent(
    db: attune_nb.Database, orphaned: dict[str, int]
) -> None:
    up = db.executions.ancestors(orphaned["leaf"])
    assert column(up, "id") == [orphaned["top"]]
    assert column(up, "orphan") == [True]
    assert set(up["root"]) == {orphaned["top"]}


def test_ancestors_of_an_execution_whose_own_parent_is_gone_flag_it(
    db: attune_nb.Database, orphaned: dict[str, int]
) -> None:
    """The issue's probe: this used to be an empty frame, which reads as "no parent"."""
    up = db.executions.ancestors(orphaned["top"])
    assert column(up, "id") == [orphaned["top"]]
    assert column(up, "depth") == [0]
    assert column(up, "orphan") == [True]
    assert column(up, "parent") == [orphaned["gone"]]
    assert set(up["root"]) == {orphaned["top"]}


def test_ancestors_of_a_true_root_stay_empty(db: attune_nb.Database) -> None:
    root = db.executions.create("wf.root")
    assert db.executions.ancestors(root.id).empty


def test_a_dangling_parent_deep_in_the_chain(db: attune_nb.Database) -> None:
    first = db.executions.create("wf.first")
    chain = [db.executions.create("wf.step", parent=first.id).id]
    for _ in range(3):
        chain.append(db.executions.create("wf.step", parent=chain[-1]).id)
    db.executions.delete(first.id)
    up = db.executions.ancestors(chain[-1])
    assert column(up, "id") == chain[-2::-1]
    assert column(up, "orphan") == [False, False, True]


# -- loops in corrupted data --------------------------------------------------------------


@pytest.fixture
def looped(db: attune_nb.Database) -> dict[str, int]:
    """a -> b -> a (made with UPDATE ... SET parent), and c hanging below b."""
    a = db.executions.create("loop.a")
    b = db.executions.create("loop.b", parent=a.id)
    c = db.executions.create("loop.c", parent=b.id)
    sql(db, "UPDATE attune.execution SET parent = :b WHERE id = :a", a=a.id, b=b.id)
    return {"a": a.id, "b": b.id, "c": c.id}


@pytest.mark.timeout(30)
def test_descendants_cut_a_loop_and_flag_it(db: attune_nb.Database, looped: dict[str, int]) -> None:
    down = pre_order(db.executions.descendants(looped["a"]))
    assert column(down, "id") == [looped["a"], looped["b"], looped["c"]]
    # b's child a is already on the path: the loop is cut below b.
    assert column(down, "cycle") == [False, True, False]
    assert not down["orphan"].any()


@pytest.mark.timeout(30)
def test_ancestors_cut_a_loop_and_flag_it(db: attune_nb.Database, looped: dict[str, int]) -> None:
    up = db.executions.ancestors(looped["a"])
    assert column(up, "id") == [looped["b"]]
    assert column(up, "cycle") == [True]
    up_from_c = db.executions.ancestors(looped["c"])
    assert column(up_from_c, "id") == [looped["b"], looped["a"]]
    assert column(up_from_c, "cycle") == [False, True]


@pytest.mark.timeout(30)
def test_ancestors_root_is_the_topmost_returned_row_in_a_loop(
    db: attune_nb.Database, looped: dict[str, int]
) -> None:
    up = db.executions.ancestors(looped["c"])
    assert set(up["root"]) == {looped["a"]}


@pytest.mark.timeout(30)
def test_tree_cuts_a_loop_and_flags_it(db: attune_nb.Database, looped: dict[str, int]) -> None:
    root = db.executions.tree(looped["a"])
    assert len(root) == 3
    assert [(n.id, n.cycle) for n in root.walk()] == [
        (looped["a"], False),
        (looped["b"], True),
        (looped["c"], False),
    ]
    assert "[loop cut]" in str(root).splitlines()[1]


@pytest.mark.timeout(30)
def test_a_self_parent_loop(db: attune_nb.Database) -> None:
    me = db.executions.create("loop.self")
    sql(db, "UPDATE attune.execution SET parent = id WHERE id = :i", i=me.id)
    assert column(db.executions.descendants(me.id), "cycle") == [True]
    assert db.executions.ancestors(me.id).empty
    assert column(db.executions.children(me.id), "id") == [me.id]


# -- deep and wide ------------------------------------------------------------------------

DEEP = 1000


@pytest.fixture
def chain(db: attune_nb.Database) -> attune_nb.Database:
    """Ids 1..1000, each the child of the one before (one statement)."""
    sql(
        db,
        f"""
        INSERT INTO attune.execution (id, action_ref, parent)
        SELECT g, 'chain.step', NULLIF(g - 1, 0) FROM generate_series(1, {DEEP}) AS g;
        SELECT setval('attune.execution_id_seq', {DEEP});""",
    )
    return db


@pytest.mark.timeout(60)
def test_a_thousand_deep_chain(chain: attune_nb.Database) -> None:
    down = pre_order(chain.executions.descendants(1))
    assert len(down) == DEEP
    assert down["depth"].max() == DEEP - 1
    assert column(down, "id") == list(range(1, DEEP + 1))
    assert column(down, "path")[-1] == list(range(1, DEEP + 1))
    up = chain.executions.ancestors(DEEP)
    assert len(up) == DEEP - 1
    assert column(up, "id") == list(range(DEEP - 1, 0, -1))
    assert set(up["root"]) == {1}
    assert chain.executions.create("chain.next").id == DEEP + 1


@pytest.mark.timeout(60)
def test_a_thousand_deep_tree_walks(chain: attune_nb.Database) -> None:
    root = chain.executions.tree(1)
    assert len(root) == DEEP
    leaf = root.find(DEEP)
    assert leaf is not None and leaf.depth == DEEP - 1 and leaf.children == []


@pytest.mark.timeout(60)
def test_a_thousand_deep_tree_renders(chain: attune_nb.Database) -> None:
    lines = str(chain.executions.tree(1)).splitlines()
    assert len(lines) == DEEP
    assert lines[-1] == " " * 4 * (DEEP - 2) + f"└── {DEEP} chain.step requested"


@pytest.mark.timeout(60)
def test_a_thousand_deep_tree_shows_as_html(chain: attune_nb.Database) -> None:
    html = chain.executions.tree(1)._repr_html_()
    assert f"<code>{DEEP}</code>" in html


@pytest.mark.timeout(60)
def test_ten_thousand_children(db: attune_nb.Database) -> None:
    root = db.executions.create("fan.root")
    sql(
        db,
        "INSERT INTO attune.execution (action_ref, parent) "
        "SELECT 'fan.leaf', :p FROM generate_series(1, 10000)",
        p=root.id,
    )
    down = db.executions.descendants(root.id)
    assert len(down) == 10_001
    assert down["depth"].value_counts().to_dict() == {1: 10_000, 0: 1}
    children = db.executions.children(root.id)
    assert len(children) == 10_000
    assert children["id"].is_monotonic_increasing
    tree = db.executions.tree(root.id)
    assert len(tree) == 10_001 and len(tree.children) == 10_000


# -- ExecutionNode ------------------------------------------------------------------------


def test_walk_is_pre_order(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    root = wdb.executions.tree(workflow["root"])
    assert isinstance(root, ExecutionNode)
    assert [n.id for n in root.walk()] == [workflow[n] for n in PRE_ORDER]
    assert [n.id for n in root] == [workflow[n] for n in PRE_ORDER]
    assert [n.depth for n in root.walk()] == [0, 1, 2, 2, 1, 2, 3]
    assert len(root) == 7
    assert repr(root) == f"<ExecutionNode {workflow['root']} wf.root running, 6 descendants>"


def test_find(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    root = wdb.executions.tree(workflow["root"])
    b1 = root.find(workflow["b1"])
    assert b1 is not None and b1.execution.action_ref == "wf.b1"
    assert [c.id for c in b1.children] == [workflow["b1x"]]
    assert root.find(999_999) is None
    assert b1.find(workflow["a"]) is None  # only within the subtree


def test_render_draws_the_tree(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    w = workflow
    root = wdb.executions.tree(w["root"])
    assert (
        str(root)
        == root.render()
        == "\n".join(
            [
                f"{w['root']} wf.root running",
                f"├── {w['a']} wf.a completed",
                f"│   ├── {w['a1']} wf.a1 completed",
                f"│   └── {w['a2']} wf.a2 failed",
                f"└── {w['b']} wf.b running",
                f"    └── {w['b1']} wf.b1 running",
                f"        └── {w['b1x']} wf.b1x requested",
            ]
        )
    )
    assert root.render(max_depth=1).splitlines() == [
        f"{w['root']} wf.root running",
        f"├── {w['a']} wf.a completed",
        f"└── {w['b']} wf.b running",
    ]


def test_tree_max_depth(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    root = wdb.executions.tree(workflow["root"], max_depth=1)
    assert [n.id for n in root.walk()] == [workflow[n] for n in ("root", "a", "b")]


def test_to_frame_equals_the_descendants(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    root = wdb.executions.tree(workflow["root"])
    down = wdb.executions.descendants(workflow["root"], include=JSON_COLUMNS)
    walked = down.set_index("id", drop=False).loc[[n.id for n in root.walk()]]
    pd.testing.assert_frame_equal(root.to_frame(), walked.reset_index(drop=True))
    assert column(root.to_frame(), "id") == [workflow[n] for n in PRE_ORDER]
    b = root.find(workflow["b"])
    assert b is not None
    assert column(b.to_frame(), "id") == [workflow[n] for n in ("b", "b1", "b1x")]
    pd.testing.assert_frame_equal(b.to_frame(), walked.iloc[4:].reset_index(drop=True))


def test_html_lists_every_execution(db: attune_nb.Database) -> None:
    workflow = build_workflow(db)
    db.executions.create("wf.<script>", parent=workflow["a1"])
    html = db.executions.tree(workflow["root"])._repr_html_()
    for execution_id in [*workflow.values()]:
        assert f"<code>{execution_id}</code>" in html
    assert "wf.&lt;script&gt;" in html and "<script>" not in html
    assert html.count("<li>") == len(workflow) + 1


def test_nodes_carry_their_executions(db: attune_nb.Database) -> None:
    root = db.executions.create("wf.root", config={"deep": {"x": [1]}}, trace_tag="t-9")
    tree = db.executions.tree(root.id)
    assert tree.execution == db.executions.get(root.id)


# -- children -----------------------------------------------------------------------------


def test_children_in_creation_order(wdb: attune_nb.Database, workflow: dict[str, int]) -> None:
    assert column(wdb.executions.children(workflow["root"]), "id") == [workflow["a"], workflow["b"]]
    assert column(wdb.executions.children(workflow["a"]), "id") == [workflow["a1"], workflow["a2"]]
    assert wdb.executions.children(workflow["b1x"]).empty


@pytest.fixture
def out_of_order(db: attune_nb.Database) -> attune_nb.Database:
    """Siblings whose ids disagree with their creation order, as overlapping
    transactions leave them (``created`` is the transaction's start)."""
    sql(
        db,
        """
        INSERT INTO attune.execution (id, action_ref, parent, created) VALUES
            (1, 'wf.root', NULL, '2026-01-10 10:00Z'),
            (5, 'wf.first', 1, '2026-01-10 10:01Z'),
            (3, 'wf.second', 1, '2026-01-10 10:02Z'),
            (4, 'wf.third', 1, '2026-01-10 10:02Z');
        SELECT setval('attune.execution_id_seq', 5);""",
    )
    return db


def test_children_in_creation_order_when_ids_disagree(out_of_order: attune_nb.Database) -> None:
    frame = out_of_order.executions.children(1, include=["config"])
    assert column(frame, "action_ref") == ["wf.first", "wf.second", "wf.third"]
    assert "config" in frame.columns


def test_tree_children_in_creation_order(out_of_order: attune_nb.Database) -> None:
    root = out_of_order.executions.tree(1)
    assert [c.id for c in root.children] == [5, 3, 4]


# -- retries ------------------------------------------------------------------------------


@pytest.fixture
def retried(db: attune_nb.Database) -> list[int]:
    first = db.executions.create("deploy.build", status="failed")
    second = db.executions.create(
        "deploy.build",
        status="failed",
        retry_count=1,
        original_execution=first.id,
        retry_reason="failed",
    )
    third = db.executions.create(
        "deploy.build",
        status="completed",
        retry_count=2,
        original_execution=second.id,
        retry_reason="failed",
    )
    db.executions.create("deploy.build", status="failed")  # another chain
    return [first.id, second.id, third.id]


@pytest.mark.parametrize("member", [0, 1, 2], ids=["first", "middle", "last"])
def test_retries_from_any_member(db: attune_nb.Database, retried: list[int], member: int) -> None:
    chain = db.executions.retries(retried[member])
    assert column(chain, "id") == retried
    assert column(chain, "retry_count") == [0, 1, 2]
    assert column(chain, "original_execution") == [None, retried[0], retried[1]]


def test_retries_of_a_single_attempt(db: attune_nb.Database, retried: list[int]) -> None:
    alone = db.executions.create("core.echo")
    assert column(db.executions.retries(alone.id), "id") == [alone.id]


# -- realistic data -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(pg: ThrowawayServer) -> Iterator[attune_nb.Database]:
    db = attune_nb.connect(
        pg.create_seeded_database(executions=3000, seed=5, name="hierarchy_seeded"), readonly=True
    )
    yield db
    db.close()
    pg.drop_database("hierarchy_seeded")


def test_workflow_descendants_form_the_tree(seeded: attune_nb.Database) -> None:
    roots = seeded.executions.frame(action_ref="ops.nightly_maintenance", top_level_only=True)
    assert len(roots) > 0
    root_id = int(roots["id"].iloc[0])
    down = seeded.executions.descendants(root_id)
    with seeded.transaction() as conn:
        expected = {
            r[0]
            for r in conn.execute(
                sa.text("""
            WITH RECURSIVE t AS (SELECT id FROM attune.execution WHERE id = :r
                UNION ALL SELECT e.id FROM attune.execution e JOIN t ON e.parent = t.id)
            SELECT id FROM t"""),
                {"r": root_id},
            )
        }
    assert set(column(down, "id")) == expected and down["depth"].max() >= 2
    down = pre_order(down)
    paths = column(down, "path")
    for i, row in enumerate(down.itertuples()):
        assert paths[i][-1] == row.id and row.depth == len(paths[i]) - 1
        if i:
            # Depth first: each row's parent is on the path of the row before it.
            assert row.parent in paths[i - 1]
    tree = seeded.executions.tree(root_id)
    assert [n.id for n in tree.walk()] == column(down, "id")


def test_seeded_retry_chains(seeded: attune_nb.Database) -> None:
    retries = seeded.executions.frame(limit=None)
    retry = retries[retries["original_execution"].notna()].iloc[0]
    chain = seeded.executions.retries(int(retry["id"]))
    assert int(retry["original_execution"]) in column(chain, "id")
    assert column(chain, "retry_count") == sorted(column(chain, "retry_count"))
    assert column(chain, "status")[:-1] == ["failed"] * (len(chain) - 1)
