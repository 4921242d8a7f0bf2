"""Charts of execution history: status mix over time, durations per action, an outcome
calendar, and concurrency; each takes a frame of a documented analysis layout."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import attune_nb.charts._layout as L
from attune_nb.frames import STATUS_DTYPE

__all__ = ["concurrency", "duration_distribution", "outcome_calendar", "status_over_time"]

_OF = ("run_time", "queue_wait")
_OF_NAME = {"run_time": "run time", "queue_wait": "queue wait"}
_QUANTILES = ("p50", "p90", "p95", "p99")


def status_over_time(throughput: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Stacked bars of executions per bucket and status (``analysis.throughput(...)``)."""
    frame = L.require_frame(throughput, "throughput", ("bucket",), "analysis.throughput(...)")
    statuses = [s for s in L.STATUSES if s in frame.columns]
    per = _bucket_name(frame["bucket"])
    fig = go.Figure()
    for status in statuses:
        counts = frame[status].to_numpy(dtype=np.int64, na_value=0)
        if not counts.any():
            continue
        fig.add_trace(
            go.Bar(
                x=frame["bucket"],
                y=counts,
                name=status,
                legendrank=L.legend_rank(status),
                marker={"color": L.colour(status), "line": {"width": 0}},
                hovertemplate=f"%{{x}}<br>{status}: %{{y:,}}<extra></extra>",
            )
        )
    total = int(frame["total"].sum()) if "total" in frame else int(frame[statuses].sum().sum())
    L.theme(
        fig,
        title=title or f"Executions per {per} by status: {total:,} in all" + L.window_text(frame),
        x_title=f"{per} (UTC, bucket start)",
        y_title=f"executions per {per}",
    )
    fig.update_layout(barmode="stack", bargap=0.1)
    return fig if fig.data else L.nothing_to_show(fig)


def duration_distribution(
    frame: pd.DataFrame,
    *,
    of: str = "run_time",
    top: int = 20,
    log: bool = True,
    title: str | None = None,
) -> go.Figure:
    """Durations per action: a box (p25 to p75, whiskers p5 to p99) with p50 and p95 marks.

    ``frame`` is an execution frame (``action_ref`` and the ``of`` column:
    ``run_time`` or ``queue_wait``), or a durations summary
    (``analysis.durations(...)``), which draws the p50/p90/p95/p99 marks and max
    without a box. Percentiles are pandas' linear ones (PostgreSQL's
    ``percentile_cont``). The ``top`` actions by count are shown, slowest p95 first.
    """
    L.require_choice("of", of, _OF)
    top = L.require_count("top", top, minimum=1)
    summary = f"{of}_p50" in getattr(frame, "columns", ())
    data = L.require_frame(
        frame,
        "frame",
        ("action_ref", f"{of}_p50") if summary else ("action_ref", of),
        "an execution frame or analysis.durations(...)",
    )
    stats = _summary_stats(data, of) if summary else _execution_stats(data, of)
    stats = stats.nlargest(top, "count").sort_values("p95", ascending=True)
    unit, per = ("s", 1.0) if log else L.duration_unit(stats["max"].tolist())
    fig = go.Figure()
    actions = stats["action_ref"].tolist()
    if not summary and len(stats):
        fig.add_trace(
            go.Box(
                y=actions,
                q1=stats["p25"] / per,
                median=stats["p50"] / per,
                q3=stats["p75"] / per,
                lowerfence=stats["p5"] / per,
                upperfence=stats["p99"] / per,
                orientation="h",
                name="p25 to p75 (whiskers p5 to p99)",
                marker={"color": L.RUN_COLOUR},
                line={"color": L.RUN_COLOUR},
                fillcolor="rgba(37, 99, 235, 0.25)",
                hoverinfo="skip",
            )
        )
    marks: tuple[tuple[str, str, str, int], ...] = (
        ("p50", "line-ns", L.OK_COLOUR, 16),
        ("p95", "diamond", L.FAIL_COLOUR, 9),
    )
    if summary:
        marks = (
            ("p50", "line-ns", L.OK_COLOUR, 16),
            ("p90", "circle", L.colour("timeout"), 7),
            ("p95", "diamond", L.FAIL_COLOUR, 9),
            ("p99", "x", L.colour("abandoned"), 8),
        )
        fig.add_trace(
            go.Scatter(
                x=np.ravel(
                    np.column_stack([stats["p50"], stats["max"], np.full(len(stats), np.nan)])
                )
                / per,
                y=[v for action in actions for v in (action, action, None)],
                mode="lines",
                name="p50 to max",
                line={"color": L.GRID, "width": 6},
                hoverinfo="skip",
            )
        )
    for name, symbol, tint, size in marks:
        fig.add_trace(
            go.Scatter(
                x=stats[name] / per,
                y=actions,
                mode="markers",
                name=name,
                marker={
                    "symbol": symbol,
                    "color": tint,
                    "size": size,
                    "line": {"width": 2, "color": tint},
                },
                customdata=np.column_stack(
                    [stats["count"], [L.format_duration(s) for s in stats[name]]]
                ),
                hovertemplate=f"%{{y}}<br>{name}: %{{customdata[1]}}"
                "<br>executions: %{customdata[0]:,}<extra></extra>",
            )
        )
    L.theme(
        fig,
        title=title or f"{_OF_NAME[of].capitalize()} per action: p50 and p95" + L.window_text(data),
        x_title=f"{_OF_NAME[of]} ({unit}{', log scale' if log else ''})",
        y_title=None,
        legend_title=None,
        height=max(320, 120 + 28 * len(stats)),
    )
    if stats.empty:
        return L.nothing_to_show(fig, f"executions with a {_OF_NAME[of]}")
    if log:
        fig.update_xaxes(type="log")
    fig.update_layout(showlegend=True)
    return fig


