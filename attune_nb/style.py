"""The shared look of attune_nb: one colour per execution status, used everywhere.

The tree's HTML uses it now; the charts and widgets use the same map, so a status
has the same colour in every view. Colours read on white and dark backgrounds, and
the terminal statuses that need attention (failed, timeout) are the loud ones.

>>> STATUS_COLOURS[ExecutionStatus.FAILED]
'#dc3545'
>>> status_colour("running")
'#007bff'
"""

from __future__ import annotations

from types import MappingProxyType

from attune_nb.lifecycle import ExecutionStatus, parse_status

__all__ = ["STATUS_COLOURS", "status_colour"]

S = ExecutionStatus

STATUS_COLOURS = MappingProxyType(
    {
        S.REQUESTED: "#6c757d",  # waiting: greys
        S.SCHEDULING: "#adb5bd",
        S.SCHEDULED: "#17a2b8",  # handed to a worker: teal
        S.RUNNING: "#007bff",  # blue
        S.COMPLETED: "#28a745",  # green
        S.FAILED: "#dc3545",  # red
        S.CANCELING: "#ffc107",  # amber while it stops, orange once stopped
        S.CANCELLED: "#fd7e14",
        S.TIMEOUT: "#a71d2a",  # a darker red than failed
        S.ABANDONED: "#6f42c1",  # purple: the supervisor gave up on it
    }
)
"""The colour of each :class:`~attune_nb.lifecycle.ExecutionStatus` (CSS hex), in enum order."""


def status_colour(status: object) -> str:
    """The colour of a status given as an :class:`ExecutionStatus` or its name."""
    return STATUS_COLOURS[parse_status(status)]
