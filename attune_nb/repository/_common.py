"""What the parts of the execution repository share: the tables, column lists, checks.

Private: the repository is :class:`attune_nb.repository.ExecutionRepository`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from attune_nb import frames
from attune_nb import schema as t
from attune_nb.errors import (
    ExecutionNotFound,
)
from attune_nb.filters import check_id, check_include, check_limit, execution_where
from attune_nb.frames import Column
from attune_nb.records import Execution

if TYPE_CHECKING:
    from attune_nb._reader import Total
    from attune_nb.engine import Engine

log = logging.getLogger("attune_nb")

DEFAULT_LIMIT = 1000
WITHOUT_HISTORY = "without_history"
"""The ``attrs`` key of an intervals frame: selected executions that have no history rows."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""The value of an option that was not given (None is a value: SQL NULL)."""
_e, _enf = t.execution, t.enforcement
_FROM = _e.outerjoin(_enf, _enf.c.id == _e.c.enforcement)
_ENF_COLUMNS = {"rule_ref": _enf.c.rule_ref, "trigger_ref": _enf.c.trigger_ref}


def _select_columns(
    layout: Sequence[Column], source: Any = None, *, present: frozenset[str] = frozenset()
) -> list[Any]:
    """The SQL columns for the queried (non-derived) columns of an execution layout.

    An optional column (``workflow_def``) the database lacks (not in ``present``) is
    read as NULL.
    """
    source = source if source is not None else _e
    cols: list[Any] = []
    for c in layout:
        if c.derived:
            continue
        if c.name in t.OPTIONAL_EXECUTION_COLUMNS:
            kind = t.OPTIONAL_EXECUTION_COLUMNS[c.name]
            found = c.name in present
            column = t.optional_execution_column(c.name) if found else sa.null().cast(kind)
            cols.append(column.label(c.name))
        elif c.name in _ENF_COLUMNS:
            cols.append(_ENF_COLUMNS[c.name].label(c.name))
        elif c.name in source.c:
            cols.append(source.c[c.name].label(c.name))
    if any(c.name in ("queue_wait", "run_time") for c in layout):
        cols.append(_running_since(source).label("running_since"))
    return cols


_BEFORE_RUNNING = ("requested", "scheduling", "scheduled")


def _running_since(source: Any) -> Any:
    """When an execution entered running: its ``started_at``, or the history's first
    row into running where the row has none but has got past ``scheduled`` (upstream
    leaves ``started_at`` NULL on workflow parents; unguarded paths may too)."""
    h = t.execution_history
    entered = (
        sa.select(sa.func.min(h.c.time))
        .where(
            h.c.entity_id == source.c.id,
            # Bounded by the execution's own lifetime: the partitions it spans, and
            # the (entity_id, time) index alone serves the lookup.
            h.c.time.between(source.c.created, source.c.updated),
            h.c.new_values["status"].astext == "running",
        )
        .scalar_subquery()
    )
    return sa.case(
        (
            sa.and_(source.c.started_at.is_(None), source.c.status.not_in(_BEFORE_RUNNING)),
            entered,
        ),
        else_=source.c.started_at,
    )


def _check_include(include: Iterable[str]) -> tuple[str, ...]:
    return check_include(include, frames.JSON_COLUMNS)


def _check_limit(limit: Any, offset: Any) -> None:
    check_limit("limit", limit, none=True)
    check_limit("offset", offset, none=False)


class RepositoryPart:
    """The state and helpers every part of the execution repository uses."""

    def __init__(self, db: Engine) -> None:
        self.db = db

    def get(self, execution_id: int, /) -> Execution:
        """The execution ``execution_id``; :class:`ExecutionNotFound` if there is none.

        >>> db.executions.get(42)
        <Execution 42 core.echo completed>
        """
        execution_id = check_id("id", execution_id)
        with self.db.transaction() as conn:
            row = conn.execute(sa.select(_e).where(_e.c.id == execution_id)).mappings().first()
        if row is None:
            raise ExecutionNotFound(execution_id)
        return Execution.from_row(row)

    def _read(self, stmt: Any, layout: Sequence[Column], *, total: Total = None) -> pd.DataFrame:
        return self.db.read(stmt, layout, total=total, desc="reading executions")

    def _select(self, layout: Sequence[Column], filters: dict[str, Any]) -> Any:
        return (
            sa.select(*_select_columns(layout, present=self.db.schema_features))
            .select_from(_FROM)
            .where(*execution_where(filters, present=self.db.schema_features))
        )

    def _require(self, conn: sa.Connection, execution_id: int) -> None:
        found = conn.execute(sa.select(_e.c.id).where(_e.c.id == execution_id)).first()
        if found is None:
            raise ExecutionNotFound(execution_id)


def _lifecycle_statuses() -> Any:
    """The database's statuses in its own enum order, as ``text[]``.

    A scalar subquery: PostgreSQL reads the enum once per statement (an InitPlan), not
    once per row (``enum_range`` looks the catalog up each time: 30 s on 5M history rows).
    """
    return sa.select(
        sa.cast(sa.func.enum_range(sa.null().cast(t.STATUS)), postgresql.ARRAY(sa.Text))
    ).scalar_subquery()


def _lifecycle_order(status: Any) -> Any:
    """The position of a status (text) in the database's own enum order: the tie-break
    for history rows that share a ``time`` (one transaction)."""
    return sa.func.array_position(_lifecycle_statuses(), status)
