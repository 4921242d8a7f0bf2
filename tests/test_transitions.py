"""Status changes through ExecutionRepository: transition, bulk_transition and update.

Everything runs on a real PostgreSQL (a database per test). The history assertions
read ``execution_history``, which the database's own trigger writes, so they check
what really reached the table, not what the repository says it did.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import attune_nb
from attune_nb import (
    DatabaseOnlyWarning,
    ExecutionNotFound,
    ExecutionStatus,
    InvalidFilter,
    InvalidStatus,
    InvalidTransition,
    ReadOnlyError,
    StaleUpdate,
)
from attune_nb.frames import STATUS_DTYPE
from attune_nb.lifecycle import ALLOWED_TRANSITIONS, TERMINAL
from attune_nb.testing import ThrowawayServer

BULK_COLUMNS = ["id", "action_ref", "current", "to", "allowed", "reason", "applied"]


# -- helpers -----------------------------------------------------------------------------


def history(db: attune_nb.Database, execution_id: int) -> list[sa.Row]:
    """The audit rows of one execution, oldest first (the table is partitioned: bounded)."""
    with db.transaction() as conn:
        return list(
            conn.execute(
                sa.text("""
            SELECT time, operation, changed_fields, old_values, new_values
            FROM attune.execution_history
            WHERE entity_id = :id AND time >= now() - interval '1 day'
            ORDER BY time, operation <> 'INSERT',
                     array_position(enum_range(NULL::attune.execution_status_enum)::text[],
                                    new_values->>'status')"""),
                {"id": execution_id},
            )
        )


def status_moves(db: attune_nb.Database, execution_id: int) -> list[tuple[str | None, str]]:
    """(old, new) for the INSERT and every status change of an execution."""
    moves: list[tuple[str | None, str]] = []
    for h in history(db, execution_id):
        if h.operation == "INSERT":
            moves.append((None, h.new_values["status"]))
        elif "status" in h.changed_fields:
            moves.append((h.old_values["status"], h.new_values["status"]))
    return moves


def snapshot(db: attune_nb.Database, execution_id: int) -> tuple[Any, ...]:
    """What a refused write must leave alone: status, updated, started_at, result, history."""
    with db.transaction() as conn:
        return tuple(
            conn.execute(
                sa.text("""
            SELECT e.status::text, e.updated, e.started_at, e.result,
                   (SELECT count(*) FROM attune.execution_history h
                    WHERE h.entity_id = e.id AND h.time >= now() - interval '1 day')
            FROM attune.execution e WHERE e.id = :id"""),
                {"id": execution_id},
            ).one()
        )


def table_state(db: attune_nb.Database) -> list[tuple[Any, ...]]:
    """Every execution's id, status, updated and started_at, plus the history size."""
    with db.transaction() as conn:
        rows = [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT id, status::text, updated, started_at, result FROM attune.execution "
                    "ORDER BY id"
                )
            )
        ]
        rows.append(
            (conn.execute(sa.text("SELECT count(*) FROM attune.execution_history")).scalar(),)
        )
    return rows


@pytest.fixture(scope="module")
def shared_url(pg: ThrowawayServer) -> Iterator[str]:
    """One migrated database for the tests that only look at rows they made themselves."""
    url = pg.create_database(name="transitions_shared")
    yield url
    pg.drop_database("transitions_shared")


@pytest.fixture(scope="module")
def shared(shared_url: str) -> Iterator[attune_nb.Database]:
    database = attune_nb.connect(shared_url)
    yield database
    database.close()


def make(
    db: attune_nb.Database, status: str, *, action_ref: str = "core.echo", **kwargs: Any
) -> attune_nb.Execution:
    """An execution in ``status``, inserted directly (creation is not what is tested)."""
    return db.executions.create(action_ref, status=status, **kwargs)


# -- transition: the happy paths ------------------------------------------------------------


def test_full_lifecycle(shared: attune_nb.Database) -> None:
    created = make(shared, "requested")
    assert created.status is ExecutionStatus.REQUESTED and created.started_at is None
    path = ["scheduling", "scheduled", "running", "completed"]
    seen = []
    for to in path:
        moved = shared.executions.transition(created.id, to)
        assert moved.id == created.id
        assert moved.status is ExecutionStatus(to)
        seen.append(moved)
    assert seen[0].started_at is None and seen[1].started_at is None
    assert seen[2].started_at is not None
    assert seen[3].started_at == seen[2].started_at
    assert seen[3].is_terminal
    assert shared.executions.get(created.id) == seen[3]
    assert status_moves(shared, created.id) == [
        (None, "requested"),
        ("requested", "scheduling"),
        ("scheduling", "scheduled"),
        ("scheduled", "running"),
        ("running", "completed"),
    ]
    # started_at is the start of the transaction that entered running
    running_row = [
        h
        for h in history(shared, created.id)
        if h.operation == "UPDATE" and h.new_values.get("status") == "running"
    ]
    assert len(running_row) == 1
    assert "started_at" in running_row[0].changed_fields
    assert running_row[0].time == seen[2].started_at


def test_transition_accepts_enum_members_and_any_case(shared: attune_nb.Database) -> None:
    e = make(shared, "requested")
    assert (
        shared.executions.transition(
            e.id, ExecutionStatus.SCHEDULING, expected=ExecutionStatus.REQUESTED
        ).status
        == "scheduling"
    )
    assert (
        shared.executions.transition(e.id, "Scheduled", expected="SCHEDULING").status == "scheduled"
    )


def test_failed_with_result_in_the_same_statement(shared: attune_nb.Database) -> None:
    e = make(shared, "running", started_at=datetime(2026, 1, 1, tzinfo=UTC))
    result = {"error": "exit code 2", "failed_by": "operator", "previous_status": "running"}
    failed = shared.executions.transition(e.id, "failed", expected="running", result=result)
    assert failed.status is ExecutionStatus.FAILED
    assert failed.result == result
    assert shared.executions.get(e.id).result == result
    updates = [h for h in history(shared, e.id) if h.operation == "UPDATE"]
    # one statement: one history row naming both fields
    assert len(updates) == 1
    assert set(updates[0].changed_fields) == {"status", "result"}
    assert updates[0].new_values["status"] == "failed"
    assert set(updates[0].new_values["result"]) == {"digest", "size", "type"}  # as upstream


