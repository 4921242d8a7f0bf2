"""The shared look of attune_nb: one colour per execution status, used everywhere.

The tree's HTML uses it now; the charts and widgets use the same map, so a status
has the same colour in every view. Colours read on white and dark backgrounds, and
the statuses that need attention (failed, timeout, abandoned) are the warm, loud ones.

>>> STATUS_COLOURS[ExecutionStatus.FAILED]
'#dc2626'
>>> status_colour("running")
'#2563eb'
"""

from __future__ import annotations

from types import MappingProxyType

from attune_nb.lifecycle import ExecutionStatus, parse_status

__all__ = ["STATUS_COLOURS", "status_colour"]

S = ExecutionStatus

STATUS_COLOURS = MappingProxyType(
    {
        S.REQUESTED: "#a5b4fc",  # queued: cool, pale indigo to teal as it nears a worker
        S.SCHEDULING: "#818cf8",
        S.SCHEDULED: "#14b8a6",
        S.RUNNING: "#2563eb",  # blue
        S.COMPLETED: "#16a34a",  # green
        S.FAILED: "#dc2626",  # warm and distinct: red, orange, mustard brown
        S.CANCELING: "#9ca3af",  # greys: stopped on purpose, nothing to fix
        S.CANCELLED: "#6b7280",
        S.TIMEOUT: "#f97316",
        S.ABANDONED: "#a16207",
    }
)
"""The colour of each :class:`~attune_nb.lifecycle.ExecutionStatus` (CSS hex), in enum order."""


def status_colour(status: object) -> str:
    """The colour of a status given as an :class:`ExecutionStatus` or its name."""
    return STATUS_COLOURS[parse_status(status)]
