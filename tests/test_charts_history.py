"""Tests for attune_nb/charts/history.py, on frames built by hand in the contract's layouts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import attune_nb
from attune_nb import analysis
from attune_nb.charts import (
    concurrency,
    duration_distribution,
    outcome_calendar,
    retry_chains,
    status_over_time,
    window_comparison,
)
from attune_nb.errors import InvalidFilter
from attune_nb.style import STATUS_COLOURS, status_colour

STATUSES = list(STATUS_COLOURS)
T0 = pd.Timestamp("2026-01-13", tz="UTC")


def _throughput() -> pd.DataFrame:
    frame = pd.DataFrame({"bucket": pd.date_range(T0, periods=3, freq="h").as_unit("ns")})
    for s in STATUSES:
        frame[s] = pd.array([0, 0, 0], dtype="Int64")
    frame["completed"] = pd.array([5, 0, 2], dtype="Int64")
    frame["failed"] = pd.array([1, 0, 0], dtype="Int64")
    frame["total"] = pd.array([6, 0, 2], dtype="Int64")
    return frame


def test_status_over_time_stacks_a_bar_per_status_present() -> None:
    frame = _throughput()
    before = frame.copy(deep=True)
    fig = status_over_time(frame)
    assert [t.name for t in fig.data] == ["completed", "failed"]
    assert [t.marker.color for t in fig.data] == [
        status_colour("completed"),
        status_colour("failed"),
    ]
    assert fig.layout.barmode == "stack"
    assert list(fig.data[0].y) == [5, 0, 2]
    assert fig.layout.yaxis.title.text == "executions per hour"
    assert "8 in all" in fig.layout.title.text
    pd.testing.assert_frame_equal(frame, before)


def _executions(db: attune_nb.Database) -> pd.DataFrame:
    for ref, statuses in (
        ("core.echo", ["completed"] * 4 + ["failed"]),
        ("core.http", ["completed", "timeout", "cancelled"]),
    ):
        for status in statuses:
            e = db.executions.create(ref, status="running")
            db.executions.transition(e.id, status)
    return db.executions.frame()


def test_duration_distribution_marks_p50_and_p95_per_action(db: attune_nb.Database) -> None:
    frame = _executions(db)
    before = frame.copy(deep=True)
    fig = duration_distribution(frame)
    box, p50, p95 = fig.data
    assert isinstance(box, go.Box) and [p50.name, p95.name] == ["p50", "p95"]
    by_action = frame.groupby(frame["action_ref"].astype(str))["run_time"]
    expected = by_action.apply(lambda s: s.dt.total_seconds().quantile(0.95))
    got = dict(zip(p95.y, p95.x, strict=True))
    for action, value in expected.items():
        assert got[action] == pytest.approx(value)
    assert fig.layout.xaxis.type == "log" and "(s, log scale)" in fig.layout.xaxis.title.text
    pd.testing.assert_frame_equal(frame, before)


def test_duration_distribution_takes_a_durations_summary() -> None:
    summary = pd.DataFrame({"action_ref": pd.array(["a.b", "c.d"], dtype="string")})
    summary["count"] = pd.array([10, 3], dtype="Int64")
    for q in ("queue_wait", "run_time"):
        for i, p in enumerate(("p50", "p90", "p95", "p99", "max")):
            summary[f"{q}_{p}"] = pd.to_timedelta([1 + i, 10 + i], unit="s")
    fig = duration_distribution(summary, of="queue_wait")
    names = [t.name for t in fig.data]
    assert names == ["p50 to max", "p50", "p90", "p95", "p99"]
    assert dict(zip(fig.data[3].y, fig.data[3].x, strict=True)) == {"a.b": 3.0, "c.d": 12.0}


def test_outcome_calendar_is_the_failed_share_per_action_and_day(db: attune_nb.Database) -> None:
    frame = _executions(db)
    fig = outcome_calendar(frame)
    heat = fig.data[0]
    z = dict(zip(heat.y, np.asarray(heat.z, dtype=float)[:, 0], strict=True))
    assert z["core.echo"] == pytest.approx(1 / 5)
    assert z["core.http"] == pytest.approx(1 / 2)  # the cancelled one does not count
    assert heat.zmin == 0 and heat.zmax == 1


def test_concurrency_is_a_stacked_step_area_per_active_status() -> None:
    frame = pd.DataFrame(
        {"time": pd.to_datetime([T0, T0 + pd.Timedelta(minutes=5)], utc=True).as_unit("ns")}
    )
    for s in ("requested", "scheduling", "scheduled", "running", "canceling"):
        frame[s] = pd.array([0, 0], dtype="Int64")
    frame["running"] = pd.array([2, 1], dtype="Int64")
    fig = concurrency(frame)
    assert [t.name for t in fig.data] == [
        "requested",
        "scheduling",
        "scheduled",
        "running",
        "canceling",
    ]
    running = fig.data[3]
    assert running.line.shape == "hv" and running.stackgroup == "active"
    assert list(running.y) == [2, 1] and running.fillcolor == status_colour("running")
    assert fig.layout.title.text.startswith("Concurrency: executions in each")
    frame.attrs["freq"] = "minute"
    peaks = concurrency(frame)
    assert peaks.layout.title.text.startswith("Concurrency: each minute's peak of executions")
    assert peaks.layout.yaxis.title.text == "peak executions at once (each minute)"


@pytest.mark.parametrize(
    "call",
    [
        lambda: status_over_time(pd.DataFrame({"x": [1]})),
        lambda: duration_distribution(pd.DataFrame({"action_ref": ["a"]})),
        lambda: duration_distribution(pd.DataFrame(), of="wall"),
        lambda: outcome_calendar([1, 2]),  # type: ignore[arg-type]
        lambda: concurrency(pd.DataFrame({"when": [1]})),
    ],
    ids=["throughput", "durations", "of", "not-a-frame", "concurrency"],
)
def test_frames_of_another_layout_are_refused(call: object) -> None:
    with pytest.raises(InvalidFilter):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    "draw",
    [
        lambda frame, iv: duration_distribution(frame),
        lambda frame, iv: duration_distribution(frame, of="queue_wait", log=False),
        lambda frame, iv: duration_distribution(
            analysis.durations(iv, since=T0, until=T0 + pd.Timedelta(days=1))
        ),
        lambda frame, iv: outcome_calendar(frame),
        lambda frame, iv: status_over_time(
            analysis.throughput(frame, since=T0, until=T0 + pd.Timedelta(hours=3))
        ),
        lambda frame, iv: retry_chains(analysis.retry_chains(frame)),
        lambda frame, iv: window_comparison(
            analysis.compare_windows(
                iv, a=(T0, T0 + pd.Timedelta(hours=1)), b=(T0, T0 + pd.Timedelta(hours=2))
            )
        ),
    ],
    ids=[
        "executions",
        "queue-wait-linear",
        "summary",
        "calendar",
        "throughput",
        "retries",
        "compare",
    ],
)
def test_an_empty_selection_draws_an_empty_figure_that_says_so(
    db: attune_nb.Database, draw: Any
) -> None:
    frame, intervals = db.executions.frame(limit=None), db.executions.intervals(limit=None)
    assert frame.empty and intervals.empty
    fig = draw(frame, intervals)
    assert isinstance(fig, go.Figure)
    assert all(len(t.x if t.x is not None else ()) == 0 for t in fig.data)
    assert any("Nothing to show" in a.text for a in fig.layout.annotations)
