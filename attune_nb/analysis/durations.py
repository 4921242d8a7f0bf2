"""How long executions waited and ran, per action, from their history intervals.

Queue wait is the first entry into ``running`` minus creation (the first interval's
``entered``); run time is the first entry into a terminal status minus the first
entry into ``running``. Percentiles interpolate linearly, as ``percentile_cont`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from attune_nb.analysis._columns import (
    PERCENTILES,
    TERMINAL_VALUES,
    OutColumn,
    build,
    percentiles_ns,
    to_ns,
)
from attune_nb.analysis.window import Window, window
from attune_nb.errors import InvalidFilter
from attune_nb.frames import INTERVAL_COLUMNS, empty_frame

__all__ = ["DURATION_COLUMNS", "OUTLIER_COLUMNS", "attempts", "durations", "outliers"]

_STATS = (*(name for name, _ in PERCENTILES), "max")

DURATION_COLUMNS: tuple[OutColumn, ...] = (
    OutColumn("action_ref", "str"),
    OutColumn("count", "int"),
    *(OutColumn(f"{q}_{s}", "delta") for q in ("queue_wait", "run_time") for s in _STATS),
)
"""``durations``: one row per action, its count and p50/p90/p95/p99/max of each duration."""

OUTLIER_COLUMNS: tuple[OutColumn, ...] = (
    OutColumn("execution_id", "id"),
    OutColumn("action_ref", "str"),
    OutColumn("run_time", "delta"),
    OutColumn("reference", "delta"),
    OutColumn("ratio", "float"),
)
"""``outliers``: executions slower than their action's reference quantile."""

ATTEMPT_COLUMNS: tuple[OutColumn, ...] = (
    OutColumn("execution_id", "id"),
    OutColumn("action_ref", "str"),
    OutColumn("created", "time"),
    OutColumn("running", "time"),
    OutColumn("ended", "time"),
    OutColumn("final", "status"),
    OutColumn("queue_wait", "delta"),
    OutColumn("run_time", "delta"),
)
"""``attempts``: one row per execution, its milestones from its intervals."""

_NEEDED = tuple(
    c.name
    for c in INTERVAL_COLUMNS
    if c.name in ("execution_id", "action_ref", "status", "seq", "entered")
)


def _check_intervals(intervals: Any) -> pd.DataFrame:
    if not isinstance(intervals, pd.DataFrame) or any(n not in intervals for n in _NEEDED):
        raise InvalidFilter(
            "intervals",
            type(intervals).__name__,
            "a frame of db.executions.intervals(...) (columns " + ", ".join(_NEEDED) + ")",
        )
    return intervals


def attempts(intervals: pd.DataFrame) -> pd.DataFrame:
    """One row per execution of ``intervals``: created, first running, first terminal
    entry, final status, queue wait and run time (:data:`ATTEMPT_COLUMNS`), by id.

    >>> one = attempts(db.executions.intervals(action_ref="core.echo", limit=1))
    >>> list(one.columns)
    ['execution_id', 'action_ref', 'created', 'running', 'ended', 'final', 'queue_wait', 'run_time']
    """
    frame = _check_intervals(intervals)
    if frame.empty:
        return empty_frame(ATTEMPT_COLUMNS)
    frame = frame.sort_values(["execution_id", "seq"], kind="stable")
    ids = frame["execution_id"].to_numpy()
    entered = frame["entered"]
    status = frame["status"].astype(str)
    by = pd.Series(ids, index=frame.index)
    first = frame.groupby(by, sort=True).head(1).set_index("execution_id")
    last = frame.groupby(by, sort=True).tail(1).set_index("execution_id")
    created = entered.groupby(by, sort=True).min()
    running = entered.where(status == "running").groupby(by, sort=True).min()
    ended = entered.where(status.isin(TERMINAL_VALUES)).groupby(by, sort=True).min()
    order = created.index
    running = running.reindex(order)
    ended = ended.reindex(order)
    return build(
        ATTEMPT_COLUMNS,
        {
            "execution_id": order.to_numpy(),
            "action_ref": first["action_ref"].reindex(order).to_numpy(),
            "created": created.to_numpy(),
            "running": running.to_numpy(),
            "ended": ended.to_numpy(),
            "final": last["status"].reindex(order).to_numpy(),
            "queue_wait": (running - created).to_numpy(),
            "run_time": (ended - running).to_numpy(),
        },
    )


