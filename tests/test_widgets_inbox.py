"""The inquiry inbox (attune_nb/widgets/inbox.py) on a real PostgreSQL, without a browser.

Inquiries are made with plain SQL, as Attune's services write them; the tests set the
controls' values, click the buttons, then check what the widget shows and the rows.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import ipywidgets as w
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb import InquiryClosed, InvalidResponse, WritesNotAllowed
from attune_nb.inquiries import UNHEARD
from attune_nb.testing import ThrowawayServer
from attune_nb.widgets.inbox import BUTTON_STYLES, REFRESH, SUBMIT, InquiryInbox

SCHEMA: dict[str, Any] = {
    "approved": {
        "type": "boolean",
        "required": True,
        "position": 0,
        "description": "Ship it?",
    },
    "env": {"type": "string", "enum": ["staging", "prod"], "required": True, "position": 1},
    "reason": {"type": "string", "maxLength": 20, "position": 2, "description": "Why"},
    "replicas": {"type": "integer", "minimum": 1, "default": 2, "position": 3},
    "ratio": {"type": "number", "position": 4},
    "tags": {"type": "array", "items": {"type": "string"}, "position": 5},
    "ports": {"type": "array", "items": {"type": "integer"}, "position": 6},
    "pin": {
        "type": "string",
        "secret": True,
        "minLength": 4,
        "position": 7,
        "description": "Your PIN",
    },
    "note": {"type": "string"},  # no position: after the others
}
ORDER = ["approved", "env", "reason", "replicas", "ratio", "tags", "ports", "pin", "note"]
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
SECRET = "pin-7y3q-s3cr3t"
NOW = datetime(2026, 1, 14, tzinfo=UTC)


# -- helpers -----------------------------------------------------------------------------


def sql(db: attune_nb.Database, statement: str, **params: Any) -> Any:
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
) -> int:
    return sql(
        db,
        """
        INSERT INTO attune.inquiry (created_by_execution, prompt, response_schema,
                                    response_options, assigned_to, status, timeout_at,
                                    created, updated)
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


def walk(widget: w.Widget) -> Iterator[w.Widget]:
    """The widget and every widget inside it (children, layouts and styles included)."""
    yield widget
    for name in ("children", "layout", "style"):
        inner = getattr(widget, name, None)
        for child in inner if isinstance(inner, tuple | list) else (inner,):
            if isinstance(child, w.Widget):
                yield from walk(child)


def said(inbox: InquiryInbox) -> str:
    """The status line's text, without its markup."""
    return html.unescape(re.sub(r"<[^>]*>", "", inbox.status_line.value))


def state_text(widget: w.Widget) -> str:
    return json.dumps(widget.get_state(), default=str)


def fill(inbox: InquiryInbox, **values: Any) -> None:
    for name, value in values.items():
        inbox.inputs[name].control.value = value


@pytest.fixture
def world(db: attune_nb.Database) -> dict[str, int]:
    """Two identities and an execution that asks."""
    return {
        "alice": identity(db, "alice"),
        "bob": identity(db, "bob"),
        "execution": db.executions.create("deploy.approve", status="running").id,
    }


# -- what it shows ---------------------------------------------------------------------------


def test_pending_inquiries_in_a_table(db: attune_nb.Database, world: dict[str, int]) -> None:
    old = inquiry(
        db,
        world["execution"],
        prompt="Restart <web-1>?",
        assigned_to=world["alice"],
        created=NOW - timedelta(days=2, hours=3),
        timeout_at=NOW + timedelta(hours=5, minutes=30),
    )
    new = inquiry(db, world["execution"], created=NOW - timedelta(minutes=12))
    late = inquiry(
        db, world["execution"], created=NOW - timedelta(hours=9), timeout_at=NOW - timedelta(1)
    )
    inquiry(db, world["execution"], status="responded")
    inbox = InquiryInbox(db, responder=world["alice"], now=NOW)
    assert inbox.rows() == [
        {"id": new, "prompt": "Deploy to prod?", "age": "12m", "time left": "never",
         "assignee": "anyone"},
        {"id": late, "prompt": "Deploy to prod?", "age": "9h 0m", "time left": "timed out",
         "assignee": "anyone"},
        {"id": old, "prompt": "Restart <web-1>?", "age": "2d 3h", "time left": "5h 30m",
         "assignee": f"identity {world['alice']}"},
    ]  # fmt: skip
    assert "Restart &lt;web-1&gt;?" in inbox.table.value and "3 pending" in inbox.table.value
    assert [v for _, v in inbox.chooser.options] == [new, late, old]
    assert inbox.selected is not None and inbox.selected.id == new  # the newest first
    assert (
        repr(inbox)
        == f"<InquiryInbox 3 pending, inquiry {new} selected, responder={world['alice']}>"
    )
    inbox.chooser.value = old
    assert inbox.selected.id == old
    assert "Restart &lt;web-1&gt;?" in inbox.header.value
    assert inbox.widget is not None and inbox.status_line in inbox.widget.children


