"""Inquiries (attune_nb/inquiries.py) on a real PostgreSQL.

Rows are made with plain SQL, the way Attune's services write them, so the
repository is tested against data it did not create itself.
"""

from __future__ import annotations

import json
import select
import threading
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
    Inquiry,
    InquiryClosed,
    InquiryNotFound,
    InvalidFilter,
    InvalidResponse,
)
from attune_nb.frames import INQUIRY_COLUMNS, INQUIRY_STATUS_DTYPE
from attune_nb.inquiries import validate_response
from attune_nb.testing import ThrowawayServer

SCHEMA = {
    "type": "object",
    "properties": {
        "choice": {"enum": ["approve", "reject", "defer"]},
        "comment": {"type": "string"},
    },
    "required": ["choice"],
    "additionalProperties": False,
}
OPTIONS = ["approve", "reject"]  # narrower than the schema: "defer" passes only the schema

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
        assert "one of the filters status, execution, assigned_to" in str(info.value)
    if name == "status":
        assert "pending, responded, timeout, cancelled" in str(info.value)


def test_frame_accepts_numpy_ids(db: attune_nb.Database, world: dict[str, int]) -> None:
    a = inquiry(db, world["execution"])
    ids = db.executions.frame()["id"]
    assert db.inquiries.frame(execution=ids.iloc[0])["id"].tolist() == [a]
    numpy_id: Any = np.int64(world["execution"])
    assert db.inquiries.frame(execution=numpy_id)["id"].tolist() == [a]


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
    response = {"choice": "approve", "comment": "ship it"}
    answered = shared.inquiries.respond(inquiry_id, response, responder=people["alice"])
    assert answered.status == "responded"
    assert answered.response == response
    assert answered.responded_by == people["alice"]
    assert answered.responded_at is not None
    assert answered.responded_at == answered.updated  # one statement, one transaction
    assert answered.created_by_execution == people["execution"]
    assert shared.inquiries.get(inquiry_id) == answered
    stored = sql(shared, "SELECT response FROM attune.inquiry WHERE id = :id", id=inquiry_id)
    assert stored == response


def test_respond_without_schema_checks_the_options(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], schema=None, options=["yes", "no"])
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, "maybe")
    assert info.value.messages == ["'maybe' is not one of the options ['yes', 'no']"]
    assert shared.inquiries.respond(inquiry_id, "yes").response == "yes"


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        ({"choice": "maybe"}, "'maybe' is not one of"),
        ({"comment": "no choice"}, "'choice' is a required property"),
        ({"choice": "approve", "extra": 1}, "Additional properties are not allowed"),
        ("approve", "is not of type 'object'"),
        ({"choice": "approve", "comment": 5}, "5 is not of type 'string'"),
    ],
    ids=["not-in-enum", "missing-choice", "extra-key", "not-an-object", "bad-comment"],
)
def test_respond_refuses_what_the_schema_refuses(
    shared: attune_nb.Database, people: dict[str, int], response: Any, fragment: str
) -> None:
    inquiry_id = inquiry(shared, people["execution"], assigned_to=people["alice"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, response, responder=people["alice"])
    err = info.value
    assert (err.inquiry_id, err.response) == (inquiry_id, response)
    assert err.messages and any(fragment in m for m in err.messages), err.messages
    assert fragment in str(err)
    assert row_state(shared, inquiry_id) == before


def test_respond_refuses_a_choice_not_in_the_options(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, {"choice": "defer"})  # the schema allows it
    assert info.value.messages == ["'defer' is not one of the options ['approve', 'reject']"]
    assert row_state(shared, inquiry_id) == before


def test_respond_refuses_a_responder_who_is_not_the_assignee(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], assigned_to=people["alice"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(InvalidResponse) as info:
        shared.inquiries.respond(inquiry_id, {"choice": "approve"}, responder=people["bob"])
    assert info.value.messages == [
        f"only the assignee (identity {people['alice']}) may respond, not identity {people['bob']}"
    ]
    assert row_state(shared, inquiry_id) == before


def test_respond_to_an_assigned_inquiry_needs_the_responder(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"], assigned_to=people["alice"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(InvalidResponse):
        shared.inquiries.respond(inquiry_id, {"choice": "approve"})
    assert row_state(shared, inquiry_id) == before


def test_anyone_may_answer_an_unassigned_inquiry(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    answered = shared.inquiries.respond(inquiry_id, {"choice": "reject"}, responder=people["bob"])
    assert (answered.status, answered.responded_by) == ("responded", people["bob"])


def test_respond_with_an_unknown_responder_is_an_attune_nb_error(
    shared: attune_nb.Database, people: dict[str, int]
) -> None:
    inquiry_id = inquiry(shared, people["execution"])
    before = row_state(shared, inquiry_id)
    with pytest.raises(AttuneNbError):
        shared.inquiries.respond(inquiry_id, {"choice": "reject"}, responder=999_999)
    assert row_state(shared, inquiry_id) == before


@pytest.mark.parametrize("status", ["responded", "cancelled", "timeout"])
def test_respond_to_a_closed_inquiry(
    shared: attune_nb.Database, people: dict[str, int], status: str
) -> None:
    inquiry_id = inquiry(shared, people["execution"], status=status)
    before = row_state(shared, inquiry_id)
    with pytest.raises(InquiryClosed) as info:
        shared.inquiries.respond(inquiry_id, {"choice": "approve"})
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
        shared.inquiries.respond(inquiry_id, {"choice": "approve"}, responder=people["alice"])
    assert (info.value.inquiry_id, info.value.status) == (inquiry_id, "pending")
    assert "timed out" in info.value.reason
    assert row_state(shared, inquiry_id) == before


def test_respond_unknown_inquiry(shared: attune_nb.Database) -> None:
    with pytest.raises(InquiryNotFound) as info:
        shared.inquiries.respond(4040, {"choice": "approve"})
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
            outcomes[i] = dbs[i].inquiries.respond(inquiry_id, {"choice": choices[i]})
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
        shared.inquiries.respond(inquiry_id, {"choice": "approve"})
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


# -- validate_response (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "ok"),
    [
        ({"choice": "approve"}, True),
        ({"option": "approve"}, True),
        ({"answer": "reject"}, True),
        ({"option": "nope"}, False),
        ({"answer": "nope"}, False),
        ("approve", True),
        ("no", False),
        (["approve"], True),
        ({"other": "x"}, True),
    ],
    ids=[
        "choice",
        "option",
        "answer",
        "bad-option",
        "bad-answer",
        "plain",
        "plain-bad",
        "list",
        "no-choice-key",
    ],
)
def test_validate_response_options_only(response: Any, ok: bool) -> None:
    subject = Inquiry(1, 2, "?", "pending", response_options=OPTIONS)
    assert (validate_response(subject, response) == []) is ok


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
    updated TIMESTAMPTZ NOT NULL DEFAULT NOW());
CREATE TABLE attune.execution_history (
    time TIMESTAMPTZ NOT NULL DEFAULT NOW(), operation TEXT NOT NULL, entity_id BIGINT NOT NULL,
    changed_fields TEXT[] NOT NULL DEFAULT '{}', old_values JSONB, new_values JSONB);
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


def test_old_schema_execution_column_is_probed(old: attune_nb.Database) -> None:
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
    answered = old.inquiries.respond(first, {"choice": "reject"})
    assert (answered.status, answered.created_by_execution) == ("responded", execution)


def test_current_schema_execution_column(shared: attune_nb.Database) -> None:
    assert shared.inquiries.execution_column == "created_by_execution"
