"""What every attune_nb widget shares: a status line, the last error, and a guard.

A widget is a thin adapter over plain Python state: its handlers run inside
``self._guard()``, which shows an ``AttuneNbError`` in the status line and keeps it as
``last_error``; anything unexpected propagates.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import ipywidgets as w
import pandas as pd

from attune_nb.errors import AttuneNbError
from attune_nb.filters import check_json
from attune_nb.lifecycle import ExecutionStatus

__all__ = [
    "ExecutionFilterControls",
    "Level",
    "WidgetBase",
    "close_tree",
    "figure_output",
    "frame_html",
    "guarded",
    "parse_result",
    "plural",
]

Level = Literal["info", "ok", "error", "warning"]

_COLOURS: dict[str, str] = {
    "info": "var(--jp-ui-font-color1, #333)",
    "ok": "var(--jp-success-color1, #2e7d32)",
    "warning": "var(--jp-warn-color1, #b26a00)",
    "error": "var(--jp-error-color1, #c62828)",
}

F = TypeVar("F", bound=Callable[..., Any])


class WidgetBase:
    """Status line, last error and an error guard for a widget.

    Subclasses build ``self.widget`` (their top container) and put
    ``self.status_line`` in it. Example::

        class Hello(WidgetBase):
            def __init__(self) -> None:
                super().__init__()
                self.widget = ipywidgets.VBox([self.status_line])

            def _on_click(self, _button=None) -> None:
                with self._guard():
                    self._say("hello", level="ok")
    """

    widget: w.Widget

    def __init__(self) -> None:
        self.status_line = w.HTML(value="")
        self.status_text = ""
        self.last_error: AttuneNbError | None = None

    def _say(self, text: str, *, level: Level = "info") -> None:
        """Show ``text`` (plain text, escaped) in the status line."""
        self.status_text = text
        colour = _COLOURS.get(level, _COLOURS["info"])
        body = html.escape(text).replace("\n", "<br>")
        self.status_line.value = (
            f'<span class="attune-nb-status attune-nb-{level}" '
            f'style="color: {colour}">{body}</span>'
        )

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Catch ``AttuneNbError`` only: show it and keep it as ``last_error``."""
        try:
            yield
        except AttuneNbError as exc:
            self.last_error = exc
            self._say(f"{type(exc).__name__}: {exc}", level="error")

    def __repr__(self) -> str:
        said = self.status_text
        return f"<{type(self).__name__}{': ' + said if said else ''}>"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)  # type: ignore[no-untyped-call]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget's view, with this object's repr as the plain-text fallback (what a
        code host or a terminal shows instead of a dump of the widget tree)."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle = {**bundle, "text/plain": repr(self)}
        return bundle


def guarded(method: F) -> F:
    """Decorate a widget handler so that it runs inside ``self._guard()``."""
    import functools

    @functools.wraps(method)
    def wrapper(self: WidgetBase, *args: Any, **kwargs: Any) -> Any:
        with self._guard():
            return method(self, *args, **kwargs)
        return None

    return wrapper  # type: ignore[return-value]


