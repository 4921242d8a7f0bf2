"""Tests for attune_nb/charts/hierarchy.py: icicle, treemap and sunburst of a workflow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import attune_nb
from attune_nb.charts import workflow_icicle
from attune_nb.errors import InvalidFilter
from attune_nb.style import status_colour


def _parallel_workflow(db: attune_nb.Database) -> tuple[int, list[int]]:
    """A root whose three children all run at once: their durations overlap in time."""
    root = db.executions.create("deploy.release", status="running").id
    children = [
        db.executions.create("deploy.shard", parent=root, status="running").id for _ in range(3)
    ]
    db.executions.transition(children[0], "completed")
    db.executions.transition(children[1], "failed")
    db.executions.transition(children[2], "completed")
    db.executions.transition(root, "failed")
    return root, children


def _trace(fig: go.Figure) -> go.Icicle:
    return fig.data[0]


def _children_fit(trace: object) -> None:
    ids, parents, values = list(trace.ids), list(trace.parents), list(trace.values)  # type: ignore[attr-defined]
    value = dict(zip(ids, values, strict=True))
    for node in ids:
        below = sum(v for i, p, v in zip(ids, parents, values, strict=True) if p == node)
        assert value[node] >= below > -1, f"{node}: {value[node]} < children {below}"
    assert all(isinstance(v, (int, np.integer)) and v > 0 for v in values)


@pytest.mark.parametrize("kind", ["icicle", "treemap", "sunburst"], ids=str)
@pytest.mark.parametrize("size", ["count", "duration"], ids=str)
def test_overlapping_children_still_draw_every_node(
    db: attune_nb.Database, kind: str, size: str
) -> None:
    root, children = _parallel_workflow(db)
    tree = db.executions.descendants(root)
    before = tree.copy(deep=True)
    fig = workflow_icicle(tree, kind=kind, size=size)
    trace = _trace(fig)
    assert trace.type == kind
    assert trace.branchvalues == "total"
    assert sorted(trace.ids) == sorted(str(i) for i in [root, *children])
    _children_fit(trace)
    pd.testing.assert_frame_equal(tree, before)


def test_the_children_overlap_so_their_durations_exceed_the_parent(db: attune_nb.Database) -> None:
    root, _ = _parallel_workflow(db)
    tree = db.executions.descendants(root)
    own = (tree["updated"] - tree["created"]).dt.total_seconds()
    # the premise of the test above: naive durations would break branchvalues="total"
    assert own[tree["depth"] == 1].sum() > own[tree["depth"] == 0].iloc[0]
    trace = _trace(workflow_icicle(tree, size="duration"))
    values = dict(zip(trace.ids, trace.values, strict=True))
    assert values[str(root)] == sum(v for i, v in values.items() if i != str(root))


def test_boxes_are_coloured_by_status_with_a_legend_in_lifecycle_order(
    db: attune_nb.Database,
) -> None:
    root, children = _parallel_workflow(db)
    fig = workflow_icicle(db.executions.descendants(root))
    trace = _trace(fig)
    colour = dict(zip(trace.ids, trace.marker.colors, strict=True))
    assert colour[str(children[1])] == status_colour("failed")
    assert colour[str(children[0])] == status_colour("completed")
    assert [t.name for t in fig.data[1:]] == ["completed", "failed"]
    assert list(trace.values) == [4, 1, 1, 1]  # count: the subtree's executions
    assert "customdata[2]" in trace.hovertemplate


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"kind": "pie"}, "kind"), ({"size": "memory"}, "size")],
    ids=["kind", "size"],
)
def test_bad_options_are_refused(db: attune_nb.Database, kwargs: dict, name: str) -> None:
    root, _ = _parallel_workflow(db)
    with pytest.raises(InvalidFilter) as info:
        workflow_icicle(db.executions.descendants(root), **kwargs)
    assert info.value.name == name
