"""BulkUpdater: move many executions at once, from a filter, preview first.

Preview runs ``db.executions.bulk_transition(..., dry_run=True)`` (or
``cancel_preview`` for a cancel as Attune's API does it); Confirm applies exactly
that preview (``db.executions.apply`` or ``cancel``), compare-and-set per row, and
shows what was applied and what was skipped and why.
"""

from __future__ import annotations

import html
import json
import warnings
from typing import Any

import ipywidgets as w
import pandas as pd

import attune_nb
from attune_nb.errors import DatabaseOnlyWarning, InvalidFilter
from attune_nb.lifecycle import ExecutionStatus
from attune_nb.repository.writes import CANCEL_RESULT
from attune_nb.widgets._base import (
    ExecutionFilterControls,
    WidgetBase,
    frame_html,
    parse_result,
    plural,
)

__all__ = ["CANCEL", "BulkUpdater"]

_SHOWN = ["id", "action_ref", "current", "to", "allowed", "reason"]

CANCEL = "cancel"
"""The target that cancels as Attune's API does (not started -> cancelled, running ->
canceling, workflows with their tasks) instead of moving to one status."""
_CANCEL_LABEL = "cancel (as Attune does)"


class BulkUpdater(WidgetBase):
    """Filter, Preview, Apply, Confirm: a bulk status change applied exactly as previewed.

    Example::

        bulk = BulkUpdater(db)
        bulk.filters.status.value = ("scheduled",)
        bulk.filters.until.value = "2026-01-12"
        bulk.target.value = "abandoned"
        bulk.preview_button.click()     # bulk.preview: the rows, nothing written
        bulk.apply_button.click()       # shows what Confirm applies; nothing written
        bulk.confirm_button.click()     # bulk.outcome: applied / skipped and why

    ``target`` ``"cancel"`` (the first choice, shown as "cancel (as Attune does)")
    cancels as Attune's API does: not started becomes cancelled with Attune's own
    result, running becomes canceling, a workflow's tasks follow (running tasks are
    left to finish unless ``cancel_children`` is ticked), and their pending inquiries
    are cancelled. Changing a filter or the target drops the preview. Buttons:
    ``Preview``, ``Apply``, ``Confirm``, ``Back``.
    """

    def __init__(self, db: attune_nb.Database) -> None:
        super().__init__()
        self.db = db
        self.preview: pd.DataFrame | None = None
        self.outcome: pd.DataFrame | None = None
        self.warning: str | None = None
        self.warnings: list[str] = []
        self.inquiries_cancelled: tuple[int, ...] = ()
        self.confirming = False

        self.filters = ExecutionFilterControls()
        self.target = w.Dropdown(
            options=[(_CANCEL_LABEL, CANCEL)] + [(s.value, s.value) for s in ExecutionStatus],
            value="abandoned",
            description="Move to",
        )
        self.cancel_children = w.Checkbox(
            value=False,
            description="also cancel running tasks",
            indent=False,
            tooltip="cancel: running child tasks of a workflow become canceling too",
            layout=w.Layout(display="none", width="auto"),
        )
        self.reason = w.Text(
            description="Result",
            placeholder="optional reason (text or JSON), written as each result",
            layout=w.Layout(width="40em"),
        )
        self.preview_button = w.Button(description="Preview", tooltip="Select; write nothing")
        self.apply_button = w.Button(
            description="Apply", button_style="primary", tooltip="Show what will be written"
        )
        self.confirm_button = w.Button(
            description="Confirm", button_style="danger", tooltip="Apply exactly the preview"
        )
        self.back_button = w.Button(description="Back", tooltip="Do not write")
        self.summary = w.HTML(value="")
        self.warning_view = w.HTML(value="")
        self.table = w.HTML(value="")
        self.applied_view = w.HTML(value="")
        self.skipped_view = w.HTML(value="")

        self.preview_button.on_click(self._on_preview)
        self.apply_button.on_click(self._on_apply)
        self.confirm_button.on_click(self._on_confirm)
        self.back_button.on_click(self._on_back)
        self.filters.observe(self._on_filters_changed)
        self.target.observe(self._on_target_changed, names="value")
        self.cancel_children.observe(self._on_filters_changed, names="value")
        self.reason.observe(self._on_filters_changed, names="value")

        self.buttons = w.HBox([self.preview_button, self.apply_button])
        self.widget = w.VBox(
            [
                self.filters.widget,
                w.HBox([self.target, self.cancel_children, self.reason]),
                self.buttons,
                self.summary,
                self.warning_view,
                self.status_line,
                self.table,
                self.applied_view,
                self.skipped_view,
            ],
            layout=w.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="6px"),
        )
        self._set_confirming(False)

    # -- handlers ---------------------------------------------------------------------

    def _on_preview(self, _button: Any = None) -> None:
        with self._guard():
            self._drop_preview()
            if self.cancelling:
                preview = self.db.executions.cancel_preview(
                    cancel_running_children=self.cancel_children.value, **self.filters.filters()
                )
                goal = "be cancelled or canceling"
            else:
                target = ExecutionStatus(self.target.value)
                preview = self.db.executions.bulk_transition(
                    target, dry_run=True, **self.filters.filters()
                )
                goal = f"move to {target.value}"
            self.preview = preview
            allowed = int(preview["allowed"].sum())
            self.table.value = "<b>Preview</b>" + frame_html(
                preview[_SHOWN], empty="no execution matches"
            )
            self.summary.value = (
                f"{plural(len(preview), 'execution')} selected: {allowed:,} may {goal}, "
                f"{len(preview) - allowed:,} may not (see reason)."
            )
            self.apply_button.disabled = allowed == 0
            self._say("Preview only: nothing written.")

    def _on_apply(self, _button: Any = None) -> None:
        """First step: say what Confirm applies (and the warning); write nothing."""
        with self._guard():
            preview = self.preview
            if preview is None:
                raise InvalidFilter("preview", None, "a preview first (Preview)")
            todo = preview[preview["allowed"].astype(bool)]
            action = "cancel" if self.cancelling else "apply"
            # WritesNotAllowed shows here, before the confirmation
            self.warning = self.db.executions.write_warning(action, preview)
            if self.cancelling:
                kinds = todo["to"].astype(str).value_counts()
                what = (
                    f"{plural(len(todo), 'execution')} cancelled as Attune does "
                    f"({kinds.get('cancelled', 0):,} to cancelled with Attune's result "
                    f"<code>{html.escape(json.dumps(CANCEL_RESULT))}</code>, "
                    f"{kinds.get('canceling', 0):,} to canceling; their pending inquiries "
                    "cancelled too)"
                )
            else:
                result = parse_result(self.reason.value)
                with_result = "" if result is None else f", result {html.escape(repr(result))}"
                what = (
                    f"{plural(len(todo), 'execution')} to "
                    f"{html.escape(str(self.target.value))}{with_result}"
                )
            self.summary.value = (
                f"<b>Will apply exactly this preview</b>: {what}, each compare-and-set on the "
                f"status shown; {len(preview) - len(todo):,} left as they are."
            )
            self.warning_view.value = (
                ""
                if self.warning is None
                else '<div style="color: var(--jp-warn-color1, #b26a00)">'
                f"<b>DatabaseOnlyWarning</b>: {html.escape(self.warning)}</div>"
            )
            self._set_confirming(True)
            self._say("Nothing written yet: Confirm to apply, Back to leave it.", level="warning")

    def _on_confirm(self, _button: Any = None) -> None:
        preview = self.preview
        if not self.confirming or preview is None:
            self._say("Nothing to confirm: Preview and Apply first.", level="error")
            return
        self._set_confirming(False)
        with self._guard():
            kwargs: dict[str, Any] = {}
            result = parse_result(self.reason.value)
            if result is not None:
                kwargs["result"] = result
            inquiries: tuple[int, ...] = ()
            try:
                with warnings.catch_warnings(record=True) as caught:
                    if self.cancelling:
                        cancellation = self.db.executions.cancel(preview)
                        done, inquiries = cancellation.executions, cancellation.inquiries
                    else:
                        done = self.db.executions.apply(preview, **kwargs)
            except DatabaseOnlyWarning as warning:
                self._say(f"Not written: {warning}", level="error")
                return
            self.warnings = [str(c.message) for c in caught if c.category is DatabaseOnlyWarning]
            for other in (c for c in caught if c.category is not DatabaseOnlyWarning):
                warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
            self.outcome = done
            self.preview = None  # used up: a preview applies once
            self.apply_button.disabled = True
            applied = done[done["applied"].astype(bool)]
            skipped = done[~done["applied"].astype(bool)]
            self.table.value = ""
            self.summary.value = ""
            self.warning_view.value = ""
            self.applied_view.value = f"<b>Applied ({len(applied):,})</b>" + frame_html(
                applied[["id", "action_ref", "current", "to"]]
            )
            self.skipped_view.value = f"<b>Skipped ({len(skipped):,})</b>" + frame_html(
                skipped[["id", "action_ref", "current", "to", "reason"]]
            )
            self.inquiries_cancelled = inquiries
            also = (
                f"; {plural(len(inquiries), 'pending inquiry', 'pending inquiries')} cancelled"
                if inquiries
                else ""
            )
            self._say(
                f"Applied {len(applied):,} of {len(done):,}; skipped {len(skipped):,}{also}.",
                level="ok" if skipped.empty else "warning",
            )

    def _on_back(self, _button: Any = None) -> None:
        self._set_confirming(False)
        self.warning_view.value = ""
        self._say("Back: nothing was written; the preview stands.")

    def _on_target_changed(self, change: Any = None) -> None:
        self.cancel_children.layout.display = None if self.cancelling else "none"
        # A cancel writes Attune's own result: no result of the operator's.
        self.reason.disabled = self.cancelling or self.confirming
        self._on_filters_changed(change)

    def _on_filters_changed(self, _change: Any = None) -> None:
        if self.preview is not None and not self.confirming:
            self._drop_preview()
            self._say("Filters changed: Preview again.")

    # -- helpers ----------------------------------------------------------------------

    @property
    def cancelling(self) -> bool:
        """True when the target is ``"cancel"`` (as Attune's API does it)."""
        return bool(self.target.value == CANCEL)

    def _drop_preview(self) -> None:
        self.preview = None
        self.outcome = None
        for view in (self.table, self.summary, self.warning_view):
            view.value = ""
        self.applied_view.value = self.skipped_view.value = ""
        self.apply_button.disabled = True

    def _set_confirming(self, confirming: bool) -> None:
        self.confirming = confirming
        self.buttons.children = (
            [self.confirm_button, self.back_button]
            if confirming
            else [self.preview_button, self.apply_button]
        )
        self.filters.disable(confirming)
        self.target.disabled = self.cancel_children.disabled = confirming
        self.reason.disabled = confirming or self.cancelling
        if not confirming:
            self.apply_button.disabled = self.preview is None or not bool(
                self.preview["allowed"].any()
            )
