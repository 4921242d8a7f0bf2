"""The live monitor: recent changes and counts by status, pushed by Attune's notifications.

It composes :meth:`Database.listen <attune_nb.db.Database.listen>`: the listener's
thread hands each change to a queue, and one method (:meth:`LiveMonitor._drain`,
under a lock) applies the queue to the plain state and sets the widgets, so widget
state is never written from two places at once. No polling.
"""

from __future__ import annotations

import datetime as dt
import html
import queue
import threading
from collections import Counter, deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd

from attune_nb.errors import AttuneNbError, ConfigurationError, InvalidStatus
from attune_nb.filters import check_int
from attune_nb.lifecycle import ExecutionStatus
from attune_nb.listener import CHANNELS, Change, Listener
from attune_nb.style import status_colour
from attune_nb.widgets._base import Level, WidgetBase

if TYPE_CHECKING:
    from attune_nb.db import Database

__all__ = ["COLUMNS", "MAX_ROWS", "STOP", "LiveMonitor"]

COLUMNS = ("time", "entity", "id", "ref", "change", "source")
"""The columns of the table of recent changes (:attr:`LiveMonitor.rows`)."""
STOP = "Stop"
"""The text of the button that stops the monitor."""
MAX_ROWS = 100_000
"""The most changes a monitor keeps (``limit``): each is a row of its table."""

_INQUIRY_EVENTS = {
    "inquiry_created": "asked",
    "inquiry_responded": "responded",
    "inquiry_timeout": "timed out",
}
_STATES: dict[str, tuple[str, Level]] = {
    "listening": ("listening for changes", "ok"),
    "reconnecting": ("connection lost: reconnecting (the gap is backfilled)", "warning"),
    "stopped": ("stopped", "info"),
}


def _colour(status: str) -> str:
    try:
        return status_colour(status)
    except InvalidStatus:  # a status a newer Attune added
        return "#6b7280"


def _row(change: Change) -> dict[str, Any]:
    if change.entity == "inquiry":
        what = _INQUIRY_EVENTS.get(change.channel, change.channel)
        ref = f"execution {change.payload.get('created_by_execution', '?')}"
    elif change.channel == "execution_created":
        what, ref = f"created {change.status}", change.action_ref or ""
    else:
        what, ref = f"{change.old_status} → {change.status}", change.action_ref or ""
    return {
        "time": change.time,
        "entity": change.entity,
        "id": change.id,
        "ref": ref,
        "change": what,
        "source": change.source,
    }


