"""StatusUpdater against a real database: what it offers, the two-step confirm, the race.

No browser and no mocks: set the controls, ``.click()`` the buttons, then check what
the widget shows and the rows in the database.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.errors import (
    DatabaseOnlyWarning,
    ExecutionNotFound,
    InvalidFilter,
    StaleUpdate,
    WritesNotAllowed,
)
from attune_nb.lifecycle import ALLOWED_TRANSITIONS, ExecutionStatus
from attune_nb.repository.writes import CANCEL_RESULT
from attune_nb.testing import ThrowawayServer
from attune_nb.widgets.status import StatusUpdater, choices_for

S = ExecutionStatus
_names = itertools.count(1)


def row(db: attune_nb.Database, execution_id: int) -> tuple[str, object]:
    e = db.executions.get(execution_id)
    return e.status.value, e.result


def history_rows(db: attune_nb.Database) -> int:
    return int(db.scalar("SELECT count(*) FROM attune.execution_history"))


# -- what is offered --------------------------------------------------------------------


@pytest.mark.parametrize("status", list(S), ids=[s.value for s in S])
def test_choices_are_exactly_the_allowed_moves(status: ExecutionStatus) -> None:
    choices = choices_for(status)
    targets = {c.target for c in choices}
    assert targets <= ALLOWED_TRANSITIONS[status]
    # every allowed move is offered (canceling only as the API's cancel from running)
    assert ALLOWED_TRANSITIONS[status] - targets <= (
        {S.CANCELING} if status is S.RUNNING else set()
    )
    assert len({c.key for c in choices}) == len(choices)


def test_cancel_is_named_as_attunes_api_does_it() -> None:
    running = {c.key: c for c in choices_for("running")}
    assert running["cancel"].target is S.CANCELING and running["cancel"].via == "cancel"
    assert running["abandoned"].verb == "abandon"
    assert running["failed"].verb == "mark failed"
    assert running["completed"].label == "mark completed → completed"
    for queued in ("requested", "scheduling", "scheduled"):
        cancel = choices_for(queued)[0]
        assert (cancel.key, cancel.target, cancel.via) == ("cancel", S.CANCELLED, "cancel")
    assert [c.label for c in choices_for("canceling")] == ["mark cancelled → cancelled"]
    assert choices_for("completed") == []


def test_widget_offers_only_the_allowed_options(db: attune_nb.Database) -> None:
    e = db.executions.create("core.echo", status="running")
    updater = StatusUpdater(db, e.id)
    assert updater.execution is not None and updater.execution.status is S.RUNNING
    labels = [label for label, _key in updater.action.options]
    assert labels[0] == "cancel → canceling"
    assert {c.target for c in updater.choices} == ALLOWED_TRANSITIONS[S.RUNNING]
    assert "running" in updater.current.value and "core.echo" in updater.current.value
    assert "INSERT" in updater.history.value

    done = db.executions.create("core.echo", status="completed")
    updater.load(done.id)
    assert updater.action.options == ()
    assert updater.apply_button.disabled
    assert "terminal" in updater.status_text


def test_load_errors_show_in_the_status_line(db: attune_nb.Database) -> None:
    updater = StatusUpdater(db, 999)
    assert isinstance(updater.last_error, ExecutionNotFound)
    assert "999" in updater.status_line.value
    updater.id_box.value = "forty-two"
    updater.load_button.click()
    assert isinstance(updater.last_error, InvalidFilter)
    assert "forty-two" in updater.status_text


# -- the two steps ----------------------------------------------------------------------


def test_first_click_writes_nothing_then_confirm_writes(db: attune_nb.Database) -> None:
    e = db.executions.create("core.echo", status="running")
    before, writes = row(db, e.id), history_rows(db)
    updater = StatusUpdater(db, e.id)
    updater.action.value = "abandoned"
    updater.reason.value = "worker host lost"
    updater.apply_button.click()

    assert row(db, e.id) == before and history_rows(db) == writes
    assert updater.confirming
    assert [b.description for b in updater.buttons.children] == ["Confirm", "Back"]
    assert "running → abandoned" in updater.plan_view.value
    assert "worker host lost" in updater.plan_view.value
    assert updater.action.disabled and updater.id_box.disabled
    assert updater.warning_view.value == ""  # attune_nb's own database: no warning

    updater.confirm_button.click()
    assert row(db, e.id) == ("abandoned", {"reason": "worker host lost"})
    assert not updater.confirming
    assert [b.description for b in updater.buttons.children] == ["Apply"]
    assert "Written" in updater.status_text and updater.last_error is None
    assert "abandoned" in updater.current.value
    assert updater.action.options == ()  # abandoned is terminal
    assert "abandoned" in updater.history.value
    assert list(updater.history_frame["new_status"]) == ["running", "abandoned"]


def test_json_result_is_written_as_json(db: attune_nb.Database) -> None:
    e = db.executions.create("core.echo", status="running")
    updater = StatusUpdater(db, e.id)
    updater.action.value = "failed"
    updater.reason.value = '{"error": "disk full", "code": 28}'
    updater.apply_button.click()
    updater.confirm_button.click()
    assert row(db, e.id) == ("failed", {"error": "disk full", "code": 28})


def test_back_writes_nothing(db: attune_nb.Database) -> None:
    e = db.executions.create("core.echo", status="scheduled")
    writes = history_rows(db)
    updater = StatusUpdater(db, e.id)
    updater.action.value = "abandoned"
    updater.apply_button.click()
    updater.back_button.click()
    assert not updater.confirming
    assert [b.description for b in updater.buttons.children] == ["Apply"]
    assert row(db, e.id) == ("scheduled", None) and history_rows(db) == writes
    assert "nothing was written" in updater.status_text
    updater.confirm_button.click()  # a stray click after Back: still nothing
    assert row(db, e.id) == ("scheduled", None) and history_rows(db) == writes


# -- the race ---------------------------------------------------------------------------


@pytest.mark.parametrize("move", ["abandoned", "cancel"])
def test_a_change_made_meanwhile_is_not_overwritten(
    db: attune_nb.Database, db_url: str, move: str
) -> None:
    e = db.executions.create("core.echo", status="running")
    updater = StatusUpdater(db, e.id)
    updater.action.value = move
    updater.apply_button.click()
    assert updater.confirming

    other = attune_nb.connect(db_url)  # another operator, another connection
    try:
        other.executions.transition(e.id, "completed", expected="running", result={"ok": 1})
    finally:
        other.close()

    updater.confirm_button.click()
    assert row(db, e.id) == ("completed", {"ok": 1})  # nothing overwritten
    assert "changed meanwhile from running to completed" in updater.status_text
    assert "completed" in updater.current.value  # refreshed
    assert updater.execution is not None and updater.execution.status is S.COMPLETED
    assert updater.action.options == ()
    assert not updater.confirming
    if move == "abandoned":
        assert isinstance(updater.last_error, StaleUpdate)
        assert (updater.last_error.expected, updater.last_error.actual) == (
            "running",
            "completed",
        )


def test_a_change_before_apply_is_caught_at_apply(db: attune_nb.Database, db_url: str) -> None:
    e = db.executions.create("core.echo", status="scheduled")
    updater = StatusUpdater(db, e.id)
    db.executions.transition(e.id, "running", expected="scheduled")
    updater.action.value = "cancel"
    updater.apply_button.click()
    assert not updater.confirming
    assert "changed meanwhile from scheduled to running" in updater.status_text
    assert updater.action.options[0] == ("cancel → canceling", "cancel")


# -- cancel as Attune's API -------------------------------------------------------------


def test_cancel_of_a_running_execution_is_canceling(db: attune_nb.Database) -> None:
    e = db.executions.create("core.echo", status="running")
    updater = StatusUpdater(db, e.id)
    assert updater.action.value == "cancel"
    assert updater.reason.disabled
    updater.apply_button.click()
    assert row(db, e.id) == ("running", None)
    assert "canceling" in updater.plan_view.value
    updater.confirm_button.click()
    assert row(db, e.id) == ("canceling", None)
    assert [c.label for c in updater.choices] == ["mark cancelled → cancelled"]
    assert "running → canceling" in updater.status_text


def test_cancel_of_a_queued_workflow_cancels_its_tasks_with_attunes_result(
    db: attune_nb.Database,
) -> None:
    parent = db.executions.create("ops.workflow", status="scheduled")
    task = db.executions.create("core.echo", status="requested", parent=parent.id)
    updater = StatusUpdater(db, parent.id)
    updater.apply_button.click()
    assert str(task.id) in updater.plan_view.value  # the preview shows the task
    assert row(db, task.id) == ("requested", None)
    updater.confirm_button.click()
    assert row(db, parent.id) == ("cancelled", CANCEL_RESULT)
    assert row(db, task.id) == ("cancelled", CANCEL_RESULT)
    assert "1 workflow tasks" in updater.status_text


# -- a database attune_nb did not create ------------------------------------------------


@pytest.fixture
def unmanaged_url(pg: ThrowawayServer) -> Iterator[str]:
    """A migrated database without attune_nb's ledger: it looks like a real Attune one."""
    name = f"widgets_status_unmanaged_{next(_names)}"
    url = pg.create_database(name=name)
    setup = attune_nb.connect(url)
    with setup.transaction() as conn:
        conn.execute(sa.text("DROP SCHEMA attune_nb CASCADE"))
        conn.execute(
            sa.text(
                "INSERT INTO attune.execution (action_ref, status) VALUES ('core.echo', 'running')"
            )
        )
    setup.close()
    yield url
    pg.drop_database(name)


