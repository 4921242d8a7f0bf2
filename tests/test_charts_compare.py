"""Tests for attune_nb/charts/compare.py, on frames built by hand in the contract's layouts."""

from __future__ import annotations

import pandas as pd
import pytest

from attune_nb.charts import retry_chains, window_comparison
from attune_nb.errors import InvalidFilter
from attune_nb.style import STATUS_COLOURS, status_colour


def _chains() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "chain": pd.array([1, 4, 7, 9], dtype="Int64"),
            "action_ref": pd.array(["a.x", "a.x", "b.y", "b.y"], dtype="string"),
            "attempts": pd.array([2, 3, 2, 1], dtype="Int64"),
            "ids": [[1, 2], [4, 5, 6], [7, 8], [9]],
            "outcomes": [
                ["failed", "completed"],
                ["failed"] * 3,
                ["failed", "cancelled"],
                ["completed"],
            ],
            "final_status": pd.Categorical(
                ["completed", "failed", "cancelled", "completed"],
                dtype=pd.CategoricalDtype(list(STATUS_COLOURS), ordered=True),
            ),
            "recovered": [True, False, False, False],
            "still_failed": [False, True, False, False],
        }
    )


def test_retry_chains_stack_recovered_still_failed_and_other_per_action() -> None:
    chains = _chains()
    before = chains.copy(deep=True)
    fig = retry_chains(chains)
    traces = {t.name.split()[0]: t for t in fig.data}
    assert set(traces) == {"recovered", "still", "neither"}
    assert dict(zip(traces["recovered"].y, traces["recovered"].x, strict=True)) == {
        "a.x": 1,
        "b.y": 0,
    }
    assert dict(zip(traces["still"].y, traces["still"].x, strict=True)) == {"a.x": 1, "b.y": 0}
    assert traces["still"].marker.color == status_colour("failed")
    assert "3 retried, 1 still failed" in fig.layout.title.text  # the 1-attempt chain is out
    pd.testing.assert_frame_equal(chains, before)


def _comparison() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "action_ref": pd.array(["worse.one", "better.one"], dtype="string"),
            "count_a": pd.array([10, 5], dtype="Int64"),
            "count_b": pd.array([12, 5], dtype="Int64"),
            "failure_rate_a": [0.1, 0.4],
            "failure_rate_b": [0.5, 0.2],
            "failure_rate_change": [0.4, -0.2],
            "run_time_p50_a": pd.to_timedelta([1, 2], unit="s"),
            "run_time_p50_b": pd.to_timedelta([2, 2], unit="s"),
            "run_time_p95_a": pd.to_timedelta([3, 9], unit="s"),
            "run_time_p95_b": pd.to_timedelta([6, 4], unit="s"),
            "p95_ratio": [2.0, 4 / 9],
        }
    )
    return frame


def test_window_comparison_marks_worse_red_and_better_green_worst_first() -> None:
    frame = _comparison()
    fig = window_comparison(frame)
    b_marks = [t for t in fig.data if t.name == "B"]
    assert len(b_marks) == 2  # one per panel
    assert list(b_marks[0].marker.color) == [status_colour("failed"), status_colour("completed")]
    assert list(b_marks[1].x) == [6.0, 4.0]  # p95 in seconds
    assert list(b_marks[0].y) == ["worse.one", "better.one"]
    assert fig.layout.yaxis.autorange == "reversed"
    assert [a.text for a in fig.layout.annotations] == ["failure rate", "p95 run time (s)"]


def test_window_comparison_names_the_windows_when_the_frame_states_them() -> None:
    frame = _comparison()
    frame.attrs["windows"] = ("2026-01-12 to 2026-01-13", "2026-01-13 to 2026-01-14")
    names = {t.name for t in window_comparison(frame).data if t.showlegend is not False}
    assert "A: 2026-01-12 to 2026-01-13" in names


@pytest.mark.parametrize(
    "call",
    [lambda: retry_chains(pd.DataFrame({"chain": [1]})), lambda: window_comparison(pd.DataFrame())],
    ids=["chains", "comparison"],
)
def test_frames_of_another_layout_are_refused(call: object) -> None:
    with pytest.raises(InvalidFilter):
        call()  # type: ignore[operator]