def test_result_none_clears_the_result(shared: attune_nb.Database) -> None:
    e = make(shared, "running", result={"partial": True})
    done = shared.executions.transition(e.id, "completed", result=None)
    assert done.result is None
    assert shared.scalar("SELECT result IS NULL FROM attune.execution WHERE id = :id", id=e.id)


def test_without_result_the_result_is_kept(shared: attune_nb.Database) -> None:
    e = make(shared, "running", result={"partial": True})
    assert shared.executions.transition(e.id, "completed").result == {"partial": True}


def test_entering_running_keeps_a_started_at_given_at_create(shared: attune_nb.Database) -> None:
    started = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    e = make(shared, "scheduled", started_at=started)
    running = shared.executions.transition(e.id, "running")
    assert running.started_at == started
    updates = [h for h in history(shared, e.id) if h.operation == "UPDATE"]
    assert [list(h.changed_fields) for h in updates] == [["status"]]


def test_entering_running_from_scheduling_sets_started_at(shared: attune_nb.Database) -> None:
    # a workflow parent goes scheduling -> running with no worker
    e = make(shared, "scheduling")
    running = shared.executions.transition(e.id, "running", expected="scheduling")
    assert running.started_at is not None
    assert running.started_at == running.updated


# -- transition: refusals ---------------------------------------------------------------------


def test_expected_mismatch_is_stale_and_changes_nothing(shared: attune_nb.Database) -> None:
    e = make(shared, "running")
    before = snapshot(shared, e.id)
    with pytest.raises(StaleUpdate) as info:
        shared.executions.transition(
            e.id, "cancelled", expected="requested", result={"cancelled_by": "me"}
        )
    err = info.value
    assert (err.execution_id, err.expected, err.actual) == (e.id, "requested", "running")
    assert str(e.id) in str(err) and "nothing was written" in str(err)
    assert snapshot(shared, e.id) == before


def test_expected_that_forbids_the_move_is_invalid_before_any_read(
    shared: attune_nb.Database,
) -> None:
    e = make(shared, "running")
    before = snapshot(shared, e.id)
    with pytest.raises(InvalidTransition) as info:
        shared.executions.transition(e.id, "completed", expected="requested")
    assert (info.value.current, info.value.requested) == ("requested", "completed")
    assert info.value.allowed_statuses == ["scheduling", "cancelled", "abandoned"]
    assert info.value.allowed == "scheduling, cancelled, abandoned"
    assert info.value.execution_id == e.id and f"execution {e.id}" in str(info.value)
    assert snapshot(shared, e.id) == before


@pytest.mark.parametrize(
    ("current", "to"),
    [
        ("completed", "running"),
        ("requested", "running"),
        ("canceling", "completed"),
        ("running", "running"),
        ("cancelled", "cancelled"),
    ],
    ids=["terminal", "skip-scheduling", "canceling-only-cancelled", "same-active", "same-terminal"],
)
def test_forbidden_move_raises_and_changes_nothing(
    shared: attune_nb.Database, current: str, to: str
) -> None:
    e = make(shared, current)
    before = snapshot(shared, e.id)
    with pytest.raises(InvalidTransition) as info:
        shared.executions.transition(e.id, to)
    assert (info.value.current, info.value.requested) == (current, to)
    assert info.value.allowed_statuses == [
        s.value for s in ExecutionStatus if s in ALLOWED_TRANSITIONS[ExecutionStatus(current)]
    ]
    assert info.value.execution_id == e.id
    assert snapshot(shared, e.id) == before


@pytest.mark.parametrize("expected", [None, "running"], ids=["read", "expected"])
def test_unknown_id_is_not_found(shared: attune_nb.Database, expected: str | None) -> None:
    with pytest.raises(ExecutionNotFound) as info:
        shared.executions.transition(987654, "completed", expected=expected)
    assert info.value.execution_id == 987654


@pytest.mark.parametrize(
    ("to", "expected"),
    [("bogus", None), ("cancelling", None), ("completed", "bogus"), ("", None)],
    ids=["bogus-target", "two-l-canceling", "bogus-expected", "empty"],
)
def test_invalid_status(shared: attune_nb.Database, to: str, expected: str | None) -> None:
    e = make(shared, "running")
    before = snapshot(shared, e.id)
    with pytest.raises(InvalidStatus) as info:
        shared.executions.transition(e.id, to, expected=expected)
    assert info.value.value in (to, expected)
    assert snapshot(shared, e.id) == before


@pytest.mark.parametrize("bad_id", ["1", 1.0, True, None], ids=["str", "float", "bool", "none"])
def test_bad_id_type_is_invalid_filter(shared: attune_nb.Database, bad_id: Any) -> None:
    with pytest.raises(InvalidFilter) as info:
        shared.executions.transition(bad_id, "completed")
    assert info.value.name == "id"


# -- transition: a real write race ---------------------------------------------------------


def _race(db_url: str, execution_id: int, calls: list[dict[str, Any]]) -> list[Any]:
    """Run one transition per entry of ``calls`` at once, each on its own connection."""
    dbs = [attune_nb.connect(db_url) for _ in calls]
    for d in dbs:  # warm each pool so the barrier releases writers, not connects
        d.scalar("SELECT 1")
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = dbs[i].executions.transition(
                execution_id, calls[i]["to"], expected=calls[i].get("expected")
            )
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert not any(th.is_alive() for th in threads)
    finally:
        for d in dbs:
            d.close()
    return outcomes


def test_race_with_expected_has_exactly_one_winner(
    shared: attune_nb.Database, shared_url: str
) -> None:
    e = make(shared, "running")
    outcomes = _race(shared_url, e.id, [{"to": "completed", "expected": "running"}] * 8)
    winners = [o for o in outcomes if isinstance(o, attune_nb.Execution)]
    losers = [o for o in outcomes if not isinstance(o, attune_nb.Execution)]
    assert len(winners) == 1 and winners[0].status is ExecutionStatus.COMPLETED
    assert len(losers) == 7
    for lost in losers:
        assert isinstance(lost, StaleUpdate), repr(lost)
        assert (lost.expected, lost.actual) == ("running", "completed")
    assert status_moves(shared, e.id) == [(None, "running"), ("running", "completed")]


