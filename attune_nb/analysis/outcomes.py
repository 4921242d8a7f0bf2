"""What executions ended as, and how many arrived: failure rate and throughput.

Both take an execution frame (``db.executions.frame(...)``) and count the executions
created in the window. Failure rate is Attune's own: (failed + timeout) / (completed +
failed + timeout), cancelled and abandoned left out; each retry is an attempt of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from attune_nb.analysis._columns import LIFECYCLE, OutColumn, build
from attune_nb.analysis.window import Window, window
from attune_nb.errors import InvalidFilter
from attune_nb.frames import empty_frame

__all__ = [
    "BY",
    "FAILURE_COLUMNS",
    "FREQS",
    "THROUGHPUT_COLUMNS",
    "buckets",
    "failure_layout",
    "failure_rate",
    "throughput",
]

OUTCOMES: tuple[str, ...] = ("completed", "failed", "timeout", "cancelled", "abandoned")
BY: tuple[str | None, ...] = (None, "action_ref", "day")
"""What ``failure_rate`` may group by."""
FREQS: dict[str, pd.Timedelta] = {
    "minute": pd.Timedelta(minutes=1),
    "hour": pd.Timedelta(hours=1),
    "day": pd.Timedelta(days=1),
}
"""The bucket sizes of ``throughput`` and ``concurrency`` (UTC buckets, as
``date_trunc(freq, t, 'UTC')``)."""

FAILURE_COLUMNS: tuple[OutColumn, ...] = (
    *(OutColumn(name, "int") for name in OUTCOMES),
    OutColumn("failure_rate", "float"),
)
"""``failure_rate``: the counts and the rate, after the key column (if any)."""

_KEYS: dict[str, OutColumn] = {
    "action_ref": OutColumn("action_ref", "str"),
    "day": OutColumn("day", "time"),
}

THROUGHPUT_COLUMNS: tuple[OutColumn, ...] = (
    OutColumn("bucket", "time"),
    *(OutColumn(status, "int") for status in LIFECYCLE),
    OutColumn("total", "int"),
)
"""``throughput``: one row per bucket, executions created in it by their status now."""


def failure_layout(by: str | None) -> tuple[OutColumn, ...]:
    """The layout ``failure_rate(..., by=by)`` returns: the key column, then
    :data:`FAILURE_COLUMNS`."""
    check_by(by)
    return FAILURE_COLUMNS if by is None else (_KEYS[by], *FAILURE_COLUMNS)


def check_by(by: Any) -> None:
    if by not in BY:
        raise InvalidFilter("by", by, "None, 'action_ref' or 'day'")


MAX_BUCKETS = 1_000_000
"""The most buckets one answer may have (a year by the minute is 525,600)."""


def check_freq(freq: Any, span: Window | None = None) -> pd.Timedelta:
    """The bucket size ``freq`` names; with ``span``, also refuse more than
    :data:`MAX_BUCKETS` buckets over it."""
    if not isinstance(freq, str) or freq not in FREQS:
        raise InvalidFilter("freq", freq, "'minute', 'hour' or 'day'")
    step = FREQS[freq]
    if span is not None and span.until > span.since:
        count = (span.until - span.since.floor(step)) // step
        if count > MAX_BUCKETS:
            raise InvalidFilter(
                "freq",
                freq,
                f"at most {MAX_BUCKETS:,} buckets per answer, and {span} has {count:,} of "
                "them: a coarser freq or a shorter window",
            )
    return step


def buckets(span: Window, freq: str) -> pd.DatetimeIndex:
    """The UTC buckets (their starts) that cover ``span``: from ``date_trunc(freq, since)``
    to the last one starting before ``until``; none for an empty window."""
    step = check_freq(freq)
    if span.since >= span.until:
        return pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
    first = span.since.floor(step)
    return pd.date_range(first, span.until, freq=step, inclusive="left").as_unit("ns")


def _check_executions(executions: Any, needed: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(executions, pd.DataFrame) or any(n not in executions for n in needed):
        raise InvalidFilter(
            "executions",
            type(executions).__name__,
            "a frame of db.executions.frame(...) (columns " + ", ".join(needed) + ")",
        )
    return executions


def _created_in(executions: pd.DataFrame, span: Window) -> pd.DataFrame:
    created = executions["created"]
    return executions[(created >= span.since) & (created < span.until)]


def _rate(counts: pd.DataFrame) -> np.ndarray:
    bad = (counts["failed"] + counts["timeout"]).to_numpy(dtype="float64")
    finished = (counts["completed"] + counts["failed"] + counts["timeout"]).to_numpy(
        dtype="float64"
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(finished > 0, bad / np.where(finished > 0, finished, 1), np.nan)


def failure_rate(
    executions: pd.DataFrame, *, since: Any, until: Any, by: str | None = None
) -> pd.DataFrame:
    """Attune's failure rate of the executions created in ``[since, until)``.

    ``by=None`` gives one row; ``by="action_ref"`` one per action (sorted);
    ``by="day"`` one per UTC day of the window, empty days included. Columns: the
    key, then ``completed``, ``failed``, ``timeout``, ``cancelled``, ``abandoned``
    and ``failure_rate`` ((failed + timeout) / (completed + failed + timeout), NaN
    when nothing finished). Executions still active count in no column.
    ``attrs["window"]`` states the window; ``db.analysis.failure_rate`` computes
    the same in SQL.

    >>> ex = db.executions.frame(since="2026-01-13", until="2026-01-14", limit=None)
    >>> failure_rate(ex, since="2026-01-13", until="2026-01-14").columns.tolist()
    ['completed', 'failed', 'timeout', 'cancelled', 'abandoned', 'failure_rate']
    """
    span = window(since, until)
    layout = failure_layout(by)
    rows = _created_in(_check_executions(executions, ("status", "created", "action_ref")), span)
    status = rows["status"].astype(str)
    keys: pd.Series
    if by is None:
        keys = pd.Series(np.zeros(len(rows), dtype="int64"), index=rows.index)
        order: Any = [0]
    elif by == "action_ref":
        keys = rows["action_ref"].astype(str)
        order = sorted(keys.unique())
    else:
        keys = rows["created"].dt.floor("D")
        order = buckets(span, "day")
    table = pd.crosstab(keys, status).reindex(index=order, columns=list(OUTCOMES), fill_value=0)
    table = table.fillna(0).astype("int64")
    data: dict[str, Any] = {name: table[name].to_numpy() for name in OUTCOMES}
    data["failure_rate"] = _rate(table)
    if by is not None:
        data[by] = list(order)
    result = build(layout, data) if len(order) else empty_frame(layout)
    result.attrs["window"] = span
    return result


def throughput(
    executions: pd.DataFrame, *, since: Any, until: Any, freq: str = "hour"
) -> pd.DataFrame:
    """Executions created per UTC hour or day of ``[since, until)``, by their status now.

    Columns: ``bucket`` (the bucket's start, ``date_trunc(freq, created, 'UTC')``),
    one count per status in lifecycle order, ``total``. Every bucket of the window
    is present, zeros included. ``attrs["window"]`` states the window;
    ``db.analysis.throughput`` computes the same in SQL.

    >>> ex = db.executions.frame(since="2026-01-13", until="2026-01-14", limit=None)
    >>> per_hour = throughput(ex, since="2026-01-13", until="2026-01-14")
    >>> len(per_hour), int(per_hour["total"].sum()) == len(ex)
    (24, True)
    """
    span = window(since, until)
    check_freq(freq, span)
    order = buckets(span, freq)
    rows = _created_in(_check_executions(executions, ("status", "created")), span)
    keys = rows["created"].dt.floor(FREQS[freq])
    table = pd.crosstab(keys, rows["status"].astype(str))
    table = (
        table.reindex(index=order, columns=list(LIFECYCLE), fill_value=0).fillna(0).astype("int64")
    )
    data: dict[str, Any] = {"bucket": order}
    data.update({status: table[status].to_numpy() for status in LIFECYCLE})
    data["total"] = table.sum(axis=1).to_numpy()
    result = build(THROUGHPUT_COLUMNS, data) if len(order) else empty_frame(THROUGHPUT_COLUMNS)
    result.attrs["window"] = span
    return result
