"""StatusUpdater: change one execution's status the way an operator means it, safely.

It offers only the moves the lifecycle allows from the status it shows, asks for a
confirmation before anything is written, and writes compare-and-set on that status:
a change somebody else made meanwhile is reported, never overwritten.
"""

from __future__ import annotations

import html
import json
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import ipywidgets as w
import pandas as pd

import attune_nb
from attune_nb.errors import (
    DatabaseOnlyWarning,
    InvalidFilter,
    InvalidTransition,
    StaleUpdate,
)
from attune_nb.lifecycle import ALLOWED_TRANSITIONS, ExecutionStatus
from attune_nb.records import Execution
from attune_nb.repository.writes import CANCEL_RESULT, Cancellation
from attune_nb.style import STATUS_COLOURS
from attune_nb.widgets._base import WidgetBase, frame_html, parse_result

__all__ = ["Choice", "StatusUpdater", "choices_for"]

S = ExecutionStatus
_QUEUED = (S.REQUESTED, S.SCHEDULING, S.SCHEDULED)

# What an operator calls moving an execution to a status (cancel is Attune's API's own).
_VERBS: dict[ExecutionStatus, str] = {
    S.ABANDONED: "abandon",
    S.FAILED: "mark failed",
    S.COMPLETED: "mark completed",
    S.TIMEOUT: "mark timed out",
    S.CANCELLED: "mark cancelled",
    S.RUNNING: "mark running",
    S.SCHEDULED: "mark scheduled",
    S.SCHEDULING: "mark scheduling",
    S.REQUESTED: "requeue",
}

_REASON_HINT = "optional reason (text or JSON), written as the result"

HISTORY_SHOWN = ["time", "operation", "old_status", "new_status", "changed_fields"]


@dataclass(frozen=True)
class Choice:
    """One move offered for a status: what it is called, where it leads, how it writes.

    ``via="cancel"`` writes as Attune's API cancels (``db.executions.cancel``: the
    workflow's tasks too, Attune's result on a not-started one); ``via="transition"``
    is a compare-and-set ``db.executions.transition``.
    """

    key: str
    verb: str
    target: ExecutionStatus
    via: Literal["cancel", "transition"]

    @property
    def label(self) -> str:
        return f"{self.verb} → {self.target.value}"


def choices_for(status: str | ExecutionStatus) -> list[Choice]:
    """The moves an operator may make from ``status``, named as an operator thinks of them.

    Cancel comes first (not started -> cancelled, running -> canceling, as Attune's API
    does), then every other move of ``ALLOWED_TRANSITIONS`` in lifecycle order. Example::

        [c.label for c in choices_for("running")]
        # ['cancel → canceling', 'mark completed → completed', 'mark failed → failed', ...]
    """
    current = ExecutionStatus(status)
    allowed = ALLOWED_TRANSITIONS[current]
    choices: list[Choice] = []
    if current in _QUEUED:
        choices.append(Choice("cancel", "cancel", S.CANCELLED, "cancel"))
    elif current is S.RUNNING:
        choices.append(Choice("cancel", "cancel", S.CANCELING, "cancel"))
    covered = {c.target for c in choices}
    for target in sorted(allowed, key=lambda s: s.order):
        if target in covered or target is S.CANCELING:
            continue
        choices.append(Choice(target.value, _VERBS[target], target, "transition"))
    return choices


@dataclass(frozen=True)
class Plan:
    """What Confirm will write: the move, the status it was shown in, the result."""

    execution_id: int
    expected: ExecutionStatus
    choice: Choice
    result: Any  # None: no result written
    cancel_preview: pd.DataFrame | None
    warning: str | None


