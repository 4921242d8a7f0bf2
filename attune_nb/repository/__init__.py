"""The execution repository: every SQL statement about executions lives here.

Reads return :class:`~attune_nb.records.Execution` records or DataFrames of a fixed
layout (:mod:`attune_nb.frames`); hierarchies are one recursive query each; status
changes are compare-and-set in one statement (``WHERE id = :id AND status = :expected``).

>>> len(db.executions.frame(status=["failed", "timeout"], pack="deploy", limit=20))
20
>>> db.executions.transition(16671, "cancelled", expected="requested")
<Execution 16671 core.local_cmd cancelled>
"""

from __future__ import annotations

from attune_nb.repository._common import DEFAULT_LIMIT
from attune_nb.repository.export import ExecutionExport, ExportReport
from attune_nb.repository.hierarchy import HierarchyQueries
from attune_nb.repository.reads import ExecutionReads
from attune_nb.repository.supervisor import SupervisorQueries
from attune_nb.repository.writes import CANCEL_RESULT, Cancellation, ExecutionWrites

__all__ = [
    "CANCEL_RESULT",
    "DEFAULT_LIMIT",
    "Cancellation",
    "ExecutionRepository",
    "ExportReport",
]


class ExecutionRepository(
    ExecutionReads, HierarchyQueries, SupervisorQueries, ExecutionWrites, ExecutionExport
):
    """Executions: records, frames, hierarchies, lifecycle transitions, history, export.

    Get it from a database: ``db.executions``. Its methods come from five parts,
    one module each: :mod:`~attune_nb.repository.reads`,
    :mod:`~attune_nb.repository.hierarchy`, :mod:`~attune_nb.repository.supervisor`
    (``stuck``), :mod:`~attune_nb.repository.writes` and
    :mod:`~attune_nb.repository.export` (``export``).
    """

    def __repr__(self) -> str:
        return f"<ExecutionRepository {self.db.url}>"
