"""Workflows over time: the critical path that decided when a root finished, and wall time.

Pure functions over ``db.executions.descendants(root)`` and ``db.executions.intervals(...)``.
Children of a workflow overlap in time, so their wall time is the union of their
active spans, never the sum.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from attune_nb.analysis.concurrency import ACTIVE_STATUSES, check_frame
from attune_nb.analysis.window import utc
from attune_nb.errors import InvalidFilter
from attune_nb.frames import TIME_DTYPE, Column
from attune_nb.lifecycle import TERMINAL

__all__ = ["CRITICAL_PATH_COLUMNS", "critical_path", "milestones", "wall_time"]

CRITICAL_PATH_COLUMNS: tuple[Column, ...] = (
    Column("step", "int"),
    Column("id", "id"),
    Column("parent", "id"),
    Column("action_ref", "str"),
    Column("task_name", "str"),
    Column("created", "time"),
    Column("running", "time"),
    Column("ended", "time"),
    Column("queue_wait", "delta"),
    Column("run_time", "delta"),
)
"""``critical_path(...)``: step 0 is the root, then the tasks it waited for, in time order."""

_TERMINAL = [s.value for s in TERMINAL]
_INTERVALS = "db.executions.intervals(...)"


def milestones(intervals: pd.DataFrame) -> pd.DataFrame:
    """Per execution (the index): ``created`` (its first interval's ``entered``),
    ``running`` (first entry into running) and ``ended`` (first entry into a terminal
    status); NaT where not reached."""
    check_frame("intervals", intervals, ("execution_id", "status", "entered", "seq"), _INTERVALS)
    status = intervals["status"].astype("string")
    frame = pd.DataFrame(
        {
            "execution_id": intervals["execution_id"].astype("Int64"),
            "entered": intervals["entered"].astype(TIME_DTYPE),
            "seq": intervals["seq"],
        }
    )
    by = frame.sort_values(["execution_id", "seq"]).groupby("execution_id")["entered"]
    created = by.first()
    running = frame[(status == "running").fillna(False)].groupby("execution_id")["entered"].min()
    ended = frame[status.isin(_TERMINAL).fillna(False)].groupby("execution_id")["entered"].min()
    out = pd.DataFrame({"created": created})
    out["running"] = running.reindex(out.index).astype(TIME_DTYPE)
    out["ended"] = ended.reindex(out.index).astype(TIME_DTYPE)
    return out


def critical_path(descendants: pd.DataFrame, intervals: pd.DataFrame, *, root: int) -> pd.DataFrame:
    """The chain of executions that determined when ``root`` finished.

    Step 0 is the root. Its children are walked back from the one that ended last (a
    child still going counts as the latest): each task waited for the sibling that
    ended last before it was created, until a task waited for none. That chain of
    siblings is listed in time order, and a sibling that is itself a workflow is
    followed by its own chain, found the same way. Tasks that ran beside the chain
    and ended earlier are left out: they did not decide when the root finished.
    Times come from ``intervals`` (falling back to the row's ``created``,
    ``started_at`` (or ``created + queue_wait``, which a workflow parent has) and, for
    a terminal row, ``updated`` where the history lacks them);
    ``queue_wait`` is running - created, ``run_time`` ended - running.
    ``task_name`` comes from ``workflow_task`` when ``descendants`` includes it.

    >>> down = db.executions.descendants(1, include=["workflow_task"])
    >>> path = critical_path(down, db.executions.intervals(id=down["id"]), root=1)
    >>> path[["step", "id", "action_ref", "task_name"]]
       step  id            action_ref   task_name
    0     0   1        deploy.release        <NA>
    1     1   2       deploy.checkout    checkout
    2     2   3          deploy.build       build
    3     3   5         deploy.canary      canary
    4     4   6      deploy.k8s_apply   k8s_apply
    5     5   7     deploy.wait_ready  wait_ready
    6     6   8  monitoring.check_slo   check_slo
    7     7   9           core.notify      notify
    """
    check_frame(
        "descendants",
        descendants,
        ("id", "parent", "action_ref", "status", "created", "started_at", "updated"),
        "db.executions.descendants(root)",
    )
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)):
        raise InvalidFilter("root", root, "the id (an int) of a row of descendants")
    rows = descendants.drop_duplicates("id").set_index("id", drop=False).rename_axis(None)
    if int(root) not in rows.index:
        raise InvalidFilter("root", root, "the id of a row of descendants (its 'id' column)")
    times = milestones(intervals)
    # A workflow parent has no started_at; its frame's queue_wait comes from its history.
    ran = (
        rows["created"] + rows["queue_wait"]
        if "queue_wait" in rows
        else pd.Series(pd.NaT, index=rows.index, dtype=TIME_DTYPE)
    )
    rows = rows.assign(
        created=times["created"].reindex(rows.index).fillna(rows["created"]).astype(TIME_DTYPE),
        running=times["running"]
        .reindex(rows.index)
        .fillna(rows["started_at"])
        .fillna(ran)
        .astype(TIME_DTYPE),
        ended=times["ended"]
        .reindex(rows.index)
        .fillna(rows["updated"].where(rows["status"].astype("string").isin(_TERMINAL)))
        .astype(TIME_DTYPE),
    )
    chain = [int(root), *_waited_for(rows, int(root), seen={int(root)})]
    path = rows.loc[chain].reset_index(drop=True)
    if "workflow_task" in path.columns:
        task = [t.get("task_name") if isinstance(t, dict) else None for t in path["workflow_task"]]
    else:
        task = [None] * len(path)
    return pd.DataFrame(
        {
            "step": pd.array(range(len(path)), dtype="Int64"),
            "id": path["id"].astype("Int64"),
            "parent": path["parent"].astype("Int64"),
            "action_ref": path["action_ref"].astype("string"),
            "task_name": pd.array(task, dtype="string"),
            "created": path["created"],
            "running": path["running"],
            "ended": path["ended"],
            "queue_wait": (path["running"] - path["created"]).astype("timedelta64[ns]"),
            "run_time": (path["ended"] - path["running"]).astype("timedelta64[ns]"),
        }
    )


def _waited_for(rows: pd.DataFrame, parent: int, *, seen: set[int]) -> list[int]:
    """The ids of ``parent``'s critical chain below it, in time order (nested chains inline).

    ``seen`` holds the ids already on the path, so that odd data (a parent cycle) ends.
    """
    children = rows[(rows["parent"] == parent).fillna(False) & ~rows.index.isin(list(seen))]
    if children.empty:
        return []
    # Latest first: a child still going is what the parent waits for.
    order = children.assign(_going=children["ended"].isna()).sort_values(
        ["_going", "ended", "created", "id"], na_position="first", ascending=False
    )
    back = [int(order["id"].iloc[0])]
    while True:
        created = rows["created"].loc[back[-1]]
        before = order[(order["ended"] <= created).fillna(False) & ~order.index.isin(back)]
        if before.empty:  # a NaT created compares False: nothing before it
            break
        back.append(int(before["id"].iloc[0]))
    seen.update(back)
    chain: list[int] = []
    for step in reversed(back):
        chain.append(step)
        chain.extend(_waited_for(rows, step, seen=seen))
    return chain


def _ids(ids: Any) -> list[int]:
    values = [ids] if isinstance(ids, (int, np.integer)) else ids
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Iterable):
        raise InvalidFilter("ids", ids, "an execution id or a list of them")
    out = list(values)
    bad = [v for v in out if isinstance(v, bool) or not isinstance(v, (int, np.integer))]
    if bad:
        raise InvalidFilter("ids", bad[0], "an execution id (an int) or a list of them")
    return [int(v) for v in out]


def wall_time(intervals: pd.DataFrame, *, ids: Any = None, now: Any = None) -> pd.Timedelta:
    """The time during which at least one of the executions was active (the union).

    Active: requested, scheduling, scheduled, running, canceling. Overlapping spans
    count once, so a workflow's children that ran side by side add up to their
    union, never their sum. ``ids`` keeps only those executions (e.g. a root's
    children); an interval still open lasts until ``now`` (default: the wall clock).

    >>> wall_time(db.executions.intervals(parent=1))
    Timedelta('0 days 00:06:27.495106')
    """
    check_frame("intervals", intervals, ("execution_id", "status", "entered", "left"), _INTERVALS)
    end_open = pd.Timestamp.now(tz="UTC") if now is None else utc("now", now)
    keep = intervals["status"].astype("string").isin(ACTIVE_STATUSES).fillna(False)
    if ids is not None:
        keep &= intervals["execution_id"].isin(_ids(ids)).fillna(False)
    chosen = intervals[keep.to_numpy(dtype=bool)]
    start = chosen["entered"].astype(TIME_DTYPE)
    end = chosen["left"].astype(TIME_DTYPE)
    end = end.where(end.notna(), end_open)
    spans = pd.DataFrame({"start": start, "end": end}).dropna()
    spans = spans[spans["end"] > spans["start"]]
    if spans.empty:
        return pd.Timedelta(0)
    spans = spans.sort_values("start")
    s = spans["start"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    e = spans["end"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    reach = np.maximum.accumulate(e)
    group = np.concatenate([[0], np.cumsum(s[1:] > reach[:-1])])
    lo = pd.Series(s).groupby(group).min()
    hi = pd.Series(e).groupby(group).max()
    return pd.Timedelta(int((hi - lo).sum()), unit="ns")
