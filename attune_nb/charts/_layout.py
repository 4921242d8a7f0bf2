"""The shared look of every chart: one theme, the status colours, input checks.

Backgrounds are transparent and text and grid a mid grey, so a figure reads on
JupyterLab's light and dark themes alike; status traces carry a legend rank in
lifecycle order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from attune_nb.errors import InvalidFilter
from attune_nb.frames import Column
from attune_nb.lifecycle import ExecutionStatus
from attune_nb.style import STATUS_COLOURS

TEXT = "#8a8f98"  # mid grey: legible on white and on JupyterLab's dark background
GRID = "rgba(138, 143, 152, 0.25)"
FONT = "Inter, 'Segoe UI', 'Helvetica Neue', Arial, sans-serif"
STATUSES: tuple[str, ...] = tuple(s.value for s in ExecutionStatus)
"""The ten statuses in lifecycle order (legends follow it)."""
WAIT_COLOUR = STATUS_COLOURS[ExecutionStatus.SCHEDULED]
RUN_COLOUR = STATUS_COLOURS[ExecutionStatus.RUNNING]
FAIL_COLOUR = STATUS_COLOURS[ExecutionStatus.FAILED]
OK_COLOUR = STATUS_COLOURS[ExecutionStatus.COMPLETED]


def colour(status: str) -> str:
    """The colour of a status name."""
    return STATUS_COLOURS[ExecutionStatus(status)]


def legend_rank(status: str) -> int:
    """Where a status sits in a legend: lifecycle order."""
    return 100 + STATUSES.index(status)


def axis(title: str | None, **extra: Any) -> dict[str, Any]:
    """An axis with a title (which should name its unit) in the theme's colours."""
    return {
        "title": {"text": title},
        "gridcolor": GRID,
        "zerolinecolor": GRID,
        "linecolor": GRID,
        "automargin": True,
        **extra,
    }


def theme(
    fig: go.Figure,
    *,
    title: str,
    x_title: str | None = None,
    y_title: str | None = None,
    legend_title: str | None = "status",
    height: int | None = None,
) -> go.Figure:
    """Apply the one theme to ``fig`` (in place) and return it."""
    layout: dict[str, Any] = {
        "template": "none",
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
        "font": {"family": FONT, "color": TEXT, "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {
            "title": {"text": legend_title} if legend_title else None,
            "traceorder": "normal",
            "bgcolor": "rgba(0,0,0,0)",
        },
        "hoverlabel": {"font": {"family": FONT}},
        "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
    }
    if height is not None:
        layout["height"] = height
    fig.update_layout(**layout)
    fig.update_xaxes(**axis(x_title))
    fig.update_yaxes(**axis(y_title))
    return fig


def nothing_to_show(fig: go.Figure, what: str = "executions") -> go.Figure:
    """Say on an empty figure (in place) that the selection held no ``what``, and return it."""
    fig.add_annotation(
        text=f"Nothing to show: no {what} in this selection",
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"size": 14, "color": TEXT},
    )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    return fig


def window_text(frame: pd.DataFrame) -> str:
    """`` (window)`` when the frame states the time window it covers, else ``""``."""
    window = frame.attrs.get("window")
    return f" ({window})" if window is not None else ""


def require_frame(frame: object, name: str, columns: Iterable[str], what: str) -> pd.DataFrame:
    """``frame`` if it is a DataFrame with ``columns``; :class:`InvalidFilter` otherwise."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidFilter(name, type(frame).__name__, f"a DataFrame: {what}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidFilter(
            name, f"a frame without {', '.join(missing)}", f"{what} (columns {', '.join(columns)})"
        )
    return frame


def require_choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidFilter(name, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value


def require_count(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidFilter(name, value, f"a whole number >= {minimum}")
    return int(value)


def names(layout: Sequence[Column]) -> list[str]:
    return [c.name for c in layout]


def nanoseconds(values: pd.Series) -> np.ndarray:
    """Timestamps (tz-aware or naive UTC) as int64 nanoseconds since the epoch; NaT -> min."""
    series = pd.Series(values, copy=False)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    array = series.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))
    return array.view(np.int64)


def delta_seconds(values: pd.Series) -> np.ndarray:
    """Timedeltas as float seconds (NaT -> NaN)."""
    series = pd.Series(values, copy=False)
    seconds: np.ndarray = series.dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
    return seconds


def format_duration(seconds: float) -> str:
    """A short human duration: ``0.12 s``, ``42.0 s``, ``3 min 05 s``, ``2 h 04 min``."""
    if seconds != seconds:  # NaN
        return "—"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def duration_unit(seconds: Iterable[float]) -> tuple[str, float]:
    """A unit for a duration axis that suits its largest value: (name, seconds per unit)."""
    finite = [s for s in seconds if s == s]
    top = max(finite, default=0.0)
    if top >= 3 * 3600:
        return "h", 3600.0
    if top >= 180:
        return "min", 60.0
    return "s", 1.0
