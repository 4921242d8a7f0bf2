"""How many executions were in each active status at each instant of a window.

The intervals of ``db.executions.intervals(...)`` are merged into a step function:
one row per instant at which a count changes, the first at the window's start. With
``freq`` the step function is summed up per UTC bucket instead: one row per bucket,
its peak, so that the answer has a size fixed by the window, however busy it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from attune_nb.analysis.outcomes import buckets, check_freq
from attune_nb.analysis.window import Window, utc, window
from attune_nb.errors import InvalidFilter
from attune_nb.frames import TIME_DTYPE, Column, empty_frame
from attune_nb.lifecycle import ACTIVE, ExecutionStatus

__all__ = ["ACTIVE_STATUSES", "CONCURRENCY_COLUMNS", "concurrency", "concurrency_layout"]

ACTIVE_STATUSES: tuple[str, ...] = tuple(s.value for s in ExecutionStatus if s in ACTIVE)
"""The five active statuses in lifecycle order: what :func:`concurrency` counts by default."""

_TEN = [s.value for s in ExecutionStatus]
_INTERVAL_INPUT = ("execution_id", "status", "entered", "left")


def check_statuses(statuses: str | Iterable[str]) -> list[str]:
    """The named statuses, deduplicated, in lifecycle order."""
    names = [statuses] if isinstance(statuses, str) else statuses
    if not isinstance(names, Iterable) or isinstance(names, dict):
        raise InvalidFilter("statuses", statuses, "a status or a list of them: " + ", ".join(_TEN))
    chosen = [str(s) for s in names]
    bad = [s for s in chosen if s not in _TEN]
    if bad or not chosen:
        raise InvalidFilter(
            "statuses", bad[0] if bad else statuses, "one or more of " + ", ".join(_TEN)
        )
    return [s for s in _TEN if s in chosen]


def concurrency_layout(statuses: str | Iterable[str] = ACTIVE_STATUSES) -> tuple[Column, ...]:
    """The columns of :func:`concurrency` for ``statuses``: ``time``, then one count each."""
    return (Column("time", "time"), *(Column(s, "int") for s in check_statuses(statuses)))


CONCURRENCY_COLUMNS: tuple[Column, ...] = concurrency_layout()
"""``concurrency(...)`` with the default statuses: ``time``, then requested ... canceling."""


def check_frame(name: str, frame: Any, columns: Iterable[str], source: str) -> None:
    """Refuse what is not a DataFrame with ``columns`` (``source`` says where one comes from)."""
    needed = list(columns)
    if not isinstance(frame, pd.DataFrame):
        raise InvalidFilter(name, type(frame).__name__, f"a DataFrame from {source}")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        allowed = f"a DataFrame from {source} (columns {', '.join(needed)})"
        raise InvalidFilter(name, f"a frame without {missing[0]!r}", allowed)


def concurrency(
    intervals: pd.DataFrame,
    *,
    since: Any,
    until: Any,
    statuses: str | Iterable[str] = ACTIVE_STATUSES,
    now: Any = None,
    freq: str | None = None,
) -> pd.DataFrame:
    """How many executions were in each of ``statuses`` from each row's ``time`` on.

    A step function over ``[since, until)``: the first row is at ``since``, then one
    row per instant at which a count changes; each count holds until the next row
    (the last one until ``until``). An interval still open (the status an execution
    is in now) lasts until ``until``, or until ``now`` when that is given and earlier.
    ``result.attrs["window"]`` is the :class:`~attune_nb.analysis.window.Window`.

    With ``freq`` (``"minute"``, ``"hour"`` or ``"day"``) there is one row per UTC
    bucket instead, ``time`` its start (as ``throughput``'s buckets), each count the
    most executions in that status at any instant of the bucket inside the window: its
    peak. Every bucket has a row, so a long or busy window has a bounded answer
    (1,440 rows for a day by the minute). ``result.attrs["freq"]`` says which.

    >>> intervals = db.executions.intervals(since="2026-01-13", limit=None)
    >>> steps = concurrency(intervals, since="2026-01-13 12:00", until="2026-01-13 13:00")
    >>> list(steps.columns)
    ['time', 'requested', 'scheduling', 'scheduled', 'running', 'canceling']
    >>> int(steps["running"].max())
    9
    >>> str(steps.attrs["window"])
    '2026-01-13 12:00 to 2026-01-13 13:00 UTC'
    >>> peaks = concurrency(intervals, since="2026-01-13 12:00", until="2026-01-13 13:00",
    ...                     freq="minute")
    >>> len(peaks), int(peaks["running"].max())
    (60, 9)
    """
    span = window(since, until)
    chosen = check_statuses(statuses)
    layout = concurrency_layout(chosen)
    if freq is not None:
        check_freq(freq, span)
    check_frame("intervals", intervals, _INTERVAL_INPUT, "db.executions.intervals(...)")
    open_end = span.until if now is None else min(span.until, utc("now", now))
    if span.since == span.until:
        return stated(empty_frame(layout), span, freq)

    status = intervals["status"].astype("string")
    keep = status.isin(chosen).fillna(False).to_numpy(dtype=bool)
    entered = pd.Series(intervals["entered"][keep], copy=False).astype(TIME_DTYPE)
    left = pd.Series(intervals["left"][keep], copy=False).astype(TIME_DTYPE)
    start = entered.mask(entered < span.since, span.since)
    end = left.where(left.notna(), open_end)
    end = end.mask(end > span.until, span.until)
    valid = (start.notna() & end.notna() & (end > start)).to_numpy(dtype=bool)
    kept = status[keep][valid]
    events = pd.DataFrame(
        {
            "time": pd.concat([start[valid], end[valid]], ignore_index=True),
            "status": pd.concat([kept, kept], ignore_index=True),
            "delta": [1] * int(valid.sum()) + [-1] * int(valid.sum()),
        }
    )
    # An end at `until` is outside the window: the last row lasts until then.
    events = events[events["time"] < span.until]
    deltas = (
        events.groupby(["time", "status"], observed=True)["delta"]
        .sum()
        .unstack("status", fill_value=0)
        .reindex(columns=chosen, fill_value=0)
    )
    first = pd.DatetimeIndex([span.since]).astype(TIME_DTYPE)
    deltas = deltas.reindex(deltas.index.union(first), fill_value=0).sort_index()
    counts = deltas.cumsum()
    changed = counts.diff().ne(0).any(axis=1).to_numpy(dtype=bool, copy=True)
    changed[0] = True
    counts = counts[changed]
    if freq is not None:
        counts = _peaks(counts, span, freq)
    result = pd.DataFrame(
        {"time": pd.Series(counts.index, dtype=TIME_DTYPE)}
        | {s: pd.Series(counts[s].to_numpy(), dtype="Int64") for s in chosen}
    )
    return stated(result, span, freq)


def stated(result: pd.DataFrame, span: Window, freq: str | None) -> pd.DataFrame:
    """``result`` with the window it covers (and its ``freq``, if any) in its attrs."""
    result.attrs["window"] = span
    if freq is not None:
        result.attrs["freq"] = freq
    return result


def _peaks(counts: pd.DataFrame, span: Window, freq: str) -> pd.DataFrame:
    """The step function ``counts`` (its first row at ``span.since``) as each bucket's peak.

    A bucket's peak is the largest of the count in force at its start (clipped to the
    window) and the counts it changes to inside the bucket.
    """
    starts = buckets(span, freq)
    times = pd.DatetimeIndex(counts.index).as_unit("ns")
    clipped = np.maximum(starts.asi8, span.since.as_unit("ns").value)
    in_force = counts.iloc[np.searchsorted(times.asi8, clipped, side="right") - 1]
    inside = counts.set_axis(times.floor(check_freq(freq)))
    return pd.concat([in_force.set_axis(starts), inside]).groupby(level=0).max().reindex(starts)
