"""Inquiries (attune_nb/inquiries.py) on a real PostgreSQL.

Rows are made with plain SQL, the way Attune's services write them (a flat
``response_schema`` and option objects), so the repository is tested against data it
did not create itself; older rows (a plain JSON Schema, string options) too.
"""

from __future__ import annotations

import json
import select
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.extensions
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import attune_nb
from attune_nb import (
    AttuneNbError,
    ConfigurationError,
    DatabaseOnlyWarning,
    Inquiry,
    InquiryClosed,
    InquiryNotFound,
    InvalidFilter,
    InvalidResponse,
    WritesNotAllowed,
)
from attune_nb.frames import INQUIRY_COLUMNS, INQUIRY_STATUS_DTYPE
from attune_nb.inquiries import UNHEARD, validate_response
from attune_nb.testing import ThrowawayServer

# Attune's own format: one entry per field; required, secret and position are Attune's.
SCHEMA: dict[str, Any] = {
    "approved": {"type": "boolean", "required": True, "position": 0},
    "env": {"type": "string", "enum": ["staging", "prod"], "required": True, "position": 1},
    "reason": {"type": "string", "maxLength": 20, "position": 2},
    "replicas": {"type": "integer", "minimum": 1, "position": 3},
    "pin": {"type": "string", "secret": True, "minLength": 4, "position": 4},
}
OPTIONS: list[dict[str, Any]] = [
    {
        "ref": "approve",
        "label": "Approve",
        "style": "positive",
        "response": {"approved": True, "env": "prod"},
    },
    {
        "ref": "reject",
        "label": "Reject",
        "style": "destructive",
        "response": {"approved": False, "env": "prod"},
    },
    {
        "ref": "staging",
        "label": "Staging only",
        "style": "default",
        "response": {"approved": True, "env": "staging"},
    },
]
APPROVE = {"approved": True, "env": "prod"}

# What older rows hold: a plain JSON Schema and options as strings.
LEGACY_SCHEMA = {
    "type": "object",
    "properties": {
        "choice": {"enum": ["approve", "reject", "defer"]},
        "comment": {"type": "string"},
    },
    "required": ["choice"],
    "additionalProperties": False,
}
LEGACY_OPTIONS = ["approve", "reject"]

FRAME_COLUMNS = [
    "id",
    "execution",
    "status",
    "prompt",
    "assigned_to",
    "created",
    "timeout_at",
    "responded_at",
    "responded_by",
    "updated",
    "response_options",
    "response",
]


# -- helpers -----------------------------------------------------------------------------


def sql(db: attune_nb.Database, statement: str, **params: Any) -> Any:
    """Run one statement in its own committed transaction; the first column of the first row."""
    with db.transaction() as conn:
        result = conn.execute(sa.text(statement), params)
        return result.scalar() if result.returns_rows else None


def identity(db: attune_nb.Database, login: str) -> int:
    return sql(db, "INSERT INTO attune.identity (login) VALUES (:login) RETURNING id", login=login)


def inquiry(
    db: attune_nb.Database,
    execution: int,
    *,
    prompt: str = "Deploy to prod?",
    schema: Any = SCHEMA,
    options: Any = OPTIONS,
    assigned_to: int | None = None,
    status: str = "pending",
    timeout_at: datetime | None = None,
    created: datetime | None = None,
    column: str = "created_by_execution",
) -> int:
    return sql(
        db,
        f"""
        INSERT INTO attune.inquiry ({column}, prompt, response_schema, response_options,
                                    assigned_to, status, timeout_at, created, updated)
        VALUES (:execution, :prompt, CAST(:schema AS jsonb), CAST(:options AS jsonb),
                :assigned_to, CAST(:status AS attune.inquiry_status_enum), :timeout_at,
                coalesce(:created, now()), coalesce(:created, now()))
        RETURNING id""",
        execution=execution,
        prompt=prompt,
        schema=None if schema is None else json.dumps(schema),
        options=json.dumps(options),
        assigned_to=assigned_to,
        status=status,
        timeout_at=timeout_at,
        created=created,
    )


def row_state(db: attune_nb.Database, inquiry_id: int) -> tuple[Any, ...]:
    """Everything respond() may write, to check that a refusal wrote nothing."""
    with db.transaction() as conn:
        return tuple(
            conn.execute(
                sa.text(
                    "SELECT status::text, response, responded_at, responded_by, updated "
                    "FROM attune.inquiry WHERE id = :id"
                ),
                {"id": inquiry_id},
            ).one()
        )


def _people(db: attune_nb.Database) -> dict[str, int]:
    return {
        "alice": identity(db, "alice"),
        "bob": identity(db, "bob"),
        "execution": db.executions.create("deploy.approve", status="running").id,
    }


@pytest.fixture
def world(db: attune_nb.Database) -> dict[str, int]:
    """Two identities and an execution that asks, in this test's own database."""
    return _people(db)


