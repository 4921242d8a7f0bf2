"""The time window of every analysis: parsing, UTC, order, and how it prints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest

from attune_nb.analysis import Window, utc, window
from attune_nb.errors import InvalidFilter

JAN10 = pd.Timestamp("2026-01-10T00:00:00Z")


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-10",
        "2026-01-10T00:00:00Z",
        "2026-01-10T02:00:00+02:00",
        " 2026-01-10 00:00 ",
        datetime(2026, 1, 10),
        datetime(2026, 1, 10, tzinfo=UTC),
        datetime(2026, 1, 9, 19, tzinfo=timezone(timedelta(hours=-5))),
        date(2026, 1, 10),
        pd.Timestamp("2026-01-10"),
        pd.Timestamp("2026-01-10T01:00:00", tz="Europe/Paris"),
    ],
    ids=["date-str", "z", "offset", "spaces", "naive", "aware", "minus5", "date", "ts", "paris"],
)
def test_utc_parses_every_form_as_utc(value: Any) -> None:
    stamp = utc("since", value)
    assert stamp == JAN10
    assert str(stamp.tz) == "UTC"


@pytest.mark.parametrize(
    "value",
    ["yesterday", "", "2026-13-01", None, 1736467200, True, 1.5, [2026, 1, 10], pd.NaT],
    ids=["word", "empty", "month13", "none", "int", "bool", "float", "list", "nat"],
)
def test_utc_refuses_what_is_not_a_time(value: Any) -> None:
    with pytest.raises(InvalidFilter) as info:
        utc("until", value)
    assert info.value.name == "until"
    assert "ISO 8601" in info.value.allowed
    assert "until=" in str(info.value)


def test_window_is_half_open_and_prints_its_span() -> None:
    w = window("2026-01-10", "2026-01-14T00:00:00Z")
    assert w == Window(JAN10, pd.Timestamp("2026-01-14T00:00:00Z"))
    assert str(w) == "2026-01-10 00:00 to 2026-01-14 00:00 UTC"
    assert w.length == pd.Timedelta(days=4)
    assert JAN10 in w
    assert "2026-01-13T23:59:59.999999Z" in w
    assert "2026-01-14" not in w
    assert "2026-01-09T23:59:59Z" not in w


def test_an_empty_window_is_allowed() -> None:
    w = window("2026-01-10", "2026-01-10")
    assert w.length == pd.Timedelta(0)
    assert JAN10 not in w


def test_since_after_until_is_refused_naming_both() -> None:
    with pytest.raises(InvalidFilter) as info:
        window("2026-01-14", "2026-01-10")
    assert (info.value.name, info.value.value) == ("since", "2026-01-14")
    assert "until=2026-01-10" in info.value.allowed


def test_window_names_its_arguments_in_errors() -> None:
    with pytest.raises(InvalidFilter) as info:
        window("2026-01-10", "later", name_since="reference_since", name_until="reference_until")
    assert info.value.name == "reference_until"
    with pytest.raises(InvalidFilter) as info:
        window("2026-01-14", "2026-01-10", name_since="a[0]", name_until="a[1]")
    assert info.value.name == "a[0]" and "a[1]=" in info.value.allowed


def test_window_is_frozen() -> None:
    w = window("2026-01-10", "2026-01-11")
    with pytest.raises(AttributeError):
        w.since = JAN10  # type: ignore[misc]
