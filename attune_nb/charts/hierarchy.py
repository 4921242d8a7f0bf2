"""A workflow's hierarchy as an icicle, treemap or sunburst, coloured by status.

Values are whole numbers computed bottom-up so a parent is never smaller than
the sum of its children: plotly's ``branchvalues="total"`` draws nothing when
children add up to more than their parent, which parallel tasks (overlapping in
time) would otherwise cause.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import attune_nb.charts._layout as L
from attune_nb.frames import STATUS_DTYPE
from attune_nb.lifecycle import TERMINAL

__all__ = ["workflow_icicle"]

_KINDS = {"icicle": go.Icicle, "treemap": go.Treemap, "sunburst": go.Sunburst}
_SIZES = ("count", "duration")
_COLUMNS = ("id", "parent", "action_ref", "status", "created", "updated")
_TERMINAL = {s.value for s in TERMINAL}


def workflow_icicle(
    descendants: pd.DataFrame,
    *,
    kind: str = "icicle",
    size: str = "count",
    now: Any = None,
    title: str | None = None,
) -> go.Figure:
    """The tree of ``db.executions.descendants(root)``, one box per execution.

    ``size="count"`` sizes a box by the executions in its subtree; ``"duration"`` by
    its wall time (created to its end, or to ``now`` while active; default the
    latest time in the frame), raised to the sum of its children's when they ran in
    parallel, so every node is drawn. ``kind`` is ``"icicle"``, ``"treemap"`` or
    ``"sunburst"``. Colours are the status colours; the hover shows each
    execution's own duration.
    """
    frame = L.require_frame(descendants, "descendants", _COLUMNS, "db.executions.descendants(root)")
    trace_class = _KINDS[L.require_choice("kind", kind, tuple(_KINDS))]
    L.require_choice("size", size, _SIZES)
    ids = frame["id"].to_numpy(dtype=np.int64)
    position = {int(i): k for k, i in enumerate(ids)}
    parents = frame["parent"].to_numpy(dtype=np.int64, na_value=-1)
    up = np.array(
        [position.get(int(p), -1) if p != i else -1 for p, i in zip(parents, ids, strict=True)]
    )
    statuses = np.asarray(pd.Categorical(frame["status"], dtype=STATUS_DTYPE).astype(str))
    own_ms = _own_duration_ms(frame, statuses, now)
    own = np.ones(len(ids), dtype=np.int64) if size == "count" else np.maximum(own_ms, 1)
    values = _subtree_values(own, up, raise_to_children=size == "duration")
    below = _subtree_values(np.ones(len(ids), dtype=np.int64), up, raise_to_children=False) - 1
    actions = frame["action_ref"].astype("string").fillna("").to_numpy(dtype=object)
    custom = np.empty((len(ids), 4), dtype=object)
    custom[:, 0] = ids
    custom[:, 1] = statuses
    custom[:, 2] = [L.format_duration(ms / 1000.0) for ms in own_ms]
    custom[:, 3] = below
    trace = trace_class(
        ids=[str(i) for i in ids],
        parents=[str(ids[u]) if u >= 0 else "" for u in up],
        labels=[f"{i} {a}" for i, a in zip(ids, actions, strict=True)],
        values=values,
        branchvalues="total",
        marker={"colors": [L.colour(s) for s in statuses], "line": {"width": 1}},
        customdata=custom,
        hovertemplate=(
            "<b>%{customdata[0]}</b> %{label}<br>status: %{customdata[1]}"
            "<br>duration: %{customdata[2]}<br>tasks below: %{customdata[3]}<extra></extra>"
        ),
        textinfo="label",
        textfont={"color": "#ffffff"},
        sort=False,
    )
    fig = go.Figure(trace)
    _status_legend(fig, statuses)
    roots = [int(ids[k]) for k in np.flatnonzero(up < 0)]
    what = "execution count" if size == "count" else "wall time"
    name = title or (
        f"Workflow {roots[0] if len(roots) == 1 else ', '.join(map(str, roots[:3]))}: "
        f"{len(ids)} executions, sized by {what}"
    )
    L.theme(fig, title=name, height=560)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _own_duration_ms(frame: pd.DataFrame, statuses: np.ndarray, now: Any) -> np.ndarray:
    created = L.nanoseconds(frame["created"])
    updated = L.nanoseconds(frame["updated"])
    nat = np.iinfo(np.int64).min
    if now is None:
        now_ns = int(max(created.max(initial=0), updated.max(initial=0)))
    else:
        now_ns = int(L.nanoseconds(pd.Series([pd.Timestamp(now)]))[0])
    done = np.isin(statuses, list(_TERMINAL)) & (updated != nat)
    end = np.where(done, updated, now_ns)
    ms = (end - created) // 1_000_000
    return np.where(created == nat, 0, np.maximum(ms, 0)).astype(np.int64)


def _subtree_values(own: np.ndarray, up: np.ndarray, *, raise_to_children: bool) -> np.ndarray:
    """Bottom-up: each node's own value plus (or at least, when ``raise_to_children``)
    the sum of its children's values. Integers, so plotly's sums match exactly."""
    n = len(own)
    depth = np.zeros(n, dtype=np.int64)
    for k in range(n):  # depth by walking up; a loop (corrupt data) stops at n steps
        j, d = up[k], 0
        while j >= 0 and d <= n:
            j, d = up[j], d + 1
        depth[k] = d
    values = own.astype(np.int64).copy()
    children_sum = np.zeros(n, dtype=np.int64)
    for k in np.argsort(-depth, kind="stable"):
        if raise_to_children:
            values[k] = max(own[k], children_sum[k])
        else:
            values[k] = own[k] + children_sum[k]
        if up[k] >= 0:
            children_sum[up[k]] += values[k]
    return values


def _status_legend(fig: go.Figure, statuses: np.ndarray) -> None:
    # Hierarchy traces have no legend of their own: one empty marker trace per status.
    present = set(statuses.tolist())
    for status in L.STATUSES:
        if status in present:
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers",
                    name=status,
                    legendrank=L.legend_rank(status),
                    marker={"color": L.colour(status), "size": 10, "symbol": "square"},
                    hoverinfo="skip",
                )
            )