def test_no_pending_inquiries(db: attune_nb.Database) -> None:
    inbox = InquiryInbox(db)
    assert inbox.rows() == [] and inbox.selected is None
    assert "No pending inquiries" in inbox.table.value
    assert inbox.detail.layout.display == "none"


def test_a_button_per_option_with_its_label_and_style(
    db: attune_nb.Database, world: dict[str, int]
) -> None:
    inquiry(db, world["execution"])
    inbox = InquiryInbox(db)
    buttons = inbox.option_buttons
    assert list(buttons) == ["approve", "reject", "staging"]
    assert [(b.description, b.button_style) for b in buttons.values()] == [
        ("Approve", "success"),
        ("Reject", "danger"),
        ("Staging only", ""),
    ]
    assert BUTTON_STYLES == {"positive": "success", "destructive": "danger", "default": ""}
    assert inbox.submit_button.description == SUBMIT == "Submit"
    assert inbox.refresh_button.description == REFRESH == "Refresh"
    shown = {b.description for b in walk(inbox.widget) if isinstance(b, w.Button)}
    assert shown == {"Approve", "Reject", "Staging only", "Submit", "Refresh"}
    # Showing it again builds new controls and closes the old ones (no dead models).
    old_inputs = [fi.control for fi in inbox.inputs.values()]
    inbox.refresh_button.click()
    assert all(b.comm is None for b in buttons.values())
    assert old_inputs and all(c.comm is None for c in old_inputs)
    assert all(b.comm is not None for b in inbox.option_buttons.values())


def test_the_form_follows_the_schema(db: attune_nb.Database, world: dict[str, int]) -> None:
    inquiry(db, world["execution"])
    inbox = InquiryInbox(db)
    assert list(inbox.inputs) == ORDER
    kinds = {name: type(fi.control) for name, fi in inbox.inputs.items()}
    assert kinds == {
        "approved": w.Checkbox,
        "env": w.Dropdown,
        "reason": w.Text,
        "replicas": w.IntText,
        "ratio": w.FloatText,
        "tags": w.Text,
        "ports": w.Text,
        "pin": w.Password,
        "note": w.Text,
    }
    labels = {name: fi.control.description for name, fi in inbox.inputs.items()}
    assert labels["approved"] == "approved *" and labels["env"] == "env *"
    assert labels["reason"] == "reason" and labels["pin"] == "pin"
    assert [v for _, v in inbox.inputs["env"].control.options] == [None, "staging", "prod"]
    assert inbox.inputs["replicas"].control.value == 2  # the default, filled in
    assert inbox.inputs["env"].control.value is None  # no default: nothing chosen
    assert "Ship it?" in inbox.inputs["approved"].help.value
    assert "Your PIN" in inbox.inputs["pin"].help.value
    # a number box cannot be empty: without a default, untouched means left out
    assert "left out unless you change it" in inbox.inputs["ratio"].help.value
    assert "left out" not in inbox.inputs["replicas"].help.value
    assert inbox.inputs["tags"].control.placeholder == "comma-separated"
    # the form shows the fields in that order
    rows = [fi.row for fi in inbox.inputs.values()]
    assert list(inbox.form.children) == rows


def test_legacy_rows_plain_json_schema_and_string_options(
    db: attune_nb.Database, world: dict[str, int]
) -> None:
    legacy = {
        "type": "object",
        "properties": {"choice": {"enum": ["approve", "reject"]}, "comment": {"type": "string"}},
        "required": ["choice"],
    }
    inquiry_id = inquiry(db, world["execution"], schema=legacy, options=["approve", "reject"])
    inbox = InquiryInbox(db)
    assert [b.description for b in inbox.option_buttons.values()] == ["approve", "reject"]
    assert {n: type(fi.control) for n, fi in inbox.inputs.items()} == {
        "choice": w.Dropdown,
        "comment": w.Text,
    }
    inbox.option_buttons["reject"].click()
    assert db.inquiries.get(inquiry_id).response == {"choice": "reject"}


