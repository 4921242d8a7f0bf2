"""Writing executions: Attune's plain writes and the lifecycle's compare-and-set transitions.

``transition`` is one statement (``UPDATE … WHERE id = :id AND status = :expected``);
``bulk_transition`` previews; ``apply`` applies a preview exactly as it is, in one
transaction, compare-and-set per row.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Unpack

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from attune_nb import frames
from attune_nb.errors import (
    ConfigurationError,
    DatabaseOnlyWarning,
    ExecutionNotFound,
    InvalidFilter,
    StaleUpdate,
)
from attune_nb.filters import (
    ExecutionFilters,
    check_id,
    check_int,
    check_json,
    check_text,
    execution_where,
    id_list,
    to_utc,
)
from attune_nb.lifecycle import (
    ALLOWED_TRANSITIONS,
    ExecutionStatus,
    check_transition,
    parse_status,
)
from attune_nb.records import Execution
from attune_nb.repository._common import (
    _FROM,
    UNSET,
    RepositoryPart,
    _e,
    log,
)


class ExecutionWrites(RepositoryPart):
    """Writes: create, update, delete, transition; bulk_transition previews, apply; cancel."""

    def create(
        self,
        action_ref: str,
        /,
        *,
        action: int | None = None,
        config: Any = None,
        parent: int | None = None,
        enforcement: int | None = None,
        executor: int | None = None,
        status: str | ExecutionStatus = "requested",
        env_vars: Any = None,
        worker: int | None = None,
        result: Any = None,
        started_at: datetime | str | None = None,
        timeout_seconds: int | None = None,
        workflow_task: Any = None,
        retry_count: int = 0,
        max_retries: int | None = None,
        retry_reason: str | None = None,
        original_execution: int | None = None,
        trace_tag: str | None = None,
        permission_set_refs: Sequence[str] = (),
    ) -> Execution:
        """Insert an execution and return it (``created`` equals ``updated``).

        A ``parent`` must exist (:class:`ExecutionNotFound` otherwise); ``status`` must
        be one of the ten.

        >>> db.executions.create("core.echo", config={"message": "hi"})
        <Execution 20001 core.echo requested>
        """
        if not isinstance(action_ref, str) or not action_ref.strip():
            raise ConfigurationError("action_ref", action_ref, "a ref like 'core.echo'")
        check_text("action_ref", action_ref, none=False)
        if isinstance(permission_set_refs, str) or not isinstance(permission_set_refs, Iterable):
            raise ConfigurationError(
                "permission_set_refs", permission_set_refs, "a list of refs (strings)"
            )
        refs = [check_text("permission_set_refs", r, none=False) for r in permission_set_refs]
        values: dict[str, Any] = {
            "action_ref": action_ref,
            "status": parse_status(status).value,
            "config": check_json("config", config),
            "env_vars": check_json("env_vars", env_vars),
            "result": check_json("result", result),
            "workflow_task": check_json("workflow_task", workflow_task),
            "retry_reason": check_text("retry_reason", retry_reason),
            "trace_tag": check_text("trace_tag", trace_tag),
            "permission_set_refs": refs,
        }
        for name, value in (
            ("action", action),
            ("parent", parent),
            ("enforcement", enforcement),
            ("executor", executor),
            ("worker", worker),
            ("original_execution", original_execution),
        ):
            values[name] = None if value is None else check_id(name, value)
        for name, value, low in (
            ("timeout_seconds", timeout_seconds, 1),  # the column's CHECK: > 0
            ("max_retries", max_retries, 0),
            ("retry_count", retry_count, 0),
        ):
            values[name] = None if value is None else check_int(name, value, low=low)
        if retry_count is None:
            raise ConfigurationError("retry_count", None, "a whole number (0 for a first attempt)")
        if started_at is not None:
            values["started_at"] = to_utc("started_at", started_at)
        self.db.check_write(
            "create",
            unheard="no executor will schedule it: Attune's executor picks up new executions "
            "from the API's message, not from the table",
        )
        with self.db.transaction() as conn:
            if values["parent"] is not None:
                exists = conn.execute(sa.select(_e.c.id).where(_e.c.id == values["parent"]))
                if exists.first() is None:
                    raise ExecutionNotFound(values["parent"])
            _check_references(conn, values)
            row = conn.execute(_e.insert().values(**values).returning(*_e.c)).mappings().one()
        return Execution.from_row(row)

    def update(
        self,
        execution_id: int,
        /,
        *,
        status: Any = UNSET,
        result: Any = UNSET,
        executor: Any = UNSET,
        worker: Any = UNSET,
        started_at: Any = UNSET,
        env_vars: Any = UNSET,
        workflow_task: Any = UNSET,
        trace_tag: Any = UNSET,
        config: Any = UNSET,
        force: bool = False,
    ) -> Execution:
        """Set the given fields as they are, like Attune's own repository; return the row.

        A ``status`` the lifecycle does not allow from the current one (a cancelled
        execution back to running, say) raises :class:`InvalidTransition` unless
        ``force=True``, the way Attune's own unguarded paths write. Use
        :meth:`transition` for operator changes: it also compare-and-sets. With no
        field given the row is returned unchanged. The history is the trigger's.
        """
        execution_id = check_id("id", execution_id)
        changes: dict[str, Any] = {}
        if status is not UNSET:
            changes["status"] = parse_status(status).value
        for name, value in (("executor", executor), ("worker", worker)):
            if value is not UNSET:
                changes[name] = None if value is None else check_id(name, value)
        if started_at is not UNSET:
            changes["started_at"] = None if started_at is None else to_utc("started_at", started_at)
        for name, value in (
            ("result", result),
            ("env_vars", env_vars),
            ("workflow_task", workflow_task),
            ("config", config),
        ):
            if value is not UNSET:
                changes[name] = check_json(name, value)
        if trace_tag is not UNSET:
            changes["trace_tag"] = check_text("trace_tag", trace_tag)
        if not isinstance(force, bool):
            raise ConfigurationError("force", force, "True or False")
        if not changes:
            return self.get(execution_id)
        self.db.check_write(
            "update",
            unheard="the executor and the workers are not told; a worker running it keeps running",
        )
        with self.db.transaction() as conn:
            current = conn.execute(
                sa.select(_e.c.status).where(_e.c.id == execution_id).with_for_update()
            ).scalar()
            if current is None:
                raise ExecutionNotFound(execution_id)
            target = changes.get("status")
            if target is not None and target != str(current) and not force:
                check_transition(str(current), target, execution_id=execution_id)
            _check_references(conn, changes)
            row = (
                conn.execute(
                    _e.update().where(_e.c.id == execution_id).values(**changes).returning(*_e.c)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise ExecutionNotFound(execution_id)
        return Execution.from_row(row)

    def delete(self, execution_id: int, /) -> bool:
        """Delete an execution; False when there was none. Its history stays."""
        execution_id = check_id("id", execution_id)
        self.db.check_write(
            "delete",
            unheard="a worker running it is not told and keeps running; its child tasks and "
            "inquiries stay",
        )
        with self.db.transaction() as conn:
            return conn.execute(_e.delete().where(_e.c.id == execution_id)).rowcount > 0

    def transition(
        self,
        execution_id: int,
        to: str | ExecutionStatus,
        /,
        *,
        expected: str | ExecutionStatus | None = None,
        result: Any = UNSET,
    ) -> Execution:
        """Move an execution to ``to`` if the lifecycle allows it, with compare-and-set.

        The write is one statement, ``UPDATE … WHERE id = :id AND status = :expected``:
        if the execution is no longer ``expected`` (default: what it is when read) the
        write is refused with :class:`StaleUpdate` and nothing changes. Entering
        ``running`` sets ``started_at`` if unset. ``result`` (when given) is written
        in the same statement.

        Raises :class:`InvalidTransition`, :class:`StaleUpdate`, :class:`ExecutionNotFound`.

        >>> db.executions.transition(16671, "cancelled", expected="requested")
        <Execution 16671 core.local_cmd cancelled>
        >>> db.executions.transition(16671, "running", expected="cancelled")
        Traceback (most recent call last):
        attune_nb.errors.InvalidTransition: ...
        """
        execution_id = check_id("id", execution_id)
        target = parse_status(to)
        if result is not UNSET:
            check_json("result", result)
        if expected is not None:
            check_transition(expected, target, execution_id=execution_id)
        with self.db.transaction() as conn:
            current = conn.execute(sa.select(_e.c.status).where(_e.c.id == execution_id)).scalar()
            if current is None:
                raise ExecutionNotFound(execution_id)
            guard = parse_status(expected) if expected is not None else ExecutionStatus(current)
            if expected is None:
                check_transition(guard, target, execution_id=execution_id)
            self.db.check_write("transition", unheard=_unheard(guard, target))
            values: dict[str, Any] = {"status": target.value}
            if target is ExecutionStatus.RUNNING:
                values["started_at"] = sa.func.coalesce(_e.c.started_at, sa.func.now())
            if result is not UNSET:
                values["result"] = result
            row = (
                conn.execute(
                    _e.update()
                    .where(_e.c.id == execution_id, _e.c.status == guard.value)
                    .values(**values)
                    .returning(*_e.c)
                )
                .mappings()
                .first()
            )
            if row is None:
                actual = conn.execute(
                    sa.select(_e.c.status).where(_e.c.id == execution_id)
                ).scalar()
                if actual is None:
                    raise ExecutionNotFound(execution_id)
                raise StaleUpdate(execution_id, guard.value, str(actual))
        return Execution.from_row(row)

    def bulk_transition(
        self,
        to: str | ExecutionStatus,
        /,
        *,
        ids: Iterable[int] | None = None,
        dry_run: bool = True,
        result: Any = UNSET,
        **filters: Unpack[ExecutionFilters],
    ) -> pd.DataFrame:
        """Preview moving many executions to ``to``; :meth:`apply` the preview to change them.

        Select with ``ids`` and/or the filters of :meth:`frame` (at least one). The
        frame has one row per selected execution, in id order: ``id``, ``action_ref``,
        ``current``, ``to``, ``allowed``, ``reason`` and ``applied``. Nothing changes.

        ``dry_run=False`` previews and applies at once, without anyone seeing the
        preview; the frame it returns says what it selected and what happened to each.

        >>> preview = db.executions.bulk_transition("abandoned", status="scheduled",
        ...                                         until="2026-01-12")
        >>> preview[["id", "current", "to", "allowed", "applied"]]
              id    current         to  allowed  applied
        0  16663  scheduled  abandoned     True    False
        1  16664  scheduled  abandoned     True    False
        2  16665  scheduled  abandoned     True    False
        """
        target = parse_status(to)
        if not isinstance(dry_run, bool):
            raise InvalidFilter("dry_run", dry_run, "True (preview) or False (apply)")
        if result is not UNSET:
            check_json("result", result)
        selection = dict(filters)
        where = execution_where(selection, present=self.db.schema_features)
        if ids is None and not where:
            raise InvalidFilter(
                "ids",
                None,
                "ids=[…] or at least one filter that selects: a "
                "bulk change of every execution is never meant",
            )
        if ids is not None:
            where.append(_e.c.id.in_(id_list("ids", ids)))
        with self.db.transaction() as conn:
            rows = conn.execute(
                sa.select(_e.c.id, _e.c.action_ref, _e.c.status)
                .select_from(_FROM)
                .where(*where)
                .order_by(_e.c.id)
            ).all()
        preview = frames.records_frame(
            [_preview_row(r.id, r.action_ref, ExecutionStatus(r.status), target) for r in rows],
            frames.BULK_COLUMNS,
        )
        if dry_run:
            return preview
        log.info("bulk_transition to %s selected %d executions", target.value, len(preview))
        return self._apply(preview, result=result)

    def apply(self, preview: pd.DataFrame, /, *, result: Any = UNSET) -> pd.DataFrame:
        """Apply a preview of :meth:`bulk_transition` exactly as it is, in one transaction.

        Only the executions in ``preview`` are touched (filter its rows first to apply
        part of it). Each is compare-and-set against the status the preview showed
        (``current``) and moved to its ``to``; ``result`` (when given) is written with
        it. The frame returned has every previewed row once, in the preview's order and
        index, with ``applied`` and the ``reason``: ``applied``; ``skipped: changed
        meanwhile (from running to completed)``; ``skipped: gone (deleted since the
        preview)``; or why the lifecycle does not allow the move (checked again here,
        whatever the preview's ``allowed`` says).

        >>> preview = db.executions.bulk_transition("abandoned", status="scheduled",
        ...                                         until="2026-01-12")
        >>> _ = db.executions.transition(16664, "running")     # someone moves on meanwhile
        >>> done = db.executions.apply(preview)
        >>> done[["id", "applied"]]
              id  applied
        0  16663     True
        1  16664    False
        2  16665     True
        >>> done.loc[1, "reason"]
        'skipped: changed meanwhile (from scheduled to running)'
        """
        return self._apply(preview, result=result)

    def _apply(self, preview: pd.DataFrame, *, result: Any) -> pd.DataFrame:
        if result is not UNSET:
            check_json("result", result)
        moves = _moves(preview)
        todo = [m for m in moves if m[4]]
        changed: set[int] = set()
        now: dict[int, str] = {}
        if todo:
            unheard = sorted({_unheard(m[2], m[3]) for m in todo})
            # 4: the caller of apply() or bulk_transition(), through _apply and check_write
            self.db.check_write("apply", unheard="; ".join(unheard), stacklevel=4)
            with self.db.transaction() as conn:
                now = _lock(conn, todo)
                changed = _compare_and_set(conn, todo, result)
        frame = _outcome(moves, changed, now, index=preview.index)
        applied = len(changed)
        log.info("apply: %d applied, %d skipped", applied, len(frame) - applied)
        return frame

    def write_warning(
        self,
        action: str,
        moves: pd.DataFrame | Iterable[tuple[str | ExecutionStatus, str | ExecutionStatus]],
    ) -> str | None:
        """The :class:`DatabaseOnlyWarning` text that writing ``moves`` would give, or None.

        ``moves`` is a preview (of :meth:`bulk_transition` or :meth:`cancel_preview`:
        its allowed rows count) or ``(current, target)`` pairs; ``action`` names the
        write (``"transition"``, ``"apply"``, ``"cancel"``). On a database attune_nb
        did not create the text says what Attune's services will not do; on its own
        database it is None. :class:`WritesNotAllowed` is raised here as the write
        would raise it, so that a widget can say so before asking for confirmation.
        Nothing is written.

        >>> db.executions.write_warning("transition", [("running", "failed")]) is None
        True
        """
        if isinstance(moves, pd.DataFrame):
            pairs = [(m[2], m[3]) for m in _moves(moves) if m[4]]
        else:
            pairs = [(parse_status(a), parse_status(b)) for a, b in moves]
        unheard = "; ".join(sorted({_unheard(a, b) for a, b in pairs})) or None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DatabaseOnlyWarning)
            self.db.check_write(action, unheard=unheard)
        texts = [str(c.message) for c in caught if c.category is DatabaseOnlyWarning]
        return "\n".join(texts) or None

    # -- cancel, as Attune's API does it ------------------------------------------------

    def cancel_preview(
        self,
        *,
        ids: Iterable[int] | None = None,
        cancel_running_children: bool = False,
        **filters: Unpack[ExecutionFilters],
    ) -> pd.DataFrame:
        """What :meth:`cancel` would do to the selected executions and their workflows.

        Select with ``ids`` and/or the filters of :meth:`frame`. Each selected
        execution and every task below it gets a row (the layout of
        :meth:`bulk_transition`): not started (requested, scheduling, scheduled)
        becomes cancelled; a selected running one becomes canceling; a running child
        task is left to finish (``to`` is its own status) unless
        ``cancel_running_children=True``. Finished children are left out; a selected
        execution that cannot be cancelled says why. Nothing changes.

        >>> db.executions.cancel_preview(ids=[19999])[["id", "current", "to", "allowed"]]
              id  current         to  allowed
        0  19999  running  canceling     True
        1  20000  running    running    False
        """
        if not isinstance(cancel_running_children, bool):
            raise InvalidFilter("cancel_running_children", cancel_running_children, "True or False")
        where = execution_where(dict(filters), present=self.db.schema_features)
        if ids is None and not where:
            raise InvalidFilter(
                "ids", None, "ids=[…] or at least one filter: cancelling everything is never meant"
            )
        if ids is not None:
            where.append(_e.c.id.in_(id_list("ids", ids)))
        with self.db.transaction() as conn:
            selected = [
                r[0]
                for r in conn.execute(sa.select(_e.c.id).select_from(_FROM).where(*where)).all()
            ]
            rows = (
                conn.execute(sa.text(_CANCEL_TREE), {"roots": selected}).all() if selected else []
            )
        records = []
        for exec_id, action_ref, status in rows:
            current = ExecutionStatus(status)
            chosen = exec_id in set(selected)
            if current in _QUEUED:
                target, reason = ExecutionStatus.CANCELLED, "allowed"
            elif current is ExecutionStatus.RUNNING and (chosen or cancel_running_children):
                target, reason = ExecutionStatus.CANCELING, "allowed"
            elif current is ExecutionStatus.RUNNING:
                target = current
                reason = "left running: a child task finishes unless cancel_running_children=True"
            elif not chosen:
                continue  # a finished (or already canceling) task: nothing to say
            elif current is ExecutionStatus.CANCELING:
                target, reason = current, "already canceling"
            else:
                target, reason = current, f"{current.value} is terminal: nothing to cancel"
            allowed = target is not current
            records.append([exec_id, action_ref, current, target, allowed, reason, False])
        return frames.records_frame(records, frames.BULK_COLUMNS)

    def cancel(
        self, target: int | pd.DataFrame, /, *, cancel_running_children: bool = False
    ) -> Cancellation:
        """Cancel as Attune's API does: one execution (and its workflow), or a cancel preview.

        Not started (requested, scheduling, scheduled) becomes cancelled with Attune's
        result ``{"error": "Cancelled by user before execution started"}``; running
        becomes canceling; a workflow cascades to its tasks (running ones are left to
        finish unless ``cancel_running_children=True``). Pending inquiries of the
        executions cancelled are cancelled too. All of it is compare-and-set against
        the statuses shown (by :meth:`cancel_preview`, which an id goes through
        first), in one transaction; the result says what changed where.

        An id that cannot be cancelled (finished, or canceling already) raises
        :class:`InvalidTransition`.

        >>> done = db.executions.cancel(19999)       # a running workflow
        >>> done
        <Cancellation: 1 executions changed (1 canceling), 1 left as they are, 0 inquiries>
        >>> db.executions.get(19999).status
        <ExecutionStatus.CANCELING: 'canceling'>
        """
        if isinstance(target, pd.DataFrame):
            return self._cancel(target)
        execution_id = check_id("id", target)
        preview = self.cancel_preview(
            ids=[execution_id], cancel_running_children=cancel_running_children
        )
        own = preview[preview["id"] == execution_id]
        if own.empty:
            self.get(execution_id)  # ExecutionNotFound, or a row that vanished meanwhile
            raise ExecutionNotFound(execution_id)
        if not bool(own["allowed"].iloc[0]):
            current = ExecutionStatus(str(own["current"].iloc[0]))
            check_transition(current, ExecutionStatus.CANCELING, execution_id=execution_id)
            check_transition(current, ExecutionStatus.CANCELLED, execution_id=execution_id)
        return self._cancel(preview)

    def _cancel(self, preview: pd.DataFrame) -> Cancellation:
        moves = _moves(preview)
        for exec_id, _ref, current, to, _allowed in moves:
            if to not in (ExecutionStatus.CANCELLED, ExecutionStatus.CANCELING, current):
                raise InvalidFilter(
                    "preview",
                    f"execution {exec_id} moving {current.value} -> {to.value}",
                    "a cancel preview (executions.cancel_preview): targets cancelled or canceling",
                )
        given = (
            dict(zip(preview["id"].astype(int), preview["reason"].astype(str), strict=True))
            if "reason" in preview.columns
            else {}
        )
        todo = [m for m in moves if m[4]]
        changed: set[int] = set()
        now: dict[int, str] = {}
        inquiries: list[int] = []
        if todo:
            unheard = sorted({_unheard(m[2], m[3]) for m in todo})
            # 4: the caller of cancel(), through _cancel and check_write
            self.db.check_write("cancel", unheard="; ".join(unheard), stacklevel=4)
            with self.db.transaction() as conn:
                now = _lock(conn, todo)
                for to, result in (
                    (ExecutionStatus.CANCELLED, CANCEL_RESULT),
                    (ExecutionStatus.CANCELING, UNSET),
                ):
                    group = [m for m in todo if m[3] is to]
                    if group:
                        changed |= _compare_and_set(conn, group, result)
                cancelled = sorted(
                    m[0] for m in todo if m[0] in changed and m[3] is ExecutionStatus.CANCELLED
                )
                if cancelled:
                    inquiries = _cancel_inquiries(conn, cancelled)
        frame = _outcome(moves, changed, now, index=preview.index, refusals=given)
        log.info(
            "cancel: %d executions changed, %d inquiries cancelled", len(changed), len(inquiries)
        )
        return Cancellation(frame, tuple(inquiries))


CANCEL_RESULT = {"error": "Cancelled by user before execution started"}
"""The result Attune's API writes on an execution cancelled before it started."""


@dataclass(frozen=True)
class Cancellation:
    """What :meth:`ExecutionWrites.cancel` did: one row per execution, and the inquiries."""

    executions: pd.DataFrame
    inquiries: tuple[int, ...] = ()

    @property
    def changed(self) -> pd.DataFrame:
        """The executions that changed."""
        return self.executions[self.executions["applied"].astype(bool)]

    def __repr__(self) -> str:
        changed = self.changed
        kinds = changed["to"].astype(str).value_counts()
        parts = ", ".join(f"{n} {status}" for status, n in sorted(kinds.items()))
        left = len(self.executions) - len(changed)
        return (
            f"<Cancellation: {len(changed)} executions changed ({parts or 'none'}), "
            f"{left} left as they are, {len(self.inquiries)} inquiries>"
        )


Move = tuple[int, str, ExecutionStatus, ExecutionStatus, bool]

# The columns of ``execution`` with a foreign key: the table each names, and what it is.
_REFERENCES = {
    "action": (sa.table("action", sa.column("id"), schema="attune"), "an action"),
    "executor": (sa.table("identity", sa.column("id"), schema="attune"), "an identity"),
    "worker": (sa.table("worker", sa.column("id"), schema="attune"), "a worker"),
    "original_execution": (sa.table("execution", sa.column("id"), schema="attune"), "an execution"),
}


def _check_references(conn: sa.Connection, values: dict[str, Any]) -> None:
    """Refuse ids that the foreign keys of ``execution`` would refuse (with a clear error,
    not the driver's), locking each row found (``FOR KEY SHARE``) so that it cannot be
    deleted before the write commits."""
    for name, (table, what) in _REFERENCES.items():
        value = values.get(name)
        if value is None:
            continue
        found = conn.execute(
            sa.select(table.c.id).where(table.c.id == value).with_for_update(key_share=True)
        ).first()
        if found is None:
            if name == "original_execution":
                raise ExecutionNotFound(value)
            raise ConfigurationError(
                name, value, f"the id of {what} that exists (attune.{table.name})"
            )


def _lock(conn: sa.Connection, moves: Sequence[Move]) -> dict[int, str]:
    """Lock the rows of ``moves`` in id order (concurrent applies never deadlock); their
    status now, by id (a deleted row is missing)."""
    locked = conn.execute(
        sa.select(_e.c.id, _e.c.status)
        .where(_e.c.id.in_(sorted({m[0] for m in moves})))
        .order_by(_e.c.id)
        .with_for_update()
    ).all()
    return {r.id: str(r.status) for r in locked}


def _outcome(
    moves: Sequence[Move],
    changed: set[int],
    now: dict[int, str],
    *,
    index: pd.Index,
    refusals: dict[int, str] | None = None,
) -> pd.DataFrame:
    """The bulk frame of what happened to each move: applied, skipped and why, refused."""
    records = []
    for exec_id, action_ref, current, target, allowed in moves:
        if not allowed:
            reason = (refusals or {}).get(exec_id) or _refusal(current, target)
        elif exec_id in changed:
            reason = "applied"
        elif exec_id not in now:
            reason = "skipped: gone (deleted since the preview)"
        else:
            reason = f"skipped: changed meanwhile (from {current.value} to {now[exec_id]})"
        records.append([exec_id, action_ref, current, target, allowed, reason, exec_id in changed])
    frame = frames.records_frame(records, frames.BULK_COLUMNS)
    frame.index = index
    return frame


def _compare_and_set(conn: sa.Connection, moves: Sequence[Move], result: Any) -> set[int]:
    """Move each row to its target while it has its previewed status; the ids moved."""
    stmt = sa.text(_BULK_UPDATE).bindparams(
        sa.bindparam("result", type_=postgresql.JSONB(none_as_null=True)),
        set_result=result is not UNSET,
        result=None if result is UNSET else result,
        ids=[m[0] for m in moves],
        expected=[m[2].value for m in moves],
        targets=[m[3].value for m in moves],
    )
    return {r[0] for r in conn.execute(stmt)}


def _cancel_inquiries(conn: sa.Connection, execution_ids: list[int]) -> list[int]:
    """Cancel the pending inquiries of ``execution_ids``; their ids."""
    columns = (
        conn.execute(
            sa.text(
                "SELECT array_agg(column_name::text) FROM information_schema.columns "
                "WHERE table_schema = 'attune' AND table_name = 'inquiry'"
            )
        ).scalar()
        or []
    )
    column = "created_by_execution" if "created_by_execution" in columns else "execution"
    inquiry = sa.table(
        "inquiry",
        sa.column("id"),
        sa.column(column),
        sa.column("status"),
        sa.column("updated"),
        schema="attune",
    )
    rows = conn.execute(
        inquiry.update()
        .where(inquiry.c[column].in_(execution_ids), inquiry.c.status == "pending")
        .values(status="cancelled", updated=sa.func.now())
        .returning(inquiry.c.id)
    ).all()
    return sorted(r[0] for r in rows)


# Every selected execution and every task below it (a loop in the parents is cut).
_CANCEL_TREE = """
WITH RECURSIVE tree(id, path) AS (
    SELECT e.id, ARRAY[e.id] FROM attune.execution e WHERE e.id = ANY(CAST(:roots AS bigint[]))
    UNION ALL
    SELECT c.id, t.path || c.id FROM attune.execution c JOIN tree t ON c.parent = t.id
    WHERE NOT c.id = ANY(t.path)
)
SELECT e.id, e.action_ref, e.status::text
FROM attune.execution e WHERE e.id IN (SELECT id FROM tree)
ORDER BY e.id
"""


_QUEUED = (ExecutionStatus.REQUESTED, ExecutionStatus.SCHEDULING, ExecutionStatus.SCHEDULED)
_LIVE = (ExecutionStatus.RUNNING, ExecutionStatus.CANCELING)


def _unheard(current: ExecutionStatus, target: ExecutionStatus) -> str:
    """What Attune's services will not do when ``current -> target`` is written directly."""
    if current in _LIVE and target is ExecutionStatus.CANCELING:
        return (
            "the worker is not asked to stop, so it keeps running, and nothing will move the "
            "execution on to cancelled"
        )
    if current in _LIVE:
        return f"the worker is not told and keeps running it ({current.value} -> {target.value})"
    if current in _QUEUED and target.is_terminal:
        return (
            f"the executor is not told ({current.value} -> {target.value}); one that has "
            "claimed it already may still dispatch it to a worker"
        )
    return (
        f"no executor or worker acts on it ({current.value} -> {target.value}): nothing "
        "will run it or move it on"
    )


def _preview_row(
    exec_id: int, action_ref: str, current: ExecutionStatus, target: ExecutionStatus
) -> list[Any]:
    allowed = target in ALLOWED_TRANSITIONS[current]
    reason = "allowed" if allowed else _refusal(current, target)
    return [exec_id, action_ref, current.value, target.value, allowed, reason, False]


_PREVIEW_NEEDS = ("id", "action_ref", "current", "to")


def _moves(preview: Any) -> list[Move]:
    """The rows of a preview frame, checked: (id, action_ref, current, to, allowed now)."""
    wanted = "a preview frame from executions.bulk_transition(..., dry_run=True)"
    if not isinstance(preview, pd.DataFrame):
        raise InvalidFilter("preview", type(preview).__name__, wanted)
    missing = [c for c in _PREVIEW_NEEDS if c not in preview.columns]
    if missing:
        raise InvalidFilter("preview", f"a frame without {', '.join(missing)}", wanted)
    if "applied" in preview.columns and preview["applied"].fillna(False).astype(bool).any():
        raise InvalidFilter("preview", "a frame that was applied already", wanted)
    moves = []
    seen: set[int] = set()
    for exec_id, action_ref, current, to in preview[list(_PREVIEW_NEEDS)].itertuples(index=False):
        if pd.api.types.is_scalar(exec_id) and pd.isna(exec_id):
            raise InvalidFilter("preview", "a row without an id", wanted)
        checked = check_id("id", exec_id)
        if checked in seen:
            raise InvalidFilter("preview", f"execution {checked} twice", "each execution once")
        seen.add(checked)
        was, target = parse_status(current), parse_status(to)
        moves.append((checked, str(action_ref), was, target, target in ALLOWED_TRANSITIONS[was]))
    return moves


def _refusal(current: ExecutionStatus, target: ExecutionStatus) -> str:
    if current is target:
        return f"already {current.value}"
    options = sorted(ALLOWED_TRANSITIONS[current], key=lambda s: s.order)
    if not options:
        return f"{current.value} is terminal"
    return f"{current.value} may only become {', '.join(s.value for s in options)}"


# Compare-and-set per row: each id moves to its target only while it has its previewed status.
_BULK_UPDATE = """
UPDATE attune.execution AS e
SET status = CAST(guard.target AS attune.execution_status_enum),
    started_at = CASE WHEN guard.target = 'running' THEN coalesce(e.started_at, now())
                 ELSE e.started_at END,
    result = CASE WHEN :set_result THEN :result ELSE e.result END
FROM unnest(CAST(:ids AS bigint[]), CAST(:expected AS text[]), CAST(:targets AS text[]))
    AS guard(id, expected, target)
WHERE e.id = guard.id AND e.status::text = guard.expected
RETURNING e.id
"""