@pytest.fixture(scope="module")
def shared_url(pg: ThrowawayServer) -> Iterator[str]:
    """One database for the tests that only look at the rows they made themselves."""
    url = pg.create_database(name="inquiries_shared")
    yield url
    pg.drop_database("inquiries_shared")


@pytest.fixture(scope="module")
def shared(shared_url: str) -> Iterator[attune_nb.Database]:
    database = attune_nb.connect(shared_url)
    yield database
    database.close()


@pytest.fixture(scope="module")
def people(shared: attune_nb.Database) -> dict[str, int]:
    """Two identities and an execution that asks, in the shared database."""
    return _people(shared)


def check_layout(frame: pd.DataFrame) -> None:
    assert [c.name for c in INQUIRY_COLUMNS] == FRAME_COLUMNS
    assert list(frame.columns) == FRAME_COLUMNS
    for name in ("id", "execution", "assigned_to", "responded_by"):
        assert str(frame[name].dtype) == "Int64", name
    assert frame["status"].dtype == INQUIRY_STATUS_DTYPE
    assert isinstance(frame["status"].dtype, pd.CategoricalDtype)
    assert frame["status"].dtype.ordered
    assert list(frame["status"].dtype.categories) == [
        "pending",
        "responded",
        "timeout",
        "cancelled",
    ]
    assert str(frame["prompt"].dtype) == "string"
    for name in ("created", "timeout_at", "responded_at", "updated"):
        assert str(frame[name].dtype) == "datetime64[ns, UTC]", name
    assert frame["response_options"].dtype == object
    assert frame["response"].dtype == object


# -- frame ---------------------------------------------------------------------------------


def test_frame_layout_and_order(db: attune_nb.Database, world: dict[str, int]) -> None:
    base = datetime(2026, 1, 10, tzinfo=UTC)
    first = inquiry(db, world["execution"], created=base, assigned_to=world["alice"])
    second = inquiry(
        db,
        world["execution"],
        created=base + timedelta(hours=1),
        timeout_at=base + timedelta(days=1),
        status="timeout",
    )
    tie = inquiry(db, world["execution"], created=base + timedelta(hours=1))
    frame = db.inquiries.frame()
    check_layout(frame)
    assert frame["id"].tolist() == [tie, second, first]  # created desc, then id desc
    row = frame.set_index("id").loc[first]
    assert row["execution"] == world["execution"]
    assert row["status"] == "pending"
    assert row["prompt"] == "Deploy to prod?"
    assert row["assigned_to"] == world["alice"]
    assert row["created"] == pd.Timestamp(base)
    assert pd.isna(row["timeout_at"]) and pd.isna(row["responded_by"])
    assert row["response_options"] == OPTIONS
    assert row["response"] is None
    assert frame.set_index("id").loc[second, "timeout_at"] == pd.Timestamp(base + timedelta(days=1))


def test_empty_frame_has_the_same_layout(db: attune_nb.Database) -> None:
    frame = db.inquiries.frame()
    assert frame.empty
    check_layout(frame)


def test_frame_filters(db: attune_nb.Database, world: dict[str, int]) -> None:
    other = db.executions.create("deploy.approve").id
    base = datetime(2026, 1, 10, tzinfo=UTC)
    a = inquiry(db, world["execution"], created=base, assigned_to=world["alice"])
    b = inquiry(
        db,
        world["execution"],
        created=base + timedelta(days=1),
        status="responded",
        assigned_to=world["bob"],
    )
    c = inquiry(db, other, created=base + timedelta(days=2), status="cancelled")

    def ids(**filters: Any) -> list[int]:
        frame = db.inquiries.frame(**filters)
        check_layout(frame)
        # count() takes the same filters and agrees (paging aside).
        if "limit" not in filters and "offset" not in filters:
            assert db.inquiries.count(**filters) == len(frame)
        return frame["id"].tolist()

    assert ids(status="pending") == [a]
    assert ids(status=["responded", "cancelled"]) == [c, b]
    assert ids(status=("timeout",)) == []
    assert ids(execution=world["execution"]) == [b, a]
    assert ids(execution=[other]) == [c]
    assert ids(id=b) == [b]
    assert ids(id=[a, c, 10**9]) == [c, a]
    assert ids(assigned_to=world["alice"]) == [a]
    assert ids(assigned_to=[world["alice"], world["bob"]]) == [b, a]
    assert ids(since=base + timedelta(days=1)) == [c, b]
    assert ids(until=base + timedelta(days=1)) == [a]
    assert ids(since="2026-01-11", until="2026-01-12") == [b]
    assert ids(status="pending", execution=other) == []
    assert ids(limit=2) == [c, b]
    assert ids(limit=2, offset=1) == [b, a]
    assert ids(limit=None) == [c, b, a]