# -- answering -------------------------------------------------------------------------------


@pytest.mark.parametrize("option", OPTIONS, ids=[o["ref"] for o in OPTIONS])
def test_answered_by_option(
    db: attune_nb.Database, world: dict[str, int], option: dict[str, Any]
) -> None:
    inquiry_id = inquiry(db, world["execution"])
    other = inquiry(db, world["execution"], created=NOW)
    inbox = InquiryInbox(db, responder=world["bob"])
    assert inbox.selected is not None and inbox.selected.id == inquiry_id
    inbox.option_buttons[option["ref"]].click()
    answered = db.inquiries.get(inquiry_id)
    assert answered.status == "responded"
    assert answered.response == option["response"]
    assert answered.responded_by == world["bob"]
    assert inbox.last_error is None
    assert f"Inquiry {inquiry_id} answered" in said(inbox)
    assert option["label"] in inbox.echo.value
    # refreshed: the answered one is gone, the next one is selected
    assert [r["id"] for r in inbox.rows()] == [other]
    assert inbox.selected is not None and inbox.selected.id == other
    assert db.inquiries.get(other).status == "pending"


def test_answered_by_form(db: attune_nb.Database, world: dict[str, int]) -> None:
    inquiry_id = inquiry(db, world["execution"])
    inbox = InquiryInbox(db, responder=world["alice"])
    fill(
        inbox,
        approved=True,
        env="staging",
        reason="smoke tests ok",
        replicas=3,
        ratio=0.5,
        tags="canary, eu",
        ports="80, 443",
    )
    inbox.submit_button.click()
    assert inbox.last_error is None, said(inbox)
    answered = db.inquiries.get(inquiry_id)
    assert answered.status == "responded" and answered.responded_by == world["alice"]
    assert answered.response == {
        "approved": True,
        "env": "staging",
        "reason": "smoke tests ok",
        "replicas": 3,
        "ratio": 0.5,
        "tags": ["canary", "eu"],
        "ports": [80, 443],
    }
    assert inbox.answered is not None and inbox.answered.id == inquiry_id
    assert "smoke tests ok" in inbox.echo.value
    assert inbox.rows() == [] and inbox.selected is None


def test_untouched_optional_fields_are_left_out(
    db: attune_nb.Database, world: dict[str, int]
) -> None:
    inquiry_id = inquiry(db, world["execution"])
    inbox = InquiryInbox(db)
    fill(inbox, env="prod")  # approved is required: the box's False is sent
    inbox.submit_button.click()
    assert db.inquiries.get(inquiry_id).response == {
        "approved": False,
        "env": "prod",
        "replicas": 2,
    }


def test_a_missing_required_field_shows_next_to_it(
    db: attune_nb.Database, world: dict[str, int]
) -> None:
    inquiry_id = inquiry(db, world["execution"])
    inbox = InquiryInbox(db)
    before = row_state(db, inquiry_id)
    fill(inbox, approved=True, reason="fine")
    inbox.submit_button.click()
    assert inbox.errors == {"env": "required but missing"}
    assert "required but missing" in inbox.inputs["env"].error.value
    assert inbox.inputs["env"].error in inbox.inputs["env"].row.children[0].children
    assert isinstance(inbox.last_error, InvalidResponse)
    assert "nothing was written" in said(inbox)
    assert row_state(db, inquiry_id) == before
    # Fixed, it goes through, and the inline error is gone.
    fill(inbox, env="prod")
    inbox.submit_button.click()
    assert db.inquiries.get(inquiry_id).response == {
        "approved": True,
        "env": "prod",
        "reason": "fine",
        "replicas": 2,
    }


