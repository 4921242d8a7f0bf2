"""Stuck executions, found by the rules of Attune's own supervisor, in one SQL statement.

The executor fails an execution ``scheduled`` for longer than its timeout and
abandons a ``running`` one whose worker is missing, inactive or silent; the other
active statuses have no supervisor, so an operator must act on them.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from attune_nb import schema as t
from attune_nb.analysis.window import utc
from attune_nb.errors import InvalidFilter
from attune_nb.filters import check_limit, to_utc
from attune_nb.frames import Column
from attune_nb.repository._common import DEFAULT_LIMIT, RepositoryPart, _check_limit, _e

__all__ = ["RULES", "STUCK_COLUMNS", "SupervisorQueries"]

STUCK_COLUMNS: tuple[Column, ...] = (
    Column("id", "id"),
    Column("action_ref", "str"),
    Column("status", "status"),
    Column("since", "time"),
    Column("age", "delta"),
    Column("worker", "id"),
    Column("rule", "str"),
    Column("attune_would", "str"),
)
"""``executions.stuck(...)``: one row per stuck execution, longest in its status first.

``since`` is when it entered its status, ``age`` how long before ``now`` that was."""

_FAIL = "fail it (failed_by: execution_timeout_monitor)"
_ABANDON = "abandon it"
_NOTHING = "nothing: an operator must act"

RULES: dict[str, str] = {
    "scheduled_timeout": _FAIL,
    "worker_missing": _ABANDON,
    "worker_inactive": _ABANDON,
    "worker_heartbeat": _ABANDON,
    "requested_too_long": _NOTHING,
    "scheduling_too_long": _NOTHING,
    "canceling_too_long": _NOTHING,
}
"""Each rule of :meth:`SupervisorQueries.stuck` and what Attune's supervisor does about it."""

# attune.worker, only the columns the supervisor's rules read (no table of schema.py:
# nothing else queries workers).
_worker = sa.Table(
    "worker",
    sa.MetaData(schema="attune"),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("status", sa.Text),
    sa.Column("last_heartbeat", t.TZ),
    sa.Column("created", t.TZ),
    schema="attune",
)

# What the statement returns: `now` (the instant judged at) in place of `age`.
_QUERIED: tuple[Column, ...] = (
    *STUCK_COLUMNS[:4],
    Column("now", "time"),
    *(c for c in STUCK_COLUMNS[5:]),
)

_WATCHED = ("requested", "scheduling", "scheduled", "running", "canceling")
_SECONDS = "a number of seconds >= 0, or a timedelta >= 0"


def _duration(name: str, value: Any) -> timedelta:
    """``value`` (seconds or a timedelta) as a timedelta >= 0; InvalidFilter otherwise."""
    if isinstance(value, timedelta):
        if value < timedelta(0) or value is pd.NaT:
            raise InvalidFilter(name, value, _SECONDS)
        if isinstance(value, pd.Timedelta):
            return value.to_pytimedelta()
        # Exact: total_seconds() is a float, and timedelta.max rounds up past the maximum.
        return timedelta(days=value.days, seconds=value.seconds, microseconds=value.microseconds)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidFilter(name, value, _SECONDS)
    if not math.isfinite(value) or value < 0:
        raise InvalidFilter(name, value, _SECONDS)
    try:
        return timedelta(seconds=value)
    except OverflowError:  # more than 999,999,999 days
        raise InvalidFilter(name, value, _SECONDS + " (at most timedelta.max)") from None


