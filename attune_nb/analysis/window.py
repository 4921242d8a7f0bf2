"""The time window every analysis takes and states in its output.

A :class:`Window` is a half-open UTC interval ``[since, until)``; :func:`window`
builds one from datetimes, dates, ``pd.Timestamp`` or ISO strings (naive means UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from attune_nb.errors import InvalidFilter

__all__ = ["Window", "utc", "window"]

_ALLOWED = (
    "a datetime, a date, a pandas Timestamp or an ISO 8601 string like '2026-01-13T12:00:00Z'"
)


@dataclass(frozen=True)
class Window:
    """A UTC time window, ``since`` inclusive, ``until`` exclusive.

    ``str()`` reads like ``2026-01-10 00:00 to 2026-01-14 00:00 UTC``.
    """

    since: pd.Timestamp
    until: pd.Timestamp

    def __str__(self) -> str:
        return f"{self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M} UTC"

    def __contains__(self, instant: object) -> bool:
        stamp = utc("instant", instant)
        return bool(self.since <= stamp < self.until)

    @property
    def length(self) -> pd.Timedelta:
        """``until - since``."""
        return pd.Timedelta(self.until - self.since)


def utc(name: str, value: Any) -> pd.Timestamp:
    """``value`` as a tz-aware UTC ``pd.Timestamp`` (naive means UTC).

    Raises :class:`~attune_nb.errors.InvalidFilter` naming ``name`` when ``value``
    is not a time.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidFilter(name, value, _ALLOWED)
    if isinstance(value, str):
        text = value.strip()
        try:
            stamp = pd.Timestamp(datetime.fromisoformat(text))
        except ValueError:
            raise InvalidFilter(name, value, _ALLOWED) from None
    elif isinstance(value, (datetime, date, pd.Timestamp)):
        stamp = pd.Timestamp(value)
    else:
        raise InvalidFilter(name, value, _ALLOWED)
    if pd.isna(stamp):
        raise InvalidFilter(name, value, _ALLOWED)
    if stamp.tzinfo is None:
        return stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC")


def window(
    since: Any, until: Any, *, name_since: str = "since", name_until: str = "until"
) -> Window:
    """The :class:`Window` ``[since, until)``; ``since`` after ``until`` is refused.

    Raises :class:`~attune_nb.errors.InvalidFilter` for a value that is not a time or
    for ``since > until`` (an empty window, ``since == until``, is allowed).
    """
    start = utc(name_since, since)
    end = utc(name_until, until)
    if start > end:
        raise InvalidFilter(
            name_since, since, f"a time no later than {name_until}={end.isoformat()}"
        )
    return Window(start, end)
