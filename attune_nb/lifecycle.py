"""The execution lifecycle of ATTUNE_SCHEMA.md: ten statuses and the moves between them.

Pure Python, no database: :class:`ExecutionStatus` in lifecycle order, the terminal
and active sets, the transitions the real services make, and
:func:`check_transition`, which raises :class:`~attune_nb.errors.InvalidTransition`.

>>> check_transition("running", "completed")
>>> sorted(ALLOWED_TRANSITIONS[ExecutionStatus.CANCELING])
[<ExecutionStatus.CANCELLED: 'cancelled'>]
"""

from __future__ import annotations

from enum import StrEnum

from attune_nb.errors import InvalidStatus, InvalidTransition

__all__ = [
    "ACTIVE",
    "ALLOWED_TRANSITIONS",
    "TERMINAL",
    "ExecutionStatus",
    "check_transition",
    "parse_status",
]


class ExecutionStatus(StrEnum):
    """The ten values of ``execution_status_enum``, in declaration (lifecycle) order."""

    REQUESTED = "requested"
    SCHEDULING = "scheduling"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELING = "canceling"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def order(self) -> int:
        """Position in lifecycle order (0 for requested); ties in history sort by it."""
        return _ORDER[self]


S = ExecutionStatus
_ORDER = {status: i for i, status in enumerate(ExecutionStatus)}

TERMINAL: frozenset[ExecutionStatus] = frozenset(
    {S.COMPLETED, S.FAILED, S.TIMEOUT, S.CANCELLED, S.ABANDONED}
)
ACTIVE: frozenset[ExecutionStatus] = frozenset(
    {S.REQUESTED, S.SCHEDULING, S.SCHEDULED, S.RUNNING, S.CANCELING}
)

ALLOWED_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    S.REQUESTED: frozenset({S.SCHEDULING, S.CANCELLED, S.ABANDONED}),
    S.SCHEDULING: frozenset(
        {S.REQUESTED, S.SCHEDULED, S.RUNNING, S.FAILED, S.CANCELLED, S.ABANDONED}
    ),
    S.SCHEDULED: frozenset({S.REQUESTED, S.RUNNING, S.FAILED, S.CANCELLED, S.ABANDONED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.TIMEOUT, S.CANCELING, S.CANCELLED, S.ABANDONED}),
    S.CANCELING: frozenset({S.CANCELLED}),
    **{terminal: frozenset() for terminal in TERMINAL},
}
"""For each status, the statuses the real services move it to (terminal: none)."""


def parse_status(value: object) -> ExecutionStatus:
    """The :class:`ExecutionStatus` named by ``value``; :class:`InvalidStatus` otherwise."""
    if isinstance(value, ExecutionStatus):
        return value
    if isinstance(value, str):
        try:
            return ExecutionStatus(value.strip().lower())
        except ValueError:
            pass
    raise InvalidStatus(value, [s.value for s in ExecutionStatus])


def check_transition(
    current: object, requested: object, *, execution_id: int | None = None
) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> requested`` is allowed.

    ``execution_id``, when given, is named by the error.
    """
    now, to = parse_status(current), parse_status(requested)
    allowed = ALLOWED_TRANSITIONS[now]
    if to not in allowed:
        raise InvalidTransition(
            now.value,
            to.value,
            sorted((s.value for s in allowed), key=lambda v: _ORDER[S(v)]),
            execution_id=execution_id,
        )