@pytest.mark.parametrize(
    ("filters", "name"),
    [
        ({"status": "open"}, "status"),
        ({"status": ["pending", "Pending"]}, "status"),
        ({"execution": "1"}, "execution"),
        ({"assigned_to": [True]}, "assigned_to"),
        ({"since": "yesterday"}, "since"),
        ({"limit": -1}, "limit"),
        ({"limit": 1.5}, "limit"),
        ({"offset": -1}, "offset"),
        ({"statuss": "pending"}, "statuss"),
        ({"since": "2026-01-12", "until": "2026-01-11"}, "until"),
    ],
    ids=[
        "unknown-status",
        "status-case",
        "execution-str",
        "assigned-bool",
        "since-text",
        "negative-limit",
        "float-limit",
        "negative-offset",
        "typo",
        "window-backwards",
    ],
)
def test_frame_refuses_bad_filters(
    db: attune_nb.Database, filters: dict[str, Any], name: str
) -> None:
    with pytest.raises(InvalidFilter) as info:
        db.inquiries.frame(**filters)
    assert info.value.name == name
    if "limit" not in filters and "offset" not in filters:
        with pytest.raises(InvalidFilter):
            db.inquiries.count(**filters)
    if name == "statuss":
        assert "one of the filters id, status, execution, assigned_to" in str(info.value)
    if name == "status":
        assert "pending, responded, timeout, cancelled" in str(info.value)


def test_frame_accepts_numpy_ids(db: attune_nb.Database, world: dict[str, int]) -> None:
    a = inquiry(db, world["execution"])
    ids = db.executions.frame()["id"]
    assert db.inquiries.frame(execution=ids.iloc[0])["id"].tolist() == [a]
    numpy_id: Any = np.int64(world["execution"])
    assert db.inquiries.frame(execution=numpy_id)["id"].tolist() == [a]


def test_frame_includes_the_schema_when_asked(
    db: attune_nb.Database, world: dict[str, int]
) -> None:
    legacy = inquiry(db, world["execution"], schema=LEGACY_SCHEMA, options=LEGACY_OPTIONS)
    bare = inquiry(db, world["execution"], schema=None)
    frame = db.inquiries.frame(include=["response_schema"])
    assert list(frame.columns) == [*FRAME_COLUMNS, "response_schema"]
    assert frame["response_schema"].dtype == object
    by_id = frame.set_index("id")["response_schema"]
    assert by_id[legacy] == LEGACY_SCHEMA and by_id[bare] is None
    assert list(db.inquiries.frame(include="response_schema").columns)[-1] == "response_schema"
    empty = db.inquiries.frame(status="timeout", include=["response_schema"])
    assert empty.empty and list(empty.columns) == [*FRAME_COLUMNS, "response_schema"]
    check_layout(db.inquiries.frame())  # the default layout is unchanged


@pytest.mark.parametrize("include", [["response"], "schema", ["config"]], ids=str)
def test_frame_refuses_an_unknown_include(db: attune_nb.Database, include: Any) -> None:
    with pytest.raises(InvalidFilter) as info:
        db.inquiries.frame(include=include)
    assert info.value.name == "include"
    assert "response_schema" in str(info.value)


def test_frame_masks_secret_fields_of_responses(
    db: attune_nb.Database, world: dict[str, int]
) -> None:
    inquiry_id = inquiry(db, world["execution"])
    answer = {**APPROVE, "pin": "s3cr3t-pin", "reason": "ok"}
    db.inquiries.respond(inquiry_id, answer)
    shown = db.inquiries.frame()["response"].iloc[0]
    assert shown == {**APPROVE, "pin": "***", "reason": "ok"}
    assert "s3cr3t-pin" not in db.inquiries.frame().to_string()
    assert db.inquiries.get(inquiry_id).response == answer  # the record keeps the value
    assert db.inquiries.get(inquiry_id).masked_response == shown


# -- get --------------------------------------------------------------------------------------


def test_get(shared: attune_nb.Database, people: dict[str, int]) -> None:
    timeout = datetime(2030, 1, 1, tzinfo=UTC)
    inquiry_id = inquiry(
        shared, people["execution"], assigned_to=people["alice"], timeout_at=timeout
    )
    got = shared.inquiries.get(inquiry_id)
    assert isinstance(got, Inquiry)
    assert got.id == inquiry_id
    assert got.created_by_execution == people["execution"]
    assert (got.status, got.prompt, got.assigned_to) == (
        "pending",
        "Deploy to prod?",
        people["alice"],
    )
    assert got.response_schema == SCHEMA and got.response_options == OPTIONS
    assert got.timeout_at == timeout
    assert got.response is None and got.responded_at is None and got.responded_by is None
    assert got.created is not None and got.created.utcoffset() == timedelta(0)


def test_get_unknown_is_not_found(shared: attune_nb.Database) -> None:
    with pytest.raises(InquiryNotFound) as info:
        shared.inquiries.get(31337)
    assert info.value.inquiry_id == 31337
    assert "31337" in str(info.value)


@pytest.mark.parametrize("bad_id", ["1", 2.0, False], ids=["str", "float", "bool"])
def test_get_bad_id_type(shared: attune_nb.Database, bad_id: Any) -> None:
    with pytest.raises(InvalidFilter):
        shared.inquiries.get(bad_id)