def test_race_with_different_targets_has_exactly_one_winner(
    shared: attune_nb.Database, shared_url: str
) -> None:
    e = make(shared, "running")
    targets = [
        "completed",
        "failed",
        "timeout",
        "canceling",
        "cancelled",
        "abandoned",
        "completed",
        "failed",
    ]
    outcomes = _race(shared_url, e.id, [{"to": to} for to in targets])
    winners = [o for o in outcomes if isinstance(o, attune_nb.Execution)]
    assert len(winners) == 1
    final = winners[0].status.value
    for outcome in outcomes:
        if outcome is winners[0]:
            continue
        # read 'running' before the winner committed: compare-and-set lost;
        # read after: the winner's status forbids the move
        assert isinstance(outcome, StaleUpdate | InvalidTransition), repr(outcome)
        if isinstance(outcome, StaleUpdate):
            assert (outcome.expected, outcome.actual) == ("running", final)
        else:
            assert outcome.current == final
    assert status_moves(shared, e.id) == [(None, "running"), ("running", final)]
    assert shared.executions.get(e.id).status.value == final


# -- read-only connections ----------------------------------------------------------------


@pytest.fixture(scope="module")
def readonly(shared_url: str) -> Iterator[attune_nb.Database]:
    ro = attune_nb.connect(shared_url, readonly=True)
    yield ro
    ro.close()


@pytest.mark.parametrize(
    "write",
    [
        "transition",
        "transition_expected",
        "create",
        "create_parent",
        "update",
        "delete",
        "bulk_apply",
    ],
)
def test_readonly_refuses_writes(
    shared: attune_nb.Database, readonly: attune_nb.Database, write: str
) -> None:
    e = make(shared, "running")
    before = table_state(shared)
    calls = {
        "transition": lambda: readonly.executions.transition(e.id, "completed"),
        "transition_expected": lambda: readonly.executions.transition(
            e.id, "cancelled", expected="running"
        ),
        "create": lambda: readonly.executions.create("core.echo"),
        "create_parent": lambda: readonly.executions.create("core.echo", parent=e.id),
        "update": lambda: readonly.executions.update(e.id, result={"x": 1}),
        "delete": lambda: readonly.executions.delete(e.id),
        "bulk_apply": lambda: readonly.executions.bulk_transition(
            "cancelled", ids=[e.id], dry_run=False
        ),
    }
    with pytest.raises(ReadOnlyError) as info:
        calls[write]()
    assert info.value.statement
    assert "read-only" in str(info.value)
    assert table_state(shared) == before


def test_readonly_can_preview_and_read(
    shared: attune_nb.Database, readonly: attune_nb.Database
) -> None:
    e = make(shared, "running")
    preview = readonly.executions.bulk_transition("cancelled", ids=[e.id])
    assert preview["allowed"].tolist() == [True]
    assert readonly.executions.get(e.id).status is ExecutionStatus.RUNNING


# -- bulk_transition -------------------------------------------------------------------------


@pytest.fixture
def mixed(db: attune_nb.Database) -> dict[str, int]:
    """One bulk.* execution per status, plus an unrelated one (other.noop, running)."""
    ids = {s.value: make(db, s.value, action_ref=f"bulk.{s.value}").id for s in ExecutionStatus}
    ids["other"] = make(db, "running", action_ref="other.noop").id
    return ids


def _check_bulk_layout(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == BULK_COLUMNS
    assert str(frame["id"].dtype) == "Int64"
    assert str(frame["action_ref"].dtype) == "string"
    assert frame["current"].dtype == STATUS_DTYPE
    assert frame["to"].dtype == STATUS_DTYPE
    assert str(frame["allowed"].dtype) == "boolean"
    assert str(frame["reason"].dtype) == "string"
    assert str(frame["applied"].dtype) == "boolean"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"status": None}, {"ids": None, "dry_run": False}],
    ids=["nothing", "only-none-filters", "apply-nothing"],
)
def test_bulk_requires_ids_or_a_filter(
    db: attune_nb.Database, mixed: dict[str, int], kwargs: dict[str, Any]
) -> None:
    before = table_state(db)
    with pytest.raises(InvalidFilter) as info:
        db.executions.bulk_transition("abandoned", **kwargs)
    assert info.value.name == "ids"
    assert table_state(db) == before


def test_bulk_filter_that_selects_everything_is_refused(
    db: attune_nb.Database, mixed: dict[str, int]
) -> None:
    with pytest.raises(InvalidFilter):
        db.executions.bulk_transition("abandoned", top_level_only=False)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"dry_run": "no"}, "dry_run"),
        ({"dry_run": 0}, "dry_run"),
        ({"ids": ["1"]}, "ids"),
        ({"ids": [True]}, "ids"),
        ({"colour": "red"}, "colour"),
    ],
    ids=["dry-run-str", "dry-run-int", "id-str", "id-bool", "unknown-filter"],
)
def test_bulk_refuses_bad_options(
    shared: attune_nb.Database, kwargs: dict[str, Any], name: str
) -> None:
    e = make(shared, "running")
    before = snapshot(shared, e.id)
    with pytest.raises(InvalidFilter) as info:
        shared.executions.bulk_transition("cancelled", **{"ids": [e.id], **kwargs})
    assert info.value.name == name
    assert snapshot(shared, e.id) == before


def test_bulk_refuses_a_bad_target(shared: attune_nb.Database) -> None:
    e = make(shared, "running")
    with pytest.raises(InvalidStatus):
        shared.executions.bulk_transition("cancelling", ids=[e.id])


def test_bulk_preview_is_the_default_and_changes_nothing(
    db: attune_nb.Database, mixed: dict[str, int]
) -> None:
    before = table_state(db)
    preview = db.executions.bulk_transition("cancelled", action_ref="bulk.*")
    assert table_state(db) == before
    _check_bulk_layout(preview)
    assert preview["id"].tolist() == sorted(mixed[s.value] for s in ExecutionStatus)
    by_status = preview.set_index(preview["current"].astype(str))
    assert set(by_status.index) == {s.value for s in ExecutionStatus}
    assert (preview["to"] == "cancelled").all()
    assert not preview["applied"].any()
    allowed = {s for s in by_status.index if by_status.loc[s, "allowed"]}
    assert allowed == {"requested", "scheduling", "scheduled", "running", "canceling"}
    reasons = by_status["reason"].to_dict()
    assert reasons["running"] == "allowed"
    assert reasons["completed"] == "completed is terminal"
    assert reasons["abandoned"] == "abandoned is terminal"
    assert reasons["cancelled"] == "already cancelled"
    assert by_status.loc["requested", "action_ref"] == "bulk.requested"