def test_a_wrong_type_and_a_bad_value_show_next_to_their_fields(
    db: attune_nb.Database, world: dict[str, int]
) -> None:
    inquiry_id = inquiry(db, world["execution"])
    inbox = InquiryInbox(db)
    before = row_state(db, inquiry_id)
    fill(inbox, approved=True, env="prod", replicas=0, ports="80, http", reason="x" * 21)
    inbox.submit_button.click()
    assert inbox.errors == {
        "reason": f"{'x' * 21!r} is too long",
        "replicas": "0 is less than the minimum of 1",
        "ports": "ports[1]: 'http' is not of type 'integer'",
    }
    assert isinstance(inbox.last_error, InvalidResponse)
    assert row_state(db, inquiry_id) == before


def test_a_json_field_that_is_not_json(db: attune_nb.Database, world: dict[str, int]) -> None:
    schema = {"spec": {"type": "object", "required": True}}
    inquiry_id = inquiry(db, world["execution"], schema=schema)

    inbox = InquiryInbox(db)
    assert isinstance(inbox.inputs["spec"].control, w.Textarea)
    fill(inbox, spec="{not json")
    inbox.submit_button.click()
    assert inbox.errors["spec"].startswith("not valid JSON")
    assert db.inquiries.get(inquiry_id).status == "pending"
    fill(inbox, spec='{"size": 3}')
    inbox.submit_button.click()
    assert db.inquiries.get(inquiry_id).response == {"spec": {"size": 3}}


def test_a_timed_out_inquiry_is_refused_and_the_inbox_refreshes(
    db: attune_nb.Database, world: dict[str, int]
) -> None:
    # Timed out on the database's clock; shown against a clock from before that.
    expired = datetime.now(UTC) - timedelta(minutes=5)
    inquiry_id = inquiry(db, world["execution"], timeout_at=expired, created=expired - timedelta(1))
    shown_at = expired - timedelta(hours=2)
    inbox = InquiryInbox(db, now=shown_at)
    assert inbox.rows()[0]["time left"] == "2h 0m"
    before = row_state(db, inquiry_id)
    inbox.option_buttons["approve"].click()
    assert isinstance(inbox.last_error, InquiryClosed)
    assert inbox.last_error.inquiry_id == inquiry_id
    assert "timed out" in said(inbox)
    assert "cannot be answered" in said(inbox)
    assert "nothing was written. The inbox was refreshed." in said(inbox)
    assert row_state(db, inquiry_id) == before
    # Still pending (nothing swept it), shown as timed out, and no longer offered.
    assert inbox.rows()[0]["time left"] == "timed out"
    assert all(b.disabled for b in inbox.option_buttons.values())
    assert inbox.submit_button.disabled
    assert "timed out" in inbox.notice.value


def test_answered_meanwhile_by_another_connection(
    db: attune_nb.Database, db_url: str, world: dict[str, int]
) -> None:
    inquiry_id = inquiry(db, world["execution"])
    inbox = InquiryInbox(db, responder=world["alice"])
    other = attune_nb.connect(db_url)
    try:
        other.inquiries.respond(inquiry_id, option="reject", responder=world["bob"])
    finally:
        other.close()
    fill(inbox, approved=True, env="prod")
    inbox.submit_button.click()
    assert isinstance(inbox.last_error, InquiryClosed)
    assert inbox.last_error.status == "responded"
    assert "it is responded" in said(inbox)
    assert "refreshed" in said(inbox)
    assert inbox.rows() == [] and inbox.selected is None
    answered = db.inquiries.get(inquiry_id)
    assert (answered.response, answered.responded_by) == (OPTIONS[1]["response"], world["bob"])


def test_only_the_assignee_may_answer(db: attune_nb.Database, world: dict[str, int]) -> None:
    inquiry_id = inquiry(db, world["execution"], assigned_to=world["alice"])
    before = row_state(db, inquiry_id)
    bobs = InquiryInbox(db, responder=world["bob"])
    assert f"Only its assignee (identity {world['alice']})" in bobs.notice.value
    bobs.option_buttons["approve"].click()
    assert isinstance(bobs.last_error, InvalidResponse)
    assert "only the assignee" in said(bobs)
    assert bobs.errors == {}
    assert row_state(db, inquiry_id) == before
    nobody = InquiryInbox(db)
    nobody.option_buttons["approve"].click()
    assert "not nobody" in said(nobody)
    assert row_state(db, inquiry_id) == before
    alices = InquiryInbox(db, responder=world["alice"])
    assert alices.notice.value == ""
    alices.option_buttons["approve"].click()
    assert alices.last_error is None
    assert db.inquiries.get(inquiry_id).responded_by == world["alice"]