class LiveMonitor(WidgetBase):
    """Executions and inquiries changing, live: the newest ``limit`` changes and counts.

    The table shows the newest changes first (:data:`COLUMNS`); the counts are the
    changes seen since the monitor started, by the status each execution moved to
    (and inquiries asked, answered, timed out). A lost connection is reopened and its
    gap backfilled, so no change is missed or shown twice. ``since`` first shows
    what was recorded from that time. :meth:`stop` (or the Stop button, closing the
    widget, or the kernel shutting down) stops the listener and closes its connection.

    >>> from attune_nb.widgets.monitor import LiveMonitor
    >>> monitor = LiveMonitor(db, limit=20)
    >>> _ = db.executions.transition(16671, "cancelled", expected="requested")
    >>> monitor.wait_for(1, timeout=5)
    True
    >>> monitor.rows[0]["change"], dict(monitor.counts)
    ('requested → cancelled', {'cancelled': 1})
    >>> monitor.stop()
    """

    def __init__(
        self,
        db: Database,
        *,
        limit: int = 50,
        channels: Iterable[str] = CHANNELS,
        since: dt.datetime | None = None,
    ) -> None:
        super().__init__()
        self.limit = check_int("limit", limit, low=1, high=MAX_ROWS)
        if not isinstance(channels, Iterable) or isinstance(channels, (str, dict)):
            raise ConfigurationError("channels", channels, f"a list, some of {list(CHANNELS)}")
        self.rows: deque[dict[str, Any]] = deque(maxlen=limit)
        """The changes shown, newest first, as dicts of :data:`COLUMNS`."""
        self.counts: Counter[str] = Counter()
        """Changes seen by the status moved to (inquiries: asked, responded, timed out)."""
        self.seen = 0
        self.state = "starting"
        self._pending: queue.SimpleQueue[Change | str] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._stopped = False
        self.title = w.HTML(value="<b>Live changes</b>")
        self.counts_line = w.HTML(value="")
        self.table = w.HTML(value=self._table_html())
        self.stop_button = w.Button(description=STOP, icon="stop", tooltip="Stop listening")
        self.stop_button.on_click(self._on_stop)
        self.widget = w.VBox(
            [
                w.HBox([self.title, self.stop_button]),
                self.counts_line,
                self.table,
                self.status_line,
            ]
        )
        # Closing the widget (widget.close(), or the frontend closing its comm) stops it.
        self.widget.observe(self._on_comm_change, names="comm")
        if self.widget.comm is not None:
            self.widget.comm.on_close(self._on_comm_close)
        self.listener: Listener | None = None
        with self._guard():
            self.listener = db.listen(
                on_change=self._on_change,
                on_state=self._on_state,
                channels=channels,
                since=since,
            )
        if self.listener is None:  # the error is in the status line
            self._stopped = True
            self.state = "stopped"  # it never started: not "starting" for ever
            self.stop_button.disabled = True
        else:
            self._on_state(self.listener.state)

    def __repr__(self) -> str:
        return f"<LiveMonitor {self.state} seen={self.seen} shown={len(self.rows)}>"

    # -- what the listener's thread calls ---------------------------------------------

    def _on_change(self, change: Change) -> None:
        self._pending.put(change)
        self._drain()

    def _on_state(self, state: str) -> None:
        self._pending.put(state)
        self._drain()

    # -- the one place that sets widget state ---------------------------------------------

    def _drain(self) -> None:
        """Apply every queued change and state, then set the widgets once."""
        with self._lock:
            changed = False
            state: str | None = None
            while True:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, str):
                    state = item
                    continue
                changed = True
                self.seen += 1
                self.rows.appendleft(_row(item))
                if item.entity == "inquiry":
                    self.counts[_INQUIRY_EVENTS.get(item.channel, item.channel)] += 1
                elif item.status:
                    self.counts[item.status] += 1
            if changed:
                self.table.value = self._table_html()
                self.counts_line.value = self._counts_html()
                self._drained.notify_all()
            if state is not None and (self.state != "stopped" or state == "stopped"):
                self.state = state
                text, level = _STATES.get(state, (state, "info"))
                if state == "reconnecting" and self.listener is not None:
                    error = self.listener.last_error
                    if isinstance(error, AttuneNbError):
                        text = f"{text}: {error}"
                if state == "stopped":
                    self.stop_button.disabled = True
                self._say(text, level=level)

    def _table_html(self) -> str:
        head = "".join(f'<th style="text-align: left">{html.escape(c)}</th>' for c in COLUMNS)
        if not self.rows:
            return (
                f"<i>no changes yet (the newest {self.limit} will show here)</i>"
                f'<table class="attune-nb-table"><tr>{head}</tr></table>'
            )
        body = []
        for row in self.rows:
            cells = []
            for column in COLUMNS:
                value = row[column]
                if column == "time":
                    value = value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                cells.append(f"<td>{html.escape(str(value))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        return (
            '<div style="max-height: 24em; overflow: auto; white-space: nowrap">'
            f'<table class="attune-nb-table"><tr>{head}</tr>{"".join(body)}</table></div>'
        )

    def _counts_html(self) -> str:
        order = [s.value for s in ExecutionStatus] + list(_INQUIRY_EVENTS.values())
        names = sorted(self.counts, key=lambda n: order.index(n) if n in order else len(order))
        parts = []
        for name in names:
            colour = _colour(name) if name not in _INQUIRY_EVENTS.values() else "#6b7280"
            parts.append(
                f'<span style="color: {colour}">{html.escape(name)}</span> {self.counts[name]}'
            )
        return " · ".join(parts)

    # -- handlers ---------------------------------------------------------------------

    def _on_stop(self, _button: Any = None) -> None:
        self.stop()

    def _on_comm_change(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            self.stop()

    def _on_comm_close(self, _msg: Any = None) -> None:
        self.stop()

    # -- the public verbs ---------------------------------------------------------------

    def stop(self) -> None:
        """Stop listening and close the listener's connection (safe to call again)."""
        if self._stopped:
            return
        self._stopped = True
        # Never while holding the lock: the listener's thread may be waiting on it.
        if self.listener is not None:
            self.listener.stop()
        self._pending.put("stopped")
        self._drain()

    def frame(self) -> pd.DataFrame:
        """The changes shown, oldest first, as a frame of :data:`COLUMNS`: ``time`` (UTC),
        ``entity``, ``id`` (Int64), ``ref``, ``change`` and ``source`` (strings)."""
        with self._lock:
            rows = list(reversed(self.rows))
        return pd.DataFrame(
            {
                "time": pd.to_datetime([r["time"] for r in rows], utc=True).as_unit("ns"),
                "entity": pd.array([r["entity"] for r in rows], dtype="string"),
                "id": pd.array([r["id"] for r in rows], dtype="Int64"),
                "ref": pd.array([r["ref"] for r in rows], dtype="string"),
                "change": pd.array([r["change"] for r in rows], dtype="string"),
                "source": pd.array([r["source"] for r in rows], dtype="string"),
            },
            columns=list(COLUMNS),
        )

    def wait_for(self, count: int, *, timeout: float = 10.0) -> bool:
        """Wait until ``count`` changes have been seen; whether they were in ``timeout`` s."""
        with self._drained:
            return self._drained.wait_for(lambda: self.seen >= count, timeout)
