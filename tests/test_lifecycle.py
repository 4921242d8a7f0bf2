"""The execution lifecycle of attune_nb/lifecycle.py against ATTUNE_SCHEMA.md.

The expected statuses and transitions below are copied from ATTUNE_SCHEMA.md
("Enum types" and "Execution lifecycle"), written out independently of the module,
so a change to either side shows up here.
"""

from __future__ import annotations

import pytest

import attune_nb
from attune_nb.errors import AttuneNbError, ConfigurationError, InvalidStatus, InvalidTransition
from attune_nb.lifecycle import (
    ACTIVE,
    ALLOWED_TRANSITIONS,
    TERMINAL,
    ExecutionStatus,
    check_transition,
    parse_status,
)

# ATTUNE_SCHEMA.md, execution_status_enum, in declaration order.
STATUSES = [
    "requested",
    "scheduling",
    "scheduled",
    "running",
    "completed",
    "failed",
    "canceling",
    "cancelled",
    "timeout",
    "abandoned",
]
TERMINAL_NAMES = {"completed", "failed", "timeout", "cancelled", "abandoned"}
ACTIVE_NAMES = {"requested", "scheduling", "scheduled", "running", "canceling"}

# ATTUNE_SCHEMA.md, "Transitions the real services make".
TABLE: dict[str, set[str]] = {
    "requested": {"scheduling", "cancelled", "abandoned"},
    "scheduling": {"requested", "scheduled", "running", "failed", "cancelled", "abandoned"},
    "scheduled": {"requested", "running", "failed", "cancelled", "abandoned"},
    "running": {"completed", "failed", "timeout", "canceling", "cancelled", "abandoned"},
    "canceling": {"cancelled"},
    "completed": set(),
    "failed": set(),
    "cancelled": set(),
    "timeout": set(),
    "abandoned": set(),
}

PAIRS = [(current, requested) for current in STATUSES for requested in STATUSES]


# -- the enum ------------------------------------------------------------------------


def test_ten_values_in_schema_order() -> None:
    assert [s.value for s in ExecutionStatus] == STATUSES
    assert [s.order for s in ExecutionStatus] == list(range(10))


def test_enum_order_equals_the_database(db: attune_nb.Database) -> None:
    in_db = db.scalar("""
        SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
        FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'attune' AND t.typname = 'execution_status_enum'""")
    assert in_db == [s.value for s in ExecutionStatus]


def test_members_are_strings() -> None:
    assert ExecutionStatus.CANCELING == "canceling"
    assert ExecutionStatus.CANCELLED == "cancelled"
    assert str(ExecutionStatus.RUNNING) == "running"


def test_terminal_and_active_partition_the_ten() -> None:
    assert {s.value for s in TERMINAL} == TERMINAL_NAMES
    assert {s.value for s in ACTIVE} == ACTIVE_NAMES
    assert TERMINAL.isdisjoint(ACTIVE)
    assert set(ExecutionStatus) == TERMINAL | ACTIVE


@pytest.mark.parametrize("status", list(ExecutionStatus), ids=lambda s: s.value)
def test_is_terminal_property(status: ExecutionStatus) -> None:
    assert status.is_terminal is (status.value in TERMINAL_NAMES)


# -- the transition table -------------------------------------------------------------


def test_allowed_transitions_equal_the_schema_table() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(ExecutionStatus)
    assert {k.value: {s.value for s in v} for k, v in ALLOWED_TRANSITIONS.items()} == TABLE


@pytest.mark.parametrize("status", sorted(TERMINAL_NAMES))
def test_terminal_statuses_allow_nothing(status: str) -> None:
    assert ALLOWED_TRANSITIONS[ExecutionStatus(status)] == frozenset()
    for requested in STATUSES:
        with pytest.raises(InvalidTransition) as info:
            check_transition(status, requested)
        assert info.value.allowed_statuses == []
        assert info.value.allowed.startswith("nothing")
        assert f"{status} is terminal" in str(info.value)


@pytest.mark.parametrize(("current", "requested"), PAIRS, ids=[f"{c}->{r}" for c, r in PAIRS])
def test_check_transition(current: str, requested: str) -> None:
    if requested in TABLE[current]:
        check_transition(current, requested)  # raises if refused
        check_transition(ExecutionStatus(current), ExecutionStatus(requested))
        return
    with pytest.raises(InvalidTransition) as info:
        check_transition(current, requested)
    err = info.value
    assert isinstance(err, AttuneNbError)
    assert err.current == current
    assert err.requested == requested
    # allowed: what current may become, in lifecycle order
    assert err.allowed_statuses == [s for s in STATUSES if s in TABLE[current]]
    assert current in str(err) and requested in str(err)


def test_check_transition_parses_both_sides() -> None:
    check_transition(" RUNNING ", "Completed")
    with pytest.raises(InvalidStatus):
        check_transition("cancelling", "cancelled")
    with pytest.raises(InvalidStatus):
        check_transition("running", "done")


# -- parse_status -----------------------------------------------------------------------


@pytest.mark.parametrize("status", list(ExecutionStatus), ids=lambda s: s.value)
def test_parse_status_accepts_members(status: ExecutionStatus) -> None:
    assert parse_status(status) is status


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("running", ExecutionStatus.RUNNING),
        ("RUNNING", ExecutionStatus.RUNNING),
        ("Canceling", ExecutionStatus.CANCELING),
        ("cancelled", ExecutionStatus.CANCELLED),
        ("  timeout\n", ExecutionStatus.TIMEOUT),
    ],
    ids=["lower", "upper", "title-one-l", "two-l", "padded"],
)
def test_parse_status_accepts_strings_case_insensitively(
    text: str, expected: ExecutionStatus
) -> None:
    assert parse_status(text) is expected


@pytest.mark.parametrize(
    "value",
    ["cancelling", "canceled", "", "done", None, 3, 3.0, b"running", ["running"]],
    ids=[
        "two-l-canceling",
        "one-l-cancelled",
        "empty",
        "unknown",
        "none",
        "int",
        "float",
        "bytes",
        "list",
    ],
)
def test_parse_status_refuses(value: object) -> None:
    with pytest.raises(InvalidStatus) as info:
        parse_status(value)
    err = info.value
    assert isinstance(err, ConfigurationError)
    assert err.name == "status"
    assert err.value == value
    assert err.allowed_statuses == STATUSES
    message = str(err)
    assert repr(value) in message
    assert ", ".join(STATUSES) in message
