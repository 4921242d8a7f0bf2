"""The execution filters every query takes, validated once and turned into SQL.

Each filter takes one value or a list (SQL ``IN``); filters combine with AND.
Refs take an exact ref or a ``pack.*`` wildcard. Bad types or values raise
:class:`~attune_nb.errors.InvalidFilter` naming the filter, the value and what is allowed.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, TypedDict

import sqlalchemy as sa

from attune_nb import schema as t
from attune_nb.errors import InvalidFilter, InvalidStatus
from attune_nb.frames import INQUIRY_STATUSES
from attune_nb.lifecycle import ExecutionStatus, parse_status

__all__ = [
    "FILTER_NAMES",
    "INQUIRY_FILTER_NAMES",
    "ExecutionFilters",
    "InquiryFilters",
    "check_id",
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


def check_id(name: str, value: Any) -> int:
    """An id: an integer (numpy's too, as a frame hands them out), not a bool or a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidFilter(name, value, "an integer id")
    return int(value)


def id_list(name: str, value: Any) -> list[int]:
    """One id or a list of ids, checked."""
    return [check_id(name, v) for v in _values(name, value)]


def _refs(name: str, value: Any, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    exact: list[str] = []
    packs: list[str] = []
    for ref in _values(name, value):
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidFilter(name, ref, "a ref like 'core.echo' or a wildcard like 'core.*'")
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
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidFilter(
                name, value, "a datetime or an ISO 8601 string like '2026-01-13T12:00:00Z'"
            ) from None
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise InvalidFilter(name, value, "a datetime, a date or an ISO 8601 string")
    if value.tzinfo is None:  # naive times are UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


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