def test_the_secret_shows_only_in_its_password_input(
    db: attune_nb.Database, world: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="attune_nb")
    inquiry_id = inquiry(db, world["execution"])
    inbox = InquiryInbox(db, responder=world["alice"])
    password = inbox.inputs["pin"].control
    assert isinstance(password, w.Password)

    def nowhere_else(*, shown: bool = True) -> None:
        widgets = list(walk(inbox.widget))
        assert (password in widgets) is shown
        for widget in widgets:
            if widget is not password:
                assert SECRET not in state_text(widget), widget
        assert SECRET not in repr(inbox)
        assert SECRET not in str(inbox.last_error) and SECRET not in repr(inbox.last_error)
        assert SECRET not in caplog.text

    # Refused (env missing; the secret itself too short in another try): masked everywhere.
    fill(inbox, approved=True, pin=SECRET)
    inbox.submit_button.click()
    assert password.value == SECRET  # kept for the next try
    assert inbox.errors == {"env": "required but missing"}
    nowhere_else()
    fill(inbox, env="prod", pin="abc")
    inbox.submit_button.click()
    assert inbox.errors == {"pin": "*** is too short"}
    nowhere_else()
    # Answered: stored as given, echoed masked, and the input is emptied.
    fill(inbox, pin=SECRET)
    inbox.submit_button.click()
    assert inbox.last_error is None
    assert db.inquiries.get(inquiry_id).response == {
        "approved": True,
        "env": "prod",
        "replicas": 2,
        "pin": SECRET,
    }
    assert "***" in inbox.echo.value
    assert password.value == ""
    assert inbox.answered is not None and inbox.answered.response["pin"] == "***"
    nowhere_else(shown=False)  # nothing is pending any more: the form is gone
    assert SECRET not in state_text(password)


# -- writes as the database allows -------------------------------------------------------------


@pytest.fixture(scope="module")
def unmanaged_url(pg: ThrowawayServer) -> Iterator[str]:
    """A migrated database made to look like a real Attune one: the attune_nb ledger is gone."""
    url = pg.create_database(name="inbox_unmanaged")
    setup = attune_nb.connect(url)
    with setup.transaction() as conn:
        conn.execute(sa.text("DROP SCHEMA attune_nb CASCADE"))
    setup.close()
    yield url
    pg.drop_database("inbox_unmanaged")


def _unmanaged_inquiry(url: str) -> int:
    setup = attune_nb.connect(url)
    try:
        execution = setup.scalar(
            "INSERT INTO attune.execution (action_ref, status) "
            "VALUES ('deploy.approve', 'running') RETURNING id"
        )
        return inquiry(setup, execution, created=datetime.now(UTC) + timedelta(days=1))
    finally:
        setup.close()


def test_a_real_attune_database_says_so_before_and_refuses_without_allow_writes(
    unmanaged_url: str,
) -> None:
    inquiry_id = _unmanaged_inquiry(unmanaged_url)
    db = attune_nb.connect(unmanaged_url)
    try:
        inbox = InquiryInbox(db)
        assert inbox.selected is not None and inbox.selected.id == inquiry_id
        assert UNHEARD in inbox.notice.value and "allow_writes=True" in inbox.notice.value
        before = row_state(db, inquiry_id)
        inbox.option_buttons["approve"].click()
        assert isinstance(inbox.last_error, WritesNotAllowed)
        assert "allow_writes=True" in said(inbox)
        assert row_state(db, inquiry_id) == before
    finally:
        db.close()


def test_a_real_attune_database_with_allow_writes_answers_and_warns_in_the_widget(
    unmanaged_url: str,
) -> None:
    inquiry_id = _unmanaged_inquiry(unmanaged_url)
    db = attune_nb.connect(unmanaged_url, allow_writes=True)
    try:
        inbox = InquiryInbox(db)
        assert inbox.selected is not None and inbox.selected.id == inquiry_id
        assert UNHEARD in inbox.notice.value and "allow_writes" not in inbox.notice.value
        inbox.option_buttons["approve"].click()
        assert inbox.last_error is None
        assert UNHEARD in said(inbox)
        assert db.inquiries.get(inquiry_id).status == "responded"
    finally:
        db.close()