def _execution_stats(frame: pd.DataFrame, of: str) -> pd.DataFrame:
    seconds = pd.Series(L.delta_seconds(frame[of]), index=frame.index)
    data = pd.DataFrame({"action_ref": frame["action_ref"].astype(str), "s": seconds}).dropna()
    if data.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=float) for c in ("p5", "p25", "p50", "p75", "p95", "p99", "max")}
            | {"action_ref": pd.Series(dtype=object), "count": pd.Series(dtype=np.int64)}
        )
    grouped = data.groupby("action_ref", sort=True)["s"]
    stats = grouped.quantile(np.array([0.05, 0.25, 0.5, 0.75, 0.95, 0.99])).unstack()
    stats.columns = ["p5", "p25", "p50", "p75", "p95", "p99"]
    stats["max"] = grouped.max()
    stats["count"] = grouped.size()
    return stats.reset_index()


def _summary_stats(frame: pd.DataFrame, of: str) -> pd.DataFrame:
    out = pd.DataFrame({"action_ref": frame["action_ref"].astype(str)})
    for q in (*_QUANTILES, "max"):
        out[q] = L.delta_seconds(frame[f"{of}_{q}"])
    out["count"] = frame["count"].to_numpy(dtype=np.int64) if "count" in frame else 0
    return out.dropna(subset=["p50"]).reset_index(drop=True)


