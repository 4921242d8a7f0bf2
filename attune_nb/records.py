"""Small immutable records: one execution, one inquiry, one trace.

Plain data with short human reprs; the repositories build them from rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from attune_nb.lifecycle import ExecutionStatus

__all__ = ["Execution", "Inquiry", "Trace", "TraceLink"]


_R = TypeVar("_R")


def _from_mapping(cls: type[_R], row: Mapping[Any, Any], **overrides: Any) -> _R:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in row.items() if k in names}
    values.update(overrides)
    return cls(**values)


@dataclass(frozen=True, slots=True)
class Execution:
    """One row of ``attune.execution``.

    >>> db.executions.get(2)
    <Execution 2 deploy.checkout completed parent=1>
    """

    id: int
    action_ref: str
    status: ExecutionStatus
    action: int | None = None
    config: Any = None
    env_vars: Any = None
    parent: int | None = None
    enforcement: int | None = None
    executor: int | None = None
    permission_set_refs: tuple[str, ...] = ()
    worker: int | None = None
    result: Any = None
    started_at: datetime | None = None
    timeout_seconds: int | None = None
    created: datetime | None = None
    workflow_task: Any = None
    retry_count: int = 0
    max_retries: int | None = None
    retry_reason: str | None = None
    original_execution: int | None = None
    trace_tag: str | None = None
    updated: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Execution:
        refs = row.get("permission_set_refs") or ()
        return _from_mapping(
            cls, row, status=ExecutionStatus(row["status"]), permission_set_refs=tuple(refs)
        )

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def __repr__(self) -> str:
        parent = f" parent={self.parent}" if self.parent is not None else ""
        return f"<Execution {self.id} {self.action_ref} {self.status.value}{parent}>"


@dataclass(frozen=True, slots=True)
class Inquiry:
    """One row of ``attune.inquiry`` (``created_by_execution`` whatever the schema calls it)."""

    id: int
    created_by_execution: int
    prompt: str
    status: str
    response_options: Any = None
    response_schema: Any = None
    assigned_to: int | None = None
    response: Any = None
    timeout_at: datetime | None = None
    responded_at: datetime | None = None
    responded_by: int | None = None
    created: datetime | None = None
    updated: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Inquiry:
        return _from_mapping(cls, row, status=str(row["status"]))

    def __repr__(self) -> str:
        return f"<Inquiry {self.id} {self.status} execution={self.created_by_execution}>"


@dataclass(frozen=True, slots=True)
class TraceLink:
    """One link of a trace: what it is, its id and ref, and whether the row still exists."""

    kind: str  # event, enforcement, rule, root, execution
    id: int | None
    ref: str | None = None
    status: str | None = None
    created: datetime | None = None
    missing: bool = False  # referenced, but the row is gone (retention)
    cycle: bool = False  # the parent chain loops back here (corrupted data): cut

    def __repr__(self) -> str:
        what = f"{self.kind} {self.id}" if self.id is not None else f"{self.kind} (none)"
        ref = f" {self.ref}" if self.ref else ""
        state = (
            " MISSING"
            if self.missing
            else " LOOP"
            if self.cycle
            else f" {self.status}"
            if self.status
            else ""
        )
        return f"<{what}{ref}{state}>"


@dataclass(frozen=True, slots=True)
class Trace:
    """How an execution came to be: event -> enforcement -> rule -> root -> execution."""

    execution: Execution
    links: tuple[TraceLink, ...] = field(default_factory=tuple)

    def link(self, kind: str) -> TraceLink | None:
        return next((link for link in self.links if link.kind == kind), None)

    @property
    def missing(self) -> list[str]:
        """The links that are referenced but gone, e.g. ``['event 12']``."""
        return [f"{link.kind} {link.id}" for link in self.links if link.missing]

    @property
    def cycle(self) -> bool:
        """Whether the parent chain loops (corrupted data); the trace is cut where it does."""
        return any(link.cycle for link in self.links)

    def to_frame(self) -> Any:
        """The links as a frame (:data:`~attune_nb.frames.TRACE_COLUMNS`), event first."""
        from attune_nb.frames import TRACE_COLUMNS, records_frame

        return records_frame(
            [
                (link.kind, link.id, link.ref, link.status, link.created, link.missing, link.cycle)
                for link in self.links
            ],
            TRACE_COLUMNS,
        )

    def __repr__(self) -> str:
        return " -> ".join(repr(link) for link in self.links)
