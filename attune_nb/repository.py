"""The execution repository: every SQL statement about executions lives here.

Reads return :class:`~attune_nb.records.Execution` records or DataFrames of a fixed
layout (:mod:`attune_nb.frames`); hierarchies are one recursive query each; status
changes are compare-and-set in one statement (``WHERE id = :id AND status = :expected``).

>>> db.executions.frame(status=["failed", "timeout"], pack="deploy", limit=20)  # doctest: +SKIP
>>> db.executions.transition(42, "cancelled", expected="running")              # doctest: +SKIP
<Execution 42 core.local_cmd cancelled>
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Unpack

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from attune_nb import frames
from attune_nb import schema as t
from attune_nb.errors import (
    ConfigurationError,
    DatabaseOnlyWarning,
    ExecutionNotFound,
    InvalidFilter,
    StaleUpdate,
)
from attune_nb.filters import ExecutionFilters, check_id, execution_where, id_list, to_utc
from attune_nb.frames import HIERARCHY_COLUMNS, Column, execution_layout
from attune_nb.hierarchy import ExecutionNode, build_tree
from attune_nb.lifecycle import (
    ALLOWED_TRANSITIONS,
    ExecutionStatus,
    check_transition,
    parse_status,
)
from attune_nb.records import Execution

if TYPE_CHECKING:
    from attune_nb.engine import Engine

__all__ = ["ExecutionRepository"]

log = logging.getLogger("attune_nb")

DEFAULT_LIMIT = 1000


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
_e, _enf = t.execution, t.enforcement
_FROM = _e.outerjoin(_enf, _enf.c.id == _e.c.enforcement)
_ENF_COLUMNS = {"rule_ref": _enf.c.rule_ref, "trigger_ref": _enf.c.trigger_ref}


def _select_columns(layout: Sequence[Column], source: Any = None) -> list[Any]:
    """The SQL columns for the queried (non-derived) columns of an execution layout."""
    source = source if source is not None else _e
    cols: list[Any] = []
    for c in layout:
        if c.derived:
            continue
        if c.name in _ENF_COLUMNS:
            cols.append(_ENF_COLUMNS[c.name].label(c.name))
        elif c.name in source.c:
            cols.append(source.c[c.name].label(c.name))
    return cols


def _check_include(include: Iterable[str]) -> tuple[str, ...]:
    if isinstance(include, str):
        include = (include,)
    names = tuple(include)
    bad = [n for n in names if n not in frames.JSON_COLUMNS]
    if bad:
        raise InvalidFilter("include", bad[0], "some of " + ", ".join(frames.JSON_COLUMNS))
    return names


def _check_limit(limit: Any, offset: Any) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidFilter("limit", limit, "a whole number >= 0, or None for every row")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidFilter("offset", offset, "a whole number >= 0")


class ExecutionRepository:
    """Executions: records, frames, hierarchies, lifecycle transitions, history.

    Get it from a database: ``db.executions``.
    """

    def __init__(self, db: Engine) -> None:
        self.db = db

    def __repr__(self) -> str:
        return f"<ExecutionRepository {self.db.url}>"

    # -- single records ------------------------------------------------------------

    def get(self, execution_id: int, /) -> Execution:
        """The execution ``execution_id``; :class:`ExecutionNotFound` if there is none.

        >>> db.executions.get(42)                      # doctest: +SKIP
        <Execution 42 core.echo completed>
        """
        execution_id = check_id("id", execution_id)
        with self.db.transaction() as conn:
            row = conn.execute(sa.select(_e).where(_e.c.id == execution_id)).mappings().first()
        if row is None:
            raise ExecutionNotFound(execution_id)
        return Execution.from_row(row)

    def create(self, action_ref: str, /, *, action: int | None = None, config: Any = None,
               parent: int | None = None, enforcement: int | None = None,
               executor: int | None = None, status: str | ExecutionStatus = "requested",
               env_vars: Any = None, worker: int | None = None, result: Any = None,
               started_at: datetime | str | None = None, timeout_seconds: int | None = None,
               workflow_task: Any = None, retry_count: int = 0, max_retries: int | None = None,
               retry_reason: str | None = None, original_execution: int | None = None,
               trace_tag: str | None = None,
               permission_set_refs: Sequence[str] = ()) -> Execution:
        """Insert an execution and return it (``created`` equals ``updated``).

        A ``parent`` must exist (:class:`ExecutionNotFound` otherwise); ``status`` must
        be one of the ten.

        >>> db.executions.create("core.echo", config={"message": "hi"})  # doctest: +SKIP
        <Execution 101 core.echo requested>
        """
        if not isinstance(action_ref, str) or not action_ref.strip():
            raise ConfigurationError("action_ref", action_ref, "a ref like 'core.echo'")
        values: dict[str, Any] = {
            "action_ref": action_ref, "status": parse_status(status).value, "config": config,
            "env_vars": env_vars, "result": result, "workflow_task": workflow_task,
            "retry_reason": retry_reason, "trace_tag": trace_tag,
            "permission_set_refs": list(permission_set_refs),
        }
        for name, value in (("action", action), ("parent", parent),
                            ("enforcement", enforcement), ("executor", executor),
                            ("worker", worker), ("original_execution", original_execution)):
            values[name] = None if value is None else check_id(name, value)
        for name, value in (("timeout_seconds", timeout_seconds), ("max_retries", max_retries),
                            ("retry_count", retry_count)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigurationError(name, value, "a whole number")
            values[name] = value
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ConfigurationError("timeout_seconds", timeout_seconds, "a number above 0")
        if started_at is not None:
            values["started_at"] = to_utc("started_at", started_at)
        with self.db.transaction() as conn:
            if values["parent"] is not None:
                exists = conn.execute(sa.select(_e.c.id).where(_e.c.id == values["parent"]))
                if exists.first() is None:
                    raise ExecutionNotFound(values["parent"])
            row = conn.execute(_e.insert().values(**values).returning(*_e.c)).mappings().one()
        return Execution.from_row(row)

    def update(self, execution_id: int, /, *, status: Any = UNSET, result: Any = UNSET,
               executor: Any = UNSET, worker: Any = UNSET, started_at: Any = UNSET,
               env_vars: Any = UNSET, workflow_task: Any = UNSET, trace_tag: Any = UNSET,
               config: Any = UNSET) -> Execution:
        """Set the given fields as they are, like Attune's own repository; return the row.

        No lifecycle check is made (Attune's services move an execution from requested
        straight to running with it), but ``status`` must be one of the ten. Use
        :meth:`transition` for operator changes: it validates and compare-and-sets.
        With no field given the row is returned unchanged. The history is the trigger's.
        """
        execution_id = check_id("id", execution_id)
        changes: dict[str, Any] = {}
        if status is not UNSET:
            changes["status"] = parse_status(status).value
        for name, value in (("executor", executor), ("worker", worker)):
            if value is not UNSET:
                changes[name] = None if value is None else check_id(name, value)
        if started_at is not UNSET:
            changes["started_at"] = None if started_at is None else to_utc("started_at",
                                                                           started_at)
        for name, value in (("result", result), ("env_vars", env_vars),
                            ("workflow_task", workflow_task), ("trace_tag", trace_tag),
                            ("config", config)):
            if value is not UNSET:
                changes[name] = value
        if not changes:
            return self.get(execution_id)
        with self.db.transaction() as conn:
            row = conn.execute(_e.update().where(_e.c.id == execution_id).values(**changes)
                               .returning(*_e.c)).mappings().first()
        if row is None:
            raise ExecutionNotFound(execution_id)
        return Execution.from_row(row)

    def delete(self, execution_id: int, /) -> bool:
        """Delete an execution; False when there was none. Its history stays."""
        execution_id = check_id("id", execution_id)
        with self.db.transaction() as conn:
            return conn.execute(_e.delete().where(_e.c.id == execution_id)).rowcount > 0

    # -- frames ----------------------------------------------------------------------

    def _read(self, stmt: Any, layout: Sequence[Column], *, total: int | None = None
              ) -> pd.DataFrame:
        return self.db.read(stmt, layout, total=total, desc="reading executions")

    def _select(self, layout: Sequence[Column], filters: dict[str, Any]) -> Any:
        return sa.select(*_select_columns(layout)).select_from(_FROM).where(
            *execution_where(filters))

    def frame(self, *, include: Iterable[str] = (), limit: int | None = DEFAULT_LIMIT,
              offset: int = 0, **filters: Unpack[ExecutionFilters]) -> pd.DataFrame:
        """Executions as a DataFrame, newest first (``created`` then ``id`` descending).

        Filters (each one value or a list; combined with AND): ``status``, ``action_ref``,
        ``pack``, ``rule_ref``, ``trigger_ref`` (refs exact or ``'pack.*'``), ``executor``,
        ``worker``, ``enforcement``, ``parent``, ``top_level_only``, ``since``, ``until``
        (datetimes or ISO strings; naive means UTC). JSON columns (``config``,
        ``result``, ``env_vars``, ``workflow_task``) only when named in ``include``.
        ``limit=None`` returns every row, streamed with a progress bar when large.

        >>> db.executions.frame(status="failed", action_ref="deploy.*", since="2026-01-10")
        ... # doctest: +SKIP
        """
        include = _check_include(include)
        _check_limit(limit, offset)
        layout = execution_layout(include)
        stmt = self._select(layout, dict(filters)).order_by(_e.c.created.desc(), _e.c.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        total = self.count(**filters) if limit is None else None
        return self._read(stmt, layout, total=total)

    def count(self, **filters: Unpack[ExecutionFilters]) -> int:
        """How many executions match the filters of :meth:`frame`."""
        where = execution_where(dict(filters))
        stmt = sa.select(sa.func.count()).select_from(_FROM).where(*where)
        with self.db.transaction() as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- hierarchies -------------------------------------------------------------------

    def _require(self, conn: sa.Connection, execution_id: int) -> None:
        found = conn.execute(sa.select(_e.c.id).where(_e.c.id == execution_id)).first()
        if found is None:
            raise ExecutionNotFound(execution_id)

    def children(self, execution_id: int, /, *, include: Iterable[str] = ()) -> pd.DataFrame:
        """The direct child tasks of an execution, in creation order."""
        execution_id = check_id("id", execution_id)
        include = _check_include(include)
        with self.db.transaction() as conn:
            self._require(conn, execution_id)
        layout = execution_layout(include)
        stmt = self._select(layout, {"parent": execution_id}).order_by(_e.c.created, _e.c.id)
        return self._read(stmt, layout)

    def descendants(self, root_id: int, /, *, max_depth: int | None = None,
                    include: Iterable[str] = ()) -> pd.DataFrame:
        """The root and everything below it in one recursive query, level by level.

        Rows come level by level (``depth``), each level in creation order; use
        :meth:`tree` (or ``ExecutionNode.to_frame()``) for depth-first order.

        Adds ``depth`` (0 for the root), ``path`` (ids from the root), ``root``,
        ``orphan`` (the root's parent is set but gone) and ``cycle`` (a loop in
        corrupted data was cut below this row).
        """
        root_id = check_id("id", root_id)
        include = _check_include(include)
        if max_depth is not None and (isinstance(max_depth, bool)
                                      or not isinstance(max_depth, int) or max_depth < 0):
            raise InvalidFilter("max_depth", max_depth, "a whole number >= 0, or None")
        with self.db.transaction() as conn:
            self._require(conn, root_id)
        layout = execution_layout(include, HIERARCHY_COLUMNS)
        depth_guard = "" if max_depth is None else f"AND t.depth < {int(max_depth)}"
        tree = sa.text(f"""
            WITH RECURSIVE tree(id, depth, path, is_cycle) AS (
                SELECT e.id, 0, ARRAY[e.id], false FROM attune.execution e WHERE e.id = :root
                UNION ALL
                SELECT c.id, t.depth + 1, t.path || c.id, c.id = ANY(t.path)
                FROM attune.execution c JOIN tree t ON c.parent = t.id
                WHERE NOT t.is_cycle {depth_guard}
            )
            SELECT id, depth, path, is_cycle FROM tree
        """).bindparams(root=root_id).columns(
            id=sa.BigInteger, depth=sa.Integer, path=postgresql.ARRAY(sa.BigInteger),
            is_cycle=sa.Boolean).cte("nodes")
        return self._hierarchy_frame(tree, layout, root=sa.literal(root_id, sa.BigInteger),
                                     order=(tree.c.depth, _e.c.created, tree.c.id),
                                     orphan_depth=0)

    def ancestors(self, execution_id: int, /, *, include: Iterable[str] = ()) -> pd.DataFrame:
        """The parent, grandparent, … of an execution (nearest first), in one query.

        ``depth`` is 1 for the parent; ``path`` runs from the execution up to the row;
        ``root`` is the topmost ancestor found; ``orphan`` marks a row whose parent is
        set but gone; ``cycle`` marks where a loop in corrupted data was cut.
        """
        execution_id = check_id("id", execution_id)
        include = _check_include(include)
        with self.db.transaction() as conn:
            self._require(conn, execution_id)
        layout = execution_layout(include, HIERARCHY_COLUMNS)
        up = sa.text("""
            WITH RECURSIVE up(id, parent, depth, path, is_cycle) AS (
                SELECT e.id, e.parent, 0, ARRAY[e.id], false
                FROM attune.execution e WHERE e.id = :id
                UNION ALL
                SELECT p.id, p.parent, u.depth + 1, u.path || p.id, p.id = ANY(u.path)
                FROM attune.execution p JOIN up u ON p.id = u.parent
                WHERE NOT u.is_cycle
            )
            SELECT id, depth, path, is_cycle FROM up WHERE depth > 0
        """).bindparams(id=execution_id).columns(
            id=sa.BigInteger, depth=sa.Integer, path=postgresql.ARRAY(sa.BigInteger),
            is_cycle=sa.Boolean).cte("nodes")
        top = (sa.select(up.c.id).where(sa.not_(up.c.is_cycle)).order_by(up.c.depth.desc())
               .limit(1).scalar_subquery())
        return self._hierarchy_frame(up, layout, root=top, order=(up.c.depth,),
                                     orphan_depth=None)

    def _hierarchy_frame(self, tree: Any, layout: Sequence[Column], *, root: Any,
                         order: tuple[Any, ...], orphan_depth: int | None) -> pd.DataFrame:
        parent_row = t.execution.alias("parent_row")
        # Only the top of a tree can be an orphan (its parent is outside the tree): the
        # CASE keeps the lookup to that row.
        gone = sa.and_(_e.c.parent.is_not(None), ~sa.exists().where(parent_row.c.id == _e.c.parent))
        orphan = gone if orphan_depth is None else sa.case(
            (tree.c.depth == orphan_depth, gone), else_=sa.false())
        # A row whose child repeats an id on its path: the loop is cut there.
        looped = sa.select(tree.c.path[sa.func.cardinality(tree.c.path) - 1]).where(
            tree.c.is_cycle)
        cols = _select_columns([c for c in layout if c.name not in
                                {h.name for h in HIERARCHY_COLUMNS}])
        stmt = (
            sa.select(
                *cols,
                tree.c.depth.label("depth"),
                tree.c.path.label("path"),
                root.label("root"),
                orphan.label("orphan"),
                _e.c.id.in_(looped).label("cycle"),
            )
            .select_from(
                tree.join(_e, _e.c.id == tree.c.id)
                .outerjoin(_enf, _enf.c.id == _e.c.enforcement)
            )
            .where(sa.not_(tree.c.is_cycle))
            .order_by(*order)
        )
        return self._read(stmt, layout)

    def tree(self, root_id: int, /, *, max_depth: int | None = None) -> ExecutionNode:
        """The workflow below ``root_id`` as an :class:`ExecutionNode` (one query).

        >>> print(db.executions.tree(1))               # doctest: +SKIP
        """
        frame = self.descendants(root_id, max_depth=max_depth, include=frames.JSON_COLUMNS)
        return build_tree(frame)

    def retries(self, execution_id: int, /) -> pd.DataFrame:
        """The whole retry chain that ``execution_id`` belongs to, first attempt first."""
        execution_id = check_id("id", execution_id)
        with self.db.transaction() as conn:
            self._require(conn, execution_id)
        layout = execution_layout()
        chain = sa.text("""
            WITH RECURSIVE up(id, original, path) AS (
                SELECT id, original_execution, ARRAY[id] FROM attune.execution WHERE id = :id
                UNION ALL
                SELECT p.id, p.original_execution, u.path || p.id
                FROM attune.execution p JOIN up u ON p.id = u.original
                WHERE NOT p.id = ANY(u.path)
            ),
            first AS (SELECT id FROM up ORDER BY cardinality(path) DESC LIMIT 1),
            down(id, path) AS (
                SELECT id, ARRAY[id] FROM first
                UNION ALL
                SELECT c.id, d.path || c.id
                FROM attune.execution c JOIN down d ON c.original_execution = d.id
                WHERE NOT c.id = ANY(d.path)
            )
            SELECT DISTINCT id FROM down
        """).bindparams(id=execution_id).columns(id=sa.BigInteger).subquery("chain")
        stmt = (sa.select(*_select_columns(layout))
                .select_from(chain.join(_e, _e.c.id == chain.c.id)
                             .outerjoin(_enf, _enf.c.id == _e.c.enforcement))
                .order_by(_e.c.retry_count, _e.c.created, _e.c.id))
        return self._read(stmt, layout)

    # -- lifecycle ---------------------------------------------------------------------

    def transition(self, execution_id: int, to: str | ExecutionStatus, /, *,
                   expected: str | ExecutionStatus | None = None,
                   result: Any = UNSET) -> Execution:
        """Move an execution to ``to`` if the lifecycle allows it, with compare-and-set.

        The write is one statement, ``UPDATE … WHERE id = :id AND status = :expected``:
        if the execution is no longer ``expected`` (default: what it is when read) the
        write is refused with :class:`StaleUpdate` and nothing changes. Entering
        ``running`` sets ``started_at`` if unset. ``result`` (when given) is written
        in the same statement.

        Raises :class:`InvalidTransition`, :class:`StaleUpdate`, :class:`ExecutionNotFound`.

        >>> db.executions.transition(42, "cancelled", expected="requested")  # doctest: +SKIP
        <Execution 42 core.local_cmd cancelled>
        """
        execution_id = check_id("id", execution_id)
        target = parse_status(to)
        if expected is not None:
            check_transition(expected, target, execution_id=execution_id)
        with self.db.transaction() as conn:
            current = conn.execute(sa.select(_e.c.status).where(_e.c.id == execution_id)
                                   ).scalar()
            if current is None:
                raise ExecutionNotFound(execution_id)
            guard = parse_status(expected) if expected is not None else ExecutionStatus(current)
            if expected is None:
                check_transition(guard, target, execution_id=execution_id)
            values: dict[str, Any] = {"status": target.value}
            if target is ExecutionStatus.RUNNING:
                values["started_at"] = sa.func.coalesce(_e.c.started_at, sa.func.now())
            if result is not UNSET:
                values["result"] = result
            row = conn.execute(
                _e.update().where(_e.c.id == execution_id, _e.c.status == guard.value)
                .values(**values).returning(*_e.c)).mappings().first()
            if row is None:
                actual = conn.execute(sa.select(_e.c.status).where(_e.c.id == execution_id)
                                      ).scalar()
                if actual is None:
                    raise ExecutionNotFound(execution_id)
                raise StaleUpdate(execution_id, guard.value, str(actual))
        self._warn_if_live(guard, target)
        return Execution.from_row(row)

    def _warn_if_live(self, current: ExecutionStatus, target: ExecutionStatus) -> None:
        stopping = target in (ExecutionStatus.CANCELING, ExecutionStatus.CANCELLED,
                              ExecutionStatus.ABANDONED, ExecutionStatus.FAILED,
                              ExecutionStatus.TIMEOUT)
        if stopping and current in (ExecutionStatus.RUNNING, ExecutionStatus.CANCELING) \
                and not self.db.managed:
            warnings.warn(
                f"status set to {target.value} in the database only: a live Attune's worker is "
                "not told (its message broker is not involved) and may keep running. Cancel "
                "through Attune's API to stop the work itself.",
                DatabaseOnlyWarning, stacklevel=3)

    def bulk_transition(self, to: str | ExecutionStatus, /, *, ids: Iterable[int] | None = None,
                        dry_run: bool = True, result: Any = UNSET,
                        **filters: Unpack[ExecutionFilters]) -> pd.DataFrame:
        """Move many executions to ``to``: preview by default, one transaction when applied.

        Select with ``ids`` and/or the filters of :meth:`frame` (at least one). The
        frame has one row per selected execution: ``id``, ``action_ref``, ``current``,
        ``to``, ``allowed``, ``reason`` and ``applied``. With ``dry_run=True`` nothing
        changes. Applied, every allowed row is compare-and-set against the status it
        had in the preview; rows that changed meanwhile are skipped, with the reason.

        >>> db.executions.bulk_transition("abandoned", status="scheduled",
        ...                               until="2026-01-12")          # doctest: +SKIP
        """
        target = parse_status(to)
        if not isinstance(dry_run, bool):
            raise InvalidFilter("dry_run", dry_run, "True (preview) or False (apply)")
        selection = dict(filters)
        where = execution_where(selection)
        if ids is None and not where:
            raise InvalidFilter("ids", None, "ids=[…] or at least one filter that selects: a "
                                             "bulk change of every execution is never meant")
        if ids is not None:
            where.append(_e.c.id.in_(id_list("ids", ids)))
        layout = frames.BULK_COLUMNS
        with self.db.transaction() as conn:
            rows = conn.execute(
                sa.select(_e.c.id, _e.c.action_ref, _e.c.status).select_from(_FROM)
                .where(*where).order_by(_e.c.id)).all()
            preview = []
            for row in rows:
                current = ExecutionStatus(row.status)
                allowed = target in ALLOWED_TRANSITIONS[current]
                reason = "allowed" if allowed else _refusal(current, target)
                preview.append([row.id, row.action_ref, current.value, target.value, allowed,
                                reason, False])
            if not dry_run:
                todo = [p for p in preview if p[4]]
                changed: set[int] = set()
                if todo:
                    stmt = sa.text(_BULK_UPDATE).bindparams(
                        sa.bindparam("result", type_=postgresql.JSONB(none_as_null=True)),
                        to=target.value, running=target is ExecutionStatus.RUNNING,
                        set_result=result is not UNSET,
                        result=None if result is UNSET else result,
                        ids=[p[0] for p in todo], expected=[p[2] for p in todo])
                    changed = {r[0] for r in conn.execute(stmt)}
                now = {r.id: r.status for r in conn.execute(
                    sa.select(_e.c.id, _e.c.status).where(
                        _e.c.id.in_([p[0] for p in todo]))) } if todo else {}
                for p in preview:
                    if p[0] in changed:
                        p[6] = True
                        p[5] = "applied"
                    elif p[4]:
                        p[5] = f"skipped: changed meanwhile (now {now.get(p[0], 'deleted')})"
        frame = frames.records_frame(preview, layout)
        if not dry_run:
            applied = int(frame["applied"].sum())
            log.info("bulk_transition to %s: %d applied, %d skipped", target.value, applied,
                     len(frame) - applied)
            if applied:
                self._warn_bulk(frame)
        return frame

    def _warn_bulk(self, frame: pd.DataFrame) -> None:
        live = frame[frame["applied"].astype(bool)]
        for current in live["current"].unique():
            self._warn_if_live(ExecutionStatus(str(current)), ExecutionStatus(str(live["to"].iloc[0])))

    # -- history ---------------------------------------------------------------------

    def history(self, execution_id: int, /, *, since: datetime | str | None = None,
                until: datetime | str | None = None) -> pd.DataFrame:
        """The audit rows of one execution, in time order (ties by lifecycle order).

        Columns: ``time``, ``operation``, ``changed_fields``, ``old_status``,
        ``new_status``, ``old_values``, ``new_values``. Works for deleted executions.
        """
        execution_id = check_id("id", execution_id)
        h = t.execution_history
        with self.db.transaction() as conn:
            created = conn.execute(sa.select(_e.c.created).where(_e.c.id == execution_id)
                                   ).scalar()
        lo = to_utc("since", since) if since is not None else created
        where = [h.c.entity_id == execution_id]
        # The history is partitioned by time: a lower bound lets PostgreSQL skip partitions.
        if lo is not None:
            where.append(h.c.time >= lo)
        if until is not None:
            where.append(h.c.time < to_utc("until", until))
        new_status = h.c.new_values["status"].astext
        stmt = (sa.select(h.c.time, h.c.operation, h.c.changed_fields,
                          h.c.old_values["status"].astext.label("old_status"),
                          new_status.label("new_status"), h.c.old_values, h.c.new_values)
                .where(*where)
                .order_by(h.c.time, sa.case((h.c.operation == "INSERT", 0),
                                            (h.c.operation == "UPDATE", 1), else_=2),
                          _lifecycle_order(new_status)))
        frame = self._read(stmt, frames.HISTORY_COLUMNS)
        if frame.empty and created is None:
            raise ExecutionNotFound(execution_id)
        return frame

    def intervals(self, *, limit: int | None = None,
                  **filters: Unpack[ExecutionFilters]) -> pd.DataFrame:
        """One row per (execution, status it was in): ``entered``, ``left``, ``duration``.

        Computed in SQL from ``execution_history`` with a window function, bounded by
        the selected executions' time span. The filters are those of :meth:`frame`
        (they select executions); ``left`` and ``duration`` are empty for the status
        an execution is in now. ``seq`` numbers the intervals of one execution.
        """
        _check_limit(limit, 0)
        selection = dict(filters)
        sel = (sa.select(_e.c.id, _e.c.created, _e.c.updated).select_from(_FROM)
               .where(*execution_where(selection))
               .order_by(_e.c.created.desc(), _e.c.id.desc()))
        if limit is not None:
            sel = sel.limit(limit)
        sel_sub = sel.subquery("sel")
        with self.db.transaction() as conn:
            lo, hi = conn.execute(sa.select(sa.func.min(sel_sub.c.created),
                                            sa.func.max(sel_sub.c.updated))).one()
        if lo is None:
            return frames.empty_frame(frames.INTERVAL_COLUMNS)
        h = t.execution_history
        status = h.c.new_values["status"].astext
        window_order = (h.c.time, sa.case((h.c.operation == "INSERT", 0), else_=1),
                        _lifecycle_order(status))
        ids = sa.select(sel_sub.c.id)
        steps = (sa.select(
            h.c.entity_id.label("execution_id"), h.c.entity_ref.label("action_ref"),
            status.label("status"),
            sa.func.row_number().over(partition_by=h.c.entity_id, order_by=window_order)
            .label("seq"),
            h.c.time.label("entered"),
            sa.func.lead(h.c.time).over(partition_by=h.c.entity_id, order_by=window_order)
            .label("left"))
            .where(h.c.entity_id.in_(ids), h.c.time >= lo,
                   h.c.time <= hi,
                   sa.or_(h.c.operation == "INSERT",
                          sa.literal("status") == sa.any_(h.c.changed_fields)))
            .subquery("steps"))
        stmt = (sa.select(steps.c.execution_id, steps.c.action_ref, steps.c.status, steps.c.seq,
                          steps.c.entered, steps.c.left, steps.c.left.is_(None).label("current"))
                .order_by(steps.c.execution_id.desc(), steps.c.seq))
        return self._read(stmt, frames.INTERVAL_COLUMNS)


def _lifecycle_order(status: Any) -> Any:
    """The position of a status (text) in the database's own enum order: the tie-break
    for history rows that share a ``time`` (one transaction)."""
    statuses = sa.cast(sa.func.enum_range(sa.null().cast(t.STATUS)), postgresql.ARRAY(sa.Text))
    return sa.func.array_position(statuses, status)


def _refusal(current: ExecutionStatus, target: ExecutionStatus) -> str:
    if current is target:
        return f"already {current.value}"
    options = sorted(ALLOWED_TRANSITIONS[current], key=lambda s: s.order)
    if not options:
        return f"{current.value} is terminal"
    return f"{current.value} may only become {', '.join(s.value for s in options)}"


# Compare-and-set per row: each id is updated only while it has its previewed status.
_BULK_UPDATE = """
UPDATE attune.execution AS e
SET status = CAST(:to AS attune.execution_status_enum),
    started_at = CASE WHEN :running THEN coalesce(e.started_at, now()) ELSE e.started_at END,
    result = CASE WHEN :set_result THEN :result ELSE e.result END
FROM unnest(CAST(:ids AS bigint[]), CAST(:expected AS text[])) AS guard(id, expected)
WHERE e.id = guard.id AND e.status::text = guard.expected
RETURNING e.id
"""
