"""Workflow hierarchies: children, descendants, ancestors, trees, retry chains; one query each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from attune_nb import frames
from attune_nb import schema as t
from attune_nb.errors import (
    InvalidFilter,
)
from attune_nb.filters import check_id
from attune_nb.frames import HIERARCHY_COLUMNS, Column, execution_layout
from attune_nb.hierarchy import ExecutionNode, build_tree
from attune_nb.repository._common import (
    RepositoryPart,
    _check_include,
    _e,
    _enf,
    _select_columns,
)


class HierarchyQueries(RepositoryPart):
    """Hierarchies: ``children``, ``descendants``, ``ancestors``, ``tree``, ``retries``."""

    def children(self, execution_id: int, /, *, include: Iterable[str] = ()) -> pd.DataFrame:
        """The direct child tasks of an execution, in creation order."""
        execution_id = check_id("id", execution_id)
        include = _check_include(include)
        with self.db.transaction() as conn:
            self._require(conn, execution_id)
        layout = execution_layout(include)
        stmt = self._select(layout, {"parent": execution_id}).order_by(_e.c.created, _e.c.id)
        return self._read(stmt, layout)

    def descendants(
        self, root_id: int, /, *, max_depth: int | None = None, include: Iterable[str] = ()
    ) -> pd.DataFrame:
        """The root and everything below it in one recursive query, level by level.

        Rows come level by level (``depth``), each level in creation order; use
        :meth:`tree` (or ``ExecutionNode.to_frame()``) for depth-first order.

        Adds ``depth`` (0 for the root), ``path`` (ids from the root), ``root``,
        ``orphan`` (the root's parent is set but gone) and ``cycle`` (a loop in
        corrupted data was cut below this row).
        """
        root_id = check_id("id", root_id)
        include = _check_include(include)
        if max_depth is not None and (
            isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0
        ):
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
        """).bindparams(root=root_id)
        tree = _nodes(tree)
        return self._hierarchy_frame(
            tree,
            layout,
            root=sa.literal(root_id, sa.BigInteger),
            order=(tree.c.depth, _e.c.created, tree.c.id),
            orphan_depth=0,
        )

    def ancestors(self, execution_id: int, /, *, include: Iterable[str] = ()) -> pd.DataFrame:
        """The parent, grandparent, … of an execution (nearest first), in one query.

        ``depth`` is 1 for the parent; ``path`` runs from the execution up to the row;
        ``root`` is the topmost ancestor found; ``orphan`` marks a row whose parent is
        set but gone; ``cycle`` marks where a loop in corrupted data was cut. When the
        execution's own parent is gone, the frame holds the execution itself (depth 0)
        flagged ``orphan``, so a dangling link never reads as "no parent".
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
            SELECT id, depth, path, is_cycle FROM up
            WHERE depth > 0 OR (
                parent IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM attune.execution g WHERE g.id = up.parent)
            )
        """).bindparams(id=execution_id)
        up = _nodes(up)
        top = (
            sa.select(up.c.id)
            .where(sa.not_(up.c.is_cycle))
            .order_by(up.c.depth.desc())
            .limit(1)
            .scalar_subquery()
        )
        return self._hierarchy_frame(up, layout, root=top, order=(up.c.depth,), orphan_depth=None)

    def _hierarchy_frame(
        self,
        tree: Any,
        layout: Sequence[Column],
        *,
        root: Any,
        order: tuple[Any, ...],
        orphan_depth: int | None,
    ) -> pd.DataFrame:
        parent_row = t.execution.alias("parent_row")
        # Only the top of a tree can be an orphan (its parent is outside the tree): the
        # CASE keeps the lookup to that row.
        gone = sa.and_(_e.c.parent.is_not(None), ~sa.exists().where(parent_row.c.id == _e.c.parent))
        orphan = (
            gone
            if orphan_depth is None
            else sa.case((tree.c.depth == orphan_depth, gone), else_=sa.false())
        )
        # A row whose child repeats an id on its path: the loop is cut there.
        looped = sa.select(tree.c.path[sa.func.cardinality(tree.c.path) - 1]).where(tree.c.is_cycle)
        cols = _select_columns(
            [c for c in layout if c.name not in {h.name for h in HIERARCHY_COLUMNS}],
            present=self.db.schema_features,
        )
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
                tree.join(_e, _e.c.id == tree.c.id).outerjoin(_enf, _enf.c.id == _e.c.enforcement)
            )
            .where(sa.not_(tree.c.is_cycle))
            .order_by(*order)
        )
        return self._read(stmt, layout)

    def tree(self, root_id: int, /, *, max_depth: int | None = None) -> ExecutionNode:
        """The workflow below ``root_id`` as an :class:`ExecutionNode` (one query).

        >>> print(db.executions.tree(1))
        1 deploy.release completed
        ├── 2 deploy.checkout completed
        ├── 3 deploy.build completed
        ├── 5 deploy.canary completed
        │   ├── 6 deploy.k8s_apply completed
        │   ├── 7 deploy.wait_ready completed
        │   └── 8 monitoring.check_slo completed
        └── 9 core.notify completed
        """
        frame = self.descendants(root_id, max_depth=max_depth, include=frames.JSON_COLUMNS)
        return build_tree(frame)

    def retries(self, execution_id: int, /) -> pd.DataFrame:
        """The whole retry chain that ``execution_id`` belongs to, first attempt first."""
        execution_id = check_id("id", execution_id)
        with self.db.transaction() as conn:
            self._require(conn, execution_id)
        layout = execution_layout()
        chain = (
            sa.text("""
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
        """)
            .bindparams(id=execution_id)
            .columns(id=sa.BigInteger)
            .subquery("chain")
        )
        stmt = (
            sa.select(*_select_columns(layout, present=self.db.schema_features))
            .select_from(
                chain.join(_e, _e.c.id == chain.c.id).outerjoin(_enf, _enf.c.id == _e.c.enforcement)
            )
            .order_by(_e.c.retry_count, _e.c.created, _e.c.id)
        )
        return self._read(stmt, layout)


def _nodes(walk: Any) -> Any:
    """A recursive walk (SQL text selecting id, depth, path, is_cycle) as the CTE ``nodes``."""
    return walk.columns(
        id=sa.BigInteger,
        depth=sa.Integer,
        path=postgresql.ARRAY(sa.BigInteger),
        is_cycle=sa.Boolean,
    ).cte("nodes")
