"""The small immutable records of attune_nb/records.py: reprs, immutability, from_row."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

import attune_nb
from attune_nb.lifecycle import TERMINAL, ExecutionStatus
from attune_nb.records import Execution, Inquiry, Trace, TraceLink

RUNNING = ExecutionStatus.RUNNING


# -- Execution ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("execution", "text"),
    [
        (
            Execution(42, "core.echo", RUNNING, parent=7),
            "<Execution 42 core.echo running parent=7>",
        ),
        (Execution(42, "core.echo", RUNNING), "<Execution 42 core.echo running>"),
        (
            Execution(3, "deploy.rollout", ExecutionStatus.CANCELLED, parent=0),
            "<Execution 3 deploy.rollout cancelled parent=0>",
        ),
    ],
    ids=["with-parent", "without-parent", "parent-zero"],
)
def test_execution_repr(execution: Execution, text: str) -> None:
    assert repr(execution) == text


def test_execution_is_immutable() -> None:
    e = Execution(42, "core.echo", RUNNING)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.status = ExecutionStatus.COMPLETED  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.parent = 7  # type: ignore[misc]
    assert e.status is RUNNING and e.parent is None
    moved = dataclasses.replace(e, status=ExecutionStatus.COMPLETED)
    assert moved.status is ExecutionStatus.COMPLETED and e.status is RUNNING


def test_execution_has_no_instance_dict() -> None:
    e = Execution(1, "core.echo", RUNNING)
    assert not hasattr(e, "__dict__")  # slots: a typo cannot add an attribute
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        e.statu = RUNNING  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", list(ExecutionStatus), ids=lambda s: s.value)
def test_execution_is_terminal(status: ExecutionStatus) -> None:
    assert Execution(1, "core.echo", status).is_terminal is (status in TERMINAL)


def test_execution_from_row() -> None:
    row = {
        "id": 5,
        "action_ref": "core.echo",
        "status": "timeout",
        "parent": None,
        "permission_set_refs": ["ops", "read"],
        "retry_count": 1,
        "not_a_field": "ignored",
        "created": datetime(2026, 1, 1, tzinfo=UTC),
    }
    e = Execution.from_row(row)
    assert e.status is ExecutionStatus.TIMEOUT
    assert e.permission_set_refs == ("ops", "read")
    assert e.retry_count == 1 and e.is_terminal
    assert not hasattr(e, "not_a_field")
    assert (
        Execution.from_row(
            {"id": 6, "action_ref": "a.b", "status": "requested", "permission_set_refs": None}
        ).permission_set_refs
        == ()
    )


def test_execution_from_row_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="cancelling"):
        Execution.from_row({"id": 1, "action_ref": "a.b", "status": "cancelling"})


def test_execution_from_the_database(db: attune_nb.Database) -> None:
    parent = db.executions.create("wf.root", status="running")
    child = db.executions.create(
        "core.echo", parent=parent.id, status="scheduled", permission_set_refs=["ops"]
    )
    got = db.executions.get(child.id)
    assert repr(got) == f"<Execution {child.id} core.echo scheduled parent={parent.id}>"
    assert repr(db.executions.get(parent.id)) == f"<Execution {parent.id} wf.root running>"
    assert got.permission_set_refs == ("ops",)
    assert isinstance(got.status, ExecutionStatus)
    assert got == child


# -- Inquiry -----------------------------------------------------------------------------


def test_inquiry_repr() -> None:
    assert repr(Inquiry(3, 42, "Deploy?", "pending")) == "<Inquiry 3 pending execution=42>"
    assert repr(Inquiry(9, 1, "?", "responded")) == "<Inquiry 9 responded execution=1>"


def test_inquiry_is_immutable_and_from_row_keeps_its_fields() -> None:
    row = {
        "id": 3,
        "created_by_execution": 42,
        "prompt": "Deploy?",
        "status": "timeout",
        "response_options": ["yes", "no"],
        "extra": 1,
    }
    inq = Inquiry.from_row(row)
    assert (inq.id, inq.created_by_execution, inq.status, inq.response_options) == (
        3,
        42,
        "timeout",
        ["yes", "no"],
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        inq.status = "responded"  # type: ignore[misc]


# -- TraceLink and Trace -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "text"),
    [
        (TraceLink("event", 7, "monitoring.alert_fired"), "<event 7 monitoring.alert_fired>"),
        (
            TraceLink("enforcement", 7, "incident.on_alert", "processed"),
            "<enforcement 7 incident.on_alert processed>",
        ),
        (TraceLink("event", 12, missing=True), "<event 12 MISSING>"),
        (TraceLink("root", 3, "wf.deploy", "running", missing=True), "<root 3 wf.deploy MISSING>"),
        (TraceLink("rule", None, "incident.on_alert"), "<rule (none) incident.on_alert>"),
        (TraceLink("execution", 42, "core.echo", "running"), "<execution 42 core.echo running>"),
        (TraceLink("parent", 5, "", None), "<parent 5>"),
    ],
    ids=[
        "event",
        "enforcement-status",
        "missing",
        "missing-wins-over-status",
        "no-id",
        "execution",
        "empty-ref",
    ],
)
def test_trace_link_repr(link: TraceLink, text: str) -> None:
    assert repr(link) == text


def test_trace_link_is_immutable() -> None:
    link = TraceLink("event", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        link.missing = True  # type: ignore[misc]


def test_trace_links_missing_and_repr() -> None:
    e = Execution(42, "core.echo", RUNNING)
    trace = Trace(
        e,
        (
            TraceLink("event", 12, missing=True),
            TraceLink("enforcement", 7, "incident.on_alert", "processed"),
            TraceLink("parent", 5, missing=True),
            TraceLink("execution", 42, "core.echo", "running"),
        ),
    )
    assert trace.missing == ["event 12", "parent 5"]
    assert trace.link("enforcement") is trace.links[1]
    assert trace.link("rule") is None
    assert repr(trace) == (
        "<event 12 MISSING> -> <enforcement 7 incident.on_alert processed> "
        "-> <parent 5 MISSING> -> <execution 42 core.echo running>"
    )
    assert Trace(e).links == () and Trace(e).missing == []
