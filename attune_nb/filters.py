"""The execution filters every query takes, validated once and turned into SQL.

Each filter takes one value or a list (SQL ``IN``); filters combine with AND.
Refs take an exact ref or a ``pack.*`` wildcard. Bad types or values raise
:class:`~attune_nb.errors.InvalidFilter` naming the filter, the value and what is allowed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypedDict

import pandas as pd
import sqlalchemy as sa

from attune_nb import schema as t
from attune_nb.errors import ConfigurationError, InvalidFilter, InvalidStatus
from attune_nb.frames import INQUIRY_STATUSES
from attune_nb.lifecycle import ExecutionStatus, parse_status

__all__ = [
    "BIGINT_MAX",
    "BIGINT_MIN",
    "FILTER_NAMES",
    "INQUIRY_FILTER_NAMES",
    "INT_MAX",
    "ExecutionFilters",
    "InquiryFilters",
    "check_id",
    "check_int",
    "check_json",
    "check_limit",
    "check_text",
    "execution_where",
    "id_list",
    "inquiry_where",
    "to_utc",
]


class ExecutionFilters(TypedDict, total=False):
    """The keyword filters of ``frame``, ``count``, ``bulk_transition`` and ``intervals``."""

    id: int | Iterable[int] | None
    status: str | ExecutionStatus | Iterable[str | ExecutionStatus] | None
    action_ref: str | Iterable[str] | None
    pack: str | Iterable[str] | None
    rule_ref: str | Iterable[str] | None
    trigger_ref: str | Iterable[str] | None
    executor: int | Iterable[int] | None
    worker: int | Iterable[int] | None
    enforcement: int | Iterable[int] | None
    parent: int | Iterable[int] | None
    top_level_only: bool
    workflows_only: bool
    waiting_for_slot: bool
    since: datetime | date | str | None
    until: datetime | date | str | None


FILTER_NAMES: tuple[str, ...] = tuple(ExecutionFilters.__annotations__)


class InquiryFilters(TypedDict, total=False):
    """The keyword filters of ``inquiries.frame`` and ``inquiries.count``."""

    id: int | Iterable[int] | None
    status: str | Iterable[str] | None
    execution: int | Iterable[int] | None
    assigned_to: int | Iterable[int] | None
    responded_by: int | Iterable[int] | None
    since: datetime | date | str | None
    until: datetime | date | str | None


INQUIRY_FILTER_NAMES: tuple[str, ...] = tuple(InquiryFilters.__annotations__)


def _values(name: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes, numbers.Integral, ExecutionStatus)) and not isinstance(
        value, bool
    ):
        return [value]
    if isinstance(value, dict) or not isinstance(value, Iterable):
        raise InvalidFilter(name, value, "one value or a list of values")
    return list(value)


BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
"""The range of PostgreSQL's ``bigint``: every id column, ``LIMIT`` and ``OFFSET``."""
INT_MAX = 2**31 - 1
"""The largest PostgreSQL ``integer`` (``timeout_seconds``, ``retry_count``, ``max_retries``)."""


def check_id(name: str, value: Any) -> int:
    """An id: an integer (numpy's too, as a frame hands them out), not a bool or a float,
    within ``bigint`` (no row can have another id; the server would refuse it raw)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidFilter(name, value, "an integer id")
    number = int(value)
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise InvalidFilter(name, value, "an integer id within bigint (-2**63 to 2**63-1)")
    return number


def check_int(name: str, value: Any, *, low: int, high: int = INT_MAX) -> int:
    """A whole number (not a bool, not a float) from ``low`` to ``high``; ConfigurationError
    otherwise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= int(value) <= high
    ):
        raise ConfigurationError(name, value, f"a whole number from {low} to {high}")
    return int(value)


def check_limit(name: str, value: Any, *, none: bool) -> int | None:
    """A ``LIMIT`` or ``OFFSET``: a whole number >= 0 within ``bigint`` (None too when
    ``none``, meaning every row)."""
    if value is None and none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not 0 <= int(value) <= BIGINT_MAX
    ):
        allowed = f"a whole number from 0 to {BIGINT_MAX}" + (
            ", or None for every row" if none else ""
        )
        raise InvalidFilter(name, value, allowed)
    return int(value)


