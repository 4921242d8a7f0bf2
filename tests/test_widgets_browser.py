"""ExecutionBrowser against a real database: filters, paging, one row in depth, the updater."""

from __future__ import annotations

from typing import TypedDict

import pytest

import attune_nb
from attune_nb.errors import InvalidFilter
from attune_nb.widgets.browser import ExecutionBrowser
from attune_nb.widgets.status import StatusUpdater


class Made(TypedDict):
    root: int
    tasks: list[int]
    failed: list[int]
    echoes: list[int]


def build(db: attune_nb.Database) -> Made:
    """A workflow with two tasks (moved through their lifecycle), and 23 loose executions."""
    ex = db.executions
    root = ex.create("ops.nightly", status="requested")
    ex.transition(root.id, "scheduling")
    ex.transition(root.id, "scheduled")
    ex.transition(root.id, "running")
    tasks = []
    for ref in ("ops.rotate_logs", "ops.db_backup"):
        task = ex.create(ref, parent=root.id, status="scheduled")
        ex.transition(task.id, "running")
        tasks.append(task.id)
    ex.transition(tasks[0], "completed", result={"rotated": 3, "hosts": ["a", "b"]})
    failed = [ex.create("deploy.build", status="failed").id for _ in range(12)]
    echoes = [ex.create("core.echo", status="completed").id for _ in range(11)]
    return {"root": root.id, "tasks": tasks, "failed": failed, "echoes": echoes}


def test_first_page_total_and_paging(db: attune_nb.Database) -> None:
    build(db)
    browser = ExecutionBrowser(db, page_size=10)
    assert browser.total == 26 == db.executions.count()
    assert len(browser.page) == 10
    assert "rows 1 to 10 of 26 (page 1 of 3)" in browser.page_label.value
    assert browser.prev_button.disabled and not browser.next_button.disabled
    first = list(browser.page["id"])
    assert first == list(db.executions.frame(limit=10)["id"])

    browser.next_button.click()
    assert list(browser.page["id"]) == list(db.executions.frame(limit=10, offset=10)["id"])
    browser.next_button.click()
    assert len(browser.page) == 6 and browser.next_button.disabled
    assert "rows 21 to 26 of 26 (page 3 of 3)" in browser.page_label.value
    browser.next_button.click()  # past the end: stays
    assert browser.page_number == 2
    browser.prev_button.click()
    browser.prev_button.click()
    assert list(browser.page["id"]) == first

    browser.page_size.value = 25
    assert browser.page_number == 0 and len(browser.page) == 25 and browser.pages == 2


def test_filters(db: attune_nb.Database) -> None:
    made = build(db)
    browser = ExecutionBrowser(db)
    assert list(browser.filters.status.options) == [
        "requested",
        "scheduling",
        "scheduled",
        "running",
        "completed",
        "failed",
        "canceling",
        "cancelled",
        "timeout",
        "abandoned",
    ]
    browser.filters.status.value = ("failed",)
    browser.search_button.click()
    assert browser.total == 12
    assert set(browser.page["id"]) == set(made["failed"])

    browser.filters.status.value = ("running", "completed")
    browser.filters.action_ref.value = "ops.*"
    browser.search_button.click()
    assert browser.total == 3

    browser.filters.top_level_only.value = True
    browser.search_button.click()
    assert list(browser.page["id"]) == [made["root"]]

    browser.filters.status.value = ()
    browser.filters.top_level_only.value = False
    browser.filters.action_ref.value = ""
    browser.filters.pack.value = "core"
    browser.filters.since.value = "2000-01-01"
    browser.search_button.click()
    assert browser.total == 11
    browser.filters.until.value = "2000-01-02"
    browser.search_button.click()
    assert browser.total == 0 and "no execution matches" in browser.table.value

    browser.filters.until.value = "soon"
    browser.search_button.click()
    assert isinstance(browser.last_error, InvalidFilter)
    assert "until" in browser.status_text
    assert browser.total == 0  # the last good search stays


def test_selecting_shows_details_tree_history_and_timeline(db: attune_nb.Database) -> None:
    made = build(db)
    browser = ExecutionBrowser(db)
    with pytest.raises(InvalidFilter):
        browser.select(made["root"])  # oldest: on page 2
    browser.page_size.value = 50
    assert browser.selected is None and browser.open_button.disabled
    tasks = made["tasks"]

    browser.select(tasks[0])
    assert browser.selected is not None and browser.selected.id == tasks[0]
    assert "ops.rotate_logs" in browser.details.value
    assert "&quot;rotated&quot;: 3" in browser.details.value  # the result, pretty-printed
    assert '"hosts": [\n    "a",' in browser.details.value.replace("&quot;", '"')
    assert list(browser.history_frame["new_status"]) == ["scheduled", "running", "completed"]
    assert "completed" in browser.history_view.value

    root = made["root"]
    browser.select(root)
    assert [n.id for n in browser.tree.walk()] == [root, *tasks]
    assert "ops.db_backup" in browser.tree_view.value
    assert browser.timeline is not None
    assert len(browser.timeline.data) > 0
    (output,) = browser.timeline_view.outputs
    assert "application/vnd.plotly.v1+json" in output["data"]
    assert [browser.tabs.get_title(i) for i in range(4)] == [
        "Details",
        "Tree",
        "History",
        "Timeline",
    ]

    browser.search_button.click()  # a new search keeps a selection still on the page
    assert browser.selected is not None and browser.selected.id == root
    browser.filters.status.value = ("failed",)
    browser.search_button.click()
    assert browser.selected is None and browser.open_button.disabled


def test_change_status_opens_an_updater_on_the_selected_row(db: attune_nb.Database) -> None:
    made = build(db)
    browser = ExecutionBrowser(db, page_size=50)
    assert browser.updater is None
    tasks = made["tasks"]
    browser.select(tasks[1])
    browser.open_button.click()
    updater = browser.updater
    assert isinstance(updater, StatusUpdater)
    assert updater.widget in browser.updater_box.children
    assert updater.execution is not None and updater.execution.id == tasks[1]
    updater.action.value = "abandoned"
    updater.apply_button.click()
    updater.confirm_button.click()
    assert db.executions.get(tasks[1]).status.value == "abandoned"

    browser.select(made["root"])
    browser.open_button.click()
    assert browser.updater is updater  # the same updater, now on the root
    assert updater.execution is not None and updater.execution.id == made["root"]
