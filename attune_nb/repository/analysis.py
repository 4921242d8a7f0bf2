"""The analysis aggregates pushed down into PostgreSQL: one statement each.

Same answers, layouts and ``attrs`` as :mod:`attune_nb.analysis`, for histories too
large to bring into memory. The history is always bounded by time (``time >= since``
and the selection's last ``updated``), so its partitions prune.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from attune_nb import schema as t
from attune_nb.analysis import Window, utc, window
from attune_nb.analysis._columns import LIFECYCLE, PERCENTILES, TERMINAL_VALUES, build
from attune_nb.analysis.compare import COMPARE_COLUMNS, window_pair
from attune_nb.analysis.concurrency import (
    ACTIVE_STATUSES,
    check_statuses,
    concurrency_layout,
    stated,
)
from attune_nb.analysis.durations import DURATION_COLUMNS
from attune_nb.analysis.outcomes import (
    FREQS,
    OUTCOMES,
    THROUGHPUT_COLUMNS,
    check_by,
    check_freq,
    failure_layout,
)
from attune_nb.filters import execution_where, to_utc
from attune_nb.frames import Column, empty_frame
from attune_nb.lifecycle import ExecutionStatus
from attune_nb.repository._common import _FROM, _e, _lifecycle_order, _lifecycle_statuses

if TYPE_CHECKING:
    from attune_nb.engine import Engine

__all__ = ["AnalysisFilters", "AnalysisRepository"]


class AnalysisFilters(TypedDict, total=False):
    """The execution filters the aggregates take (those of ``frame`` but the window)."""

    status: str | ExecutionStatus | Iterable[str | ExecutionStatus] | None
    action_ref: str | Iterable[str] | None
    pack: str | Iterable[str] | None
    rule_ref: str | Iterable[str] | None
    trigger_ref: str | Iterable[str] | None
    executor: int | Iterable[int] | None
    worker: int | Iterable[int] | None
    enforcement: int | Iterable[int] | None
    parent: int | Iterable[int] | None
    top_level_only: bool
    workflows_only: bool
    waiting_for_slot: bool


Time = datetime | date | str | pd.Timestamp
WORK_MEM = "256MB"
"""``work_mem`` of an aggregate's transaction (the server's default is 4MB)."""
_C = "C"  # byte-order collation: ORDER BY action_ref as Python's sorted() does


def _ordered(column: Any) -> Any:
    return column.collate(_C)


def _us(delta: Any) -> Any:
    """An interval as double-precision microseconds (exact for history times)."""
    return sa.cast(sa.extract("epoch", delta) * 1_000_000, postgresql.DOUBLE_PRECISION)


def _ns(us: Any) -> Any:
    """Microseconds (double) as rounded bigint nanoseconds."""
    return sa.cast(sa.func.round(us * 1000), sa.BigInteger)


def _percentiles(column: Any, fractions: Sequence[float]) -> Any:
    arr = postgresql.array([sa.literal(f, postgresql.DOUBLE_PRECISION) for f in fractions])
    return sa.func.percentile_cont(
        arr, type_=postgresql.ARRAY(postgresql.DOUBLE_PRECISION)
    ).within_group(column)


def _rate(bad: Any, finished: Any) -> Any:
    """bad / finished in double precision, NULL (NaN) when nothing finished."""
    double = postgresql.DOUBLE_PRECISION
    return sa.cast(bad, double) / sa.cast(sa.func.nullif(finished, 0), double)


_DOUBLES = postgresql.ARRAY(postgresql.DOUBLE_PRECISION)


def _at(array: Any, index: int) -> Any:
    """``array[index]`` (1-based) of a double precision[] column."""
    return sa.type_coerce(array, _DOUBLES)[index]


def _series(span: Window, freq: str) -> Any:
    """The buckets covering ``span`` (``date_trunc(freq, since, 'UTC')`` onwards, each
    starting before ``until``) as a one-column FROM item ``bucket``."""
    seconds = int(FREQS[freq] / pd.Timedelta(seconds=1))
    since = sa.literal(span.since.to_pydatetime(), sa.DateTime(timezone=True))
    until = sa.literal(span.until.to_pydatetime(), sa.DateTime(timezone=True))
    series = (
        sa.func.generate_series(
            sa.func.date_trunc(freq, since, "UTC"), until, sa.text(f"interval '{seconds} seconds'")
        )
        .table_valued("bucket")
        .render_derived(name="buckets")
    )
    return series, until


def _frame(
    rows: Sequence[Any], layout: Sequence[Column], deltas: Iterable[str] = ()
) -> pd.DataFrame:
    """A frame of ``layout`` from result rows (delta columns arrive as nanoseconds)."""
    if not rows:
        return empty_frame(layout)
    as_ns = set(deltas)
    data: dict[str, Any] = {}
    for i, c in enumerate(layout):
        values = [r[i] for r in rows]
        if c.name in as_ns:
            ints = np.array([0 if v is None else int(v) for v in values], dtype="int64")
            series = pd.Series(ints.view("timedelta64[ns]"))
            series[[v is None for v in values]] = pd.NaT
            data[c.name] = series
        elif c.kind == "float":
            data[c.name] = np.array(
                [np.nan if v is None else float(v) for v in values], dtype="float64"
            )
        else:
            data[c.name] = values
    return build(layout, data)


def _time(name: str, value: Any) -> Any:
    """``value``, checked where :func:`~attune_nb.analysis.utc` would fail on it unclearly
    (an aware time whose UTC instant is outside years 1 to 9999), a ``pd.Timestamp`` cut
    to the microseconds PostgreSQL keeps (pandas warns when it drops nanoseconds); the
    window checks the rest."""
    if isinstance(value, pd.Timestamp) and value is not pd.NaT:
        value = value.floor("us")
    if isinstance(value, (datetime, date, str)):
        to_utc(name, value)
    return value


def _pair(name: str, value: Any) -> Any:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (_time(f"{name}[0]", value[0]), _time(f"{name}[1]", value[1]))
    return value


class AnalysisRepository:
    """``db.analysis``: durations, failure rate, throughput, concurrency and window comparison
    in SQL.

    Each method takes the window and the options of its :mod:`attune_nb.analysis`
    twin, plus the execution filters of ``db.executions.frame`` (``action_ref``,
    ``pack``, ``status``, ``top_level_only``, ...), and returns the same layout.
    """

    def __init__(self, db: Engine) -> None:
        self.db = db

    def __repr__(self) -> str:
        return f"<AnalysisRepository {self.db.url}>"

    # -- building blocks ---------------------------------------------------------------

    def _selection(self, spans: Sequence[Window], filters: dict[str, Any], *columns: Any) -> Any:
        """Executions matching ``filters`` created in any of ``spans``."""
        created = sa.or_(
            *(
                sa.and_(
                    _e.c.created >= w.since.to_pydatetime(), _e.c.created < w.until.to_pydatetime()
                )
                for w in spans
            )
        )
        where = execution_where(filters, present=self.db.schema_features)
        return sa.select(*columns).select_from(_FROM).where(*where, created)

    def _attempts(self, spans: Sequence[Window], filters: dict[str, Any]) -> Any:
        """One row per selected execution, from its history: created, action_ref, first
        running, first terminal entry, final status (as ``analysis.attempts``).

        One hash aggregate, no sort and no window: the final status is the one of the
        greatest (time, INSERT before UPDATE, lifecycle position) key, the order in
        which ``intervals`` numbers the rows, taken as ``max`` of that key as a bigint
        array; ``action_ref`` is the history's ``entity_ref`` (an execution's action
        never changes).
        """
        sel = self._selection(spans, filters, _e.c.id, _e.c.updated).cte("sel")
        h = t.execution_history
        status = h.c.new_values["status"].astext
        lo = min(w.since for w in spans).to_pydatetime()
        micros = sa.cast(sa.extract("epoch", h.c.time) * 1_000_000, sa.BigInteger)
        key = postgresql.array(
            [
                micros,
                sa.case((h.c.operation == "INSERT", 0), else_=1),
                sa.cast(_lifecycle_order(status), sa.BigInteger),
            ]
        )
        steps = (
            sa.select(
                h.c.entity_id.label("id"),
                h.c.entity_ref.label("action_ref"),
                status.label("status"),
                h.c.time.label("time"),
                key.label("key"),
            )
            .where(
                h.c.entity_id.in_(sa.select(sel.c.id)),
                # Partition pruning: a literal lower bound, the selection's end above.
                h.c.time >= lo,
                h.c.time <= sa.select(sa.func.max(sel.c.updated)).scalar_subquery(),
                sa.or_(
                    h.c.operation == "INSERT", sa.literal("status") == sa.any_(h.c.changed_fields)
                ),
            )
            .subquery("steps")
        )
        s = steps.c
        last = sa.type_coerce(sa.func.max(s.key), postgresql.ARRAY(sa.BigInteger))[3]
        final = sa.type_coerce(_lifecycle_statuses(), postgresql.ARRAY(sa.Text))[last]
        return (
            sa.select(
                s.id,
                sa.func.min(s.time).label("created"),
                sa.func.min(s.action_ref).label("action_ref"),
                sa.func.min(s.time).filter(s.status == "running").label("running"),
                sa.func.min(s.time).filter(s.status.in_(TERMINAL_VALUES)).label("ended"),
                final.label("final"),
            )
            .group_by(s.id)
            .subquery("attempts")
        )

    def _rows(self, stmt: Any) -> list[Any]:
        with self.db.transaction() as conn:
            # One aggregate over millions of history rows: give its hash tables and sorts
            # room in the server (this transaction only) rather than spilling to disk.
            conn.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            return list(conn.execute(stmt))

    # -- the aggregates ----------------------------------------------------------------

    def durations(
        self, *, since: Time, until: Time, **filters: Unpack[AnalysisFilters]
    ) -> pd.DataFrame:
        """:func:`attune_nb.analysis.durations` in one statement (``percentile_cont``).

        >>> d = db.analysis.durations(since="2026-01-13", until="2026-01-14", pack="deploy")
        >>> d[["action_ref", "count"]].head(2)
                action_ref  count
        0     deploy.build     58
        1    deploy.canary     47
        """
        since, until = _time("since", since), _time("until", until)
        span = window(since, until)
        a = self._attempts([span], dict(filters))
        queue_us = _us(a.c.running - a.c.created)
        run_us = _us(a.c.ended - a.c.running)
        fractions = [q for _, q in PERCENTILES]
        agg = (
            sa.select(
                a.c.action_ref,
                sa.func.count().label("count"),
                _percentiles(queue_us, fractions).label("qw"),
                sa.func.max(queue_us).label("qw_max"),
                _percentiles(run_us, fractions).label("rt"),
                sa.func.max(run_us).label("rt_max"),
            )
            .where(
                a.c.created >= span.since.to_pydatetime(), a.c.created < span.until.to_pydatetime()
            )
            .group_by(a.c.action_ref)
            .subquery("agg")
        )
        deltas: list[Any] = []
        for prefix in ("qw", "rt"):
            deltas += [_ns(_at(agg.c[prefix], i + 1)) for i in range(len(fractions))]
            deltas.append(_ns(agg.c[f"{prefix}_max"]))
        stmt = sa.select(agg.c.action_ref, agg.c.count, *deltas).order_by(
            _ordered(agg.c.action_ref)
        )
        names = [c.name for c in DURATION_COLUMNS[2:]]
        result = _frame(self._rows(stmt), DURATION_COLUMNS, deltas=names)
        result.attrs["window"] = span
        return result

    def failure_rate(
        self, *, since: Time, until: Time, by: str | None = None, **filters: Unpack[AnalysisFilters]
    ) -> pd.DataFrame:
        """:func:`attune_nb.analysis.failure_rate` in one statement.

        >>> rate = db.analysis.failure_rate(since="2026-01-13", until="2026-01-14", by="day")
        >>> rate[["day", "failed"]]
                                day  failed
        0 2026-01-13 00:00:00+00:00     ...
        """
        since, until = _time("since", since), _time("until", until)
        span = window(since, until)
        check_by(by)
        layout = failure_layout(by)
        sel = self._selection(
            [span], dict(filters), _e.c.status, _e.c.created, _e.c.action_ref
        ).subquery("sel")
        status = sa.cast(sel.c.status, sa.Text)
        counts = {name: sa.func.count(sel.c.status).filter(status == name) for name in OUTCOMES}
        bad = counts["failed"] + counts["timeout"]
        finished = counts["completed"] + counts["failed"] + counts["timeout"]
        measures = [
            *(counts[n].label(n) for n in OUTCOMES),
            _rate(bad, finished).label("failure_rate"),
        ]
        if by is None:
            stmt = sa.select(*measures).select_from(sel)
        elif by == "action_ref":
            stmt = (
                sa.select(sel.c.action_ref, *measures)
                .group_by(sel.c.action_ref)
                .order_by(_ordered(sel.c.action_ref))
            )
        else:
            series, until_lit = _series(span, "day")
            day = series.c.bucket
            stmt = (
                sa.select(day.label("day"), *measures)
                .select_from(
                    series.outerjoin(sel, sa.func.date_trunc("day", sel.c.created, "UTC") == day)
                )
                .where(day < until_lit, sa.literal(span.since < span.until))
                .group_by(day)
                .order_by(day)
            )
        result = _frame(self._rows(stmt), layout)
        result.attrs["window"] = span
        return result

    def throughput(
        self, *, since: Time, until: Time, freq: str = "hour", **filters: Unpack[AnalysisFilters]
    ) -> pd.DataFrame:
        """:func:`attune_nb.analysis.throughput` in one statement (``generate_series``
        for the buckets, ``date_trunc(freq, created, 'UTC')``).

        >>> per_day = db.analysis.throughput(since="2026-01-12", until="2026-01-14", freq="day")
        >>> per_day[["bucket", "completed", "total"]]
                             bucket  completed  total
        0 2026-01-12 00:00:00+00:00        ...    ...
        1 2026-01-13 00:00:00+00:00        ...    ...
        """
        since, until = _time("since", since), _time("until", until)
        span = window(since, until)
        check_freq(freq, span)
        sel = self._selection([span], dict(filters), _e.c.id, _e.c.status, _e.c.created).subquery(
            "sel"
        )
        series, until_lit = _series(span, freq)
        bucket = series.c.bucket
        status = sa.cast(sel.c.status, sa.Text)
        stmt = (
            sa.select(
                bucket.label("bucket"),
                *(sa.func.count(sel.c.id).filter(status == s).label(s) for s in LIFECYCLE),
                sa.func.count(sel.c.id).label("total"),
            )
            .select_from(
                series.outerjoin(sel, sa.func.date_trunc(freq, sel.c.created, "UTC") == bucket)
            )
            .where(bucket < until_lit, sa.literal(span.since < span.until))
            .group_by(bucket)
            .order_by(bucket)
        )
        result = _frame(self._rows(stmt), THROUGHPUT_COLUMNS)
        result.attrs["window"] = span
        return result

    def compare_windows(
        self, *, a: Any, b: Any, **filters: Unpack[AnalysisFilters]
    ) -> pd.DataFrame:
        """:func:`attune_nb.analysis.compare_windows` in one statement, worst change first.

        >>> diff = db.analysis.compare_windows(
        ...     a=("2026-01-12", "2026-01-13"), b=("2026-01-13", "2026-01-14"), pack="deploy"
        ... )
        >>> sorted(diff["action_ref"])[:2]
        ['deploy.build', 'deploy.canary']
        """
        a, b = _pair("a", a), _pair("b", b)
        span_a, span_b = window_pair(a, b)
        att = self._attempts([span_a, span_b], dict(filters))
        run_us = _us(att.c.ended - att.c.running)

        def inside(w: Window) -> Any:
            return sa.and_(
                att.c.created >= w.since.to_pydatetime(), att.c.created < w.until.to_pydatetime()
            )

        final = att.c.final
        columns: list[Any] = [att.c.action_ref]
        for side, w in (("a", span_a), ("b", span_b)):
            here = inside(w)
            bad = sa.func.count().filter(here, final.in_(("failed", "timeout")))
            finished = sa.func.count().filter(here, final.in_(("completed", "failed", "timeout")))
            columns += [
                sa.func.count().filter(here).label(f"count_{side}"),
                _rate(bad, finished).label(f"rate_{side}"),
                sa.func.percentile_cont(
                    postgresql.array(
                        [
                            sa.literal(0.5, postgresql.DOUBLE_PRECISION),
                            sa.literal(0.95, postgresql.DOUBLE_PRECISION),
                        ]
                    ),
                    type_=postgresql.ARRAY(postgresql.DOUBLE_PRECISION),
                )
                .within_group(run_us)
                .filter(here)
                .label(f"q_{side}"),
            ]
        agg = (
            sa.select(*columns)
            .where(sa.or_(inside(span_a), inside(span_b)))
            .group_by(att.c.action_ref)
            .subquery("agg")
        )
        g = agg.c
        p95_a, p95_b = _ns(_at(g.q_a, 2)), _ns(_at(g.q_b, 2))
        change = (g.rate_b - g.rate_a).label("failure_rate_change")
        ratio = sa.case(
            (
                p95_a > 0,
                sa.cast(p95_b, postgresql.DOUBLE_PRECISION)
                / sa.cast(p95_a, postgresql.DOUBLE_PRECISION),
            )
        ).label("p95_ratio")
        stmt = sa.select(
            g.action_ref,
            g.count_a,
            g.count_b,
            g.rate_a,
            g.rate_b,
            change,
            _ns(_at(g.q_a, 1)),
            _ns(_at(g.q_b, 1)),
            p95_a,
            p95_b,
            ratio,
        ).order_by(change.desc().nulls_last(), ratio.desc().nulls_last(), _ordered(g.action_ref))
        deltas = ["run_time_p50_a", "run_time_p50_b", "run_time_p95_a", "run_time_p95_b"]
        result = _frame(self._rows(stmt), COMPARE_COLUMNS, deltas=deltas)
        result.attrs["windows"] = (span_a, span_b)
        return result

    def concurrency(
        self,
        *,
        since: Time,
        until: Time,
        statuses: str | Iterable[str] = ACTIVE_STATUSES,
        now: Any = None,
        freq: str | None = None,
        **filters: Unpack[AnalysisFilters],
    ) -> pd.DataFrame:
        """:func:`attune_nb.analysis.concurrency` in one statement, over every execution
        whose life overlaps the window (created before ``until``, and updated since
        ``since`` or still active).

        The step function is built in the database: +1 where an interval starts (clipped
        to the window), -1 where it ends, a running sum per status, one row per change.
        With ``freq`` the database also takes each bucket's peak, so that only one row
        per bucket crosses the wire, however many changes the window holds.

        >>> steps = db.analysis.concurrency(since="2026-01-13 12:00", until="2026-01-13 13:00")
        >>> int(steps["running"].max())  # workflows started before 12:00 count too
        21
        >>> day = db.analysis.concurrency(since="2026-01-13", until="2026-01-14", freq="minute")
        >>> len(day)
        1440
        """
        since, until = _time("since", since), _time("until", until)
        now = None if now is None else _time("now", now)
        span = window(since, until)
        chosen = check_statuses(statuses)
        layout = concurrency_layout(chosen)
        if freq is not None:
            check_freq(freq, span)
        open_end = span.until if now is None else min(span.until, utc("now", now))
        if span.since == span.until:
            return stated(empty_frame(layout), span, freq)
        lo = sa.literal(span.since.to_pydatetime(), t.TZ)
        hi = sa.literal(span.until.to_pydatetime(), t.TZ)
        end_open = sa.literal(open_end.to_pydatetime(), t.TZ)
        where = execution_where(dict(filters), present=self.db.schema_features)
        sel = (
            sa.select(_e.c.id, _e.c.created, _e.c.updated)
            .select_from(_FROM)
            .where(
                *where,
                _e.c.created < hi,
                sa.or_(_e.c.updated >= lo, _e.c.status.not_in(TERMINAL_VALUES)),
            )
            .cte("sel")
        )
        h = t.execution_history
        status = h.c.new_values["status"].astext
        order = (
            h.c.time,
            sa.case((h.c.operation == "INSERT", 0), else_=1),
            _lifecycle_order(status),
        )
        steps = (
            sa.select(
                status.label("status"),
                h.c.time.label("entered"),
                sa.func.lead(h.c.time)
                .over(partition_by=h.c.entity_id, order_by=order)
                .label("left"),
            )
            .where(
                h.c.entity_id.in_(sa.select(sel.c.id)),
                h.c.time >= sa.select(sa.func.min(sel.c.created)).scalar_subquery(),
                h.c.time <= sa.select(sa.func.max(sel.c.updated)).scalar_subquery(),
                sa.or_(
                    h.c.operation == "INSERT", sa.literal("status") == sa.any_(h.c.changed_fields)
                ),
            )
            .subquery("steps")
        )
        iv = (
            sa.select(
                steps.c.status,
                sa.func.greatest(steps.c.entered, lo).label("s"),
                sa.func.least(sa.func.coalesce(steps.c.left, end_open), hi).label("e"),
            )
            .where(steps.c.status.in_(chosen))
            # A CTE, read twice (starts and ends) but computed once: one pass over history.
            .cte("iv")
        )
        opened = sa.select(iv.c.s.label("time"), iv.c.status, sa.literal(1).label("d")).where(
            iv.c.e > iv.c.s
        )
        closed = sa.select(iv.c.e, iv.c.status, sa.literal(-1)).where(iv.c.e > iv.c.s, iv.c.e < hi)
        if freq is None:
            starts: Any = sa.select(lo, sa.null(), sa.literal(0))  # the window's first instant
        else:  # every bucket's first instant inside the window, so every bucket has a row
            series, _ = _series(span, freq)
            starts = (
                sa.select(sa.func.greatest(series.c.bucket, lo), sa.null(), sa.literal(0))
                .select_from(series)
                .where(series.c.bucket < hi)
            )
        ev = sa.union_all(opened, closed, starts).subquery("ev")
        per_time = (
            sa.select(
                ev.c.time,
                *(
                    sa.func.coalesce(sa.func.sum(ev.c.d).filter(ev.c.status == name), 0).label(name)
                    for name in chosen
                ),
            )
            .group_by(ev.c.time)
            .subquery("per_time")
        )
        running = sa.select(
            per_time.c.time,
            *(
                sa.func.sum(per_time.c[name]).over(order_by=per_time.c.time).label(name)
                for name in chosen
            ),
        ).subquery("running")
        if freq is not None:
            bucket = sa.func.date_trunc(freq, running.c.time, "UTC")
            peaks = sa.select(
                bucket.label("time"), *(sa.func.max(running.c[name]) for name in chosen)
            ).group_by(bucket)
            return stated(_frame(self._rows(peaks.order_by(bucket)), layout), span, freq)
        previous = sa.select(
            running,
            *(
                sa.func.lag(running.c[name]).over(order_by=running.c.time).label(f"prev_{i}")
                for i, name in enumerate(chosen)
            ),
        ).subquery("previous")
        changed = sa.or_(
            previous.c.time == lo,
            *(
                previous.c[name].is_distinct_from(previous.c[f"prev_{i}"])
                for i, name in enumerate(chosen)
            ),
        )
        stmt = (
            sa.select(previous.c.time, *(previous.c[name] for name in chosen))
            .where(changed)
            .order_by(previous.c.time)
        )
        return stated(_frame(self._rows(stmt), layout), span, None)
