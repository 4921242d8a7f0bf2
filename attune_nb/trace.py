"""Traces: how an execution came to be, event -> enforcement -> rule -> root -> execution.

Links that the data references but that retention has deleted are kept and flagged
``missing``. A parent chain that loops (corrupted data) is cut and flagged ``cycle``,
as the hierarchy queries do: reads flag odd data, they never raise on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from attune_nb import schema as t
from attune_nb.errors import ExecutionNotFound
from attune_nb.filters import check_id
from attune_nb.records import Execution, Trace, TraceLink

if TYPE_CHECKING:
    from attune_nb.engine import Engine

__all__ = ["trace"]


def trace(db: Engine, execution_id: int) -> Trace:
    """How ``execution_id`` came to be; missing links are kept and flagged."""
    execution_id = check_id("id", execution_id)
    e, enf, ev, rl = t.execution, t.enforcement, t.event, t.rule
    with db.transaction() as conn:
        row = conn.execute(sa.select(e).where(e.c.id == execution_id)).mappings().first()
        if row is None:
            raise ExecutionNotFound(execution_id)
        execution = Execution.from_row(row)
        # The top-level workflow root: one recursive query up the parent chain.
        top = conn.execute(
            sa.text("""
            WITH RECURSIVE up(id, parent, depth, path) AS (
                SELECT id, parent, 0, ARRAY[id] FROM attune.execution WHERE id = :id
                UNION ALL
                SELECT p.id, p.parent, u.depth + 1, u.path || p.id
                FROM attune.execution p JOIN up u ON p.id = u.parent
                WHERE NOT p.id = ANY(u.path)
            )
            SELECT id, parent, path FROM up ORDER BY depth DESC LIMIT 1"""),
            {"id": execution_id},
        ).one()
        looped = top.parent is not None and top.parent in top.path
        root = (
            execution
            if top.id == execution.id
            else Execution.from_row(
                conn.execute(sa.select(e).where(e.c.id == top.id)).mappings().one()
            )
        )
        links: list[TraceLink] = []
        enforcement_id = execution.enforcement or root.enforcement
        enforcement = None
        if enforcement_id is not None:
            enforcement = conn.execute(sa.select(enf).where(enf.c.id == enforcement_id)).first()
        event_id = enforcement.event if enforcement is not None else None
        event = None
        if event_id is not None:
            event = conn.execute(
                sa.select(ev).where(ev.c.id == event_id).order_by(ev.c.created.desc()).limit(1)
            ).first()
        rule = None
        if enforcement is not None and enforcement.rule is not None:
            rule = conn.execute(sa.select(rl).where(rl.c.id == enforcement.rule)).first()
    if event is not None:
        links.append(TraceLink("event", event.id, event.trigger_ref, None, event.created))
    elif event_id is not None:
        links.append(TraceLink("event", event_id, missing=True))
    if enforcement is not None:
        links.append(
            TraceLink(
                "enforcement",
                enforcement.id,
                enforcement.rule_ref,
                enforcement.status,
                enforcement.created,
            )
        )
        if rule is not None:
            links.append(TraceLink("rule", rule.id, rule.ref, None, rule.created))
        else:
            links.append(
                TraceLink(
                    "rule",
                    enforcement.rule,
                    enforcement.rule_ref,
                    missing=enforcement.rule is not None,
                )
            )
    elif enforcement_id is not None:
        links.append(TraceLink("enforcement", enforcement_id, missing=True))
    if looped:  # the chain comes back to a row already on it: cut there, flagged
        links.append(TraceLink("parent", top.parent, cycle=True))
    elif top.parent is not None:  # the parent chain ends at a row that is gone
        links.append(TraceLink("parent", top.parent, missing=True))
    if root.id != execution.id:
        links.append(TraceLink("root", root.id, root.action_ref, root.status.value, root.created))
    links.append(
        TraceLink(
            "execution",
            execution.id,
            execution.action_ref,
            execution.status.value,
            execution.created,
        )
    )
    return Trace(execution, tuple(links))
