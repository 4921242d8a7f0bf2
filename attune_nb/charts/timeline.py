"""Lifecycle timelines: a Gantt of status intervals, one row per execution.

Waiting (requested, scheduling, scheduled) and running are told apart by colour;
a retry gets its own row, linked to its original; a workflow's tasks sit under
their parent. Few traces (one per status), numbers for times, and past a
threshold a WebGL rendering, so 10,000 executions stay usable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import attune_nb.charts._layout as L
from attune_nb.frames import INTERVAL_COLUMNS, STATUS_DTYPE
from attune_nb.lifecycle import TERMINAL

__all__ = ["LIGHT_THRESHOLD", "critical_path", "lifecycle_timeline"]

LIGHT_THRESHOLD = 300
"""Past this many executions a timeline switches to its light (WebGL) rendering."""
HOVER_LIMIT = 20_000
"""Past this many executions the light rendering drops hover text (it is most of the JSON)."""

_NAT = np.iinfo(np.int64).min
_NS_PER_MS = 1_000_000
_TERMINAL_CODES = np.array(
    sorted(
        i for i, name in enumerate(STATUS_DTYPE.categories) if name in {s.value for s in TERMINAL}
    )
)
_LEVEL = "\u00b7 "  # one per level below the root: "· · 12 core.echo"
_RETRY = "\u21bb "  # ↻
_ORDERS = ("hierarchy", "start")
_PATH_COLUMNS = ("step", "id", "action_ref", "created", "running", "ended")


@dataclass
class _Segments:
    """The intervals as arrays, one entry per interval, plus one entry per execution."""

    row: np.ndarray  # row of each interval's execution
    code: np.ndarray  # status code (lifecycle position)
    start_ms: np.ndarray
    end_ms: np.ndarray
    # per execution, by row
    ids: np.ndarray
    actions: np.ndarray
    labels: list[str]
    first_ms: np.ndarray
    last_ms: np.ndarray
    retry_of: dict[int, int]  # row of a retry -> row of its original


def lifecycle_timeline(
    intervals: pd.DataFrame,
    *,
    order: str = "hierarchy",
    descendants: pd.DataFrame | None = None,
    executions: pd.DataFrame | None = None,
    now: Any = None,
    title: str | None = None,
    light_threshold: int = LIGHT_THRESHOLD,
    height: int | None = None,
) -> go.Figure:
    """A Gantt of ``executions.intervals(...)``: one row per execution, a bar per status.

    ``order="hierarchy"`` puts a workflow's tasks under their parent (indented)
    when ``descendants`` (``db.executions.descendants(root)``) or ``executions``
    (an execution frame) says who the parents are, else it is start order, which
    ``order="start"`` asks for outright. Either frame also links each retry
    (``original_execution``) to its original: the retry gets its own row, marked
    ``↻``, right after the original, and a dotted line joins them. A status the
    execution is still in runs until ``now`` (default: the latest time in the
    frame). Past ``light_threshold`` executions the figure is drawn with WebGL
    line segments, without row labels (and past 20,000 without hover text); the
    title says so.
    """
    frame = L.require_frame(
        intervals, "intervals", L.names(INTERVAL_COLUMNS), "executions.intervals(...)"
    )
    L.require_choice("order", order, _ORDERS)
    light_threshold = L.require_count("light_threshold", light_threshold)
    relations = _relations(descendants, executions)
    seg = _segments(frame, order=order, relations=relations, now=now)
    n = len(seg.ids)
    light = n > light_threshold
    what = f"{n:,} execution" + ("" if n == 1 else "s")
    name = title if title is not None else f"Lifecycle timeline: {what}" + L.window_text(frame)
    if light:
        hover = n <= HOVER_LIMIT
        name += f" · light rendering (WebGL, past {light_threshold:,} executions; row labels" + (
            " off)" if hover else " and hover off)"
        )
    fig = go.Figure()
    if n:
        if light:
            _light_traces(fig, seg, hover=n <= HOVER_LIMIT)
        else:
            _full_traces(fig, seg)
    _layout(fig, seg, title=name, light=light, order=order, height=height)
    return fig


def critical_path(
    path: pd.DataFrame,
    intervals: pd.DataFrame | None = None,
    *,
    descendants: pd.DataFrame | None = None,
    title: str | None = None,
    now: Any = None,
) -> go.Figure:
    """The critical chain of a workflow (``analysis.critical_path(...)``) as a timeline.

    With ``intervals`` (the workflow's ``executions.intervals(...)``) every execution
    is drawn status by status and the chain's rows are highlighted (bold, ``★``, the
    others faded); ``descendants`` puts the rows in hierarchy order. Without it the
    chain alone is drawn from ``path``: queue wait then run time, per step.
    """
    frame = L.require_frame(path, "path", _PATH_COLUMNS, "analysis.critical_path(...)")
    chain = [int(i) for i in frame.sort_values("step")["id"]]
    if intervals is None:
        return _chain_only(frame, title=title)
    L.require_frame(intervals, "intervals", L.names(INTERVAL_COLUMNS), "executions.intervals(...)")
    relations = _relations(descendants, None)
    seg = _segments(intervals, order="hierarchy", relations=relations, now=now)
    on_path = np.isin(seg.ids, chain)
    seg.labels = [
        f"<b>\u2605 {label}</b>" if hit else label
        for label, hit in zip(seg.labels, on_path, strict=True)
    ]
    root = chain[0] if chain else None
    name = title or f"Critical path of workflow {root}: {len(chain)} steps"
    fig = go.Figure()
    if len(seg.ids):
        _full_traces(fig, seg, emphasis=on_path)
    _layout(fig, seg, title=name, light=False, order="hierarchy", height=None)
    return fig


# -- rows -----------------------------------------------------------------------------------


def _relations(descendants: pd.DataFrame | None, executions: pd.DataFrame | None) -> pd.DataFrame:
    """id, parent, original_execution (NA when unknown) from whichever frame was given."""
    source = descendants if descendants is not None else executions
    if source is None:
        return pd.DataFrame({"id": [], "parent": [], "original_execution": []}, dtype="Int64")
    label = "descendants" if descendants is not None else "executions"
    L.require_frame(source, label, ("id", "parent"), "an execution or descendants frame")
    out = pd.DataFrame(
        {
            "id": source["id"].astype("Int64"),
            "parent": source["parent"].astype("Int64"),
            "original_execution": (
                source["original_execution"].astype("Int64")
                if "original_execution" in source
                else pd.array([pd.NA] * len(source), dtype="Int64")
            ),
        }
    )
    return out.dropna(subset=["id"]).drop_duplicates("id")


def _segments(frame: pd.DataFrame, *, order: str, relations: pd.DataFrame, now: Any) -> _Segments:
    ids = frame["execution_id"].to_numpy(dtype=np.int64, na_value=-1)
    codes = pd.Categorical(frame["status"], dtype=STATUS_DTYPE).codes.astype(np.int64)
    entered = L.nanoseconds(frame["entered"])
    left = L.nanoseconds(frame["left"])
    valid = (ids >= 0) & (codes >= 0) & (entered != _NAT)
    ids, codes, entered, left = ids[valid], codes[valid], entered[valid], left[valid]
    actions_all = frame["action_ref"].astype("string").fillna("").to_numpy(dtype=object)[valid]
    seqs = frame["seq"].to_numpy(dtype=np.int64, na_value=0)[valid]

    if now is None:
        now_ns = int(max(entered.max(initial=0), left.max(initial=0)))
    else:
        now_ns = int(L.nanoseconds(pd.Series([pd.Timestamp(now)]))[0])
    is_open = left == _NAT
    terminal = np.isin(codes, _TERMINAL_CODES)
    end = np.where(is_open, np.where(terminal, entered, np.maximum(entered, now_ns)), left)

    key, uniq = pd.factorize(ids)
    count = len(uniq)
    first = np.full(count, np.iinfo(np.int64).max)
    np.minimum.at(first, key, entered)
    last = np.full(count, np.iinfo(np.int64).min)
    np.maximum.at(last, key, end)
    # the action of each execution: that of its first interval
    by_seq = np.lexsort((seqs, key))
    head = by_seq[np.r_[True, key[by_seq][1:] != key[by_seq][:-1]]] if count else by_seq
    action = np.empty(count, dtype=object)
    action[key[head]] = actions_all[head]

    rows_order, depth, retry_of = _order(np.asarray(uniq), first, order, relations)
    row_of_key = np.empty(count, dtype=np.int64)
    row_of_key[rows_order] = np.arange(count)
    ordered_ids = np.asarray(uniq)[rows_order]
    ordered_actions = action[rows_order]
    # Tick labels are right-aligned (padding is lost): a dot per level marks the depth.
    labels = [
        _LEVEL * d + (_RETRY if k in retry_of else "") + f"{i} {a}"
        for i, a, d, k in zip(ordered_ids, ordered_actions, depth, rows_order, strict=True)
    ]
    return _Segments(
        row=row_of_key[key],
        code=codes,
        start_ms=entered / _NS_PER_MS,
        end_ms=end / _NS_PER_MS,
        ids=ordered_ids,
        actions=ordered_actions,
        labels=labels,
        first_ms=first[rows_order] / _NS_PER_MS,
        last_ms=last[rows_order] / _NS_PER_MS,
        retry_of={int(row_of_key[r]): int(row_of_key[o]) for r, o in retry_of.items()},
    )


def _order(
    ids: np.ndarray, first: np.ndarray, order: str, relations: pd.DataFrame
) -> tuple[np.ndarray, list[int], dict[int, int]]:
    """The keys (positions in ``ids``) in row order, each row's depth, and retry links
    (key of a retry -> key of its original)."""
    by_start = np.lexsort((ids, first))
    position = {int(i): k for k, i in enumerate(ids)}
    parent: dict[int, int] = {}
    original: dict[int, int] = {}
    if len(relations):
        rel = relations[relations["id"].isin(position)]
        for i, p, o in zip(
            rel["id"].to_numpy(dtype=np.int64),
            rel["parent"].to_numpy(dtype=np.int64, na_value=-1),
            rel["original_execution"].to_numpy(dtype=np.int64, na_value=-1),
            strict=True,
        ):
            k = position[int(i)]
            if p in position and p != i:
                parent[k] = position[int(p)]
            if o in position and o != i:
                original[k] = position[int(o)]
    if order == "start" or not parent:
        return by_start, [0] * len(ids), original

    def chain_root(k: int) -> int:
        seen = {k}
        while k in original and original[k] not in seen:
            k = original[k]
            seen.add(k)
        return k

    rank = np.empty(len(ids), dtype=np.int64)
    rank[by_start] = np.arange(len(ids))
    # siblings: a retry chain stays together, after its first attempt
    key = {k: (int(rank[chain_root(k)]), int(rank[k])) for k in range(len(ids))}
    children: dict[int, list[int]] = {}
    roots: list[int] = []
    for k in by_start.tolist():
        if k in parent and not _loops(k, parent):
            children.setdefault(parent[k], []).append(k)
        else:
            roots.append(k)
    out: list[int] = []
    depth: list[int] = []
    stack = [(k, 0) for k in sorted(roots, key=key.__getitem__, reverse=True)]
    while stack:
        k, d = stack.pop()
        out.append(k)
        depth.append(d)
        below = sorted(children.get(k, ()), key=key.__getitem__, reverse=True)
        stack.extend((c, d + 1) for c in below)
    return np.asarray(out, dtype=np.int64), depth, original


def _loops(k: int, parent: dict[int, int]) -> bool:
    seen = {k}
    while k in parent:
        k = parent[k]
        if k in seen:
            return True
        seen.add(k)
    return False


# -- traces ---------------------------------------------------------------------------------


def _timestamps(ms: np.ndarray) -> np.ndarray:
    stamps = (ms * _NS_PER_MS).astype("int64").astype("datetime64[ns]")
    return np.datetime_as_string(stamps, unit="ms")


def _full_traces(fig: go.Figure, seg: _Segments, *, emphasis: np.ndarray | None = None) -> None:
    statuses = L.STATUSES
    seconds = (seg.end_ms - seg.start_ms) / 1000.0
    entered = _timestamps(seg.start_ms)
    template = (
        "<b>%{customdata[0]}</b> %{customdata[1]}<br>status: %{fullData.name}"
        "<br>entered: %{customdata[2]} UTC<br>duration: %{customdata[3]}<extra></extra>"
    )
    for code in np.unique(seg.code):
        status = statuses[int(code)]
        pick = np.flatnonzero(seg.code == code)
        bars = pick[seconds[pick] > 0]
        points = pick[seconds[pick] <= 0]
        rows_bars = seg.row[bars]
        custom = np.empty((len(bars), 4), dtype=object)
        custom[:, 0] = seg.ids[rows_bars]
        custom[:, 1] = seg.actions[rows_bars]
        custom[:, 2] = entered[bars]
        custom[:, 3] = [L.format_duration(s) for s in seconds[bars]]
        opacity = None if emphasis is None else np.where(emphasis[rows_bars], 1.0, 0.55)
        if len(bars):
            fig.add_trace(
                go.Bar(
                    orientation="h",
                    name=status,
                    legendgroup=status,
                    legendrank=L.legend_rank(status),
                    y=rows_bars,
                    x=seconds[bars] * 1000.0,
                    base=seg.start_ms[bars],
                    width=0.72,
                    marker={"color": L.colour(status), "opacity": opacity, "line": {"width": 0}},
                    customdata=custom,
                    hovertemplate=template,
                )
            )
        if len(points):
            rows_points = seg.row[points]
            custom = np.empty((len(points), 4), dtype=object)
            custom[:, 0] = seg.ids[rows_points]
            custom[:, 1] = seg.actions[rows_points]
            custom[:, 2] = entered[points]
            custom[:, 3] = "terminal"
            fig.add_trace(
                go.Scatter(
                    mode="markers",
                    name=status,
                    legendgroup=status,
                    legendrank=L.legend_rank(status),
                    showlegend=not len(bars),
                    x=seg.start_ms[points],
                    y=rows_points,
                    marker={
                        "color": L.colour(status),
                        "symbol": "diamond",
                        "size": 9,
                        "line": {"width": 0},
                        "opacity": (
                            None if emphasis is None else np.where(emphasis[rows_points], 1.0, 0.55)
                        ),
                    },
                    customdata=custom,
                    hovertemplate=template,
                )
            )
    _retry_links(fig, seg, gl=False)


def _light_traces(fig: go.Figure, seg: _Segments, *, hover: bool) -> None:
    statuses = L.STATUSES
    n = len(seg.ids)
    width = float(np.clip(700 / max(n, 1), 1.0, 4.0))
    seconds = (seg.end_ms - seg.start_ms) / 1000.0
    for code in np.unique(seg.code):
        status = statuses[int(code)]
        pick = np.flatnonzero(seg.code == code)
        common: dict[str, Any] = {
            "name": status,
            "legendgroup": status,
            "legendrank": L.legend_rank(status),
        }
        rows = seg.row[pick]
        text: Any = None
        if hover:
            text = [
                f"<b>{i}</b> {a}<br>{status}: {L.format_duration(s)}"
                for i, a, s in zip(seg.ids[rows], seg.actions[rows], seconds[pick], strict=True)
            ]
        if int(code) in _TERMINAL_CODES:
            fig.add_trace(
                go.Scattergl(
                    mode="markers",
                    x=seg.start_ms[pick],
                    y=rows.astype(np.float32),
                    marker={"color": L.colour(status), "size": 3, "line": {"width": 0}},
                    hovertext=text,
                    hoverinfo="text" if hover else "skip",
                    **common,
                )
            )
            continue
        # one polyline per status: start, end, gap, start, end, gap ...
        x = np.empty(3 * len(pick))
        x[0::3], x[1::3], x[2::3] = seg.start_ms[pick], seg.end_ms[pick], np.nan
        y = np.empty(3 * len(pick), dtype=np.float32)
        y[0::3] = y[1::3] = rows
        y[2::3] = np.nan
        hovertext: Any = None
        if text is not None:
            hovertext = np.empty(3 * len(pick), dtype=object)
            hovertext[0::3] = text
        fig.add_trace(
            go.Scattergl(
                mode="lines",
                x=x,
                y=y,
                line={"color": L.colour(status), "width": width},
                connectgaps=False,
                hovertext=hovertext,
                hoverinfo="text" if hover else "skip",
                **common,
            )
        )
    _retry_links(fig, seg, gl=True)


def _retry_links(fig: go.Figure, seg: _Segments, *, gl: bool) -> None:
    if not seg.retry_of:
        return
    retries = np.fromiter(seg.retry_of.keys(), dtype=np.int64)
    originals = np.fromiter(seg.retry_of.values(), dtype=np.int64)
    x = np.empty(3 * len(retries))
    x[0::3], x[1::3], x[2::3] = seg.last_ms[originals], seg.first_ms[retries], np.nan
    y = np.empty(3 * len(retries))
    y[0::3], y[1::3], y[2::3] = originals, retries, np.nan
    trace = go.Scattergl if gl else go.Scatter
    fig.add_trace(
        trace(
            mode="lines",
            name="retry of",
            legendrank=L.legend_rank("abandoned") + 10,
            x=x,
            y=y,
            line={"color": L.TEXT, "width": 1, "dash": "dot"},
            hoverinfo="skip",
        )
    )


def _layout(
    fig: go.Figure, seg: _Segments, *, title: str, light: bool, order: str, height: int | None
) -> None:
    n = len(seg.ids)
    if height is None:
        height = 700 if light else int(min(max(140 + 22 * n, 300), 120 + 22 * 300))
    L.theme(fig, title=title, x_title="time (UTC)", height=height)
    fig.update_layout(barmode="overlay", bargap=0.2, hovermode="closest")
    fig.update_xaxes(type="date")
    y: dict[str, Any] = {"autorange": "reversed", "showgrid": False, "zeroline": False}
    if light:
        y.update(showticklabels=False, title={"text": f"executions ({order} order), one per row"})
    else:
        y.update(
            tickmode="array",
            tickvals=list(range(n)),
            ticktext=seg.labels,
            title={"text": None},
        )
    fig.update_yaxes(**y)


def _chain_only(frame: pd.DataFrame, *, title: str | None) -> go.Figure:
    ordered = frame.sort_values("step")
    created = L.nanoseconds(ordered["created"]) / _NS_PER_MS
    running = L.nanoseconds(ordered["running"]) / _NS_PER_MS
    ended = L.nanoseconds(ordered["ended"]) / _NS_PER_MS
    nat = _NAT / _NS_PER_MS
    ids = ordered["id"].to_numpy(dtype=np.int64)
    actions = ordered["action_ref"].astype("string").fillna("").to_numpy(dtype=object)
    tasks = (
        ordered["task_name"].astype("string").fillna("").to_numpy(dtype=object)
        if "task_name" in ordered
        else np.full(len(ordered), "", dtype=object)
    )
    labels = [
        f"{s}. {i} {a}" + (f" ({t})" if t else "")
        for s, i, a, t in zip(ordered["step"], ids, actions, tasks, strict=True)
    ]
    rows = np.arange(len(ordered))
    fig = go.Figure()
    template = (
        "<b>%{customdata[0]}</b> %{customdata[1]}<br>%{fullData.name}: "
        "%{customdata[2]}<extra></extra>"
    )
    parts = (
        ("queue wait", created, running, L.WAIT_COLOUR, "scheduled"),
        ("run time", running, ended, L.RUN_COLOUR, "running"),
    )
    for name, lo, hi, tint, status in parts:
        ok = (lo != nat) & (hi != nat) & (hi >= lo)
        seconds = (hi[ok] - lo[ok]) / 1000.0
        custom = np.empty((int(ok.sum()), 3), dtype=object)
        custom[:, 0] = ids[ok]
        custom[:, 1] = actions[ok]
        custom[:, 2] = [L.format_duration(s) for s in seconds]
        fig.add_trace(
            go.Bar(
                orientation="h",
                name=name,
                legendrank=L.legend_rank(status),
                y=rows[ok],
                x=seconds * 1000.0,
                base=lo[ok],
                width=0.72,
                marker={"color": tint, "line": {"width": 0}},
                customdata=custom,
                hovertemplate=template,
            )
        )
    root = int(ids[0]) if len(ids) else None
    L.theme(
        fig,
        title=title or f"Critical path of workflow {root}: {len(ids)} steps",
        x_title="time (UTC)",
        legend_title=None,
        height=max(300, 140 + 28 * len(ids)),
    )
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(type="date")
    fig.update_yaxes(
        autorange="reversed",
        tickmode="array",
        tickvals=list(range(len(ids))),
        ticktext=labels,
        showgrid=False,
        title={"text": "step"},
    )
    return fig