# -- respond ---------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout_in", [None, timedelta(hours=1)], ids=["no-timeout", "future"])
def test_respond(
    shared: attune_nb.Database, people: dict[str, int], timeout_in: timedelta | None
) -> None:
    timeout_at = datetime.now(UTC) + timeout_in if timeout_in else None
    inquiry_id = inquiry(
        shared, people["execution"], assigned_to=people["alice"], timeout_at=timeout_at
    )
    before = shared.inquiries.get(inquiry_id)
    response = {"approved": True, "env": "prod", "reason": "ship it", "replicas": 3}
    answered = shared.inquiries.respond(inquiry_id, response, responder=people["alice"])
    assert answered.status == "responded"
    assert answered.response == response
    assert answered.responded_by == people["alice"]
    assert answered.responded_at is not None
    assert answered.responded_at == answered.updated  # one statement, one transaction
    assert before.updated is not None and answered.updated > before.updated
    assert answered.created_by_execution == people["execution"]
    assert shared.inquiries.get(inquiry_id) == answered
    stored = sql(shared, "SELECT response FROM attune.inquiry WHERE id = :id", id=inquiry_id)
    assert stored == response


@pytest.mark.parametrize("option", OPTIONS, ids=[o["ref"] for o in OPTIONS])
def test_respond_with_an_option_stores_its_response(
    shared: attune_nb.Database, people: dict[str, int], option: dict[str, Any]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    answered = shared.inquiries.respond(inquiry_id, option=option["ref"], responder=people["bob"])
    assert answered.response == option["response"]
    assert answered.responded_by == people["bob"]
    stored = sql(shared, "SELECT response FROM attune.inquiry WHERE id = :id", id=inquiry_id)
    assert stored == option["response"]


def test_respond_with_an_unknown_option(shared: attune_nb.Database, people: dict[str, int]) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, option="maybe")
    assert info.value.messages == [
        "option: 'maybe' is not one of the options approve, reject, staging"
    ]
    assert info.value.response == "maybe"
    assert row_state(shared, inquiry_id) == before


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"response": APPROVE, "option": "approve"}, "not both"),
        ({"option": 1}, "the ref of one of"),
    ],
    ids=["both", "option-not-str"],
)
def test_respond_refuses_conflicting_arguments(
    shared: attune_nb.Database, people: dict[str, int], kwargs: dict[str, Any], fragment: str
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    before = row_state(shared, inquiry_id)
    response = kwargs.pop("response", None)
    with pytest.raises(ConfigurationError) as info:
        shared.inquiries.respond(inquiry_id, response, **kwargs)
    assert info.value.name == "option"
    assert fragment in str(info.value)
    assert row_state(shared, inquiry_id) == before


def test_respond_needs_a_response_or_an_option(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id)
    assert info.value.messages == [
        "response: missing: give a response object, or option= (approve, reject, staging)"
    ]


@pytest.mark.parametrize(
    ("response", "messages"),
    [
        ({"env": "prod"}, ["approved: required but missing"]),
        ({}, ["approved: required but missing", "env: required but missing"]),
        ({"approved": "yes", "env": "prod"}, ["approved: 'yes' is not of type 'boolean'"]),
        (
            {"approved": True, "env": "dev"},
            ["env: 'dev' is not one of ['staging', 'prod']"],
        ),
        (
            {**APPROVE, "reason": "x" * 21},
            [f"reason: '{'x' * 21}' is too long"],
        ),
        ({**APPROVE, "replicas": 0}, ["replicas: 0 is less than the minimum of 1"]),
        ({**APPROVE, "replicas": 1.5}, ["replicas: 1.5 is not of type 'integer'"]),
        ({**APPROVE, "pin": "123"}, ["pin: *** is too short"]),
        ({**APPROVE, "pin": 12345}, ["pin: *** is not of type 'string'"]),
        (
            {"env": "qa", "replicas": -1},
            [
                "approved: required but missing",
                "env: 'qa' is not one of ['staging', 'prod']",
                "replicas: -1 is less than the minimum of 1",
            ],
        ),
        (
            "approve",
            [
                "response: must be an object of field values, not str; to choose "
                "the option 'approve' pass option='approve'"
            ],
        ),
        (["approve"], ["response: must be an object of field values, not list"]),
        (True, ["response: must be an object of field values, not bool"]),
    ],
    ids=[
        "required-missing",
        "both-required-missing",
        "wrong-type",
        "not-in-enum",
        "too-long",
        "below-minimum",
        "not-an-integer",
        "secret-too-short",
        "secret-wrong-type",
        "several-in-field-order",
        "option-ref-as-text",
        "a-list",
        "a-bool",
    ],
)
def test_respond_refuses_what_the_schema_refuses(
    shared: attune_nb.Database, people: dict[str, int], response: Any, messages: list[str]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], assigned_to=people["alice"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, response, responder=people["alice"])
    err = info.value
    assert (err.inquiry_id, err.messages) == (inquiry_id, messages)
    assert all(m in str(err) for m in messages)
    assert row_state(shared, inquiry_id) == before


def test_extra_fields_are_accepted_as_attune_accepts_them(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    answer = {**APPROVE, "ticket": "OPS-12"}  # the converted schema allows more properties
    assert shared.inquiries.respond(inquiry_id, answer).response == answer


def test_a_refusal_never_shows_a_secret_value(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    response = {"approved": "no", "pin": "hunter2-but-longer-than-the-limit" * 2, "env": "x"}
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, response)
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value.response)
    assert info.value.response == {**response, "pin": "***"}
    assert info.value.messages == [
        "approved: 'no' is not of type 'boolean'",
        "env: 'x' is not one of ['staging', 'prod']",
    ]
    short = {**APPROVE, "pin": "7"}
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, short)
    assert info.value.messages == ["pin: *** is too short"]
    assert "'7'" not in str(info.value)