def test_bulk_preview_explains_what_is_allowed_instead(
    db: attune_nb.Database, mixed: dict[str, int]
) -> None:
    preview = db.executions.bulk_transition("completed", ids=[mixed["requested"], mixed["running"]])
    assert preview["reason"].tolist() == [
        "requested may only become scheduling, cancelled, abandoned",
        "allowed",
    ]


def test_bulk_empty_selection_has_the_layout(db: attune_nb.Database, mixed: dict[str, int]) -> None:
    for frame in (
        db.executions.bulk_transition("cancelled", action_ref="nothing.*"),
        db.executions.bulk_transition("cancelled", ids=[], dry_run=False),
    ):
        assert frame.empty
        _check_bulk_layout(frame)


def test_bulk_apply_changes_allowed_rows_in_one_transaction(
    db: attune_nb.Database, mixed: dict[str, int]
) -> None:
    before = {r[0]: r for r in table_state(db)[:-1]}
    result = {"cancelled_by": "operator"}
    applied = db.executions.bulk_transition(
        "cancelled", action_ref="bulk.*", dry_run=False, result=result
    )
    _check_bulk_layout(applied)
    changed = {"requested", "scheduling", "scheduled", "running", "canceling"}
    rows = applied.set_index(applied["current"].astype(str))
    for status, exec_id in mixed.items():
        now = db.executions.get(exec_id)
        if status in changed:
            assert rows.loc[status, "applied"] and rows.loc[status, "reason"] == "applied"
            assert now.status is ExecutionStatus.CANCELLED
            assert now.result == result
            assert status_moves(db, exec_id)[-1] == (status, "cancelled")
        else:  # refused, or not selected (other): untouched
            if status != "other":
                assert not rows.loc[status, "applied"]
                assert rows.loc[status, "reason"] != "applied"
            assert (now.status.value, now.updated, now.result) == (
                before[exec_id][1],
                before[exec_id][2],
                before[exec_id][4],
            )
    # one transaction: every change carries the same transaction time
    with db.transaction() as conn:
        times = conn.execute(
            sa.text(
                "SELECT DISTINCT time FROM attune.execution_history WHERE operation = 'UPDATE' "
                "AND time >= now() - interval '1 day'"
            )
        ).all()
    assert len(times) == 1


def test_bulk_apply_to_running_sets_started_at_once(shared: attune_nb.Database) -> None:
    given = datetime(2026, 1, 5, tzinfo=UTC)
    a = make(shared, "scheduled", action_ref="bulk.a")
    b = make(shared, "scheduled", action_ref="bulk.b", started_at=given)
    frame = shared.executions.bulk_transition("running", ids=[a.id, b.id], dry_run=False)
    assert frame["applied"].tolist() == [True, True]
    a_now, b_now = shared.executions.get(a.id), shared.executions.get(b.id)
    assert a_now.started_at is not None and a_now.started_at == a_now.updated
    assert b_now.started_at == given
    assert a_now.result is None and b_now.result is None


def test_bulk_apply_twice_second_finds_nothing_to_do(
    db: attune_nb.Database, mixed: dict[str, int]
) -> None:
    first = db.executions.bulk_transition(
        "abandoned", status=["requested", "scheduled"], dry_run=False
    )
    assert first["applied"].tolist() == [True, True]  # bulk.requested, bulk.scheduled
    state = table_state(db)
    second = db.executions.bulk_transition("abandoned", ids=first["id"].tolist(), dry_run=False)
    assert not second["applied"].any()
    assert not second["allowed"].any()
    assert second["reason"].tolist() == ["already abandoned"] * len(second)
    assert table_state(db) == state


@pytest.mark.parametrize("how", ["apply-preview", "dry-run-false"])
def test_bulk_skips_rows_changed_between_preview_and_apply(
    db: attune_nb.Database, db_url: str, how: str
) -> None:
    """A second connection changes a row (uncommitted) after the preview was read.

    The preview sees the committed 'running'; the apply then waits on the row lock,
    and once the other transaction commits it finds the row 'completed' and must skip
    it. The lock wait is observed in pg_stat_activity, so the interleaving is certain,
    not timed.
    """
    stays = make(db, "running", action_ref="bulk.stays")
    raced = make(db, "running", action_ref="bulk.raced")
    preview = db.executions.bulk_transition("cancelled", ids=[stays.id, raced.id])
    other = attune_nb.connect(db_url)
    conn = other.engine.connect()
    outcome: dict[str, Any] = {}
    try:
        tx = conn.begin()
        conn.execute(
            sa.text("UPDATE attune.execution SET status = 'completed' WHERE id = :id"),
            {"id": raced.id},
        )
        waiter = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()

        def bulk() -> None:
            try:
                outcome["frame"] = (
                    db.executions.apply(preview)
                    if how == "apply-preview"
                    else db.executions.bulk_transition(
                        "cancelled", ids=[stays.id, raced.id], dry_run=False
                    )
                )
            except Exception as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=bulk)
        worker.start()
        deadline = time.monotonic() + 30
        while not db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND :pid = ANY(pg_blocking_pids(pid))",
            pid=waiter,
        ):
            assert worker.is_alive(), outcome
            assert time.monotonic() < deadline, "the bulk apply never waited on the lock"
            time.sleep(0.02)
        tx.commit()
        worker.join(timeout=30)
        assert not worker.is_alive()
    finally:
        conn.close()
        other.close()
    assert "error" not in outcome, outcome.get("error")
    frame = outcome["frame"].set_index("id")
    assert frame.loc[stays.id, "applied"]
    assert frame.loc[stays.id, "reason"] == "applied"
    assert frame.loc[raced.id, "current"] == "running"  # what the preview saw
    assert frame.loc[raced.id, "allowed"]
    assert not frame.loc[raced.id, "applied"]
    assert frame.loc[raced.id, "reason"] == (
        "skipped: changed meanwhile (from running to completed)"
    )
    assert db.executions.get(raced.id).status is ExecutionStatus.COMPLETED
    assert status_moves(db, raced.id) == [(None, "running"), ("running", "completed")]
    assert db.executions.get(stays.id).status is ExecutionStatus.CANCELLED


# -- apply: exactly the preview -----------------------------------------------------------


