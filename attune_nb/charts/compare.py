"""Charts that compare: retry chains per action (recovered or still failing), and two
time windows per action (failure rate and p95 run time, what got worse first)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import attune_nb.charts._layout as L

__all__ = ["retry_chains", "window_comparison"]

_CHAIN_COLUMNS = ("chain", "action_ref", "attempts", "final_status", "recovered", "still_failed")
_COMPARE_COLUMNS = (
    "action_ref",
    "count_a",
    "count_b",
    "failure_rate_a",
    "failure_rate_b",
    "run_time_p95_a",
    "run_time_p95_b",
)


def retry_chains(chains: pd.DataFrame, *, top: int = 20, title: str | None = None) -> go.Figure:
    """Retried chains per action (``analysis.retry_chains(...)``): recovered by a later
    attempt, still failed after every retry, or neither yet; one stacked bar per action.

    Chains of a single attempt are left out (nothing was retried).
    """
    frame = L.require_frame(chains, "chains", _CHAIN_COLUMNS, "analysis.retry_chains(...)")
    top = L.require_count("top", top, minimum=1)
    retried = frame[frame["attempts"].to_numpy(dtype=np.int64, na_value=1) > 1]
    outcome = np.where(
        retried["recovered"].to_numpy(dtype=bool),
        "recovered",
        np.where(retried["still_failed"].to_numpy(dtype=bool), "still failed", "other"),
    )
    data = pd.DataFrame(
        {
            "action_ref": retried["action_ref"].astype(str).to_numpy(),
            "outcome": outcome,
            "attempts": retried["attempts"].to_numpy(dtype=np.int64),
        }
    )
    table = data.pivot_table(
        index="action_ref", columns="outcome", values="attempts", aggfunc="size", fill_value=0
    )
    for name in ("recovered", "still failed", "other"):
        if name not in table:
            table[name] = 0
    attempts = data.groupby("action_ref")["attempts"].mean()
    table["total"] = table[["recovered", "still failed", "other"]].sum(axis=1)
    table = table.nlargest(top, "total").sort_values(["total", "still failed"])
    fig = go.Figure()
    parts = (
        ("recovered", L.OK_COLOUR, "recovered by a later attempt"),
        ("still failed", L.FAIL_COLOUR, "still failed after every retry"),
        ("other", L.colour("cancelled"), "neither (cancelled, or still running)"),
    )
    for column, tint, name in parts:
        counts = table[column].to_numpy(dtype=np.int64)
        if not counts.any():
            continue
        fig.add_trace(
            go.Bar(
                orientation="h",
                y=table.index.tolist(),
                x=counts,
                name=name,
                marker={"color": tint, "line": {"width": 0}},
                customdata=attempts.reindex(table.index).to_numpy(),
                hovertemplate=f"%{{y}}<br>{name}: %{{x}} chains"
                "<br>mean attempts: %{customdata:.1f}<extra></extra>",
            )
        )
    total = int(table["total"].sum())
    still = int(table["still failed"].sum())
    L.theme(
        fig,
        title=title or f"Retry chains per action: {total:,} retried, {still:,} still failed",
        x_title="retried chains (count)",
        y_title=None,
        legend_title=None,
        height=max(300, 140 + 26 * len(table)),
    )
    fig.update_layout(barmode="stack")
    return L.nothing_to_show(fig, "retried executions") if table.empty else fig


def window_comparison(
    comparison: pd.DataFrame, *, top: int = 15, title: str | None = None
) -> go.Figure:
    """Window A against window B per action (``analysis.compare_windows(...)``).

    Left: failure rate, right: p95 run time; a hollow mark for A, a filled one for B
    (red when worse, green when better), joined by a line. The frame's order (worst
    first) is kept, top to bottom.
    """
    frame = L.require_frame(
        comparison, "comparison", _COMPARE_COLUMNS, "analysis.compare_windows(...)"
    )
    top = L.require_count("top", top, minimum=1)
    data = frame.head(top)
    actions = data["action_ref"].astype(str).tolist()
    windows = frame.attrs.get("windows")
    label_a, label_b = ("A", "B") if not windows else (f"A: {windows[0]}", f"B: {windows[1]}")
    fail_a = data["failure_rate_a"].to_numpy(dtype=float, na_value=np.nan)
    fail_b = data["failure_rate_b"].to_numpy(dtype=float, na_value=np.nan)
    p95_a = L.delta_seconds(data["run_time_p95_a"])
    p95_b = L.delta_seconds(data["run_time_p95_b"])
    unit, per = L.duration_unit([*p95_a.tolist(), *p95_b.tolist()])
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=("failure rate", f"p95 run time ({unit})"),
    )
    counts = np.column_stack(
        [
            data["count_a"].to_numpy(dtype=float, na_value=np.nan),
            data["count_b"].to_numpy(dtype=float, na_value=np.nan),
        ]
    )
    panels = ((1, fail_a, fail_b, "%{x:.1%}"), (2, p95_a / per, p95_b / per, f"%{{x:.3g}} {unit}"))
    for col, a, b, fmt in panels:
        worse = np.where(
            np.isnan(a) | np.isnan(b), L.TEXT, np.where(b > a, L.FAIL_COLOUR, L.OK_COLOUR)
        )
        fig.add_trace(
            go.Scatter(
                x=np.ravel(np.column_stack([a, b, np.full(len(a), np.nan)])),
                y=[v for action in actions for v in (action, action, None)],
                mode="lines",
                line={"color": L.GRID, "width": 3},
                showlegend=False,
                hoverinfo="skip",
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=a,
                y=actions,
                mode="markers",
                name=label_a,
                legendgroup="a",
                showlegend=col == 1,
                marker={"symbol": "circle-open", "size": 10, "color": L.TEXT, "line": {"width": 2}},
                customdata=counts[:, 0],
                hovertemplate=f"%{{y}}<br>{label_a}: {fmt}<br>executions: %{{customdata:,}}"
                "<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=b,
                y=actions,
                mode="markers",
                name=label_b,
                legendgroup="b",
                showlegend=col == 1,
                marker={"symbol": "circle", "size": 10, "color": worse.tolist()},
                customdata=counts[:, 1],
                hovertemplate=f"%{{y}}<br>{label_b}: {fmt}<br>executions: %{{customdata:,}}"
                "<extra></extra>",
            ),
            row=1,
            col=col,
        )
    L.theme(
        fig,
        title=title or "What changed between two windows, worst first",
        legend_title=None,
        height=max(320, 150 + 28 * len(actions)),
    )
    fig.update_xaxes(tickformat=".0%", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(row=1, col=2, rangemode="tozero")
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_annotations(font={"color": L.TEXT, "size": 13})
    fig.update_layout(legend={"orientation": "h", "y": -0.12, "x": 0})
    return L.nothing_to_show(fig) if data.empty else fig