class ExecutionFilterControls:
    """The execution filters as controls: statuses, action or pack, time range, top level.

    ``filters()`` gives the keyword filters of ``db.executions.frame`` for what is set
    (an empty control is left out). Example::

        controls = ExecutionFilterControls()
        controls.status.value = ("failed", "timeout")
        controls.action_ref.value = "deploy.*"
        db.executions.count(**controls.filters())
    """

    def __init__(self) -> None:
        layout = w.Layout(width="auto")
        self.status = w.SelectMultiple(
            options=[s.value for s in ExecutionStatus],
            value=(),
            rows=5,
            description="Status",
            layout=w.Layout(width="16em"),
        )
        self.action_ref = w.Text(description="Action", placeholder="deploy.* or core.echo")
        self.pack = w.Text(description="Pack", placeholder="deploy or dep*")
        self.since = w.Text(description="Since", placeholder="2026-01-12 (UTC)")
        self.until = w.Text(description="Until", placeholder="2026-01-13T06:00Z")
        self.top_level_only = w.Checkbox(value=False, description="Top level only", indent=False)
        self.controls: list[w.ValueWidget] = [
            self.status,
            self.action_ref,
            self.pack,
            self.since,
            self.until,
            self.top_level_only,
        ]
        self.widget = w.HBox(
            [
                self.status,
                w.VBox([self.action_ref, self.pack], layout=layout),
                w.VBox([self.since, self.until, self.top_level_only], layout=layout),
            ]
        )

    def filters(self) -> dict[str, Any]:
        """The filters set, as keywords for ``frame``/``count``/``bulk_transition``."""
        chosen: dict[str, Any] = {}
        if self.status.value:
            chosen["status"] = list(self.status.value)
        for name in ("action_ref", "pack", "since", "until"):
            text = getattr(self, name).value.strip()
            if text:
                chosen[name] = text
        if self.top_level_only.value:
            chosen["top_level_only"] = True
        return chosen

    def observe(self, handler: Callable[[Any], None]) -> None:
        """Call ``handler`` whenever a filter changes."""
        for control in self.controls:
            control.observe(handler, names="value")

    def disable(self, disabled: bool) -> None:
        for control in self.controls:
            control.disabled = disabled


def frame_html(
    frame: pd.DataFrame, *, max_rows: int = 200, empty: str = "(none)", height: str = "24em"
) -> str:
    """A DataFrame as a compact HTML table (escaped), or ``empty`` for no rows.

    Headers sit over their cells (left), times are shown to the second in UTC and
    durations to the millisecond, missing values as blanks, and cells do not wrap
    (the box, at most ``height`` tall, scrolls instead).
    """
    if frame.empty:
        return f"<i>{html.escape(empty)}</i>"
    shown = frame.head(max_rows).copy()
    for name in shown.columns:
        column = shown[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            shown[name] = column.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M:%S")
        elif pd.api.types.is_timedelta64_dtype(column.dtype):
            text = column.dt.round("ms").astype("string").str.replace("0 days ", "")
            shown[name] = text.str.replace(r"(\.\d*?)0+$", r"\1", regex=True).str.rstrip(".")
    shown = shown.astype(object).where(shown.notna(), "")
    table = shown.to_html(
        index=False, escape=True, na_rep="", border=0, justify="left", classes="attune-nb-table"
    )
    more = len(frame) - len(shown)
    tail = f"<i>… and {plural(more, 'more row')}</i>" if more > 0 else ""
    return (
        f'<div style="max-height: {height}; overflow: auto; white-space: nowrap; '
        f'padding-bottom: 4px">{table}{tail}</div>'
    )


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 execution``, ``2 executions``, ``3 pending inquiries`` (``many`` given)."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def figure_output(output: w.Output, figure: Any) -> None:
    """Show a plotly figure in ``output`` without a kernel round trip.

    The output's ``outputs`` are set directly (the plotly mime type JupyterLab renders,
    and a text line), so it works from any handler and in tests without a kernel.
    """
    import json

    spec = json.loads(figure.to_json())
    spec.setdefault("config", {})
    title = figure.layout.title.text or "plotly figure"
    output.outputs = (
        {
            "output_type": "display_data",
            "data": {"application/vnd.plotly.v1+json": spec, "text/plain": f"<{title}>"},
            "metadata": {},
        },
    )


def close_tree(*widgets: w.Widget) -> None:
    """Close ``widgets`` and everything inside them (their models leave the kernel)."""
    for widget in widgets:
        close_tree(*getattr(widget, "children", ()))
        widget.close()


def parse_result(text: str) -> Any:
    """None for nothing; a JSON value as written; other text as ``{"reason": text}``.

    ``NaN`` and ``Infinity`` are not JSON (PostgreSQL's ``jsonb`` cannot store them):
    text holding them is a reason too. A NUL character, which no PostgreSQL text can
    hold, is refused (:class:`~attune_nb.errors.ConfigurationError`) before any plan.
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        value = {"reason": text}
    return check_json("result", value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