def outcome_calendar(
    executions: pd.DataFrame, *, top: int = 25, title: str | None = None
) -> go.Figure:
    """Actions by UTC day: the share that failed ((failed + timeout) / (completed + failed +
    timeout)), green for none to red for all; empty where nothing finished.

    ``executions`` is an execution frame (``action_ref``, ``status``, ``created``); the
    ``top`` actions by count are shown. The hover gives the counts.
    """
    frame = L.require_frame(
        executions, "executions", ("action_ref", "status", "created"), "an execution frame"
    )
    top = L.require_count("top", top, minimum=1)
    status = pd.Categorical(frame["status"], dtype=STATUS_DTYPE).astype(str)
    day = frame["created"].dt.tz_convert("UTC").dt.floor("D")
    data = pd.DataFrame({"action_ref": frame["action_ref"].astype(str), "day": day, "s": status})
    if data.empty:
        fig = L.theme(
            go.Figure(),
            title=title or "Outcomes per action and day: failed share of finished executions",
            legend_title=None,
            height=320,
        )
        return L.nothing_to_show(fig)
    counts = data.groupby(["action_ref", "day"])["s"].value_counts().unstack(fill_value=0)
    for s in ("completed", "failed", "timeout"):
        if s not in counts:
            counts[s] = 0
    ok, bad = counts["completed"], counts["failed"] + counts["timeout"]
    rate = (bad / (ok + bad)).where(ok + bad > 0)
    actions = data["action_ref"].value_counts().nlargest(top).index.sort_values(ascending=False)
    days = sorted(data["day"].unique())
    z = rate.unstack("day").reindex(index=actions, columns=days)
    ok_grid = ok.unstack("day", fill_value=0).reindex(index=actions, columns=days, fill_value=0)
    bad_grid = bad.unstack("day", fill_value=0).reindex(index=actions, columns=days, fill_value=0)
    custom = np.dstack([ok_grid.to_numpy(), bad_grid.to_numpy()])
    fig = go.Figure(
        go.Heatmap(
            x=[pd.Timestamp(d).strftime("%Y-%m-%d") for d in days],
            y=list(actions),
            z=z.to_numpy(dtype=float),
            zmin=0,
            zmax=1,
            colorscale=[(0.0, L.OK_COLOUR), (0.15, "#facc15"), (1.0, L.FAIL_COLOUR)],
            colorbar={"title": {"text": "failed share"}, "tickformat": ".0%"},
            customdata=custom,
            xgap=2,
            ygap=2,
            hovertemplate="%{y} on %{x}<br>failed share: %{z:.0%}"
            "<br>completed: %{customdata[0]}, failed or timed out: %{customdata[1]}"
            "<extra></extra>",
        )
    )
    L.theme(
        fig,
        title=title or "Outcomes per action and day: failed share of finished executions",
        x_title="day (UTC)",
        y_title=None,
        legend_title=None,
        height=max(320, 140 + 24 * len(actions)),
    )
    fig.update_xaxes(type="category", showgrid=False)
    fig.update_yaxes(showgrid=False)
    return fig


def concurrency(frame: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Executions in each active status over time, stacked steps (``analysis.concurrency``).

    Each row's counts hold until the next row's ``time``; the last row holds until the
    window's end when the frame states its window. A frame of bucket peaks
    (``concurrency(..., freq="minute")``) says so in its title and axis; its stack is
    then an upper bound, as the statuses need not peak at the same instant.
    """
    data = L.require_frame(frame, "frame", ("time",), "analysis.concurrency(...)")
    statuses = [s for s in L.STATUSES if s in data.columns]
    times: list[Any] = list(data["time"])
    until: Any = getattr(data.attrs.get("window"), "until", None)
    extend = bool(until is not None and times and pd.Timestamp(until) > times[-1])
    if extend:
        times.append(pd.Timestamp(until))
    fig = go.Figure()
    for status in statuses:
        counts = data[status].to_numpy(dtype=np.int64, na_value=0)
        if extend:
            counts = np.append(counts, counts[-1])
        fig.add_trace(
            go.Scatter(
                x=times,
                y=counts,
                name=status,
                legendrank=L.legend_rank(status),
                mode="lines",
                line={"shape": "hv", "width": 0.5, "color": L.colour(status)},
                fillcolor=L.colour(status),
                stackgroup="active",
                hovertemplate=f"%{{x}}<br>{status}: %{{y:,}}<extra></extra>",
            )
        )
    freq = data.attrs.get("freq")
    what = f"each {freq}'s peak of executions" if freq else "executions"
    L.theme(
        fig,
        title=title or f"Concurrency: {what} in each active status" + L.window_text(data),
        x_title="time (UTC)",
        y_title=f"peak executions at once (each {freq})" if freq else "executions at once",
    )
    fig.update_layout(hovermode="x unified")
    return fig


def _bucket_name(buckets: pd.Series) -> str:
    if len(buckets) < 2:
        return "bucket"
    step = float(np.median(np.diff(np.sort(L.nanoseconds(buckets))))) / 1e9
    if step >= 86_400:
        return "day"
    if step >= 3_600:
        return "hour"
    return "bucket"
