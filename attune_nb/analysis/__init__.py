"""Answers to operators' questions over execution history, as DataFrames.

Pure functions over the repository's frames (``db.executions.intervals(...)``,
``db.executions.frame(...)``); each takes a time window and states it in
``attrs["window"]``. ``db.analysis`` runs the same aggregates in SQL, and
``db.executions.stuck()`` finds what Attune's supervisor would act on.
"""

from __future__ import annotations

from attune_nb.analysis.compare import COMPARE_COLUMNS, compare_windows
from attune_nb.analysis.concurrency import ACTIVE_STATUSES, CONCURRENCY_COLUMNS, concurrency
from attune_nb.analysis.durations import DURATION_COLUMNS, OUTLIER_COLUMNS, durations, outliers
from attune_nb.analysis.outcomes import (
    FAILURE_COLUMNS,
    THROUGHPUT_COLUMNS,
    failure_rate,
    throughput,
)
from attune_nb.analysis.retries import (
    RETRY_CHAIN_COLUMNS,
    RETRY_SUMMARY_COLUMNS,
    retry_chains,
    retry_summary,
)
from attune_nb.analysis.window import Window, utc, window
from attune_nb.analysis.workflows import CRITICAL_PATH_COLUMNS, critical_path, wall_time

__all__ = [
    "ACTIVE_STATUSES",
    "COMPARE_COLUMNS",
    "CONCURRENCY_COLUMNS",
    "CRITICAL_PATH_COLUMNS",
    "DURATION_COLUMNS",
    "FAILURE_COLUMNS",
    "OUTLIER_COLUMNS",
    "RETRY_CHAIN_COLUMNS",
    "RETRY_SUMMARY_COLUMNS",
    "THROUGHPUT_COLUMNS",
    "Window",
    "compare_windows",
    "concurrency",
    "critical_path",
    "durations",
    "failure_rate",
    "outliers",
    "retry_chains",
    "retry_summary",
    "throughput",
    "utc",
    "wall_time",
    "window",
]
