"""Tests for attune_nb/widgets/_base.py: how every widget shows a frame, and results."""

from __future__ import annotations

import ipywidgets
import pandas as pd

import attune_nb
from attune_nb.widgets import StatusUpdater
from attune_nb.widgets._base import close_tree, frame_html, parse_result, plural


def test_a_frame_shows_times_to_the_second_blanks_for_missing_and_left_headers() -> None:
    frame = pd.DataFrame(
        {
            "id": pd.array([1, 2], dtype="Int64"),
            "worker": pd.array([3, None], dtype="Int64"),
            "created": pd.to_datetime(
                ["2026-01-13T23:45:00.889910Z", "2026-01-13T23:46:01.1Z"]
            ).as_unit("ns"),
            "run_time": pd.to_timedelta(["00:01:02.123456", None]),
            "action_ref": ["<b>x</b>", "core.echo"],
        }
    )
    text = frame_html(frame)
    assert "2026-01-13 23:45:00</td>" in text and ".889910" not in text
    assert "00:01:02.123000" not in text and "00:01:02.123" in text
    assert "&lt;NA&gt;" not in text and "NaT" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text  # escaped
    assert 'style="text-align: left;"' in text
    assert "white-space: nowrap" in text


def test_long_frames_say_how_many_rows_are_left_out() -> None:
    frame = pd.DataFrame({"id": range(5)})
    assert "… and 2 more rows" in frame_html(frame, max_rows=3)
    assert "… and 1 more row<" in frame_html(frame, max_rows=4)
    assert frame_html(frame.head(0), empty="nothing here") == "<i>nothing here</i>"


def test_results_are_json_or_a_reason_and_counts_read_as_english() -> None:
    assert parse_result("") is None
    assert parse_result(' {"error": "x"} ') == {"error": "x"}
    assert parse_result("disk full") == {"reason": "disk full"}
    assert plural(1, "execution") == "1 execution"
    assert plural(1200, "execution") == "1,200 executions"
    assert plural(2, "pending inquiry", "pending inquiries") == "2 pending inquiries"


def test_a_widget_shows_its_view_with_its_own_repr_as_the_text_fallback(
    db: attune_nb.Database,
) -> None:
    updater = StatusUpdater(db)
    bundle = updater._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == repr(updater) == "<StatusUpdater>"
    updater.id_box.value = "12345678"
    updater.load_button.click()
    assert updater._repr_mimebundle_()["text/plain"].startswith("<StatusUpdater: ")


def test_close_tree_closes_a_box_and_everything_in_it() -> None:
    inner = ipywidgets.Button(description="x")
    row = ipywidgets.HBox([inner])
    text = ipywidgets.HTML("y")
    box = ipywidgets.VBox([row, text])
    assert all(x.comm is not None for x in (inner, row, text, box))
    close_tree(box)
    assert all(x.comm is None for x in (inner, row, text, box))