def test_apply_touches_nothing_outside_the_preview(db: attune_nb.Database) -> None:
    """The probe: an execution created after the preview matches the filter, stays as it is."""
    seen = make(db, "scheduled", action_ref="bulk.seen")
    preview = db.executions.bulk_transition("abandoned", action_ref="bulk.*")
    unseen = make(db, "scheduled", action_ref="bulk.unseen")
    before = snapshot(db, unseen.id)
    done = db.executions.apply(preview)
    assert done["id"].tolist() == [seen.id]
    assert done["applied"].tolist() == [True]
    assert db.executions.get(seen.id).status is ExecutionStatus.ABANDONED
    assert snapshot(db, unseen.id) == before


def test_apply_reports_every_previewed_row_once(
    db: attune_nb.Database, mixed: dict[str, int]
) -> None:
    """Moved on, gone, not allowed and applied rows all come back, in the preview's order."""
    preview = db.executions.bulk_transition("cancelled", action_ref="bulk.*")
    db.executions.transition(mixed["scheduled"], "running")  # moved on
    db.executions.delete(mixed["scheduling"])  # gone
    done = db.executions.apply(preview, result={"cancelled_by": "runbook"})
    _check_bulk_layout(done)
    assert done["id"].tolist() == preview["id"].tolist()
    reasons = dict(zip(done["current"].astype(str), done["reason"], strict=True))
    assert reasons["scheduled"] == "skipped: changed meanwhile (from scheduled to running)"
    assert reasons["scheduling"] == "skipped: gone (deleted since the preview)"
    assert reasons["completed"] == "completed is terminal"
    assert reasons["requested"] == reasons["running"] == reasons["canceling"] == "applied"
    assert done["applied"].sum() == 3
    assert db.executions.get(mixed["running"]).result == {"cancelled_by": "runbook"}
    assert db.executions.get(mixed["scheduled"]).status is ExecutionStatus.RUNNING


def test_apply_part_of_a_preview_keeps_its_index(
    db: attune_nb.Database, mixed: dict[str, int]
) -> None:
    preview = db.executions.bulk_transition("abandoned", action_ref="bulk.*")
    part = preview[preview["current"].isin(["requested", "scheduled"])]
    done = db.executions.apply(part)
    assert done.index.tolist() == part.index.tolist()
    assert done["applied"].tolist() == [True, True]
    assert db.executions.get(mixed["scheduling"]).status is ExecutionStatus.SCHEDULING


def test_apply_checks_the_lifecycle_again(db: attune_nb.Database, mixed: dict[str, int]) -> None:
    """An edited preview cannot smuggle a forbidden move past the lifecycle."""
    preview = db.executions.bulk_transition("running", ids=[mixed["completed"]])
    edited = preview.assign(allowed=True)
    before = table_state(db)
    done = db.executions.apply(edited)
    assert done["allowed"].tolist() == [False]
    assert done["reason"].tolist() == ["completed is terminal"]
    assert not done["applied"].any()
    assert table_state(db) == before


def test_apply_moves_each_row_to_its_own_target(db: attune_nb.Database) -> None:
    queued = make(db, "scheduled")
    working = make(db, "running")
    preview = pd.concat(
        [
            db.executions.bulk_transition("cancelled", ids=[queued.id]),
            db.executions.bulk_transition("canceling", ids=[working.id]),
        ],
        ignore_index=True,
    )
    done = db.executions.apply(preview)
    assert done["applied"].tolist() == [True, True]
    assert db.executions.get(queued.id).status is ExecutionStatus.CANCELLED
    assert db.executions.get(working.id).status is ExecutionStatus.CANCELING


def test_apply_of_an_empty_preview_changes_nothing(db: attune_nb.Database) -> None:
    preview = db.executions.bulk_transition("cancelled", action_ref="nothing.*")
    done = db.executions.apply(preview)
    assert done.empty
    _check_bulk_layout(done)


@pytest.mark.parametrize(
    ("make_bad", "says"),
    [
        (lambda p: p.to_dict(), "dict"),
        (lambda p: p.drop(columns=["current"]), "without current"),
        (lambda p: pd.concat([p, p]), "twice"),
        (lambda p: p.assign(applied=True), "applied already"),
        (lambda p: p.assign(to="cancelling"), "cancelling"),
        (lambda p: p.assign(id=p["id"].astype(float) + 0.5), "integer id"),
    ],
    ids=["not-a-frame", "missing-column", "duplicate", "applied", "bad-status", "float-id"],
)
def test_apply_refuses_what_is_not_a_preview(
    db: attune_nb.Database, mixed: dict[str, int], make_bad: Any, says: str
) -> None:
    preview = db.executions.bulk_transition("cancelled", action_ref="bulk.*")
    before = table_state(db)
    with pytest.raises(attune_nb.AttuneNbError, match=says):
        db.executions.apply(make_bad(preview))
    assert table_state(db) == before


def test_apply_on_a_read_only_connection_changes_nothing(
    db: attune_nb.Database, db_url: str, mixed: dict[str, int]
) -> None:
    ro = attune_nb.connect(db_url, readonly=True)
    try:
        preview = ro.executions.bulk_transition("cancelled", action_ref="bulk.*")
        before = table_state(db)
        with pytest.raises(ReadOnlyError):
            ro.executions.apply(preview)
        assert table_state(db) == before
        assert db.executions.apply(preview)["applied"].sum() == 5  # the same preview, writable
    finally:
        ro.close()


# -- update: Attune's own unchecked write --------------------------------------------------


def test_update_refuses_a_move_the_lifecycle_forbids(shared: attune_nb.Database) -> None:
    """The issue's probe: a cancelled execution must not quietly run again."""
    e = make(shared, "cancelled")
    before = snapshot(shared, e.id)
    with pytest.raises(InvalidTransition) as info:
        shared.executions.update(e.id, status="running", result={"x": 1})
    assert (info.value.current, info.value.requested, info.value.execution_id) == (
        "cancelled",
        "running",
        e.id,
    )
    assert snapshot(shared, e.id) == before  # the result was not written either


def test_update_with_force_writes_what_the_services_write(shared: attune_nb.Database) -> None:
    e = make(shared, "requested")
    running = shared.executions.update(e.id, status="running", force=True)  # unguarded path
    assert running.status is ExecutionStatus.RUNNING
    assert running.started_at is None  # update sets only what it is given
    back = shared.executions.update(e.id, status=ExecutionStatus.REQUESTED, force=True)
    assert back.status is ExecutionStatus.REQUESTED
    assert status_moves(shared, e.id) == [
        (None, "requested"),
        ("requested", "running"),
        ("running", "requested"),
    ]