class SupervisorQueries(RepositoryPart):
    """What Attune's supervisor would act on: ``stuck``."""

    def stuck(
        self,
        *,
        now: Any = None,
        scheduled_timeout: float | timedelta = 300,
        heartbeat_timeout: float | timedelta = 90,
        threshold: float | timedelta = timedelta(hours=1),
        limit: int | None = DEFAULT_LIMIT,
    ) -> pd.DataFrame:
        """Active executions that Attune's supervisor rules call stuck, at ``now``.

        - ``scheduled`` for more than ``scheduled_timeout`` seconds (300, the
          executor's default): Attune fails it (``scheduled_timeout``);
        - ``running`` on a worker that is missing (no worker, or its row is gone:
          ``worker_missing``), inactive (``worker_inactive``), or whose last
          heartbeat (its registration, before the first) is more than
          ``heartbeat_timeout`` seconds old (``worker_heartbeat``): Attune abandons
          it. A workflow parent runs without a worker and is not reported;
        - ``requested``, ``scheduling`` or ``canceling`` for more than ``threshold``
          (``*_too_long``): no supervisor acts on those. A ``requested`` execution
          queued behind its action's concurrency limit (a ``queued`` entry in
          ``execution_admission_entry``, where that table exists) is waiting, not
          stuck, and is never reported.

        When an execution entered its status comes from ``execution_history`` (its
        ``updated`` where the history lacks it). ``now`` defaults to the database's
        clock; pass the end of a recorded history (the demo's is
        ``attune_nb.demo.ANCHOR``) to ask what was stuck then. Timeouts take seconds
        or a timedelta. Rows: longest in their status first; ``limit=None`` for all.

        >>> from attune_nb.demo import ANCHOR
        >>> stuck = db.executions.stuck(now=ANCHOR)
        >>> stuck[stuck["rule"] == "scheduled_timeout"][["id", "status", "attune_would"]]
              id     status                                    attune_would
        3  16663  scheduled  fail it (failed_by: execution_timeout_monitor)
        4  16664  scheduled  fail it (failed_by: execution_timeout_monitor)
        5  16665  scheduled  fail it (failed_by: execution_timeout_monitor)
        """
        scheduled = _duration("scheduled_timeout", scheduled_timeout)
        heartbeat = _duration("heartbeat_timeout", heartbeat_timeout)
        waited = _duration("threshold", threshold)
        check_limit("limit", limit, none=True)
        _check_limit(limit, 0)
        if now is not None:
            to_utc("now", now)  # refuses what utc() would fail on (a year past 9999 in UTC)
            if isinstance(now, pd.Timestamp) and now is not pd.NaT:
                now = now.floor("us")  # what PostgreSQL keeps; pandas warns when it cuts
        at: Any = (
            sa.func.now() if now is None else sa.literal(utc("now", now).to_pydatetime(), t.TZ)
        )
        h, w = t.execution_history, _worker
        entered = (
            sa.select(sa.func.max(h.c.time))
            .where(
                h.c.entity_id == _e.c.id,
                # Bounded by the execution's lifetime: the partitions it spans.
                h.c.time.between(_e.c.created, _e.c.updated),
                h.c.new_values["status"].astext == sa.cast(_e.c.status, sa.Text),
                sa.or_(
                    h.c.operation == "INSERT", sa.literal("status") == sa.any_(h.c.changed_fields)
                ),
            )
            .scalar_subquery()
        )
        since = sa.func.coalesce(entered, _e.c.updated)
        present = self.db.schema_features
        if t.ADMISSION_ENTRY in present:
            entry = t.admission_entry
            queued: Any = sa.exists().where(
                entry.c.execution_id == _e.c.id, entry.c.status == "queued"
            )
        else:
            queued = sa.false()
        child = _e.alias("child")
        workflow: Any = sa.exists().where(child.c.parent == _e.c.id)
        if "workflow_def" in present:
            workflow = sa.or_(t.optional_execution_column("workflow_def").is_not(None), workflow)
        base = (
            sa.select(
                _e.c.id,
                _e.c.action_ref,
                _e.c.status,
                since.label("since"),
                _e.c.worker,
                w.c.id.label("worker_row"),
                sa.cast(w.c.status, sa.Text).label("worker_status"),
                sa.func.coalesce(w.c.last_heartbeat, w.c.created).label("heartbeat"),
                queued.label("queued"),
                sa.and_(_e.c.worker.is_(None), workflow).label("workflow"),
            )
            .select_from(_e.outerjoin(w, w.c.id == _e.c.worker))
            .where(
                _e.c.status.in_(["requested", "scheduling", "scheduled", "running", "canceling"])
            )
            .subquery("active")
        )
        a = base.c
        age = at - a.since
        running = sa.and_(a.status == "running", ~a.workflow)
        too_long = age > sa.literal(waited, sa.Interval())
        rule = sa.case(
            (
                sa.and_(a.status == "scheduled", age > sa.literal(scheduled, sa.Interval())),
                "scheduled_timeout",
            ),
            (sa.and_(running, a.worker_row.is_(None)), "worker_missing"),
            (sa.and_(running, a.worker_status == "inactive"), "worker_inactive"),
            (
                sa.and_(running, at - a.heartbeat > sa.literal(heartbeat, sa.Interval())),
                "worker_heartbeat",
            ),
            (sa.and_(a.status == "requested", ~a.queued, too_long), "requested_too_long"),
            (sa.and_(a.status == "scheduling", too_long), "scheduling_too_long"),
            (sa.and_(a.status == "canceling", too_long), "canceling_too_long"),
        )
        judged = (
            sa.select(
                a.id,
                a.action_ref,
                a.status,
                a.since,
                at.label("now"),
                a.worker,
                rule.label("rule"),
            )
            .where(a.since <= at)
            .subquery("judged")
        )
        j = judged.c
        would = sa.case(*((j.rule == name, action) for name, action in RULES.items()))
        stmt = (
            sa.select(*judged.c, would.label("attune_would"))
            .where(j.rule.is_not(None))
            .order_by(j.since, j.id)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        # The age is computed here: the bulk reader has no conversion for intervals.
        found = self._read(stmt, _QUERIED)
        found.insert(4, "age", (found.pop("now") - found["since"]).astype("timedelta64[ns]"))
        return found