def check_include(include: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    """The JSON columns ``include`` names (one name or a list of them), each once."""
    names = (include,) if isinstance(include, str) else include
    if isinstance(names, bytes | dict) or not isinstance(names, Iterable):
        raise InvalidFilter("include", include, "a list, some of " + ", ".join(allowed))
    names = tuple(names)
    bad = [n for n in names if not isinstance(n, str) or n not in allowed]
    if bad:
        raise InvalidFilter("include", bad[0], "some of " + ", ".join(allowed))
    return tuple(dict.fromkeys(names))


def _storable(text: str) -> str | None:
    """Why PostgreSQL ``text`` cannot hold ``text`` (None when it can)."""
    if "\x00" in text:
        return "text without NUL characters (\\x00): PostgreSQL text cannot hold them"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text of valid Unicode (no lone surrogates): the database is UTF-8"
    return None


def check_text(name: str, value: Any, *, none: bool = True) -> str | None:
    """A string PostgreSQL ``text`` can hold (None too when ``none``); ConfigurationError
    otherwise (a number is not silently written as its text)."""
    if value is None and none:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(name, value, "a string" + (" or None" if none else ""))
    problem = _storable(value)
    if problem is not None:
        raise ConfigurationError(name, value, problem)
    return value


_JSON_TYPES = "JSON: dicts with string keys, lists, strings, finite numbers, True/False, None"


def check_json(name: str, value: Any) -> Any:
    """``value`` when ``jsonb`` can store it; ConfigurationError naming what it cannot.

    PostgreSQL's ``jsonb`` refuses NaN and infinities and NUL characters (``\\u0000``)
    in strings and keys; ``json`` cannot encode bytes, sets, numpy scalars or other
    objects. Each would otherwise fail in the driver, after the statement was built.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > 1000:
            raise ConfigurationError(name, "a value nested deeper than 1000", _JSON_TYPES)
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, str):
            problem = _storable(item)
            if problem is not None:
                raise ConfigurationError(name, item, "JSON strings in " + problem)
        elif isinstance(item, int):
            if item.bit_length() > 13_000:  # str() refuses more than 4300 digits
                raise ConfigurationError(name, "an integer of over 13000 bits", _JSON_TYPES)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ConfigurationError(
                    name, item, "finite numbers: PostgreSQL's jsonb has no NaN or infinity"
                )
        elif isinstance(item, dict):
            for key, member in item.items():
                if not isinstance(key, str):
                    raise ConfigurationError(name, key, "JSON object keys that are strings")
                problem = _storable(key)
                if problem is not None:
                    raise ConfigurationError(name, key, "JSON keys in " + problem)
                stack.append((member, depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((member, depth + 1) for member in item)
        else:
            raise ConfigurationError(name, item, _JSON_TYPES)
    return value


def id_list(name: str, value: Any) -> list[int]:
    """One id or a list of ids, checked."""
    return [check_id(name, v) for v in _values(name, value)]


def _refs(name: str, value: Any, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    exact: list[str] = []
    packs: list[str] = []
    for ref in _values(name, value):
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidFilter(name, ref, "a ref like 'core.echo' or a wildcard like 'core.*'")
        problem = _storable(ref)
        if problem is not None:
            raise InvalidFilter(name, ref, "a ref of " + problem)
        if ref.endswith(".*") and "*" not in ref[:-2] and ref[:-2]:
            packs.append(ref[:-2])
        elif "*" in ref:
            raise InvalidFilter(name, ref, "an exact ref, or 'pack.*' for every ref of a pack")
        else:
            exact.append(ref)
    clauses: list[sa.ColumnElement[bool]] = []
    if exact:
        clauses.append(column.in_(exact))
    if packs:
        clauses.append(sa.func.split_part(column, ".", 1).in_(packs))
    return sa.or_(*clauses) if clauses else sa.false()


def to_utc(name: str, value: Any) -> datetime:
    """A datetime, date or ISO string as an aware UTC datetime (naive means UTC)."""
    given = value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidFilter(
                name, value, "a datetime or an ISO 8601 string like '2026-01-13T12:00:00Z'"
            ) from None
    if value is pd.NaT:  # a datetime to isinstance, but no time at all
        raise InvalidFilter(name, value, "a time, not NaT")
    if isinstance(value, pd.Timestamp):
        value = value.floor("us").to_pydatetime()  # PostgreSQL keeps microseconds
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise InvalidFilter(name, value, "a datetime, a date or an ISO 8601 string")
    if value.tzinfo is None:  # naive times are UTC
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):  # year 0 or 10000 in UTC: outside Python's datetime
        raise InvalidFilter(
            name, given, "a time between 0001-01-01 and 9999-12-31 in UTC"
        ) from None


def execution_where(
    filters: dict[str, Any], *, present: frozenset[str] | None = None
) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses over ``execution`` (and ``enforcement``, left-joined) for ``filters``.

    ``present`` names the optional execution columns the database has (None: all).
    """
    unknown = sorted(set(filters) - set(FILTER_NAMES))
    if unknown:
        raise InvalidFilter(
            unknown[0], filters[unknown[0]], "one of the filters " + ", ".join(FILTER_NAMES)
        )
    e, enf = t.execution, t.enforcement
    where: list[sa.ColumnElement[bool]] = []
    for name, value in filters.items():
        if value is None:
            continue
        if name == "status":
            try:
                statuses = [parse_status(v).value for v in _values(name, value)]
            except InvalidStatus as exc:
                raise InvalidStatus(exc.value, exc.allowed_statuses) from None
            where.append(e.c.status.in_(statuses))
        elif name == "action_ref":
            where.append(_refs(name, value, e.c.action_ref))
        elif name == "rule_ref":
            where.append(_refs(name, value, enf.c.rule_ref))
        elif name == "trigger_ref":
            where.append(_refs(name, value, enf.c.trigger_ref))
        elif name == "pack":
            packs = _values(name, value)
            if not all(isinstance(p, str) and p and "." not in p for p in packs):
                raise InvalidFilter(name, value, "a pack ref like 'core' (no dots) or a list")
            for p in packs:
                problem = _storable(p)
                if problem is not None:
                    raise InvalidFilter(name, p, "a pack ref of " + problem)
            where.append(sa.func.split_part(e.c.action_ref, ".", 1).in_(packs))
        elif name in ("id", "executor", "worker", "enforcement", "parent"):
            where.append(e.c[name].in_(id_list(name, value)))
        elif name == "top_level_only":
            if not isinstance(value, bool):
                raise InvalidFilter(name, value, "True or False")
            if value:
                where.append(e.c.parent.is_(None))
        elif name == "workflows_only":
            if not isinstance(value, bool):
                raise InvalidFilter(name, value, "True or False")
            if value and present is not None and "workflow_def" not in present:
                raise InvalidFilter(
                    name,
                    value,
                    "a database whose execution table has workflow_def (newer Attune); on "
                    "this older schema select workflows by parent or action_ref",
                )
            if value:
                where.append(t.optional_execution_column("workflow_def").is_not(None))
        elif name == "waiting_for_slot":
            if not isinstance(value, bool):
                raise InvalidFilter(name, value, "True or False")
            where.append(_waiting_for_slot(value, present))
        elif name == "since":
            where.append(e.c.created >= to_utc(name, value))
        elif name == "until":
            where.append(e.c.created < to_utc(name, value))
    since, until = filters.get("since"), filters.get("until")
    if since is not None and until is not None and to_utc("since", since) > to_utc("until", until):
        raise InvalidFilter("until", until, f"a time after since={since!r}")
    return where


def _waiting_for_slot(value: bool, present: frozenset[str] | None) -> sa.ColumnElement[bool]:
    """Queued behind its action's concurrency limit (a ``queued`` admission entry), or not.

    Where the table does not exist (older Attune) nothing waits for a slot.
    """
    if present is not None and t.ADMISSION_ENTRY not in present:
        return sa.false() if value else sa.true()
    entry = t.admission_entry
    queued = sa.exists().where(entry.c.execution_id == t.execution.c.id, entry.c.status == "queued")
    return queued if value else ~queued


def _check_window(filters: dict[str, Any]) -> None:
    since, until = filters.get("since"), filters.get("until")
    if since is not None and until is not None and to_utc("since", since) > to_utc("until", until):
        raise InvalidFilter("until", until, f"a time after since={since!r}")


def inquiry_where(
    filters: dict[str, Any], table: sa.Table, execution_column: str = "created_by_execution"
) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses over ``inquiry`` for ``filters`` (one value or a list each, AND).

    ``id`` picks inquiries by id; ``execution`` filters on ``created_by_execution``
    (``execution_column`` in older schemas); ``since``/``until`` on ``created``.
    """
    unknown = sorted(set(filters) - set(INQUIRY_FILTER_NAMES))
    if unknown:
        raise InvalidFilter(
            unknown[0], filters[unknown[0]], "one of the filters " + ", ".join(INQUIRY_FILTER_NAMES)
        )
    where: list[sa.ColumnElement[bool]] = []
    for name, value in filters.items():
        if value is None:
            continue
        if name == "status":
            statuses = _values(name, value)
            bad = [s for s in statuses if s not in INQUIRY_STATUSES]
            if bad:
                raise InvalidFilter(name, bad[0], "one of " + ", ".join(INQUIRY_STATUSES))
            where.append(table.c.status.in_(statuses))
        elif name == "execution":
            where.append(table.c[execution_column].in_(id_list(name, value)))
        elif name in ("id", "assigned_to", "responded_by"):
            where.append(table.c[name].in_(id_list(name, value)))
        elif name == "since":
            where.append(table.c.created >= to_utc(name, value))
        elif name == "until":
            where.append(table.c.created < to_utc(name, value))
    _check_window(filters)
    return where