def test_a_null_schema_accepts_any_object(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], schema=None)
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, "anything")
    assert info.value.messages == ["response: must be an object of field values, not str"]
    answer = {"whatever": [1, 2], "nested": {"ok": True}}
    assert shared.inquiries.respond(inquiry_id, answer).response == answer


def test_an_option_must_satisfy_the_schema_too(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    broken = [{"ref": "go", "label": "Go", "style": "positive", "response": {"approved": 1}}]
    inquiry_id = inquiry(shared, people["execution"], options=broken)
    before = row_state(shared, inquiry_id)
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, option="go")
    assert info.value.messages == [
        "approved: 1 is not of type 'boolean'",
        "env: required but missing",
    ]
    assert row_state(shared, inquiry_id) == before


def test_a_broken_schema_is_reported_not_raised(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], schema={"count": {"type": "integr"}})
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, {"count": 1})
    (message,) = info.value.messages
    assert message.startswith("response_schema: the inquiry's schema is not valid")


# -- older rows: a plain JSON Schema, options as strings --------------------------------------


def test_older_rows_answer_with_an_option(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], schema=LEGACY_SCHEMA, options=LEGACY_OPTIONS)
    got = shared.inquiries.get(inquiry_id)
    assert [(o.ref, o.label, o.style, o.response) for o in got.options] == [
        ("approve", "approve", "default", {"choice": "approve"}),
        ("reject", "reject", "default", {"choice": "reject"}),
    ]
    assert [(f.name, f.required) for f in got.fields] == [("choice", True), ("comment", False)]
    answered = shared.inquiries.respond(inquiry_id, option="reject")
    assert answered.response == {"choice": "reject"}


@pytest.mark.parametrize(
    ("response", "messages"),
    [
        ({"choice": "approve", "comment": "ship it"}, []),
        ({"choice": "defer"}, []),  # free-form: the schema allows it (options are not asked)
        ({"comment": "no choice"}, ["choice: required but missing"]),
        (
            {"choice": "approve", "extra": 1},
            ["response: Additional properties are not allowed ('extra' was unexpected)"],
        ),
        ({"choice": "maybe"}, ["choice: 'maybe' is not one of ['approve', 'reject', 'defer']"]),
    ],
    ids=["ok", "defer", "missing-choice", "extra-key", "not-in-enum"],
)
def test_older_rows_validate_free_form_against_their_json_schema(
    shared: attune_nb.Database, people: dict[str, int], response: Any, messages: list[str]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], schema=LEGACY_SCHEMA, options=LEGACY_OPTIONS)
    if messages:
        before = row_state(shared, inquiry_id)
        with pytest.raises(InvalidResponse) as info:
            shared.inquiries.respond(inquiry_id, response)
        assert info.value.messages == messages
        assert row_state(shared, inquiry_id) == before
    else:
        assert shared.inquiries.respond(inquiry_id, response).response == response


# -- who may respond ----------------------------------------------------------------------------


def test_respond_refuses_a_responder_who_is_not_the_assignee(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], assigned_to=people["alice"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, option="approve", responder=people["bob"])
    assert info.value.messages == [
        f"responder: only the assignee (identity {people['alice']}) may respond, "
        f"not identity {people['bob']}"
    ]
    assert row_state(shared, inquiry_id) == before


def test_respond_to_an_assigned_inquiry_needs_the_responder(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], assigned_to=people["alice"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, option="approve")
    assert info.value.messages == [
        f"responder: only the assignee (identity {people['alice']}) may respond, "
        "not nobody (pass responder=…)"
    ]
    assert row_state(shared, inquiry_id) == before


