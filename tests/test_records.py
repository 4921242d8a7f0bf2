"""The small immutable records of attune_nb/records.py: reprs, immutability, from_row."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

import attune_nb
from attune_nb.lifecycle import TERMINAL, ExecutionStatus
from attune_nb.records import (
    Execution,
    Inquiry,
    InquiryField,
    InquiryOption,
    Trace,
    TraceLink,
    is_json_schema,
    mask_secrets,
    parse_fields,
    parse_options,
    validation_schema,
)

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


# -- Inquiry: the flat response_schema and the option objects -----------------------------

FLAT = {
    "reason": {"type": "string", "description": "Why", "maxLength": 50},
    "approved": {"type": "boolean", "required": True, "position": 0, "default": False},
    "env": {"type": "string", "enum": ["staging", "prod"], "required": True, "position": 1},
    "pin": {"type": "string", "secret": True, "position": 2},
    "count": {"type": "integer", "minimum": 1},
}
OPTION_OBJECTS = [
    {"ref": "approve", "label": "Approve", "style": "positive", "response": {"approved": True}},
    {"ref": "reject", "label": "Reject", "style": "destructive", "response": {"approved": False}},
    {"ref": "later", "label": "Ask me later", "style": "default", "response": {"later": True}},
]


def test_fields_in_position_then_name_order() -> None:
    fields = Inquiry(1, 2, "?", "pending", response_schema=FLAT).fields
    assert [f.name for f in fields] == ["approved", "env", "pin", "count", "reason"]
    approved, env, pin, count, reason = fields
    assert approved == InquiryField(
        "approved",
        "boolean",
        required=True,
        default=False,
        position=0,
        schema={"type": "boolean", "default": False},
    )
    assert (env.required, env.enum, env.secret) == (True, ("staging", "prod"), False)
    assert (pin.secret, pin.required, pin.schema) == (True, False, {"type": "string"})
    assert (count.type, count.position, count.schema) == ("integer", None, FLAT["count"])
    assert (reason.description, reason.default, reason.enum) == ("Why", None, None)


def test_field_and_option_reprs_show_no_values() -> None:
    pin = InquiryField("pin", "string", secret=True, default="0000")
    assert repr(pin) == "<InquiryField pin string secret>"
    env = InquiryField("env", "string", required=True, enum=("staging", "prod"))
    assert repr(env) == "<InquiryField env string required enum=staging|prod>"
    assert repr(InquiryField("x")) == "<InquiryField x any>"
    option = InquiryOption("approve", "Approve", "positive", {"pin": "1234"})
    assert repr(option) == "<InquiryOption approve 'Approve' positive>"


def test_options_are_read_as_attune_writes_them() -> None:
    options = Inquiry(1, 2, "?", "pending", response_options=OPTION_OBJECTS).options
    assert options == (
        InquiryOption("approve", "Approve", "positive", {"approved": True}),
        InquiryOption("reject", "Reject", "destructive", {"approved": False}),
        InquiryOption("later", "Ask me later", "default", {"later": True}),
    )
    inquiry = Inquiry(1, 2, "?", "pending", response_options=OPTION_OBJECTS)
    assert inquiry.option("reject") == options[1]
    assert inquiry.option("nope") is None


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (["restart"], [InquiryOption("restart", "restart", "default", {"choice": "restart"})]),
        (
            [True, 3],
            [
                InquiryOption("true", "true", "default", {"choice": True}),
                InquiryOption("3", "3", "default", {"choice": 3}),
            ],
        ),
        ([{"ref": "go"}], [InquiryOption("go", "go", "default", {"choice": "go"})]),
        (
            [{"ref": "go", "style": "loud", "response": {}}],
            [InquiryOption("go", "go", "default", {})],
        ),
        (
            {"ref": "one", "label": "One"},
            [InquiryOption("one", "One", "default", {"choice": "one"})],
        ),
        (None, []),
        ("restart", []),
    ],
    ids=[
        "strings",
        "scalars",
        "object-without-response",
        "unknown-style",
        "one-object",
        "null",
        "not-a-list",
    ],
)
def test_older_options_are_converted(stored: object, expected: list[InquiryOption]) -> None:
    assert list(parse_options(stored)) == expected


def test_a_plain_json_schema_is_read_too() -> None:
    legacy = {
        "type": "object",
        "properties": {"choice": {"enum": ["a", "b"]}, "comment": {"type": "string"}},
        "required": ["choice"],
        "additionalProperties": False,
    }
    assert is_json_schema(legacy)
    fields = parse_fields(legacy)
    assert [(f.name, f.type, f.required, f.enum) for f in fields] == [
        ("choice", None, True, ("a", "b")),
        ("comment", "string", False, None),
    ]
    assert validation_schema(legacy) is legacy  # used as it is


@pytest.mark.parametrize(
    ("schema", "json_schema"),
    [
        (FLAT, False),
        ({}, False),
        ({"type": {"type": "string"}, "properties": {"type": "integer"}}, False),
        ({"type": "object"}, True),
        ({"properties": {"a": {"type": "string"}}}, True),
        ({"$schema": "https://json-schema.org/draft/2020-12/schema", "a": {}}, True),
        (None, False),
    ],
    ids=[
        "flat",
        "empty",
        "fields-named-type-and-properties",
        "type-object",
        "properties-only",
        "dollar-schema",
        "null",
    ],
)
def test_is_json_schema(schema: object, json_schema: bool) -> None:
    assert is_json_schema(schema) is json_schema


def test_validation_schema_is_what_attune_builds() -> None:
    assert validation_schema(FLAT) == {
        "type": "object",
        "properties": {
            "approved": {"type": "boolean", "default": False},
            "env": {"type": "string", "enum": ["staging", "prod"]},
            "pin": {"type": "string"},
            "count": {"type": "integer", "minimum": 1},
            "reason": {"type": "string", "description": "Why", "maxLength": 50},
        },
        "required": ["approved", "env"],
    }
    assert validation_schema(None) is None
    assert validation_schema({}) == {"type": "object", "properties": {}, "required": []}


def test_secret_fields_are_masked_and_never_in_a_repr() -> None:
    response = {"approved": True, "env": "prod", "pin": "4321"}
    inquiry = Inquiry(1, 2, "?", "responded", response_schema=FLAT, response=response)
    assert inquiry.masked_response == {"approved": True, "env": "prod", "pin": "***"}
    assert inquiry.response == response  # the record keeps the value
    assert "4321" not in repr(inquiry)
    assert "4321" not in repr(inquiry.fields) and "4321" not in repr(inquiry.options)
    assert mask_secrets("text", inquiry.fields) == "text"
    assert mask_secrets(response, []) is response


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
