"""ExecutionBrowser: filter and page through executions, look into one, change its status.

Filters as ``db.executions.frame``; a page of rows with the total count; the selected
row's details (its result pretty-printed), tree, history and lifecycle timeline; one
click opens a :class:`~attune_nb.widgets.status.StatusUpdater` on it.
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as w
import pandas as pd

import attune_nb
from attune_nb import charts
from attune_nb.errors import InvalidFilter
from attune_nb.records import Execution
from attune_nb.widgets._base import ExecutionFilterControls, WidgetBase, figure_output, frame_html
from attune_nb.widgets.status import HISTORY_SHOWN, StatusUpdater

__all__ = ["ExecutionBrowser"]

PAGE_SIZES = (10, 25, 50, 100)
_COLUMNS = ["id", "action_ref", "status", "parent", "worker", "created", "started_at", "updated"]


class ExecutionBrowser(WidgetBase):
    """Browse executions: filters, a paged table with the total, and one row in depth.

    Example::

        browser = ExecutionBrowser(db)
        browser.filters.status.value = ("failed",)
        browser.search_button.click()            # page 1; browser.total is the count
        browser.next_button.click()
        browser.select(browser.page["id"].iloc[0])   # or pick it in browser.selector
        browser.open_button.click()              # browser.updater: a StatusUpdater on it

    Buttons: ``Search``, ``Previous``, ``Next``, ``Change status``.
    """

    def __init__(self, db: attune_nb.Database, *, page_size: int = 25) -> None:
        super().__init__()
        self.db = db
        self.page_number = 0
        self.total = 0
        self.page: pd.DataFrame = pd.DataFrame()
        self.selected: Execution | None = None
        self.tree: Any = None
        self.history_frame: pd.DataFrame | None = None
        self.timeline: Any = None
        self.updater: StatusUpdater | None = None
        self._query: dict[str, Any] = {}

        self.filters = ExecutionFilterControls()
        self.page_size = w.Dropdown(
            options=list(PAGE_SIZES),
            value=page_size if page_size in PAGE_SIZES else 25,
            description="Page size",
            layout=w.Layout(width="12em"),
        )
        self.search_button = w.Button(description="Search", button_style="primary")
        self.prev_button = w.Button(description="Previous", icon="arrow-left")
        self.next_button = w.Button(description="Next", icon="arrow-right")
        self.page_label = w.HTML(value="")
        self.table = w.HTML(value="")
        self.selector = w.Dropdown(
            options=[], value=None, description="Execution", layout=w.Layout(width="40em")
        )
        self.open_button = w.Button(description="Change status", tooltip="Open a StatusUpdater")
        self.details = w.HTML(value="")
        self.tree_view = w.HTML(value="")
        self.history_view = w.HTML(value="")
        self.timeline_view = w.Output()
        self.tabs = w.Tab(
            children=[self.details, self.tree_view, self.history_view, self.timeline_view]
        )
        for i, title in enumerate(("Details", "Tree", "History", "Timeline")):
            self.tabs.set_title(i, title)
        self.updater_box = w.VBox([])

        self.search_button.on_click(self._on_search)
        self.prev_button.on_click(self._on_prev)
        self.next_button.on_click(self._on_next)
        self.open_button.on_click(self._on_open)
        self.selector.observe(self._on_select, names="value")
        self.page_size.observe(self._on_page_size, names="value")

        self.widget = w.VBox(
            [
                self.filters.widget,
                w.HBox([self.search_button, self.page_size]),
                self.status_line,
                self.table,
                w.HBox([self.prev_button, self.next_button, self.page_label]),
                w.HBox([self.selector, self.open_button]),
                self.tabs,
                self.updater_box,
            ],
            layout=w.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="6px"),
        )
        self._on_search()

    # -- handlers ---------------------------------------------------------------------

    def _on_search(self, _button: Any = None) -> None:
        with self._guard():
            query = self.filters.filters()
            self.total = self.db.executions.count(**query)  # checks the filters first
            self._query = query
            self.page_number = 0
            self._show_page()

    def _on_prev(self, _button: Any = None) -> None:
        with self._guard():
            if self.page_number > 0:
                self.page_number -= 1
                self._show_page()

    def _on_next(self, _button: Any = None) -> None:
        with self._guard():
            if (self.page_number + 1) * self.page_size.value < self.total:
                self.page_number += 1
                self._show_page()

    def _on_page_size(self, _change: Any = None) -> None:
        with self._guard():
            self.page_number = 0
            self._show_page()

    def _on_select(self, _change: Any = None) -> None:
        with self._guard():
            if self.selector.value is None:
                self._clear_selection()
                return
            self._show_execution(int(self.selector.value))

    def _on_open(self, _button: Any = None) -> None:
        with self._guard():
            if self.selected is None:
                self._say("Select an execution first.", level="error")
                return
            if self.updater is None:
                self.updater = StatusUpdater(self.db, self.selected.id)
            else:
                self.updater.load(self.selected.id)
            self.updater_box.children = [self.updater.widget]

    # -- plain state ------------------------------------------------------------------

    @property
    def pages(self) -> int:
        """How many pages the total makes (at least 1)."""
        size = int(self.page_size.value)
        return max(1, -(-self.total // size))

    def select(self, execution_id: int) -> None:
        """Select ``execution_id`` on the current page (as picking it in the selector).

        Raises :class:`InvalidFilter` when it is not on the page.
        """
        on_page = [value for _label, value in self.selector.options]
        if int(execution_id) not in on_page:
            raise InvalidFilter(
                "execution",
                execution_id,
                f"an execution on this page (page {self.page_number + 1})",
            )
        self.selector.value = int(execution_id)

    # -- display ----------------------------------------------------------------------

    def _show_page(self) -> None:
        size = self.page_size.value
        page = self.db.executions.frame(limit=size, offset=self.page_number * size, **self._query)
        self.page = page
        shown = page[[c for c in _COLUMNS if c in page.columns]]
        # A page is shown whole: the box scrolls only past 25 rows.
        self.table.value = frame_html(shown, empty="no execution matches", height="60em")
        first = self.page_number * size + 1 if len(page) else 0
        last = self.page_number * size + len(page)
        self.page_label.value = (
            f"rows {first:,} to {last:,} of {self.total:,} (page {self.page_number + 1} of "
            f"{self.pages})"
        )
        self.prev_button.disabled = self.page_number == 0
        self.next_button.disabled = last >= self.total
        options = [
            (f"{i}  {ref}  {status}  {created:%Y-%m-%d %H:%M:%S}", int(i))
            for i, ref, status, created in zip(
                page["id"], page["action_ref"], page["status"], page["created"], strict=True
            )
        ]
        keep = self.selector.value if self.selector.value in {v for _, v in options} else None
        self.selector.options = options
        self.selector.value = keep
        if keep is None:
            self._clear_selection()
        self._say(f"{self.total:,} executions match.")

    def _show_execution(self, execution_id: int) -> None:
        ex = self.db.executions
        e = ex.get(execution_id)
        self.selected = e
        self.details.value = _details_html(e)
        self.tree = ex.tree(execution_id)
        self.tree_view.value = self.tree._repr_html_()
        self.history_frame = ex.history(execution_id)
        shown = self.history_frame[[c for c in HISTORY_SHOWN if c in self.history_frame.columns]]
        self.history_view.value = frame_html(shown, empty="no history rows")
        descendants = ex.descendants(execution_id)
        intervals = ex.intervals(id=descendants["id"], limit=None)
        if intervals.empty:
            self.timeline = None
            self.timeline_view.outputs = ()
        else:
            self.timeline = charts.lifecycle_timeline(intervals, descendants=descendants)
            figure_output(self.timeline_view, self.timeline)
        self.open_button.disabled = False
        self._say(f"Execution {e.id}: {e.action_ref} {e.status.value}.")

    def _clear_selection(self) -> None:
        self.selected = None
        self.tree = self.history_frame = self.timeline = None
        self.details.value = "<i>Select an execution to see its details.</i>"
        self.tree_view.value = self.history_view.value = ""
        self.timeline_view.outputs = ()
        self.open_button.disabled = True


def _details_html(e: Execution) -> str:
    fields = [
        ("id", e.id),
        ("action", e.action_ref),
        ("status", e.status.value),
        ("parent", e.parent),
        ("enforcement", e.enforcement),
        ("executor", e.executor),
        ("worker", e.worker),
        ("created", e.created),
        ("started", e.started_at),
        ("updated", e.updated),
        ("timeout", None if e.timeout_seconds is None else f"{e.timeout_seconds} s"),
        ("retry", f"{e.retry_count} of {e.max_retries}" if e.max_retries else None),
        ("retry of", e.original_execution),
        ("retry reason", e.retry_reason),
        ("trace tag", e.trace_tag),
    ]
    rows = "".join(
        f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in fields
        if v is not None
    )
    parts = [f"<table>{rows}</table>"]
    for name, value in (("result", e.result), ("config", e.config)):
        if value is not None:
            text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
            parts.append(f"<b>{name}</b><pre class='attune-nb-{name}'>{html.escape(text)}</pre>")
    return "".join(parts)