@pytest.mark.parametrize("responder", ["bob", None], ids=["someone", "nobody"])
def test_anyone_may_answer_an_unassigned_inquiry(
    shared: attune_nb.Database, people: dict[str, int], responder: str | None
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    who = people[responder] if responder else None
    answered = shared.inquiries.respond(inquiry_id, option="reject", responder=who)
    assert (answered.status, answered.responded_by) == ("responded", who)


def test_respond_with_an_unknown_responder_is_an_attune_nb_error(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(AttuneNbError) as info:
        shared.inquiries.respond(inquiry_id, option="reject", responder=999_999)
    assert isinstance(info.value, InvalidResponse)
    assert info.value.messages == ["responder: there is no identity 999999"]
    assert row_state(shared, inquiry_id) == before


# -- closed, expired, concurrent ---------------------------------------------------------------


@pytest.mark.parametrize("status", ["responded", "cancelled", "timeout"])
def test_respond_to_a_closed_inquiry(
    shared: attune_nb.Database, people: dict[str, int], status: str
) -> None:
    inquiry_id = inquiry(shared, people["execution"], status=status)
    before = row_state(shared, inquiry_id)
    with pytest.raises(InquiryClosed) as info:
        shared.inquiries.respond(inquiry_id, option="approve")
    assert (info.value.inquiry_id, info.value.status) == (inquiry_id, status)
    assert status in info.value.reason
    assert "nothing was written" in str(info.value)
    assert row_state(shared, inquiry_id) == before


def test_respond_after_the_timeout(shared: attune_nb.Database, people: dict[str, int]) -> None:
    expired = datetime.now(UTC) - timedelta(minutes=5)
    inquiry_id = inquiry(
        shared, people["execution"], assigned_to=people["alice"], timeout_at=expired
    )
    before = row_state(shared, inquiry_id)
    with pytest.raises(InquiryClosed) as info:
        shared.inquiries.respond(inquiry_id, APPROVE, responder=people["alice"])
    assert (info.value.inquiry_id, info.value.status) == (inquiry_id, "pending")
    assert "timed out" in info.value.reason
    assert row_state(shared, inquiry_id) == before


def test_respond_unknown_inquiry(shared: attune_nb.Database) -> None:
    with pytest.raises(InquiryNotFound) as info:
        shared.inquiries.respond(4040, option="approve")
    assert info.value.inquiry_id == 4040


def test_concurrent_responses_have_one_winner(
    shared: attune_nb.Database, shared_url: str, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    dbs = [attune_nb.connect(shared_url) for _ in range(6)]
    barrier = threading.Barrier(len(dbs))
    outcomes: list[Any] = [None] * len(dbs)
    choices = ["approve", "reject"] * 3

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = dbs[i].inquiries.respond(inquiry_id, option=choices[i])
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(dbs))]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
    finally:
        for d in dbs:
            d.close()
    winners = [o for o in outcomes if isinstance(o, Inquiry)]
    assert len(winners) == 1
    for outcome in outcomes:
        if outcome is not winners[0]:
            assert isinstance(outcome, InquiryClosed), repr(outcome)
            assert outcome.status == "responded"
    assert shared.inquiries.get(inquiry_id).response == winners[0].response


def test_respond_notifies_inquiry_responded(
    shared: attune_nb.Database, shared_url: str, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    parsed = make_url(shared_url)
    listener = psycopg2.connect(
        host=parsed.query["host"], user=parsed.username, dbname=parsed.database
    )
    try:
        listener.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with listener.cursor() as cur:
            cur.execute("LISTEN inquiry_responded")
        shared.inquiries.respond(inquiry_id, option="approve")
        ready, _, _ = select.select([listener], [], [], 10)
        assert ready, "no inquiry_responded notification"
        listener.poll()
        notes = [n for n in listener.notifies if n.channel == "inquiry_responded"]
    finally:
        listener.close()
    assert len(notes) == 1
    payload = json.loads(notes[0].payload)
    assert (payload["entity_type"], payload["id"], payload["status"]) == (
        "inquiry",
        inquiry_id,
        "responded",
    )
    assert payload["created_by_execution"] == people["execution"]


# -- a database attune_nb did not create: writes are opt-in and warn ---------------------------


@pytest.fixture(scope="module")
def unmanaged_url(pg: ThrowawayServer) -> Iterator[str]:
    """A migrated database made to look like a real Attune one: the attune_nb ledger is gone."""
    url = pg.create_database(name="inquiries_unmanaged")
    setup = attune_nb.connect(url)
    assert setup.managed is True
    with setup.transaction() as conn:
        conn.execute(sa.text("DROP SCHEMA attune_nb CASCADE"))
    setup.close()
    yield url
    pg.drop_database("inquiries_unmanaged")


@pytest.fixture
def unmanaged(unmanaged_url: str) -> Iterator[attune_nb.Database]:
    database = attune_nb.connect(unmanaged_url)  # reconnect: managed is probed once
    yield database
    database.close()


@pytest.fixture
def unmanaged_writable(unmanaged_url: str) -> Iterator[attune_nb.Database]:
    database = attune_nb.connect(unmanaged_url, allow_writes=True)
    yield database
    database.close()


def test_respond_on_a_real_attune_database_needs_allow_writes(
    unmanaged: attune_nb.Database,
) -> None:
    assert unmanaged.managed is False
    execution = unmanaged.scalar(
        "INSERT INTO attune.execution (action_ref, status) "
        "VALUES ('deploy.approve', 'running') RETURNING id"
    )
    inquiry_id = inquiry(unmanaged, execution)
    before = row_state(unmanaged, inquiry_id)
    with pytest.raises(WritesNotAllowed) as info:
        unmanaged.inquiries.respond(inquiry_id, option="approve")
    assert info.value.action == "respond"
    assert "allow_writes=True" in str(info.value)
    assert row_state(unmanaged, inquiry_id) == before
    # A response that is not valid is refused as such, before the write is considered.
    with pytest.raises(InvalidResponse):
        unmanaged.inquiries.respond(inquiry_id, {"approved": "yes"})


def test_respond_with_allow_writes_warns_and_writes(
    unmanaged: attune_nb.Database, unmanaged_writable: attune_nb.Database
) -> None:
    execution = unmanaged.scalar(
        "INSERT INTO attune.execution (action_ref, status) "
        "VALUES ('deploy.approve', 'running') RETURNING id"
    )
    inquiry_id = inquiry(unmanaged, execution)
    with pytest.warns(DatabaseOnlyWarning, match="workflow task does not resume") as record:
        answered = unmanaged_writable.inquiries.respond(inquiry_id, option="approve")
    assert len(record) == 1
    assert UNHEARD in str(record[0].message)
    assert record[0].filename == __file__  # stacklevel: the caller's line, the notebook cell
    assert (answered.status, answered.response) == ("responded", APPROVE)
    assert unmanaged.inquiries.get(inquiry_id).status == "responded"


def test_a_refused_response_does_not_warn(unmanaged_writable: attune_nb.Database) -> None:
    execution = unmanaged_writable.scalar(
        "INSERT INTO attune.execution (action_ref, status) "
        "VALUES ('deploy.approve', 'running') RETURNING id"
    )
    inquiry_id = inquiry(unmanaged_writable, execution)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidResponse):
            unmanaged_writable.inquiries.respond(inquiry_id, option="nope")
    assert row_state(unmanaged_writable, inquiry_id)[0] == "pending"


# -- validate_response (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "response", "messages"),
    [
        (None, {}, []),
        (None, {"any": "thing"}, []),
        (None, "text", ["response: must be an object of field values, not str"]),
        (None, None, ["response: must be an object of field values, not null"]),
        ({}, {"x": 1}, []),
        ({"ok": {"type": "boolean", "required": True}}, {"ok": False}, []),
        ({"ok": {"type": "boolean", "required": True}}, {}, ["ok: required but missing"]),
        ({"ok": {"type": "boolean", "required": False}}, {}, []),
        ({"ok": {"type": "boolean"}}, {}, []),
        (
            {"tags": {"type": "array", "items": {"type": "string"}}},
            {"tags": ["a", 2]},
            ["tags[1]: 2 is not of type 'string'"],
        ),
        (
            {
                "where": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                }
            },
            {"where": {"city": 5}},
            ["where.city: 5 is not of type 'string'"],
        ),
        # "required" in a field is Attune's key, always stripped, as Attune strips it
        ({"where": {"type": "object", "required": ["city"]}}, {"where": {}}, []),
        (
            {"code": {"type": "integer", "secret": True, "minimum": 1000}},
            {"code": 7},
            ["code: *** is less than the minimum of 1000"],
        ),
        (
            {"code": {"type": "string", "secret": True, "pattern": "^[0-9]+$"}},
            {"code": "abc"},
            ["code: *** does not match '^[0-9]+$'"],
        ),
    ],
    ids=[
        "null-empty",
        "null-anything",
        "null-text",
        "null-none",
        "empty-schema",
        "required-present",
        "required-missing",
        "required-false",
        "optional",
        "array-item",
        "nested-object",
        "nested-required-is-stripped",
        "secret-minimum",
        "secret-pattern",
    ],
)
def test_validate_response(schema: Any, response: Any, messages: list[str]) -> None:
    subject = Inquiry(1, 2, "?", "pending", response_schema=schema)
    assert validate_response(subject, response) == messages


