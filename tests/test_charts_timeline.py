"""Tests for attune_nb/charts/timeline.py: the lifecycle Gantt and the critical path chart."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import attune_nb
from attune_nb.charts import critical_path, lifecycle_timeline
from attune_nb.errors import InvalidFilter
from attune_nb.frames import INTERVAL_COLUMNS
from attune_nb.style import STATUS_COLOURS, status_colour


def _run(db: attune_nb.Database, execution_id: int, *statuses: str) -> None:
    for status in statuses:  # one transaction each: each status gets its own time
        db.executions.transition(execution_id, status)


def _workflow(db: attune_nb.Database) -> dict[str, int]:
    """root -> (a, b in parallel, c failed, r a retry of c); a -> a1."""
    root = db.executions.create("deploy.release").id
    _run(db, root, "scheduling", "scheduled", "running")
    a = db.executions.create("deploy.build", parent=root).id
    b = db.executions.create("deploy.test", parent=root).id
    _run(db, a, "scheduling", "scheduled", "running")
    _run(db, b, "scheduling", "scheduled", "running")
    a1 = db.executions.create("core.echo", parent=a).id
    _run(db, a1, "scheduling", "scheduled", "running", "completed")
    _run(db, a, "completed")
    _run(db, b, "completed")
    c = db.executions.create("deploy.canary", parent=root).id
    _run(db, c, "scheduling", "scheduled", "running", "failed")
    r = db.executions.create("deploy.canary", parent=root, original_execution=c, retry_count=1).id
    _run(db, r, "scheduling", "scheduled", "running", "completed")
    _run(db, root, "completed")
    return {"root": root, "a": a, "b": b, "a1": a1, "c": c, "r": r}


@pytest.fixture
def workflow(db: attune_nb.Database) -> tuple[dict[str, int], pd.DataFrame, pd.DataFrame]:
    ids = _workflow(db)
    return ids, db.executions.intervals(), db.executions.descendants(ids["root"])


def _labels(fig: go.Figure) -> list[str]:
    return list(fig.layout.yaxis.ticktext)


def _bars(fig: go.Figure) -> dict[str, go.Bar]:
    return {t.name: t for t in fig.data if isinstance(t, go.Bar)}


def test_one_bar_trace_per_status_in_its_colour(workflow: tuple) -> None:
    _, intervals, tree = workflow
    fig = lifecycle_timeline(intervals, descendants=tree)
    bars = _bars(fig)
    assert set(bars) == {"requested", "scheduling", "scheduled", "running"}
    for status, trace in bars.items():
        assert trace.marker.color == status_colour(status)
        assert trace.orientation == "h"
    # every non-terminal interval is one bar segment of its status' trace
    active = intervals[intervals["left"].notna()]
    for status, trace in bars.items():
        assert len(trace.x) == (active["status"] == status).sum()
    # terminal statuses are marks at the end, also in their colours
    marks = {t.name: t for t in fig.data if isinstance(t, go.Scatter) and t.mode == "markers"}
    assert set(marks) == {"completed", "failed"}
    assert marks["failed"].marker.color == status_colour("failed")
    # legend in lifecycle order
    order = list(STATUS_COLOURS)
    ranked = sorted((t.legendrank, t.name) for t in fig.data if t.name in STATUS_COLOURS)
    positions = [order.index(name) for _, name in ranked]
    assert positions == sorted(positions)


def test_bars_start_at_entered_and_last_as_long_as_the_interval(workflow: tuple) -> None:
    _, intervals, tree = workflow
    fig = lifecycle_timeline(intervals, descendants=tree)
    running = _bars(fig)["running"]
    rows = intervals[(intervals["status"] == "running") & intervals["left"].notna()]
    expected = sorted(
        zip(
            (rows["entered"].astype("int64") // 1_000_000).tolist(),
            (rows["duration"].dt.total_seconds() * 1000).round(3).tolist(),
            strict=True,
        )
    )
    base = np.asarray(running.base, dtype=float)
    got = sorted(zip(np.round(base).tolist(), np.asarray(running.x, dtype=float), strict=True))
    assert [b for b, _ in expected] == pytest.approx([b for b, _ in got], abs=1)
    assert [d for _, d in expected] == pytest.approx([d for _, d in got], abs=0.01)


def test_hierarchy_order_puts_children_under_their_parent_and_retries_after_originals(
    workflow: tuple,
) -> None:
    ids, intervals, tree = workflow
    fig = lifecycle_timeline(intervals, descendants=tree)
    labels = _labels(fig)
    position = {int(label.split()[-2]): k for k, label in enumerate(labels)}
    assert position[ids["root"]] == 0
    assert position[ids["a"]] < position[ids["a1"]] < position[ids["b"]]
    assert position[ids["c"]] + 1 == position[ids["r"]]
    assert labels[position[ids["a1"]]].startswith("\u00b7 \u00b7 ")  # depth 2
    assert labels[position[ids["r"]]].startswith("\u00b7 \u21bb ")  # depth 1, a retry
    links = [t for t in fig.data if t.name == "retry of"]
    assert len(links) == 1
    assert list(links[0].y[:2]) == [position[ids["c"]], position[ids["r"]]]


def test_start_order_sorts_rows_by_first_entry(workflow: tuple) -> None:
    _, intervals, tree = workflow
    fig = lifecycle_timeline(intervals, order="start", descendants=tree)
    shown = [int(label.split()[-2]) for label in _labels(fig)]
    first = intervals.groupby("execution_id")["entered"].min().sort_values()
    assert shown == [int(i) for i in first.index]
    assert not any(label.startswith("\u00b7") for label in _labels(fig))


def test_hover_names_id_action_status_entered_and_duration(workflow: tuple) -> None:
    ids, intervals, tree = workflow
    bar = _bars(lifecycle_timeline(intervals, descendants=tree))["running"]
    template = bar.hovertemplate
    for field in ("customdata[0]", "customdata[1]", "fullData.name", "entered", "duration"):
        assert field in template
    row = list(bar.customdata[0])
    assert int(row[0]) in ids.values() and row[1].count(".") == 1
    assert pd.Timestamp(row[2]).year >= 2024 and row[3].endswith("s")


def test_the_input_frame_is_left_unchanged(workflow: tuple) -> None:
    _, intervals, tree = workflow
    before, tree_before = intervals.copy(deep=True), tree.copy(deep=True)
    lifecycle_timeline(intervals, descendants=tree)
    lifecycle_timeline(intervals, light_threshold=0)
    pd.testing.assert_frame_equal(intervals, before)
    pd.testing.assert_frame_equal(tree, tree_before)


def test_past_the_threshold_the_light_rendering_says_so(workflow: tuple) -> None:
    _, intervals, tree = workflow
    fig = lifecycle_timeline(intervals, descendants=tree, light_threshold=3)
    assert "light rendering" in fig.layout.title.text
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    lines = {t.name: t for t in fig.data if t.mode == "lines" and t.name != "retry of"}
    assert lines["running"].line.color == status_colour("running")
    assert fig.layout.yaxis.showticklabels is False
    # one trace per status, not per segment
    assert len(fig.data) <= len(STATUS_COLOURS) + 1
    assert "light" not in lifecycle_timeline(intervals, descendants=tree).layout.title.text


def test_an_active_interval_runs_until_now(db: attune_nb.Database) -> None:
    e = db.executions.create("core.sleep").id
    _run(db, e, "scheduling", "scheduled", "running")
    intervals = db.executions.intervals()
    entered = intervals.loc[intervals["status"] == "running", "entered"].iloc[0]
    now = entered + pd.Timedelta(minutes=5)
    running = _bars(lifecycle_timeline(intervals, now=now))["running"]
    assert running.x[0] == pytest.approx(5 * 60 * 1000)


def test_an_empty_frame_gives_an_empty_figure() -> None:
    empty = pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in INTERVAL_COLUMNS})
    fig = lifecycle_timeline(empty)
    assert len(fig.data) == 0 and "0 executions" in fig.layout.title.text


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"order": "alphabetical"}, "order"),
        ({"light_threshold": -1}, "light_threshold"),
        ({"light_threshold": True}, "light_threshold"),
    ],
    ids=["order", "negative-threshold", "bool-threshold"],
)
def test_bad_options_are_refused(workflow: tuple, kwargs: dict, name: str) -> None:
    _, intervals, _ = workflow
    with pytest.raises(InvalidFilter) as info:
        lifecycle_timeline(intervals, **kwargs)
    assert info.value.name == name


def test_a_frame_of_another_layout_is_refused(workflow: tuple) -> None:
    _, intervals, _ = workflow
    with pytest.raises(InvalidFilter) as info:
        lifecycle_timeline(intervals.drop(columns=["entered"]))
    assert info.value.name == "intervals" and "entered" in str(info.value)


def _synthetic(executions: int) -> pd.DataFrame:
    """An intervals frame of the right layout: five statuses per execution."""
    rng = np.random.default_rng(1)
    statuses = ["requested", "scheduling", "scheduled", "running", "completed"]
    start = pd.Timestamp("2026-01-01", tz="UTC").value + rng.integers(0, 86_400 * 10**9, executions)
    steps = rng.exponential(2e9, (executions, 4)).astype(np.int64)
    times = np.column_stack([start, start[:, None] + np.cumsum(steps, axis=1)])
    entered = times.ravel()
    left = np.column_stack([times[:, 1:], np.full(executions, np.iinfo(np.int64).min)]).ravel()
    frame = pd.DataFrame(
        {
            "execution_id": pd.array(np.repeat(np.arange(1, executions + 1), 5), dtype="Int64"),
            "action_ref": pd.array(np.repeat(["core.echo"], 5 * executions), dtype="string"),
            "status": pd.Categorical(statuses * executions, dtype=INTERVAL_COLUMNS[2].dtype),
            "seq": pd.array(np.tile(np.arange(1, 6), executions), dtype="Int64"),
            "entered": pd.to_datetime(entered, utc=True).as_unit("ns"),
            "left": pd.to_datetime(left, utc=True).as_unit("ns"),
        }
    )
    frame["duration"] = frame["left"] - frame["entered"]
    frame["current"] = pd.array(frame["left"].isna().to_numpy(), dtype="boolean")
    return frame


def test_ten_thousand_executions_build_fast_and_small() -> None:
    intervals = _synthetic(10_000)
    start = time.perf_counter()
    fig = lifecycle_timeline(intervals)
    elapsed = time.perf_counter() - start
    size = len(fig.to_json())
    assert elapsed < 2.0, f"built in {elapsed:.2f}s"
    assert size < 10_000_000, f"{size / 1e6:.1f} MB of JSON"
    assert "light rendering" in fig.layout.title.text
    assert len(fig.data) == 5
    assert json.loads(fig.to_json())["layout"]["xaxis"]["type"] == "date"


def test_critical_path_highlights_the_chain(workflow: tuple) -> None:
    ids, intervals, tree = workflow
    path = pd.DataFrame(
        {
            "step": pd.array([0, 1], dtype="Int64"),
            "id": pd.array([ids["root"], ids["r"]], dtype="Int64"),
            "parent": pd.array([None, ids["root"]], dtype="Int64"),
            "action_ref": pd.array(["deploy.release", "deploy.canary"], dtype="string"),
            "task_name": pd.array([pd.NA, "canary"], dtype="string"),
            "created": pd.to_datetime(["2026-01-01 00:00:00", "2026-01-01 00:01:00"], utc=True),
            "running": pd.to_datetime(["2026-01-01 00:00:05", "2026-01-01 00:01:30"], utc=True),
            "ended": pd.to_datetime(["2026-01-01 00:05:00", "2026-01-01 00:04:59"], utc=True),
            "queue_wait": pd.to_timedelta(["5s", "30s"]),
            "run_time": pd.to_timedelta(["295s", "209s"]),
        }
    )
    before = path.copy(deep=True)
    fig = critical_path(path, intervals, descendants=tree)
    starred = [label for label in _labels(fig) if "\u2605" in label]
    assert len(starred) == 2 and f"{ids['root']} deploy.release" in starred[0]
    running = _bars(fig)["running"]
    assert set(np.unique(running.marker.opacity)) == {0.55, 1.0}
    # the chain alone: queue wait and run time per step, from the path frame
    alone = critical_path(path)
    names = [t.name for t in alone.data]
    assert names == ["queue wait", "run time"]
    assert list(alone.data[1].x) == pytest.approx([295_000, 209_000])
    assert list(alone.layout.yaxis.ticktext)[1] == f"1. {ids['r']} deploy.canary (canary)"
    pd.testing.assert_frame_equal(path, before)
