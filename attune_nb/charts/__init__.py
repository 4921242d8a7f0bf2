"""Plotly charts of execution history: a DataFrame of a documented layout in, a
``plotly.graph_objects.Figure`` out; no queries, no ``.show()``, inputs left unchanged.

One module per family: :mod:`~attune_nb.charts.timeline` (lifecycle Gantt, critical
path), :mod:`~attune_nb.charts.hierarchy` (icicle, treemap, sunburst),
:mod:`~attune_nb.charts.history`, :mod:`~attune_nb.charts.compare` and
:mod:`~attune_nb.charts.export` (PNG and SVG through kaleido).
"""

from __future__ import annotations

from attune_nb.charts.compare import retry_chains, window_comparison
from attune_nb.charts.export import show_in_notebooks, to_png, to_svg
from attune_nb.charts.hierarchy import workflow_icicle
from attune_nb.charts.history import (
    concurrency,
    duration_distribution,
    outcome_calendar,
    status_over_time,
)
from attune_nb.charts.timeline import LIGHT_THRESHOLD, critical_path, lifecycle_timeline

__all__ = [
    "LIGHT_THRESHOLD",
    "concurrency",
    "critical_path",
    "duration_distribution",
    "lifecycle_timeline",
    "outcome_calendar",
    "retry_chains",
    "show_in_notebooks",
    "status_over_time",
    "to_png",
    "to_svg",
    "window_comparison",
    "workflow_icicle",
]
