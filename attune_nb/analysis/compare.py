"""What changed between two time windows, per action: count, failure rate, run time.

The "what broke since the deploy" question: window A (before) against window B
(after), worst change first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from attune_nb.analysis._columns import OutColumn, build, percentiles_ns, to_ns
from attune_nb.analysis.durations import attempts, in_window
from attune_nb.analysis.window import Window, window
from attune_nb.errors import InvalidFilter
from attune_nb.frames import empty_frame

__all__ = ["COMPARE_COLUMNS", "compare_windows", "window_pair"]

COMPARE_COLUMNS: tuple[OutColumn, ...] = (
    OutColumn("action_ref", "str"),
    OutColumn("count_a", "int"),
    OutColumn("count_b", "int"),
    OutColumn("failure_rate_a", "float"),
    OutColumn("failure_rate_b", "float"),
    OutColumn("failure_rate_change", "float"),
    OutColumn("run_time_p50_a", "delta"),
    OutColumn("run_time_p50_b", "delta"),
    OutColumn("run_time_p95_a", "delta"),
    OutColumn("run_time_p95_b", "delta"),
    OutColumn("p95_ratio", "float"),
)
"""``compare_windows``: one row per action seen in either window, worst change first."""

SORT_KEYS = ("failure_rate_change", "p95_ratio", "action_ref")


def _as_window(name: str, value: Any) -> Window:
    if isinstance(value, Window):
        return value
    if isinstance(value, str) or not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InvalidFilter(name, value, "a (since, until) pair or a Window")
    return window(value[0], value[1], name_since=f"{name}[0]", name_until=f"{name}[1]")


def window_pair(a: Any, b: Any) -> tuple[Window, Window]:
    """Windows ``a`` and ``b`` from ``(since, until)`` pairs (or :class:`Window` objects)."""
    return _as_window("a", a), _as_window("b", b)


def _side(rows: pd.DataFrame, refs: list[str]) -> dict[str, Any]:
    keys = rows["action_ref"].astype(str)
    final = rows["final"].astype(str)
    count = keys.value_counts().reindex(refs, fill_value=0).to_numpy(dtype="int64")
    bad = ((final == "failed") | (final == "timeout")).groupby(keys.to_numpy()).sum()
    finished = final.isin(("completed", "failed", "timeout")).groupby(keys.to_numpy()).sum()
    bad_n = bad.reindex(refs, fill_value=0).to_numpy(dtype="float64")
    finished_n = finished.reindex(refs, fill_value=0).to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(finished_n > 0, bad_n / np.where(finished_n > 0, finished_n, 1), np.nan)
    stats = percentiles_ns(to_ns(rows["run_time"]), keys, refs)
    return {"count": count, "rate": rate, "p50": stats["p50"], "p95": stats["p95"]}


def sort_worst_first(frame: pd.DataFrame) -> pd.DataFrame:
    """Failure rate change descending, then p95 ratio descending (NaN last), then action."""
    if frame.empty:
        return frame
    return frame.sort_values(
        list(SORT_KEYS), ascending=[False, False, True], na_position="last", kind="stable"
    ).reset_index(drop=True)


def compare_windows(
    intervals: pd.DataFrame,
    *,
    a: Any,
    b: Any,
    intervals_b: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per action, window A against window B: counts, failure rates and their change,
    p50 and p95 run time and the p95 ratio (B over A), worst change first.

    ``a`` and ``b`` are ``(since, until)`` pairs (or :class:`Window` objects); an
    execution belongs to a window when it was created in it. ``intervals`` (a frame
    of ``db.executions.intervals(...)``) covers both windows, or only A when
    ``intervals_b`` covers B. The failure rate is each execution's final status, as
    :func:`~attune_nb.analysis.failure_rate` counts it. ``attrs["windows"]`` is
    ``(window A, window B)``; ``db.analysis.compare_windows`` computes the same in SQL.

    >>> iv = db.executions.intervals(pack="deploy", since="2026-01-12")
    >>> diff = compare_windows(iv, a=("2026-01-12", "2026-01-13"), b=("2026-01-13", "2026-01-14"))
    >>> [str(w) for w in diff.attrs["windows"]]
    ['2026-01-12 00:00 to 2026-01-13 00:00 UTC', '2026-01-13 00:00 to 2026-01-14 00:00 UTC']
    """
    span_a, span_b = window_pair(a, b)
    rows_a = in_window(attempts(intervals), span_a)
    rows_b = in_window(attempts(intervals if intervals_b is None else intervals_b), span_b)
    refs = sorted(set(rows_a["action_ref"].astype(str)) | set(rows_b["action_ref"].astype(str)))
    if not refs:
        result = empty_frame(COMPARE_COLUMNS)
    else:
        side_a, side_b = _side(rows_a, refs), _side(rows_b, refs)
        p95_a, p95_b = to_ns(side_a["p95"]).to_numpy(), to_ns(side_b["p95"]).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(p95_a > 0, p95_b / np.where(p95_a > 0, p95_a, 1), np.nan)
        result = build(
            COMPARE_COLUMNS,
            {
                "action_ref": refs,
                "count_a": side_a["count"],
                "count_b": side_b["count"],
                "failure_rate_a": side_a["rate"],
                "failure_rate_b": side_b["rate"],
                "failure_rate_change": side_b["rate"] - side_a["rate"],
                "run_time_p50_a": side_a["p50"].to_numpy(),
                "run_time_p50_b": side_b["p50"].to_numpy(),
                "run_time_p95_a": side_a["p95"].to_numpy(),
                "run_time_p95_b": side_b["p95"].to_numpy(),
                "p95_ratio": ratio,
            },
        )
        result = sort_worst_first(result)
    result.attrs["windows"] = (span_a, span_b)
    return result
