"""The inquiry inbox: pending inquiries, answered by an option's button or a generated form.

It composes :attr:`Database.inquiries <attune_nb.db.Database.inquiries>` only: the
repository checks the response, who may give it and the timeout (on the database's
clock), and this widget shows what it says. Secret fields are password inputs whose
value shows nowhere else.
"""

from __future__ import annotations

import html
import json
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd

from attune_nb.errors import (
    AttuneNbError,
    ConfigurationError,
    DatabaseOnlyWarning,
    InquiryClosed,
    InvalidResponse,
)
from attune_nb.filters import check_id, check_json, to_utc
from attune_nb.inquiries import UNHEARD
from attune_nb.records import SECRET_MASK, Inquiry, InquiryField
from attune_nb.widgets._base import WidgetBase, close_tree, plural

if TYPE_CHECKING:
    from attune_nb.db import Database

__all__ = ["BUTTON_STYLES", "COLUMNS", "MISSING", "REFRESH", "SUBMIT", "FieldInput", "InquiryInbox"]

BUTTON_STYLES = {"positive": "success", "destructive": "danger", "default": ""}
"""An option's ``style`` -> the ``button_style`` of its button."""
SUBMIT = "Submit"
"""The text of the form's button."""
REFRESH = "Refresh"
"""The text of the button that re-reads the pending inquiries."""
COLUMNS = ("id", "prompt", "age", "time left", "assignee")
"""The columns of the table of pending inquiries (:meth:`InquiryInbox.rows`)."""

_SIMPLE = ("string", "integer", "number", "boolean")
_LONG_TEXT = 120  # a string field allowing more than this many characters gets a text area