def test_update_to_an_allowed_or_the_same_status_needs_no_force(
    shared: attune_nb.Database,
) -> None:
    e = make(shared, "scheduled")
    assert shared.executions.update(e.id, status="scheduled", result={"a": 1}).result == {"a": 1}
    assert shared.executions.update(e.id, status="Running").status is ExecutionStatus.RUNNING


def test_update_refuses_a_force_that_is_not_a_bool(shared: attune_nb.Database) -> None:
    e = make(shared, "completed")
    with pytest.raises(attune_nb.ConfigurationError):
        shared.executions.update(e.id, status="running", force="yes")  # type: ignore[arg-type]
    assert shared.executions.get(e.id).status is ExecutionStatus.COMPLETED


@pytest.mark.parametrize(
    "status", ["bogus", "cancelling", "", None, 4], ids=["bogus", "two-l", "empty", "none", "int"]
)
def test_update_refuses_a_non_enum_status(shared: attune_nb.Database, status: Any) -> None:
    e = make(shared, "running")
    before = snapshot(shared, e.id)
    with pytest.raises(InvalidStatus):
        shared.executions.update(e.id, status=status, result={"x": 1})
    assert snapshot(shared, e.id) == before


def test_update_without_fields_returns_the_row_unchanged(shared: attune_nb.Database) -> None:
    e = make(shared, "running", result={"a": 1})
    before = snapshot(shared, e.id)
    same = shared.executions.update(e.id)
    assert same == shared.executions.get(e.id)
    assert same.updated == e.updated
    assert snapshot(shared, e.id) == before


def test_update_sets_fields_and_history_records_them(shared: attune_nb.Database) -> None:
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    e = make(shared, "scheduled")
    out = shared.executions.update(
        e.id, status="running", started_at=started, result={"ok": True}, trace_tag="t-1"
    )
    assert (out.status, out.started_at, out.result, out.trace_tag) == (
        ExecutionStatus.RUNNING,
        started,
        {"ok": True},
        "t-1",
    )
    assert out.updated is not None and e.updated is not None and out.updated > e.updated
    last = history(shared, e.id)[-1]
    assert set(last.changed_fields) == {"status", "started_at", "result", "trace_tag"}
    cleared = shared.executions.update(e.id, started_at=None)
    assert cleared.started_at is None


@pytest.mark.parametrize("fields", [{}, {"status": "running"}], ids=["no-fields", "status"])
def test_update_unknown_id_is_not_found(shared: attune_nb.Database, fields: dict[str, Any]) -> None:
    with pytest.raises(ExecutionNotFound) as info:
        shared.executions.update(424242, **fields)
    assert info.value.execution_id == 424242


# -- DatabaseOnlyWarning: writes a live Attune's workers do not hear ------------------------


@pytest.fixture(scope="module")
def unmanaged_url(pg: ThrowawayServer) -> Iterator[str]:
    """A migrated database made to look like a real Attune one: the attune_nb ledger is gone."""
    url = pg.create_database(name="transitions_unmanaged")
    setup = attune_nb.connect(url)
    assert setup.managed is True
    with setup.transaction() as conn:
        conn.execute(sa.text("DROP SCHEMA attune_nb CASCADE"))
    setup.close()
    yield url
    pg.drop_database("transitions_unmanaged")


@pytest.fixture(scope="module")
def unmanaged(unmanaged_url: str) -> Iterator[attune_nb.Database]:
    """The real-looking database, opened with the write opt-in."""
    real = attune_nb.connect(unmanaged_url, allow_writes=True)
    yield real
    real.close()


@pytest.fixture(scope="module")
def refusing(unmanaged_url: str) -> Iterator[attune_nb.Database]:
    """The real-looking database, opened without the opt-in."""
    real = attune_nb.connect(unmanaged_url)
    yield real
    real.close()


def insert(db: attune_nb.Database, status: str, *, action_ref: str = "core.echo") -> int:
    """An execution written with plain SQL (attune_nb's own writes are what is tested)."""
    with db.transaction() as conn:
        return int(
            conn.execute(
                sa.text(
                    "INSERT INTO attune.execution (action_ref, status) "
                    "VALUES (:a, CAST(:s AS attune.execution_status_enum)) RETURNING id"
                ),
                {"a": action_ref, "s": status},
            ).scalar_one()
        )


def test_managed_database_is_managed(shared: attune_nb.Database) -> None:
    assert shared.managed is True


def test_reads_need_no_opt_in(refusing: attune_nb.Database) -> None:
    e = insert(refusing, "running")
    assert refusing.managed is False
    assert refusing.executions.get(e).status is ExecutionStatus.RUNNING
    assert e in refusing.executions.frame(status="running")["id"].tolist()
    assert refusing.executions.count(status="running") >= 1
    assert refusing.executions.bulk_transition("cancelled", ids=[e])["allowed"].all()  # preview


WRITES: dict[str, Any] = {
    "create": lambda ex, e: ex.create("core.echo"),
    "update": lambda ex, e: ex.update(e, result={"x": 1}),
    "delete": lambda ex, e: ex.delete(e),
    "transition": lambda ex, e: ex.transition(e, "cancelled"),
    "apply": lambda ex, e: ex.apply(ex.bulk_transition("cancelled", ids=[e])),
    "bulk": lambda ex, e: ex.bulk_transition("cancelled", ids=[e], dry_run=False),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_every_write_is_refused_without_the_opt_in(
    refusing: attune_nb.Database, write: str
) -> None:
    e = insert(refusing, "running")
    before = table_state(refusing)
    with pytest.raises(attune_nb.WritesNotAllowed, match="allow_writes=True") as info:
        WRITES[write](refusing.executions, e)
    assert info.value.url == refusing.url
    assert "Reads need no opt-in" in str(info.value)
    assert table_state(refusing) == before


@pytest.mark.parametrize(
    ("write", "says"),
    [
        ("create", "no executor will schedule it"),
        ("update", "a worker running it keeps running"),
        ("delete", "keeps running"),
        ("transition", "the worker is not told and keeps running"),
        ("apply", "the worker is not told and keeps running"),
        ("bulk", "the worker is not told and keeps running"),
    ],
)
def test_every_write_warns_what_will_not_happen(
    unmanaged: attune_nb.Database, write: str, says: str
) -> None:
    e = insert(unmanaged, "running")
    with pytest.warns(DatabaseOnlyWarning, match=says) as record:
        WRITES[write](unmanaged.executions, e)
    assert len(record) == 1
    # stacklevel points at the caller: in a notebook, the cell that made the change
    assert record[0].filename == __file__


@pytest.mark.parametrize("write", list(WRITES))
def test_the_warning_comes_before_the_write(unmanaged: attune_nb.Database, write: str) -> None:
    """Turned into an error (as in this suite's settings), the warning stops the write."""
    e = insert(unmanaged, "running")
    before = table_state(unmanaged)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatabaseOnlyWarning)
        with pytest.raises(DatabaseOnlyWarning):
            WRITES[write](unmanaged.executions, e)
    assert table_state(unmanaged) == before