def test_database_only_warning_shows_before_confirming(unmanaged_url: str) -> None:
    db = attune_nb.connect(unmanaged_url, allow_writes=True)
    try:
        assert db.managed is False
        execution_id = int(db.scalar("SELECT max(id) FROM attune.execution"))
        updater = StatusUpdater(db, execution_id)
        updater.action.value = "cancel"
        updater.apply_button.click()
        assert row(db, execution_id) == ("running", None)
        assert updater.confirming
        assert "DatabaseOnlyWarning" in updater.warning_view.value
        assert updater.plan is not None and updater.plan.warning is not None
        assert "the worker is not asked to stop" in updater.plan.warning
        with warnings.catch_warnings():
            warnings.simplefilter("default", DatabaseOnlyWarning)  # as in a notebook
            updater.confirm_button.click()  # the warning was shown: confirming writes
        assert row(db, execution_id) == ("canceling", None)
        assert updater.warnings and "cancel writes to the database only" in updater.warnings[0]
        assert "Written" in updater.status_text
    finally:
        db.close()


def test_database_only_warning_as_an_error_stops_the_write(unmanaged_url: str) -> None:
    db = attune_nb.connect(unmanaged_url, allow_writes=True)
    try:
        execution_id = int(db.scalar("SELECT max(id) FROM attune.execution"))
        updater = StatusUpdater(db, execution_id)
        updater.action.value = "abandoned"
        updater.apply_button.click()
        assert "DatabaseOnlyWarning" in updater.warning_view.value
        with warnings.catch_warnings():
            warnings.simplefilter("error", DatabaseOnlyWarning)
            updater.confirm_button.click()
        assert row(db, execution_id) == ("running", None)
        assert updater.status_text.startswith("Not written: transition writes to the database")
        assert not updater.confirming
    finally:
        db.close()


def test_without_allow_writes_the_refusal_shows_in_the_status_line(unmanaged_url: str) -> None:
    db = attune_nb.connect(unmanaged_url)
    try:
        execution_id = int(db.scalar("SELECT max(id) FROM attune.execution"))
        updater = StatusUpdater(db, execution_id)
        updater.action.value = "abandoned"
        updater.apply_button.click()
        assert isinstance(updater.last_error, WritesNotAllowed)
        assert "allow_writes=True" in updater.status_text
        assert "WritesNotAllowed" in updater.status_line.value
        assert not updater.confirming
        assert row(db, execution_id) == ("running", None)
    finally:
        db.close()
