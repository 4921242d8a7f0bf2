"""Reading executions: one record, frames with filters, counts, history, intervals."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from datetime import datetime
from typing import Unpack

import pandas as pd
import sqlalchemy as sa

from attune_nb import frames
from attune_nb import schema as t
from attune_nb.errors import ExecutionNotFound, SkippedRowsWarning
from attune_nb.filters import ExecutionFilters, check_id, execution_where, to_utc
from attune_nb.frames import execution_layout
from attune_nb.records import Execution
from attune_nb.repository._common import (
    _FROM,
    DEFAULT_LIMIT,
    WITHOUT_HISTORY,
    RepositoryPart,
    _check_include,
    _check_limit,
    _e,
    _lifecycle_order,
)


class ExecutionReads(RepositoryPart):
    """Reads: ``get``, ``frame``, ``latest``, ``count``, ``history``, ``intervals``."""

    def frame(
        self,
        *,
        include: Iterable[str] = (),
        limit: int | None = DEFAULT_LIMIT,
        offset: int = 0,
        **filters: Unpack[ExecutionFilters],
    ) -> pd.DataFrame:
        """Executions as a DataFrame, newest first (``created`` then ``id`` descending).

        Filters (each one value or a list; combined with AND): ``status``, ``action_ref``,
        ``pack``, ``rule_ref``, ``trigger_ref`` (refs exact or ``'pack.*'``), ``executor``,
        ``worker``, ``enforcement``, ``parent``, ``top_level_only``, ``since``, ``until``
        (datetimes or ISO strings; naive means UTC). JSON columns (``config``,
        ``result``, ``env_vars``, ``workflow_task``) only when named in ``include``.
        ``limit=None`` returns every row, streamed with a progress bar when large.

        >>> failed = db.executions.frame(status="failed", action_ref="deploy.*", since="2026-01-13")
        >>> failed[["id", "action_ref", "status"]].head(3)
              id      action_ref  status
        0  19969    deploy.build  failed
        1  19967  deploy.release  failed
        2  19966    deploy.build  failed
        """
        include = _check_include(include)
        _check_limit(limit, offset)
        layout = execution_layout(include)
        stmt = self._select(layout, dict(filters)).order_by(_e.c.created.desc(), _e.c.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        # Counted beside the read, while the server sorts (see ArrowReader.read).
        total = functools.partial(self.count, **filters) if limit is None else None
        return self._read(stmt, layout, total=total)

    def latest(self, **filters: Unpack[ExecutionFilters]) -> Execution | None:
        """The newest execution matching the filters of :meth:`frame`, or None if none does.

        What a notebook picks "one example" with, without an ``IndexError`` on an
        empty window.

        >>> db.executions.latest(action_ref="deploy.release", status="failed")
        <Execution 19967 deploy.release failed>
        >>> db.executions.latest(action_ref="deploy.release", since="2027-01-01") is None
        True
        """
        where = execution_where(dict(filters), present=self.db.schema_features)
        stmt = (
            sa.select(_e)
            .select_from(_FROM)
            .where(*where)
            .order_by(_e.c.created.desc(), _e.c.id.desc())
            .limit(1)
        )
        with self.db.transaction() as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else Execution.from_row(row)

    def count(self, **filters: Unpack[ExecutionFilters]) -> int:
        """How many executions match the filters of :meth:`frame`."""
        where = execution_where(dict(filters), present=self.db.schema_features)
        stmt = sa.select(sa.func.count()).select_from(_FROM).where(*where)
        with self.db.transaction() as conn:
            return int(conn.execute(stmt).scalar_one())

    def history(
        self,
        execution_id: int,
        /,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> pd.DataFrame:
        """The audit rows of one execution, in time order (ties by lifecycle order).

        Columns: ``time``, ``operation``, ``changed_fields``, ``old_status``,
        ``new_status``, ``old_values``, ``new_values``. Works for deleted executions.
        """
        execution_id = check_id("id", execution_id)
        h = t.execution_history
        with self.db.transaction() as conn:
            created = conn.execute(sa.select(_e.c.created).where(_e.c.id == execution_id)).scalar()
        lo = to_utc("since", since) if since is not None else created
        where = [h.c.entity_id == execution_id]
        # The history is partitioned by time: a lower bound lets PostgreSQL skip partitions.
        if lo is not None:
            where.append(h.c.time >= lo)
        if until is not None:
            where.append(h.c.time < to_utc("until", until))
        new_status = h.c.new_values["status"].astext
        stmt = (
            sa.select(
                h.c.time,
                h.c.operation,
                h.c.changed_fields,
                h.c.old_values["status"].astext.label("old_status"),
                new_status.label("new_status"),
                h.c.old_values,
                h.c.new_values,
            )
            .where(*where)
            .order_by(
                h.c.time,
                sa.case((h.c.operation == "INSERT", 0), (h.c.operation == "UPDATE", 1), else_=2),
                _lifecycle_order(new_status),
            )
        )
        frame = self._read(stmt, frames.HISTORY_COLUMNS)
        if frame.empty and created is None:
            raise ExecutionNotFound(execution_id)
        return frame

    def intervals(
        self, *, limit: int | None = None, **filters: Unpack[ExecutionFilters]
    ) -> pd.DataFrame:
        """One row per (execution, status it was in): ``entered``, ``left``, ``duration``.

        Computed in SQL from ``execution_history`` with a window function, bounded by
        the selected executions' time span. The filters are those of :meth:`frame`
        (they select executions); ``left`` and ``duration`` are empty for the status
        an execution is in now. ``seq`` numbers the intervals of one execution.
        ``attrs["without_history"]`` counts the selected executions that have no history
        rows in their time span (retention deleted them, or an import wrote none): they
        have no intervals, and the analyses built on these rows leave them out. When
        there are any, :class:`~attune_nb.errors.SkippedRowsWarning` says so.
        """
        _check_limit(limit, 0)
        selection = dict(filters)
        sel = (
            sa.select(_e.c.id, _e.c.created, _e.c.updated)
            .select_from(_FROM)
            .where(*execution_where(selection, present=self.db.schema_features))
            .order_by(_e.c.created.desc(), _e.c.id.desc())
        )
        if limit is not None:
            sel = sel.limit(limit)
        sel_sub = sel.subquery("sel")
        with self.db.transaction() as conn:
            lo, hi, selected = conn.execute(
                sa.select(
                    sa.func.min(sel_sub.c.created),
                    sa.func.max(sel_sub.c.updated),
                    sa.func.count(),
                )
            ).one()
        if lo is None:
            empty = frames.empty_frame(frames.INTERVAL_COLUMNS)
            empty.attrs[WITHOUT_HISTORY] = 0
            return empty
        h = t.execution_history
        status = h.c.new_values["status"].astext
        window_order = (
            h.c.time,
            sa.case((h.c.operation == "INSERT", 0), else_=1),
            _lifecycle_order(status),
        )
        ids = sa.select(sel_sub.c.id)
        steps = (
            sa.select(
                h.c.entity_id.label("execution_id"),
                h.c.entity_ref.label("action_ref"),
                status.label("status"),
                sa.func.row_number()
                .over(partition_by=h.c.entity_id, order_by=window_order)
                .label("seq"),
                h.c.time.label("entered"),
                sa.func.lead(h.c.time)
                .over(partition_by=h.c.entity_id, order_by=window_order)
                .label("left"),
            )
            .where(
                h.c.entity_id.in_(ids),
                h.c.time >= lo,
                h.c.time <= hi,
                sa.or_(
                    h.c.operation == "INSERT", sa.literal("status") == sa.any_(h.c.changed_fields)
                ),
            )
            .subquery("steps")
        )
        stmt = sa.select(
            steps.c.execution_id,
            steps.c.action_ref,
            steps.c.status,
            steps.c.seq,
            steps.c.entered,
            steps.c.left,
            steps.c.left.is_(None).label("current"),
        ).order_by(steps.c.execution_id.desc(), steps.c.seq)
        frame = self._read(stmt, frames.INTERVAL_COLUMNS)
        # Retention may have dropped the history of executions it kept: they have no
        # intervals, so say how many of the selection were left out.
        missing = int(selected) - int(frame["execution_id"].nunique())
        frame.attrs[WITHOUT_HISTORY] = missing
        if missing:
            warnings.warn(
                f"intervals: {missing} of {selected} executions selected have no history "
                f"rows between {lo} and {hi} (retention deleted them, or an import wrote "
                "none): they have no intervals, and analyses of these rows leave them out",
                SkippedRowsWarning,
                stacklevel=2,
            )
        return frame