@pytest.mark.parametrize(
    ("current", "to", "says"),
    [
        ("running", "cancelled", "keeps running it"),
        ("running", "canceling", "not asked to stop"),
        ("running", "abandoned", "keeps running it"),
        ("running", "failed", "keeps running it"),
        ("running", "timeout", "keeps running it"),
        ("canceling", "cancelled", "keeps running it"),
        ("requested", "cancelled", "executor is not told"),
        ("scheduled", "abandoned", "executor is not told"),
        ("scheduled", "running", "nothing will run it"),
    ],
    ids=lambda v: v,
)
def test_unmanaged_transitions_say_what_will_not_happen(
    unmanaged: attune_nb.Database, current: str, to: str, says: str
) -> None:
    e = insert(unmanaged, current)
    with pytest.warns(DatabaseOnlyWarning, match=says):
        moved = unmanaged.executions.transition(e, to)
    assert moved.status.value == to


def test_managed_database_does_not_warn(shared: attune_nb.Database) -> None:
    a = make(shared, "running")
    b = make(shared, "running")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shared.executions.transition(a.id, "cancelled")
        shared.executions.bulk_transition("cancelled", ids=[b.id], dry_run=False)
    assert shared.executions.get(a.id).status is ExecutionStatus.CANCELLED
    assert shared.executions.get(b.id).status is ExecutionStatus.CANCELLED


# -- properties: random walks through the lifecycle on the real database ---------------------


def _reachable_walk(moves: list[tuple[str | None, str]]) -> bool:
    """Whether the recorded moves form a walk along ALLOWED_TRANSITIONS from requested."""
    if not moves or moves[0] != (None, "requested"):
        return False
    current = "requested"
    for old, new in moves[1:]:
        if (
            old != current
            or ExecutionStatus(new) not in ALLOWED_TRANSITIONS[ExecutionStatus(current)]
        ):
            return False
        current = new
    return True


@settings(max_examples=40, deadline=None, database=None)
@given(steps=st.lists(st.sampled_from(list(ExecutionStatus)), max_size=12))
def test_random_transition_sequences_keep_the_invariants(
    shared: attune_nb.Database, steps: list[ExecutionStatus]
) -> None:
    e = make(shared, "requested", action_ref="prop.walk")  # a fresh execution per example
    status, started_at = ExecutionStatus.REQUESTED, None
    for to in steps:
        before = snapshot(shared, e.id)
        assert before[0] == status.value
        if to not in ALLOWED_TRANSITIONS[status]:
            with pytest.raises(InvalidTransition) as info:
                shared.executions.transition(e.id, to)
            assert (info.value.current, info.value.requested) == (status.value, to.value)
            assert snapshot(shared, e.id) == before  # a refusal writes nothing
            continue
        assert status not in TERMINAL  # once terminal, nothing is ever allowed
        moved = shared.executions.transition(e.id, to)
        after = snapshot(shared, e.id)
        assert moved.status is to and after[0] == to.value
        assert after[4] == before[4] + 1  # exactly one history row
        last = history(shared, e.id)[-1]
        assert last.operation == "UPDATE" and "status" in last.changed_fields
        assert (last.old_values["status"], last.new_values["status"]) == (status.value, to.value)
        if to is ExecutionStatus.RUNNING and started_at is None:
            assert moved.started_at is not None and moved.started_at == last.time
            started_at = moved.started_at
        assert moved.started_at == started_at  # set once, never changed later
        status = to
    final = shared.executions.get(e.id)
    assert final.status is status
    moves = status_moves(shared, e.id)
    assert _reachable_walk(moves)
    assert moves[-1][1] == status.value
    entered_running = any(new == "running" for _, new in moves)
    assert (final.started_at is not None) == entered_running


def test_reachable_walk_helper_can_fail() -> None:
    assert _reachable_walk([(None, "requested"), ("requested", "scheduling")])
    assert not _reachable_walk([(None, "requested"), ("requested", "running")])
    assert not _reachable_walk([(None, "running")])
    assert not _reachable_walk([])


def test_timestamps_are_aware_utc(shared: attune_nb.Database) -> None:
    e = make(shared, "scheduled")
    running = shared.executions.transition(e.id, "running")
    assert running.started_at is not None
    assert running.started_at.utcoffset() == timedelta(0)


# -- cancel: as Attune's API does it -------------------------------------------------------

ATTUNE_CANCEL_RESULT = {"error": "Cancelled by user before execution started"}


def ask(db: attune_nb.Database, execution_id: int, *, status: str = "pending") -> int:
    """An inquiry of ``execution_id``, written with plain SQL."""
    with db.transaction() as conn:
        return int(
            conn.execute(
                sa.text(
                    "INSERT INTO attune.inquiry (created_by_execution, prompt, response_options, "
                    "status) VALUES (:e, 'go on?', '[\"yes\"]', "
                    "CAST(:s AS attune.inquiry_status_enum)) RETURNING id"
                ),
                {"e": execution_id, "s": status},
            ).scalar_one()
        )


def inquiry_status(db: attune_nb.Database, inquiry_id: int) -> str:
    return str(db.scalar("SELECT status::text FROM attune.inquiry WHERE id = :i", i=inquiry_id))


@pytest.mark.parametrize("status", ["requested", "scheduling", "scheduled"])
def test_cancel_before_start_is_cancelled_with_attunes_result(
    shared: attune_nb.Database, status: str
) -> None:
    e = make(shared, status)
    done = shared.executions.cancel(e.id)
    now = shared.executions.get(e.id)
    assert now.status is ExecutionStatus.CANCELLED
    assert now.result == ATTUNE_CANCEL_RESULT
    assert done.changed["id"].tolist() == [e.id]
    assert status_moves(shared, e.id)[-1] == (status, "cancelled")