def in_window(rows: pd.DataFrame, span: Window, column: str = "created") -> pd.DataFrame:
    """The rows whose ``column`` lies in ``[span.since, span.until)``."""
    times = rows[column]
    return rows[(times >= span.since) & (times < span.until)]


def durations(intervals: pd.DataFrame, *, since: Any, until: Any) -> pd.DataFrame:
    """Queue wait and run time per action: count, p50/p90/p95/p99/max of each.

    ``intervals`` is a frame of ``db.executions.intervals(...)``; an execution counts
    when it was created in ``[since, until)``. Durations it has not reached yet are
    left out of the percentiles (NaT when none has). Layout
    :data:`DURATION_COLUMNS`, sorted by ``action_ref``; ``attrs["window"]`` the window.
    ``db.analysis.durations`` computes the same in SQL.

    >>> iv = db.executions.intervals(action_ref="deploy.*", since="2026-01-13")
    >>> d = durations(iv, since="2026-01-13", until="2026-01-14")
    >>> str(d.attrs["window"])
    '2026-01-13 00:00 to 2026-01-14 00:00 UTC'
    >>> d.columns[:4].tolist()
    ['action_ref', 'count', 'queue_wait_p50', 'queue_wait_p90']
    """
    span = window(since, until)
    rows = in_window(attempts(intervals), span)
    result = _summarise(rows)
    result.attrs["window"] = span
    return result


def _summarise(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return empty_frame(DURATION_COLUMNS)
    keys = rows["action_ref"].astype(str)
    refs = sorted(keys.unique())
    counts = keys.value_counts().reindex(refs)
    data: dict[str, Any] = {"action_ref": refs, "count": counts.to_numpy()}
    for q in ("queue_wait", "run_time"):
        stats = percentiles_ns(to_ns(rows[q]), keys, refs)
        for s in _STATS:
            data[f"{q}_{s}"] = stats[s].to_numpy()
    return build(DURATION_COLUMNS, data)


def outliers(
    intervals: pd.DataFrame,
    *,
    since: Any,
    until: Any,
    reference_since: Any,
    reference_until: Any,
    quantile: float = 0.99,
) -> pd.DataFrame:
    """Executions created in ``[since, until)`` whose run time exceeds their action's
    ``quantile`` of run time over the reference window.

    Layout :data:`OUTLIER_COLUMNS` (``reference`` the action's quantile, ``ratio``
    run time over it), slowest relative to its action first. ``attrs["window"]`` and
    ``attrs["reference_window"]`` state both windows. An action with no finished run
    in the reference window has no reference, so none of its executions is listed.
    """
    span = window(since, until)
    reference_span = window(
        reference_since, reference_until, name_since="reference_since", name_until="reference_until"
    )
    if (
        isinstance(quantile, bool)
        or not isinstance(quantile, (int, float))
        or not 0 <= quantile <= 1
    ):
        raise InvalidFilter("quantile", quantile, "a number from 0 to 1, like 0.99")
    all_rows = attempts(intervals)
    reference_rows = in_window(all_rows, reference_span)
    reference_rows = reference_rows[reference_rows["run_time"].notna()]
    ns = to_ns(reference_rows["run_time"])
    limits = ns.groupby(reference_rows["action_ref"].astype(str).to_numpy()).quantile(quantile)
    rows = in_window(all_rows, span)
    rows = rows[rows["run_time"].notna()]
    limit_ns = rows["action_ref"].astype(str).map(limits).to_numpy(dtype="float64")
    run_ns = to_ns(rows["run_time"]).to_numpy()
    slow = ~np.isnan(limit_ns) & (run_ns > limit_ns)
    picked = rows[slow]
    reference_ns = np.round(limit_ns[slow]).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = run_ns[slow] / limit_ns[slow]
    result = build(
        OUTLIER_COLUMNS,
        {
            "execution_id": picked["execution_id"].to_numpy(),
            "action_ref": picked["action_ref"].to_numpy(),
            "run_time": picked["run_time"].to_numpy(),
            "reference": reference_ns.view("timedelta64[ns]"),
            "ratio": ratio,
        },
    )
    if not result.empty:
        result = result.sort_values(
            ["ratio", "execution_id"], ascending=[False, True], kind="stable"
        ).reset_index(drop=True)
    result.attrs["window"] = span
    result.attrs["reference_window"] = reference_span
    return result