def test_validate_response_does_not_consult_the_options() -> None:
    subject = Inquiry(1, 2, "?", "pending", response_options=LEGACY_OPTIONS)
    assert validate_response(subject, {"choice": "nope"}) == []  # no schema: any object


def test_validate_response_masks_a_secret_in_a_whole_object_error() -> None:
    schema = {
        "type": "object",
        "properties": {"pin": {"type": "string", "secret": True}},
        "not": {"required": ["pin"]},
    }
    subject = Inquiry(1, 2, "?", "pending", response_schema=schema)
    (message,) = validate_response(subject, {"pin": "topsecret"})
    assert message.startswith("response: ") and "topsecret" not in message


# -- the older schema: inquiry.execution instead of created_by_execution ------------------------


OLD_SCHEMA = """
CREATE SCHEMA attune;
CREATE TYPE attune.execution_status_enum AS ENUM (
    'requested', 'scheduling', 'scheduled', 'running', 'completed',
    'failed', 'canceling', 'cancelled', 'timeout', 'abandoned');
CREATE TYPE attune.inquiry_status_enum AS ENUM ('pending', 'responded', 'timeout', 'cancelled');
CREATE TABLE attune.identity (id BIGSERIAL PRIMARY KEY, login TEXT NOT NULL UNIQUE);
CREATE TABLE attune.execution (
    id BIGSERIAL PRIMARY KEY, action_ref TEXT NOT NULL, parent BIGINT, enforcement BIGINT,
    status attune.execution_status_enum NOT NULL DEFAULT 'requested',
    started_at TIMESTAMPTZ, created TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW(), action BIGINT, config JSONB, env_vars JSONB,
    executor BIGINT, permission_set_refs TEXT[], worker BIGINT, result JSONB,
    timeout_seconds INTEGER, workflow_task JSONB, retry_count INTEGER, max_retries INTEGER,
    retry_reason TEXT, original_execution BIGINT, trace_tag TEXT);
CREATE TABLE attune.enforcement (id BIGSERIAL PRIMARY KEY, rule_ref TEXT, trigger_ref TEXT);
CREATE TABLE attune.execution_history (
    time TIMESTAMPTZ NOT NULL DEFAULT NOW(), operation TEXT NOT NULL, entity_id BIGINT NOT NULL,
    entity_ref TEXT, changed_fields TEXT[] NOT NULL DEFAULT '{}', old_values JSONB,
    new_values JSONB);
CREATE TABLE attune.inquiry (
    id BIGSERIAL PRIMARY KEY, execution BIGINT NOT NULL, prompt TEXT NOT NULL,
    response_schema JSONB, response_options JSONB NOT NULL,
    assigned_to BIGINT REFERENCES attune.identity(id) ON DELETE SET NULL,
    status attune.inquiry_status_enum NOT NULL DEFAULT 'pending', response JSONB,
    timeout_at TIMESTAMPTZ, responded_at TIMESTAMPTZ,
    responded_by BIGINT REFERENCES attune.identity(id) ON DELETE SET NULL,
    created TIMESTAMPTZ NOT NULL DEFAULT NOW(), updated TIMESTAMPTZ NOT NULL DEFAULT NOW());
"""


