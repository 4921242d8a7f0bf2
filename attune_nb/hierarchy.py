"""Workflow hierarchies as trees: :class:`ExecutionNode`, built from a ``descendants`` frame.

Pure Python over a DataFrame: walk it, print it as an indented tree, turn it back
into a frame, show it in a notebook. Orphans (a parent id whose row is gone) and
loops cut by the query are flagged on the node.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from attune_nb.lifecycle import ExecutionStatus, parse_status
from attune_nb.records import Execution
from attune_nb.style import STATUS_COLOURS

__all__ = ["ExecutionNode", "build_tree"]


@dataclass(eq=False)
class ExecutionNode:
    """One execution in a workflow tree, with its child tasks in creation order.

    >>> root = db.executions.tree(5)
    >>> print(root)
    5 deploy.canary completed
    ├── 6 deploy.k8s_apply completed
    ├── 7 deploy.wait_ready completed
    └── 8 monitoring.check_slo completed
    """

    execution: Execution
    children: list[ExecutionNode] = field(default_factory=list)
    depth: int = 0
    orphan: bool = False
    cycle: bool = False
    _frame: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def id(self) -> int:
        return self.execution.id

    def walk(self) -> Iterator[ExecutionNode]:
        """This node and every descendant, depth first (pre-order)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def __iter__(self) -> Iterator[ExecutionNode]:
        return self.walk()

    def __len__(self) -> int:
        return sum(1 for _ in self.walk())

    def tasks(
        self, *, status: str | ExecutionStatus | Iterable[str | ExecutionStatus] | None = None
    ) -> list[ExecutionNode]:
        """The descendants of this node (not the node itself), depth first.

        ``status`` (one or a list) keeps only the tasks in those statuses.

        >>> [task.id for task in db.executions.tree(1).tasks(status="completed")][:3]
        [2, 3, 5]
        """
        if status is None:
            wanted = None
        elif isinstance(status, (str, ExecutionStatus)):
            wanted = {parse_status(status)}
        else:
            wanted = {parse_status(s) for s in status}
        below = itertools.islice(self.walk(), 1, None)
        return [n for n in below if wanted is None or n.execution.status in wanted]

    def find(self, execution_id: int) -> ExecutionNode | None:
        """The node of ``execution_id`` in this tree, or None."""
        return next((n for n in self.walk() if n.id == execution_id), None)

    def to_frame(self) -> pd.DataFrame:
        """The nodes of this subtree as a frame (the ``descendants`` layout), depth first."""
        if self._frame is None:
            raise ValueError("this node was not built from a frame")
        ids = [n.id for n in self.walk()]
        frame = self._frame.set_index("id", drop=False).loc[ids]
        return frame.reset_index(drop=True)

    def _label(self) -> str:
        e = self.execution
        flags = (" [orphan]" if self.orphan else "") + (" [loop cut]" if self.cycle else "")
        return f"{e.id} {e.action_ref} {e.status.value}{flags}"

    def render(self, *, max_depth: int | None = None) -> str:
        """The tree as indented text, one execution per line (iterative: any depth)."""
        lines = [self._label()]
        # (node, prefix of its children's lines, level of its children)
        stack: list[tuple[ExecutionNode, str, bool, int]] = []
        for i, child in reversed(list(enumerate(self.children))):
            stack.append((child, "", i == len(self.children) - 1, 1))
        while stack:
            node, prefix, last, level = stack.pop()
            if max_depth is not None and level > max_depth:
                continue
            lines.append(prefix + ("└── " if last else "├── ") + node._label())
            inner = prefix + ("    " if last else "│   ")
            for i, child in reversed(list(enumerate(node.children))):
                stack.append((child, inner, i == len(node.children) - 1, level + 1))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        e = self.execution
        return (
            f"<ExecutionNode {e.id} {e.action_ref} {e.status.value}, {len(self) - 1} descendants>"
        )

    def _repr_html_(self) -> str:
        parts: list[str] = ["<ul style='list-style:none;padding-left:0'>"]
        # Iterative pre-order with explicit closing tags, so any depth renders.
        stack: list[ExecutionNode | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
                continue
            e = item.execution
            colour = STATUS_COLOURS[e.status]
            flags = (" <em>orphan</em>" if item.orphan else "") + (
                " <em>loop cut</em>" if item.cycle else ""
            )
            parts.append(
                f"<li><code>{e.id}</code> {html.escape(e.action_ref)} "
                f'<span style="color:{colour};font-weight:600">{e.status.value}</span>'
                f"{flags}"
            )
            stack.append("</li>")
            if item.children:
                stack.append("</ul>")
                stack.extend(reversed(item.children))
                parts.append("<ul style='margin:0;padding-left:1.2em'>")
        parts.append("</ul>")
        return "".join(parts)


def _clean(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        return value.item()
    return value


def execution_from_series(row: dict[Any, Any]) -> Execution:
    values = {k: _clean(v) for k, v in row.items()}
    values["status"] = ExecutionStatus(values["status"])
    return Execution.from_row(values)


def build_tree(frame: pd.DataFrame) -> ExecutionNode:
    """Build the tree of a ``descendants`` frame (depth 0 is the root)."""
    if frame.empty:
        raise ValueError("an empty frame has no root")
    nodes: dict[int, ExecutionNode] = {}
    root: ExecutionNode | None = None
    for row in frame.to_dict("records"):
        node = ExecutionNode(
            execution_from_series(row),
            depth=int(row["depth"]),
            orphan=bool(row["orphan"]),
            cycle=bool(row["cycle"]),
            _frame=frame,
        )
        nodes[node.id] = node
        if node.depth == 0:
            root = node
        else:
            nodes[int(row["parent"])].children.append(node)
    if root is None:
        raise ValueError("the frame has no row at depth 0")
    return root