class StatusUpdater(WidgetBase):
    """Load an execution, pick an allowed move, Apply, then Confirm (or Back).

    Nothing is written on Apply: it shows what Confirm will write (and, on a database
    attune_nb did not create, the ``DatabaseOnlyWarning`` that write gives). Confirm
    writes compare-and-set on the status shown; if somebody changed the execution
    meanwhile it says from what to what, writes nothing, and reloads. Example::

        updater = StatusUpdater(db, 42)
        updater                                 # in a notebook: the widget
        updater.action.value = "abandoned"      # the key of a choice (see .choices)
        updater.apply_button.click()            # shows the plan; nothing written
        updater.confirm_button.click()          # writes; shows the row and its history

    Buttons: ``Load``, ``Apply``, ``Confirm``, ``Back``.
    """

    def __init__(self, db: attune_nb.Database, execution_id: int | None = None) -> None:
        super().__init__()
        self.db = db
        self.execution: Execution | None = None
        self.choices: list[Choice] = []
        self.plan: Plan | None = None
        self.last_write: Execution | Cancellation | None = None
        self.warnings: list[str] = []

        self.id_box = w.Text(
            value="" if execution_id is None else str(execution_id),
            description="Execution",
            placeholder="id",
            layout=w.Layout(width="14em"),
        )
        self.load_button = w.Button(description="Load", tooltip="Read the execution")
        self.current = w.HTML(value="<i>No execution loaded.</i>")
        self.action = w.Dropdown(options=[], description="Change", layout=w.Layout(width="28em"))
        self.reason = w.Text(
            description="Result",
            placeholder=_REASON_HINT,
            layout=w.Layout(width="40em"),
        )
        self.apply_button = w.Button(
            description="Apply", button_style="primary", tooltip="Show what will be written"
        )
        self.confirm_button = w.Button(
            description="Confirm", button_style="danger", tooltip="Write it now"
        )
        self.back_button = w.Button(description="Back", tooltip="Do not write")
        self.plan_view = w.HTML(value="")
        self.warning_view = w.HTML(value="")
        self.history = w.HTML(value="")

        self.load_button.on_click(self._on_load)
        self.apply_button.on_click(self._on_apply)
        self.confirm_button.on_click(self._on_confirm)
        self.back_button.on_click(self._on_back)
        self.action.observe(self._on_choice, names="value")

        self.buttons = w.HBox([self.apply_button])
        self.widget = w.VBox(
            [
                w.HBox([self.id_box, self.load_button]),
                self.current,
                self.action,
                self.reason,
                self.buttons,
                self.plan_view,
                self.warning_view,
                self.status_line,
                self.history,
            ],
            layout=w.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="6px"),
        )
        self._set_confirming(False)
        if execution_id is not None:
            self._on_load()

    # -- plain state ------------------------------------------------------------------

    @property
    def choice(self) -> Choice | None:
        """The move selected in the dropdown, if any."""
        return next((c for c in self.choices if c.key == self.action.value), None)

    @property
    def confirming(self) -> bool:
        """True between Apply and Confirm/Back."""
        return self.plan is not None

    def load(self, execution_id: int) -> None:
        """Show execution ``execution_id`` (as if typed in and Load clicked)."""
        self.id_box.value = str(execution_id)
        self._on_load()

    # -- handlers ---------------------------------------------------------------------

    def _on_load(self, _button: Any = None) -> None:
        with self._guard():
            self._cancel_plan()
            self._show(self.db.executions.get(_parse_id(self.id_box.value)))
            assert self.execution is not None
            if self.choices:
                self._say(f"Loaded execution {self.execution.id}: {self.execution.status.value}.")
            else:
                self._say(
                    f"Execution {self.execution.id} is {self.execution.status.value}, which is "
                    "terminal: there is nothing to change."
                )

    def _on_choice(self, _change: Any = None) -> None:
        choice = self.choice
        cancel = choice is not None and choice.via == "cancel"
        self.reason.disabled = cancel or self.confirming
        self.reason.placeholder = (
            f"cancel writes Attune's own result when not started: {json.dumps(CANCEL_RESULT)}"
            if cancel
            else _REASON_HINT
        )

    def _on_apply(self, _button: Any = None) -> None:
        """First step: show what Confirm would write; write nothing."""
        with self._guard():
            execution, choice = self.execution, self.choice
            if execution is None:
                raise InvalidFilter("execution", self.id_box.value, "an execution loaded first")
            if choice is None:
                raise InvalidFilter("change", self.action.value, "one of the offered changes")
            preview = None
            if choice.via == "cancel":
                preview = self.db.executions.cancel_preview(ids=[execution.id])
                own = preview[preview["id"] == execution.id]
                if own.empty or S(str(own["current"].iloc[0])) is not execution.status:
                    now = self.db.executions.get(execution.id)
                    self._changed_meanwhile(execution.status, now.status)
                    return
                action, result = "cancel", None
            else:
                action, result = "transition", parse_result(self.reason.value)
            # WritesNotAllowed shows here, before the confirmation
            warning = self.db.executions.write_warning(
                action, preview if preview is not None else [(execution.status, choice.target)]
            )
            self.plan = Plan(execution.id, execution.status, choice, result, preview, warning)
            self._show_plan(self.plan)
            self._set_confirming(True)
            self._say("Nothing written yet: Confirm to write, Back to leave it.", level="warning")

    def _on_confirm(self, _button: Any = None) -> None:
        """Second step: write the plan, compare-and-set on the status it showed."""
        plan = self.plan
        if plan is None:
            self._say("Nothing to confirm: choose a change and Apply first.", level="error")
            return
        self._cancel_plan()  # whatever happens next, the plan is used up
        with self._guard():
            try:
                with warnings.catch_warnings(record=True) as caught:
                    # the user's filters stay: "error" for DatabaseOnlyWarning stops the write
                    written = self._write(plan)
            except DatabaseOnlyWarning as warning:
                self._say(f"Not written: {warning}", level="error")
                return
            except (StaleUpdate, InvalidTransition) as exc:
                self.last_error = exc
                now = self.db.executions.get(plan.execution_id)
                self._changed_meanwhile(plan.expected, now.status)
                return
            # shown before the confirmation already; other warnings go on as usual
            self.warnings = [str(c.message) for c in caught if c.category is DatabaseOnlyWarning]
            for other in (c for c in caught if c.category is not DatabaseOnlyWarning):
                warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
            self.last_write = written
            self._after_write(plan, written)

    def _on_back(self, _button: Any = None) -> None:
        self._cancel_plan()
        self._say("Back: nothing was written.")

    # -- steps ------------------------------------------------------------------------

    def _write(self, plan: Plan) -> Execution | Cancellation:
        if plan.choice.via == "cancel":
            assert plan.cancel_preview is not None
            return self.db.executions.cancel(plan.cancel_preview)
        kwargs: dict[str, Any] = {} if plan.result is None else {"result": plan.result}
        return self.db.executions.transition(
            plan.execution_id, plan.choice.target, expected=plan.expected, **kwargs
        )

    def _after_write(self, plan: Plan, written: Execution | Cancellation) -> None:
        if isinstance(written, Cancellation):
            frame = written.executions
            own = frame[frame["id"] == plan.execution_id]
            reason = str(own["reason"].iloc[0]) if not own.empty else "gone"
            if own.empty or not bool(own["applied"].iloc[0]):
                now = self.db.executions.get(plan.execution_id)
                others = len(written.changed)
                self._changed_meanwhile(plan.expected, now.status)
                if others:
                    self._say(
                        f"{self.status_text} ({reason}; {others} of its workflow's tasks were "
                        "cancelled as previewed.)",
                        level="error",
                    )
                return
            self._show(self.db.executions.get(plan.execution_id))
            tasks = len(written.changed) - 1
            extra = f", {tasks} workflow tasks" if tasks else ""
            inquiries = (
                f", {len(written.inquiries)} inquiries cancelled" if written.inquiries else ""
            )
            self._say(
                f"Written: execution {plan.execution_id} {plan.expected.value} → "
                f"{plan.choice.target.value} (cancel{extra}{inquiries}).",
                level="ok",
            )
            return
        self._show(written)
        self._say(
            f"Written: execution {written.id} {plan.expected.value} → {written.status.value}.",
            level="ok",
        )

    def _changed_meanwhile(self, shown: ExecutionStatus, now: ExecutionStatus) -> None:
        """Someone else moved the execution: say so, and show it as it is now."""
        assert self.execution is not None
        execution_id = self.execution.id
        self._show(self.db.executions.get(execution_id))
        self._say(
            f"Not written: execution {execution_id} changed meanwhile from {shown.value} to "
            f"{now.value} (somebody else changed it). Reloaded: choose again.",
            level="error",
        )

    # -- display ----------------------------------------------------------------------

    def _show(self, execution: Execution) -> None:
        self.execution = execution
        self.current.value = _row_html(execution)
        self.choices = choices_for(execution.status)
        self.action.options = [(c.label, c.key) for c in self.choices]
        self.action.value = self.choices[0].key if self.choices else None
        self.apply_button.disabled = not self.choices
        self._on_choice()
        history = self.db.executions.history(execution.id)
        self.history_frame = history
        shown = history[[c for c in HISTORY_SHOWN if c in history.columns]]
        self.history.value = "<b>History</b>" + frame_html(shown, empty="no history rows")

    def _show_plan(self, plan: Plan) -> None:
        lines = [
            f"<b>Will write</b> (compare-and-set on <code>{plan.expected.value}</code>): "
            f"execution {plan.execution_id} {plan.expected.value} → {plan.choice.target.value}"
        ]
        if plan.choice.via == "cancel" and plan.cancel_preview is not None:
            lines.append("as Attune's API cancels it:")
            shown = plan.cancel_preview[["id", "action_ref", "current", "to", "reason"]]
            lines.append(frame_html(shown))
            if plan.choice.target is S.CANCELLED:
                lines.append(f"result <code>{html.escape(json.dumps(CANCEL_RESULT))}</code>")
        elif plan.result is not None:
            lines.append(f"result <code>{html.escape(json.dumps(plan.result))}</code>")
        self.plan_view.value = "<br>".join(lines)
        self.warning_view.value = (
            ""
            if plan.warning is None
            else '<div style="color: var(--jp-warn-color1, #b26a00)"><b>DatabaseOnlyWarning</b>: '
            f"{html.escape(plan.warning)}</div>"
        )

    def _cancel_plan(self) -> None:
        self.plan = None
        self.plan_view.value = ""
        self.warning_view.value = ""
        self._set_confirming(False)

    def _set_confirming(self, confirming: bool) -> None:
        self.buttons.children = (
            [self.confirm_button, self.back_button] if confirming else [self.apply_button]
        )
        for control in (self.id_box, self.load_button, self.action):
            control.disabled = confirming
        choice = self.choice
        self.reason.disabled = confirming or (choice is not None and choice.via == "cancel")


def _parse_id(text: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise InvalidFilter("execution", text, "an execution id (a whole number)") from None
    if value <= 0:
        raise InvalidFilter("execution", text, "an execution id (a whole number above 0)")
    return value


def _row_html(e: Execution) -> str:
    colour = STATUS_COLOURS[e.status]
    fields = [
        ("parent", e.parent),
        ("worker", e.worker),
        ("executor", e.executor),
        ("created", e.created),
        ("started", e.started_at),
        ("updated", e.updated),
    ]
    rest = " · ".join(f"{k} {html.escape(str(v))}" for k, v in fields if v is not None)
    return (
        f"<code>{e.id}</code> <b>{html.escape(e.action_ref)}</b> "
        f'<span class="attune-nb-current" style="color:{colour};font-weight:600">'
        f"{e.status.value}</span><br><small>{rest}</small>"
    )