class _Missing:
    """What a form input holds when the person gave no value (the field is left out)."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


class _BadInput(Exception):
    """An input the widget cannot turn into a value (not JSON); the message names no value."""


def _convert(kind: str | None, text: str) -> Any:
    """``text`` as a value of JSON type ``kind``; left as text when it is not one.

    The repository then says what is wrong with it (``'x' is not of type 'integer'``).
    """
    text = text.strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


class FieldInput:
    """One field of the form: its control, its inline error and its help text.

    ``value()`` is what the response gets for the field, or :data:`MISSING` to leave it
    out (an empty text, no choice, a number or box nobody touched that has no default).
    """

    def __init__(self, field: InquiryField) -> None:
        self.field = field
        self.touched = False
        self.control, self._read = _control(field)
        self.error = w.HTML(value="", layout=w.Layout(margin="0 0 0 8px"))
        self.error.add_class("attune-nb-field-error")
        notes = [field.description] if field.description else []
        if _is_plain_number(field) and field.default is None:
            # A number box cannot be empty: untouched, the field is left out.
            notes.append("left out unless you change it")
        self.help = w.HTML(
            value=(
                f"<small style='color:#6b7280'>{html.escape('; '.join(notes))}</small>"
                if notes
                else ""
            ),
            layout=w.Layout(margin="0 0 4px 10em"),
        )
        self.control.observe(self._on_change, names="value")
        self.row = w.VBox([w.HBox([self.control, self.error]), self.help])

    def _on_change(self, change: dict[str, Any]) -> None:
        self.touched = True

    def value(self) -> Any:
        return self._read(self)

    def show_error(self, text: str) -> None:
        self.error.value = f"<span style='color:#b91c1c'>{html.escape(text)}</span>" if text else ""

    @property
    def error_text(self) -> str:
        """The inline error shown (plain text), '' when none."""
        return html.unescape(_strip_tags(self.error.value))

    def __repr__(self) -> str:
        return f"<FieldInput {self.field.name} {type(self.control).__name__}>"


def _is_plain_number(field: InquiryField) -> bool:
    """Whether the field gets a number box (IntText, FloatText)."""
    return field.type in ("integer", "number") and not field.secret and field.enum is None


def _strip_tags(text: str) -> str:
    out, inside = [], False
    for ch in text:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)


def _control(field: InquiryField) -> tuple[w.ValueWidget, Callable[[FieldInput], Any]]:
    """The control for ``field`` and how to read its value."""
    label = field.name + (" *" if field.required else "")
    common: dict[str, Any] = {
        "description": label,
        "style": {"description_width": "10em"},
        "layout": w.Layout(width="32em"),
    }
    kind = field.type
    default = field.default
    items = field.schema.get("items") if kind == "array" else None
    item_kind = items.get("type") if isinstance(items, dict) else None
    item_enum = items.get("enum") if isinstance(items, dict) else None

    def text_value(field_input: FieldInput) -> Any:
        text = field_input.control.value
        if text == "":
            return MISSING
        return text if kind == "string" else _convert(kind, text)

    if field.secret:
        shown = "" if default is None else str(default)
        return w.Password(value=shown, placeholder="secret", **common), text_value
    if field.enum is not None:
        choices = [("", None), *((str(v), v) for v in field.enum)]
        start = default if default in field.enum else None
        dropdown = w.Dropdown(options=choices, value=start, **common)
        return dropdown, lambda fi: MISSING if fi.control.value is None else fi.control.value
    if kind == "boolean":
        box = w.Checkbox(value=default is True, indent=True, **common)
        return (
            box,
            lambda fi: (
                fi.control.value
                if fi.field.required or default is not None or fi.touched
                else MISSING
            ),
        )
    if kind in ("integer", "number"):
        cls = w.IntText if kind == "integer" else w.FloatText
        good = isinstance(default, int | float) and not isinstance(default, bool)
        start_number = (int(default) if kind == "integer" else float(default)) if good else 0
        number = cls(value=start_number, **common)
        return number, lambda fi: fi.control.value if default is not None or fi.touched else MISSING
    if kind == "string":
        long = field.schema.get("maxLength", _LONG_TEXT + 1) > _LONG_TEXT
        cls_text = w.Textarea if long and field.schema.get("maxLength") else w.Text
        return cls_text(value="" if default is None else str(default), **common), text_value
    if kind == "array" and isinstance(item_enum, list):
        start_many = (
            tuple(v for v in default if v in item_enum) if isinstance(default, list) else ()
        )
        many = w.SelectMultiple(
            options=[(str(v), v) for v in item_enum], value=start_many, rows=4, **common
        )
        return many, lambda fi: list(fi.control.value) if fi.control.value else MISSING
    if kind == "array" and (item_kind is None or item_kind in _SIMPLE):
        start_text = ", ".join(str(v) for v in default) if isinstance(default, list) else ""

        def list_value(fi: FieldInput) -> Any:
            text = fi.control.value.strip()
            if not text:
                return MISSING
            return [_convert(item_kind, part) for part in text.split(",")]

        return w.Text(value=start_text, placeholder="comma-separated", **common), list_value
    # Anything else (an object, no type): JSON.
    start_json = "" if default is None else json.dumps(default)

    def json_value(fi: FieldInput) -> Any:
        text = fi.control.value.strip()
        if not text:
            return MISSING
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _BadInput(f"not valid JSON ({exc.msg} at character {exc.pos})") from None

    return w.Textarea(value=start_json, placeholder="JSON", **common), json_value


def _unstorable(exc: ConfigurationError) -> str:
    """The inline error for a value PostgreSQL cannot store; no value is repeated (a
    secret field's would show)."""
    return f"cannot be stored: {exc.allowed}"


def _span(seconds: float) -> str:
    """``2d 3h``, ``5h 12m``, ``12m``, ``40s``: the two largest units."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


class InquiryInbox(WidgetBase):
    """The pending inquiries, and a way to answer the selected one.

    A table (prompt, age, time left, assignee) and a chooser; for the chosen inquiry a
    button per response option (its label; positive green, destructive red) and a form
    from its ``response_schema`` with a **Submit** button. ``responder`` is the identity
    id that answers (an assigned inquiry only takes its assignee); ``now`` is the clock
    that ages and time left are shown against (the demo's is
    :data:`attune_nb.demo.ANCHOR`); whether an inquiry may still be answered is always
    the database's clock. Refusals show next to the field (a bad value) or in the
    status line (timed out, answered meanwhile: the inbox then reloads).

    >>> from attune_nb.demo import ANCHOR
    >>> from attune_nb.widgets.inbox import InquiryInbox
    >>> inbox = InquiryInbox(db, responder=4, now=ANCHOR)
    >>> inbox
    <InquiryInbox 4 pending, inquiry 392 selected, responder=4>
    >>> [b.description for b in inbox.option_buttons.values()]
    ['Restart the pod', 'Escalate to on-call', 'Ignore']
    >>> list(inbox.inputs)
    ['action', 'notify_oncall', 'replicas', 'comment', 'ack_token']
    """

    def __init__(
        self, db: Database, *, responder: int | None = None, now: datetime | None = None
    ) -> None:
        super().__init__()
        self.db = db
        self.responder = None if responder is None else check_id("responder", responder)
        self.now = None if now is None else to_utc("now", now)
        self.pending: pd.DataFrame = pd.DataFrame()
        self.selected: Inquiry | None = None
        self.answered: Inquiry | None = None
        """The last inquiry answered here, its secret values masked."""
        self.timed_out: set[int] = set()
        """Inquiries the database refused as timed out (still pending: no sweeper yet)."""
        self.inputs: dict[str, FieldInput] = {}
        self.option_buttons: dict[str, w.Button] = {}

        self._syncing = False
        self.table = w.HTML()
        self.chooser = w.Dropdown(description="Inquiry", options=[], value=None)
        self.chooser.observe(self._on_select, names="value")
        self.refresh_button = w.Button(description=REFRESH, icon="refresh")
        self.refresh_button.on_click(self._on_refresh)
        self.header = w.HTML()
        self.notice = w.HTML()
        self.options_box = w.HBox()
        self.form = w.VBox()
        self.submit_button = w.Button(description=SUBMIT, button_style="primary")
        self.submit_button.on_click(self._on_submit)
        self.echo = w.HTML()
        self.detail = w.VBox(
            [self.header, self.notice, self.options_box, self.form, self.submit_button]
        )
        self.widget = w.VBox(
            [
                self.table,
                w.HBox([self.chooser, self.refresh_button]),
                self.detail,
                self.echo,
                self.status_line,
            ]
        )
        self.widget.add_class("attune-nb-inquiry-inbox")
        with self._guard():
            self.refresh()

    def __repr__(self) -> str:
        chosen = f"inquiry {self.selected.id} selected" if self.selected else "none selected"
        return f"<InquiryInbox {len(self.pending)} pending, {chosen}, responder={self.responder}>"

    # -- reading ------------------------------------------------------------------------------

    def _clock(self) -> datetime:
        return self.now if self.now is not None else datetime.now(UTC)

    def refresh(self) -> None:
        """Re-read the pending inquiries; keep the selection while it is still pending."""
        keep = self.selected.id if self.selected is not None else None
        self.pending = self.db.inquiries.frame(status="pending")
        rows = self.rows()
        ids = [row["id"] for row in rows]
        self.table.value = self._table_html(rows)
        options = [(self._choice_label(row), row["id"]) for row in rows]
        target = keep if keep in ids else (ids[0] if ids else None)
        self._syncing = True  # the chooser follows; _on_select ignores these changes
        try:
            self.chooser.options = options
            self.chooser.value = target
        finally:
            self._syncing = False
        self.select(target)

    def _time_left(self, inquiry_id: int, timeout_at: Any) -> str:
        if inquiry_id in self.timed_out:
            return "timed out"
        if timeout_at is None or pd.isna(timeout_at):
            return "never"
        # Python datetimes: pandas' nanoseconds overflow for a clock centuries away.
        left = (pd.Timestamp(timeout_at).to_pydatetime() - self._clock()).total_seconds()
        return "timed out" if left <= 0 else _span(left)

    @staticmethod
    def _assignee(assigned_to: Any) -> str:
        return (
            "anyone" if assigned_to is None or pd.isna(assigned_to) else f"identity {assigned_to}"
        )

    def _age(self, created: Any) -> str:
        since = pd.Timestamp(created).to_pydatetime()
        return _span(max(0.0, (self._clock() - since).total_seconds()))

    @staticmethod
    def _choice_label(row: dict[str, Any]) -> str:
        prompt = row["prompt"] if len(row["prompt"]) <= 60 else row["prompt"][:59] + "…"
        return f"{row['id']}: {prompt}"

    def _table_html(self, rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "<p><b>No pending inquiries.</b></p>"
        cells = "".join(
            "<tr>"
            + "".join(
                f"<td style='padding:2px 8px'>{html.escape(str(row[key]))}</td>" for key in COLUMNS
            )
            + "</tr>"
            for row in rows
        )
        head = "".join(f"<th style='padding:2px 8px;text-align:left'>{h}</th>" for h in COLUMNS)
        return (
            f"<b>{plural(len(rows), 'pending inquiry', 'pending inquiries')}</b>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"
        )

    def rows(self) -> list[dict[str, Any]]:
        """The table as shown: per pending inquiry its :data:`COLUMNS`, newest first."""
        records: list[dict[str, Any]] = [
            {str(k): v for k, v in r.items()} for r in self.pending.to_dict("records")
        ]
        return [
            {
                "id": int(r["id"]),
                "prompt": str(r["prompt"]),
                "age": self._age(r["created"]),
                "time left": self._time_left(int(r["id"]), r["timeout_at"]),
                "assignee": self._assignee(r["assigned_to"]),
            }
            for r in records
        ]

    # -- the selected inquiry -------------------------------------------------------------

    def select(self, inquiry_id: int | None) -> None:
        """Show inquiry ``inquiry_id`` (None: nothing) with its options and its form."""
        if inquiry_id is not None and self.chooser.value != inquiry_id:
            self.chooser.value = inquiry_id  # _on_select comes back here
            return
        self.selected = None if inquiry_id is None else self.db.inquiries.get(inquiry_id)
        self._show_selected()

    def _on_select(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        with self._guard():
            self.select(change["new"])

    def _show_selected(self) -> None:
        inquiry = self.selected
        # The old buttons and inputs are closed: a long session keeps no dead models.
        old = [*self.option_buttons.values(), *(fi.row for fi in self.inputs.values())]
        self.options_box.children = self.form.children = ()
        close_tree(*old)
        self.option_buttons = {}
        self.inputs = {}
        if inquiry is None:
            self.header.value = self.notice.value = ""
            self.options_box.children = ()
            self.form.children = ()
            self.detail.layout.display = "none"
            return
        self.detail.layout.display = None
        closed = inquiry.id in self.timed_out
        timeout = (
            "never times out"
            if inquiry.timeout_at is None
            else f"times out at {inquiry.timeout_at:%Y-%m-%d %H:%M:%S %Z}"
        )
        self.header.value = (
            f"<h4 style='margin:8px 0 2px'>Inquiry {inquiry.id}</h4>"
            f"<p style='margin:0 0 4px'>{html.escape(inquiry.prompt)}</p>"
            f"<small>asked by execution {inquiry.created_by_execution}; "
            f"{self._assignee(inquiry.assigned_to)} may answer; {timeout}</small>"
        )
        self.notice.value = self._notice(inquiry)
        for option in inquiry.options:
            button = w.Button(
                description=option.label,
                button_style=BUTTON_STYLES.get(option.style, ""),
                tooltip=f"respond with option {option.ref}",
                disabled=closed,
                layout=w.Layout(width="auto"),
            )
            button.on_click(lambda _b, ref=option.ref: self._on_option(ref))
            self.option_buttons[option.ref] = button
        self.options_box.children = tuple(self.option_buttons.values())
        self.inputs = {f.name: FieldInput(f) for f in inquiry.fields}
        self.form.children = tuple(fi.row for fi in self.inputs.values())
        self.submit_button.disabled = closed

    def _notice(self, inquiry: Inquiry) -> str:
        """Before anything is clicked: who may answer, and what a database-only write misses."""
        lines = []
        if inquiry.id in self.timed_out:
            lines.append("It timed out: it can no longer be answered.")
        if inquiry.assigned_to is not None and inquiry.assigned_to != self.responder:
            who = "nobody" if self.responder is None else f"identity {self.responder}"
            lines.append(
                f"Only its assignee (identity {inquiry.assigned_to}) may answer; you answer as "
                f"{who}."
            )
        if not self.db.managed:
            lines.append(
                f"Answering writes to the database only: {UNHEARD}."
                + ("" if self.db.allow_writes else " Connect with allow_writes=True to answer.")
            )
        return "".join(
            f"<p style='margin:2px 0;color:#92400e'>{html.escape(s, quote=False)}</p>"
            for s in lines
        )

    # -- answering ----------------------------------------------------------------------------

    def _on_option(self, ref: str) -> None:
        with self._guard():
            self._respond(option=ref)

    def _on_submit(self, button: w.Button | None = None) -> None:
        with self._guard():
            self.last_error = None
            self._clear_errors()
            response: dict[str, Any] = {}
            bad = False
            for name, field_input in self.inputs.items():
                try:
                    value = field_input.value()
                except _BadInput as exc:
                    field_input.show_error(str(exc))
                    bad = True
                    continue
                if value is MISSING:
                    continue
                try:
                    check_json(name, value)  # what PostgreSQL cannot store, said at the field
                except ConfigurationError as exc:
                    field_input.show_error(_unstorable(exc))
                    bad = True
                    continue
                response[name] = value
            if bad:
                self._say("Fix the fields marked in red; nothing was written.", level="error")
                return
            self._respond(response=response)

    def _on_refresh(self, button: w.Button | None = None) -> None:
        with self._guard():
            self.refresh()
            self._say(f"{plural(len(self.pending), 'pending inquiry', 'pending inquiries')}.")

    def _clear_errors(self) -> None:
        for field_input in self.inputs.values():
            field_input.show_error("")

    def _secrets(self) -> list[str]:
        return [
            fi.control.value
            for fi in self.inputs.values()
            if fi.field.secret and isinstance(fi.control.value, str) and fi.control.value
        ]

    def _scrub(self, text: str) -> str:
        """``text`` with any secret typed into the form replaced by ``***``."""
        for secret in sorted(self._secrets(), key=len, reverse=True):
            text = text.replace(secret, SECRET_MASK)
        return text

    def _respond(
        self, *, response: dict[str, Any] | None = None, option: str | None = None
    ) -> None:
        inquiry = self.selected
        if inquiry is None:
            self._say("No inquiry is selected.", level="error")
            return
        self._clear_errors()
        self.last_error = None  # a new try: the last error is the one it meets, if any
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DatabaseOnlyWarning)
            try:
                answered = self.db.inquiries.respond(
                    inquiry.id, response, option=option, responder=self.responder
                )
            except InvalidResponse as exc:
                self._show_invalid(exc)
                return
            except InquiryClosed as exc:
                if exc.status == "pending":
                    self.timed_out.add(inquiry.id)
                self.refresh()
                self._fail(exc, f"{exc}. The inbox was refreshed.")
                return
        self.answered = replace(answered, response=answered.masked_response)
        how = "" if option is None else f" with “{inquiry.option(option).label}”"  # type: ignore[union-attr]
        self.echo.value = (
            f"<p>Inquiry {answered.id} answered{html.escape(how)}: "
            f"<code>{html.escape(json.dumps(answered.masked_response, sort_keys=True))}</code></p>"
        )
        for field_input in self.inputs.values():
            if field_input.field.secret:
                field_input.control.value = ""
        self.refresh()
        heard = [str(c.message) for c in caught if issubclass(c.category, DatabaseOnlyWarning)]
        self._say(
            f"Inquiry {answered.id} answered." + (" " + heard[0] if heard else ""),
            level="ok",
        )

    def _show_invalid(self, exc: InvalidResponse) -> None:
        general = []
        for message in exc.messages:
            where, _, problem = message.partition(": ")
            name = next(
                (n for n in self.inputs if where == n or where.startswith((f"{n}[", f"{n}."))),
                None,
            )
            if name is None:
                general.append(self._scrub(message))
                continue
            field_input = self.inputs[name]
            shown = problem if where == name else f"{where}: {problem}"
            previous = field_input.error_text
            field_input.show_error(self._scrub(f"{previous}; {shown}" if previous else shown))
        text = f"Inquiry {exc.inquiry_id} was not answered: " + (
            "; ".join(general) if general else "fix the fields marked in red"
        )
        self._fail(exc, text + "; nothing was written.")

    def _fail(self, exc: AttuneNbError, text: str) -> None:
        self.last_error = exc
        self._say(self._scrub(text), level="error")

    # -- what a test reads back -------------------------------------------------------------

    @property
    def errors(self) -> dict[str, str]:
        """The inline errors shown, by field name (fields without one left out)."""
        return {n: fi.error_text for n, fi in self.inputs.items() if fi.error_text}