def test_cancel_of_a_running_execution_asks_it_to_stop(shared: attune_nb.Database) -> None:
    e = make(shared, "running", result={"partial": 1})
    done = shared.executions.cancel(e.id)
    now = shared.executions.get(e.id)
    assert now.status is ExecutionStatus.CANCELING
    assert now.result == {"partial": 1}  # the worker writes the final result, not the cancel
    assert done.executions["to"].astype(str).tolist() == ["canceling"]


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "canceling"])
def test_cancel_refuses_what_cannot_be_cancelled(shared: attune_nb.Database, status: str) -> None:
    e = make(shared, status)
    before = snapshot(shared, e.id)
    with pytest.raises(InvalidTransition) as info:
        shared.executions.cancel(e.id)
    assert info.value.execution_id == e.id
    assert snapshot(shared, e.id) == before


def test_cancel_of_a_missing_execution(shared: attune_nb.Database) -> None:
    with pytest.raises(ExecutionNotFound):
        shared.executions.cancel(987654321)


@pytest.fixture
def workflow(db: attune_nb.Database) -> dict[str, int]:
    """root (running) -> queued, running, done (completed) -> late (requested)."""
    ex = db.executions
    ids = {"root": make(db, "running", action_ref="wf.root").id}
    ids["queued"] = ex.create("wf.queued", parent=ids["root"], status="scheduled").id
    ids["running"] = ex.create("wf.running", parent=ids["root"], status="running").id
    ids["done"] = ex.create("wf.done", parent=ids["root"], status="completed").id
    ids["late"] = ex.create("wf.late", parent=ids["done"], status="requested").id
    return ids


def test_cancel_cascades_to_the_tasks_of_a_workflow(
    db: attune_nb.Database, workflow: dict[str, int]
) -> None:
    before_running = snapshot(db, workflow["running"])
    done = db.executions.cancel(workflow["root"])
    status = {k: db.executions.get(v).status.value for k, v in workflow.items()}
    assert status == {
        "root": "canceling",
        "queued": "cancelled",
        "running": "running",  # left to finish
        "done": "completed",
        "late": "cancelled",  # below a finished task, still not started
    }
    assert snapshot(db, workflow["running"]) == before_running
    rows = done.executions.set_index("id")
    assert workflow["done"] not in rows.index  # finished tasks are not listed
    assert str(rows.loc[workflow["running"], "reason"]).startswith("left running")
    assert not rows.loc[workflow["running"], "applied"]
    assert db.executions.get(workflow["queued"]).result == ATTUNE_CANCEL_RESULT
    # one transaction: every change carries the same transaction time
    times = {
        h.time
        for key in ("root", "queued", "late")
        for h in history(db, workflow[key])
        if h.operation == "UPDATE"
    }
    assert len(times) == 1


def test_cancel_can_stop_running_tasks_too(
    db: attune_nb.Database, workflow: dict[str, int]
) -> None:
    db.executions.cancel(workflow["root"], cancel_running_children=True)
    assert db.executions.get(workflow["running"]).status is ExecutionStatus.CANCELING


def test_cancel_cancels_the_pending_inquiries_of_what_it_cancelled(
    db: attune_nb.Database, workflow: dict[str, int]
) -> None:
    waiting = ask(db, workflow["queued"])
    answered = ask(db, workflow["queued"], status="responded")
    still_running = ask(db, workflow["running"])
    of_the_root = ask(db, workflow["root"])  # canceling, not cancelled: stays answerable
    done = db.executions.cancel(workflow["root"])
    assert done.inquiries == (waiting,)
    assert inquiry_status(db, waiting) == "cancelled"
    assert inquiry_status(db, answered) == "responded"
    assert inquiry_status(db, still_running) == "pending"
    assert inquiry_status(db, of_the_root) == "pending"
    assert repr(done) == (
        "<Cancellation: 3 executions changed (1 canceling, 2 cancelled), 1 left as they are, "
        "1 inquiries>"
    )


def test_cancel_of_a_preview_applies_exactly_it(db: attune_nb.Database) -> None:
    a = make(db, "requested", action_ref="many.a")
    b = make(db, "scheduled", action_ref="many.b")
    c = make(db, "running", action_ref="many.c")
    preview = db.executions.cancel_preview(action_ref="many.*")
    assert preview["id"].tolist() == [a.id, b.id, c.id]
    assert preview["to"].astype(str).tolist() == ["cancelled", "cancelled", "canceling"]
    late = make(db, "requested", action_ref="many.late")  # not in the preview
    db.executions.transition(b.id, "running")  # moves on meanwhile
    done = db.executions.cancel(preview)
    assert done.executions["reason"].tolist() == [
        "applied",
        "skipped: changed meanwhile (from scheduled to running)",
        "applied",
    ]
    assert db.executions.get(late.id).status is ExecutionStatus.REQUESTED
    assert db.executions.get(b.id).status is ExecutionStatus.RUNNING


def test_cancel_refuses_a_preview_that_is_not_a_cancel(db: attune_nb.Database) -> None:
    e = make(db, "requested")
    other = db.executions.bulk_transition("abandoned", ids=[e.id])
    before = table_state(db)
    with pytest.raises(InvalidFilter, match="cancel preview"):
        db.executions.cancel(other)
    assert table_state(db) == before


def test_cancel_preview_changes_nothing_and_needs_a_selection(
    db: attune_nb.Database, workflow: dict[str, int]
) -> None:
    before = table_state(db)
    preview = db.executions.cancel_preview(ids=[workflow["root"]])
    _check_bulk_layout(preview)
    assert table_state(db) == before
    with pytest.raises(InvalidFilter):
        db.executions.cancel_preview()
    with pytest.raises(InvalidFilter):
        db.executions.cancel_preview(
            ids=[workflow["root"]],
            cancel_running_children="yes",  # type: ignore[arg-type]
        )


def test_cancel_on_a_real_attune_database_needs_the_opt_in_and_warns(
    refusing: attune_nb.Database, unmanaged: attune_nb.Database
) -> None:
    e = insert(refusing, "running")
    with pytest.raises(attune_nb.WritesNotAllowed):
        refusing.executions.cancel(e)
    assert refusing.executions.get(e).status is ExecutionStatus.RUNNING
    with pytest.warns(DatabaseOnlyWarning, match="not asked to stop") as record:
        unmanaged.executions.cancel(e)
    assert record[0].filename == __file__
    assert unmanaged.executions.get(e).status is ExecutionStatus.CANCELING