@pytest.fixture
def old(empty_url: str) -> Iterator[attune_nb.Database]:
    setup = attune_nb.db.open_database(empty_url)
    with setup.transaction() as conn:
        conn.exec_driver_sql(OLD_SCHEMA)
    setup.close()
    database = attune_nb.connect(empty_url)
    yield database
    database.close()


def test_old_schema_execution_column_is_probed(old: attune_nb.Database, empty_url: str) -> None:
    assert old.managed is False
    assert old.inquiries.execution_column == "execution"
    execution = sql(
        old,
        "INSERT INTO attune.execution (action_ref, status) "
        "VALUES ('deploy.approve', 'running') RETURNING id",
    )
    other = sql(old, "INSERT INTO attune.execution (action_ref) VALUES ('x.y') RETURNING id")
    first = inquiry(old, execution, column="execution")
    inquiry(old, other, column="execution", status="cancelled")
    frame = old.inquiries.frame(execution=execution)
    check_layout(frame)
    assert frame["id"].tolist() == [first]
    assert frame["execution"].tolist() == [execution]
    assert old.inquiries.frame(status="cancelled")["execution"].tolist() == [other]
    got = old.inquiries.get(first)
    assert (got.id, got.created_by_execution, got.status) == (first, execution, "pending")
    with pytest.raises(WritesNotAllowed):  # not an attune_nb database: writes are opt-in
        old.inquiries.respond(first, option="reject")
    with (
        attune_nb.connect(empty_url, allow_writes=True) as writable,
        pytest.warns(DatabaseOnlyWarning),
    ):
        answered = writable.inquiries.respond(first, option="reject")
    assert (answered.status, answered.created_by_execution) == ("responded", execution)
    assert answered.response == OPTIONS[1]["response"]


def test_current_schema_execution_column(shared: attune_nb.Database) -> None:
    assert shared.inquiries.execution_column == "created_by_execution"


def test_an_option_is_refused_where_there_are_none(old: attune_nb.Database) -> None:
    # Current schemas require 1 to 25 options; an older database may hold none.
    execution = sql(old, "INSERT INTO attune.execution (action_ref) VALUES ('x.y') RETURNING id")
    inquiry_id = inquiry(old, execution, column="execution", options=[])
    assert old.inquiries.get(inquiry_id).options == ()
    with pytest.raises(InvalidResponse) as info:
        old.inquiries.respond(inquiry_id, option="approve")
    assert info.value.messages == [
        "option: 'approve' is not an option: this inquiry has none; give a response object"
    ]
    with pytest.raises(InvalidResponse) as info:
        old.inquiries.respond(inquiry_id)
    assert info.value.messages == [
        "response: missing: give a response object (this inquiry has no options)"
    ]
