"""analysis.workflows: the critical path of a nested workflow and wall time as a union.

Histories are written with exact times (seconds after T0): every number is known.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import attune_nb
from attune_nb.analysis.workflows import CRITICAL_PATH_COLUMNS, critical_path, wall_time
from attune_nb.errors import InvalidFilter
from attune_nb.testing import write_history

T0 = pd.Timestamp("2026-01-10T00:00:00Z")


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def story(db: attune_nb.Database, ref: str, *steps: tuple[str, float], **columns: Any) -> int:
    """An execution whose history is exactly ``steps`` ((status, seconds after T0), in order)."""
    return write_history(db, ref, *steps, start=T0, **columns)


def task(name: str) -> dict[str, Any]:
    return {"task_name": name}


@pytest.fixture
def workflow(db: attune_nb.Database) -> dict[str, int]:
    """A workflow whose children overlap, one of them a nested workflow.

    W 0-100 (running from 1); its children C1 2-40 and C2 2-60 side by side, and C3
    (a nested workflow, 20-95) whose children G1 22-50 and G2 22-90 overlap too.
    """
    ids: dict[str, int] = {}
    ids["W"] = story(db, "wf.release", ("requested", 0), ("running", 1), ("completed", 100))
    ids["C1"] = story(
        db,
        "wf.build",
        ("requested", 2),
        ("scheduled", 3),
        ("running", 5),
        ("completed", 40),
        parent=ids["W"],
        workflow_task=task("build"),
    )
    ids["C2"] = story(
        db,
        "wf.test",
        ("requested", 2),
        ("running", 10),
        ("completed", 60),
        parent=ids["W"],
        workflow_task=task("test"),
    )
    ids["C3"] = story(
        db,
        "wf.deploy",
        ("requested", 20),
        ("running", 21),
        ("completed", 95),
        parent=ids["W"],
        workflow_task=task("deploy"),
    )
    ids["G1"] = story(
        db, "wf.apply", ("requested", 22), ("running", 25), ("completed", 50), parent=ids["C3"]
    )
    ids["G2"] = story(
        db,
        "wf.wait",
        ("requested", 22),
        ("running", 30),
        ("completed", 90),
        parent=ids["C3"],
        workflow_task=task("wait"),
    )
    return ids


def seconds(value: Any) -> float:
    return pd.Timedelta(value).total_seconds()


def test_the_critical_path_runs_through_the_nested_workflow(
    db: attune_nb.Database, workflow: dict[str, int]
) -> None:
    down = db.executions.descendants(workflow["W"], include=["workflow_task"])
    path = critical_path(down, db.executions.intervals(), root=workflow["W"])
    assert list(path.columns) == [c.name for c in CRITICAL_PATH_COLUMNS]
    assert [path[c.name].dtype for c in CRITICAL_PATH_COLUMNS] == [
        c.dtype for c in CRITICAL_PATH_COLUMNS
    ]
    assert path["step"].tolist() == [0, 1, 2]
    assert path["id"].tolist() == [workflow["W"], workflow["C3"], workflow["G2"]]
    assert path["parent"].tolist() == [pd.NA, workflow["W"], workflow["C3"]]
    assert path["action_ref"].tolist() == ["wf.release", "wf.deploy", "wf.wait"]
    assert path["task_name"].tolist() == [pd.NA, "deploy", "wait"]
    assert [seconds(t - T0) for t in path["created"]] == [0, 20, 22]
    assert [seconds(t - T0) for t in path["running"]] == [1, 21, 30]
    assert [seconds(t - T0) for t in path["ended"]] == [100, 95, 90]
    assert [seconds(d) for d in path["queue_wait"]] == [1, 1, 8]
    assert [seconds(d) for d in path["run_time"]] == [99, 74, 60]


def test_sequential_tasks_are_followed_back_to_what_each_waited_for(
    db: attune_nb.Database,
) -> None:
    """build 1-40, then test 41-60 beside lint 41-45, then a short notify 61-62.

    The root finished when notify did, notify waited for test (lint had ended
    earlier), test waited for build: build's 39 s decided the end as much as notify.
    """
    root = story(db, "wf.release", ("requested", 0), ("running", 0.5), ("completed", 63))
    build = story(db, "wf.build", ("requested", 1), ("running", 2), ("completed", 40), parent=root)
    test = story(db, "wf.test", ("requested", 41), ("running", 42), ("completed", 60), parent=root)
    lint = story(db, "wf.lint", ("requested", 41), ("running", 41), ("completed", 45), parent=root)
    notify = story(
        db, "wf.notify", ("requested", 61), ("running", 61), ("completed", 62), parent=root
    )
    path = critical_path(db.executions.descendants(root), db.executions.intervals(), root=root)
    assert path["id"].tolist() == [root, build, test, notify]
    assert lint not in path["id"].tolist()
    assert path["step"].tolist() == [0, 1, 2, 3]
    assert [seconds(d) for d in path["run_time"]] == [62.5, 38, 18, 1]
    assert path["created"].is_monotonic_increasing


def test_a_nested_workflow_in_a_sequence_is_followed_by_its_own_chain(
    db: attune_nb.Database,
) -> None:
    root = story(db, "wf.root", ("requested", 0), ("running", 0), ("completed", 100))
    first = story(db, "wf.sub", ("requested", 1), ("running", 1), ("completed", 50), parent=root)
    a = story(db, "wf.a", ("requested", 2), ("running", 2), ("completed", 20), parent=first)
    b = story(db, "wf.b", ("requested", 21), ("running", 21), ("completed", 49), parent=first)
    side = story(db, "wf.side", ("requested", 2), ("running", 3), ("completed", 10), parent=first)
    last = story(db, "wf.last", ("requested", 51), ("running", 52), ("completed", 99), parent=root)
    path = critical_path(db.executions.descendants(root), db.executions.intervals(), root=root)
    assert path["id"].tolist() == [root, first, a, b, last]
    assert path["parent"].tolist() == [pd.NA, root, first, first, root]
    assert side not in path["id"].tolist()


def test_without_workflow_task_the_task_name_is_empty_and_a_subtree_is_a_root(
    db: attune_nb.Database, workflow: dict[str, int]
) -> None:
    down = db.executions.descendants(workflow["C3"])
    path = critical_path(down, db.executions.intervals(), root=workflow["C3"])
    assert path["id"].tolist() == [workflow["C3"], workflow["G2"]]
    assert path["task_name"].isna().all()


def test_a_child_still_running_is_what_the_parent_waits_for(db: attune_nb.Database) -> None:
    root = story(db, "wf.root", ("requested", 0), ("running", 1))
    done = story(db, "wf.done", ("requested", 2), ("running", 3), ("completed", 50), parent=root)
    going = story(db, "wf.going", ("requested", 2), ("running", 4), parent=root)
    path = critical_path(db.executions.descendants(root), db.executions.intervals(), root=root)
    assert path["id"].tolist() == [root, going]
    assert path["ended"].isna().all() and path["run_time"].isna().all()
    assert done not in path["id"].tolist()


def test_without_history_the_rows_times_are_used(
    db: attune_nb.Database, workflow: dict[str, int]
) -> None:
    down = db.executions.descendants(workflow["W"])
    empty = db.executions.intervals(status="failed")
    path = critical_path(down, empty, root=workflow["W"])
    # The row's created, started_at and (terminal) updated are the history's times here.
    assert path["id"].tolist() == [workflow["W"], workflow["C3"], workflow["G2"]]
    assert [seconds(d) for d in path["run_time"]] == [99, 74, 60]


def test_overlapping_children_take_their_union_never_the_sum(
    db: attune_nb.Database, workflow: dict[str, int]
) -> None:
    intervals = db.executions.intervals()
    c1, c2 = workflow["C1"], workflow["C2"]
    active = intervals[intervals["execution_id"].isin([c1, c2]) & ~intervals["current"]]
    assert seconds(active["duration"].sum()) == 38 + 58  # what a sum would say
    assert wall_time(intervals, ids=[c1, c2]) == pd.Timedelta(seconds=58)  # 2 to 60
    children = [workflow["C1"], workflow["C2"], workflow["C3"]]
    assert wall_time(intervals, ids=children) == pd.Timedelta(seconds=93)  # 2 to 95
    assert wall_time(intervals, ids=workflow["G1"]) == pd.Timedelta(seconds=28)


def test_disjoint_spans_add_up_and_an_open_one_lasts_until_now(
    db: attune_nb.Database, workflow: dict[str, int]
) -> None:
    later = story(db, "wf.later", ("requested", 200), ("running", 205), ("completed", 210))
    going = story(db, "wf.going", ("requested", 300), ("running", 310))
    intervals = db.executions.intervals()
    assert wall_time(intervals, ids=[workflow["C1"], later]) == pd.Timedelta(seconds=38 + 10)
    assert wall_time(intervals, ids=[going], now=at(400)) == pd.Timedelta(seconds=100)
    assert wall_time(intervals, ids=[later, going], now=at(400)) == pd.Timedelta(seconds=110)
    assert wall_time(intervals, ids=[]) == pd.Timedelta(0)
    assert wall_time(db.executions.intervals(status="failed")) == pd.Timedelta(0)


def test_bad_input_is_refused(db: attune_nb.Database, workflow: dict[str, int]) -> None:
    down = db.executions.descendants(workflow["C3"])
    intervals = db.executions.intervals()
    with pytest.raises(InvalidFilter) as info:
        critical_path(down, intervals, root=workflow["W"])  # not in this subtree
    assert (info.value.name, info.value.value) == ("root", workflow["W"])
    with pytest.raises(InvalidFilter) as info:
        critical_path(down, intervals, root="1")  # type: ignore[arg-type]
    assert info.value.name == "root"
    with pytest.raises(InvalidFilter) as info:
        critical_path(down.drop(columns="parent"), intervals, root=workflow["C3"])
    assert info.value.name == "descendants"
    with pytest.raises(InvalidFilter) as info:
        wall_time(intervals, ids="C1")
    assert info.value.name == "ids"
    with pytest.raises(InvalidFilter) as info:
        wall_time(intervals, now="later")
    assert info.value.name == "now"
