"""Races on the real database: many writers at once, compare-and-set holding up (issue 13).

Eight processes (spawned, each with its own ``attune_nb.connect``), and in another test
eight threads sharing one :class:`~attune_nb.Database`, start together behind a
barrier and fight over the same executions with ``transition(..., expected=...)``,
over others with ``bulk_transition`` previews and ``apply``, answer the same
inquiries, and move executions of their own meanwhile. Afterwards: exactly one
winner per compare-and-set step, no reported success missing from the rows or the
history (no lost update), and every execution's ``execution_history`` a valid path
of :data:`~attune_nb.lifecycle.ALLOWED_TRANSITIONS` from its INSERT.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import threading
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

import attune_nb
from attune_nb import Database, InquiryClosed, StaleUpdate
from attune_nb.lifecycle import ALLOWED_TRANSITIONS, ExecutionStatus

WORKERS = 8
CONTESTED = 4  # executions every worker walks through the same steps
BULK = 24  # executions that half the workers apply a preview to, the others transition
OWN = 3  # executions of each worker alone
INQUIRIES = 2
# The workers that answer every inquiry: three, not all eight, because the first answer
# in a process imports jsonschema, which takes seconds of CPU (see _warm_up).
RESPONDERS = (0, 3, 6)
DEADLINE = 120.0  # a guard against a hang, never a timing assertion

# The main path every worker tries on every contested execution, step by step.
CHAIN = [("requested", "scheduling"), ("scheduling", "scheduled"), ("scheduled", "running")]
# From running the workers part ways: each tries its own target (one wins).
BRANCH = ["completed", "failed", "timeout", "canceling", "cancelled", "abandoned"]
OWN_PATH = [*CHAIN, ("running", "completed")]


@dataclass(frozen=True)
class Plan:
    """The ids the race is about (made by :func:`_prepare`)."""

    contested: list[int]
    bulk: list[int]
    own: dict[int, list[int]]  # worker -> its executions
    inquiries: list[int]
    responders: list[int]  # worker -> its identity


# An attempt: (kind, id, from, to, worker, won). kind: "step" (a transition), "apply"
# (a row of a bulk apply), "respond" (an inquiry; from/to are "pending"/"responded").
Attempt = tuple[str, int, str, str, int, bool]


def _prepare(db: Database) -> Plan:
    with db.transaction() as conn:

        def executions(n: int) -> list[int]:
            rows = conn.execute(
                sa.text(
                    "INSERT INTO attune.execution (action_ref) "
                    "SELECT 'core.race' FROM generate_series(1, :n) RETURNING id"
                ),
                {"n": n},
            )
            return sorted(int(r[0]) for r in rows)

        contested = executions(CONTESTED)
        bulk = executions(BULK)
        own = {w: executions(OWN) for w in range(WORKERS)}
        responders = [
            int(
                conn.execute(
                    sa.text("INSERT INTO attune.identity (login) VALUES (:l) RETURNING id"),
                    {"l": f"worker{w}"},
                ).scalar_one()
            )
            for w in range(WORKERS)
        ]
        options = [{"ref": "approve", "label": "Approve", "response": {"approved": True}}]
        inquiries = [
            int(
                conn.execute(
                    sa.text(
                        "INSERT INTO attune.inquiry (created_by_execution, prompt, "
                        "response_options) VALUES (:e, 'Go?', CAST(:o AS jsonb)) RETURNING id"
                    ),
                    {"e": contested[0], "o": json.dumps(options)},
                ).scalar_one()
            )
            for _ in range(INQUIRIES)
        ]
    return Plan(contested, bulk, own, inquiries, responders)


def _race(db: Database, worker: int, plan: Plan, preview: Any) -> list[Attempt]:
    """One worker's part, the same in a process and in a thread; every attempt it made.

    ``preview`` (taken before the race, every bulk execution still requested) is what
    an even worker applies: its compare-and-set must catch what changed since."""
    rng = random.Random(worker)
    attempts: list[Attempt] = []

    def step(execution_id: int, was: str, to: str, **extra: Any) -> None:
        lost: StaleUpdate | None = None
        try:
            db.executions.transition(execution_id, to, expected=was, **extra)
        except StaleUpdate as exc:
            lost = exc
        # A loser is told which execution and which status it expected, and nothing else.
        assert lost is None or (lost.execution_id, lost.expected) == (execution_id, was)
        attempts.append(("step", execution_id, was, to, worker, lost is None))

    # Half apply one preview of every bulk execution; the others cancel them one by one.
    if preview is not None:
        done = db.executions.apply(preview)
        for exec_id, applied, reason in zip(
            done["id"].astype(int), done["applied"].astype(bool), done["reason"], strict=True
        ):
            assert applied or str(reason).startswith("skipped: changed meanwhile"), reason
            attempts.append(("apply", exec_id, "requested", "scheduling", worker, applied))
    else:
        for execution_id in rng.sample(plan.bulk, len(plan.bulk)):
            step(execution_id, "requested", "cancelled")
    # Everyone walks every contested execution, step by step (ids in its own order).
    for was, to in CHAIN:
        for execution_id in rng.sample(plan.contested, len(plan.contested)):
            step(execution_id, was, to)
    for execution_id in plan.contested:
        step(execution_id, "running", BRANCH[worker % len(BRANCH)], result={"winner": worker})
    for execution_id in plan.contested:
        step(execution_id, "canceling", "cancelled")
    # The responders answer every inquiry, each as its own identity.
    for inquiry_id in plan.inquiries if worker in RESPONDERS else ():
        closed: InquiryClosed | None = None
        try:
            db.inquiries.respond(inquiry_id, {"worker": worker}, responder=plan.responders[worker])
        except InquiryClosed as exc:
            closed = exc
        assert closed is None or closed.status == "responded", closed
        attempts.append(("respond", inquiry_id, "pending", "responded", worker, closed is None))
    # And its own executions, which nobody else touches; read back through the frame reader.
    for was, to in OWN_PATH:
        for execution_id in plan.own[worker]:
            step(execution_id, was, to)
    frame = db.executions.frame(id=plan.own[worker])
    assert list(frame["status"].astype(str)) == ["completed"] * OWN
    return attempts


def _warm_up(db: Database, worker: int, plan: Plan) -> Any:
    """Before the barrier: an even worker's preview of the bulk executions (returned),
    and what a fresh process does slowly the first time, so that the workers race for
    real: the reader's connection, and jsonschema's import (seconds: it builds grammars
    as it loads), which ``respond`` needs."""
    if worker in RESPONDERS:
        import jsonschema  # noqa: F401
    assert len(db.executions.frame(id=plan.own[worker])) == OWN
    if worker % 2:
        return None
    preview = db.executions.bulk_transition("scheduling", ids=plan.bulk)
    assert preview["allowed"].all()
    return preview


def _process_worker(url: str, worker: int, plan: Plan, barrier: Any, results: Any) -> None:
    """A spawned process: connect, wait for the others, race; put (worker, attempts, error)."""
    try:
        db = attune_nb.connect(url)
        try:
            preview = _warm_up(db, worker, plan)
            barrier.wait(timeout=DEADLINE)
            results.put((worker, _race(db, worker, plan, preview), None))
        finally:
            db.close()
    except BaseException:
        results.put((worker, [], traceback.format_exc()))


# -- the checks, the same for processes and threads -----------------------------------------


def _history(db: Database) -> dict[int, list[tuple[str, str | None, str | None]]]:
    """Every execution's history rows that matter here, in order: (operation, old, new)."""
    rows = db.scalar(
        """
        SELECT coalesce(jsonb_agg(jsonb_build_array(entity_id, operation,
                   old_values ->> 'status', new_values ->> 'status')
               ORDER BY entity_id, time, CASE operation WHEN 'INSERT' THEN 0 ELSE 1 END,
                   array_position(enum_range(NULL::attune.execution_status_enum)::text[],
                                  new_values ->> 'status')), '[]')
        FROM attune.execution_history
        WHERE time > now() - interval '1 day'
          AND (operation <> 'UPDATE' OR 'status' = ANY(changed_fields))
        """
    )
    history: dict[int, list[tuple[str, str | None, str | None]]] = defaultdict(list)
    for entity_id, operation, old, new in rows:
        history[int(entity_id)].append((operation, old, new))
    return history


def _check_paths(db: Database) -> int:
    """Every execution's history is INSERT (requested), then allowed moves, each from the
    status the previous one reached, ending at the row's status. The transitions walked."""
    status = {
        int(i): str(s)
        for i, s in db.scalar(
            "SELECT coalesce(jsonb_agg(jsonb_build_array(id, status)), '[]') FROM attune.execution"
        )
    }
    history = _history(db)
    assert set(history) == set(status)
    walked = 0
    for execution_id, rows in history.items():
        (first_op, _none, first), *moves = rows
        assert (first_op, first) == ("INSERT", "requested"), (execution_id, rows)
        current = ExecutionStatus(str(first))
        for operation, old, new in moves:
            assert operation == "UPDATE" and old == current.value, (execution_id, rows)
            target = ExecutionStatus(str(new))
            assert target in ALLOWED_TRANSITIONS[current], (execution_id, rows)
            current = target
            walked += 1
        assert current.value == status[execution_id], (execution_id, rows)
    return walked


def _contest(plan: Plan, attempt: Attempt) -> tuple[Any, ...]:
    """What an attempt competes for: one compare-and-set that exactly one may win."""
    kind, target_id, was, to, _worker, _won = attempt
    if kind == "respond":
        return ("inquiry", target_id)
    if any(target_id in ids for ids in plan.own.values()):
        return ("step", target_id, was, to)
    if target_id in plan.bulk:
        return ("bulk", target_id)  # out of requested: an apply's row or a cancel
    if was == "running":
        return ("branch", target_id)  # each worker its own target
    return ("step", target_id, was, to)


def _check(db: Database, plan: Plan, attempts: list[Attempt]) -> Counter[str]:
    """Exactly one winner per compare-and-set, nothing a winner reported lost; the figures."""
    own = {i for ids in plan.own.values() for i in ids}
    canceling = {t[1] for t in attempts if t[0] == "step" and t[3] == "canceling" and t[5]}
    contests: dict[tuple[Any, ...], list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        contests[_contest(plan, attempt)].append(attempt)
    figures: Counter[str] = Counter()
    for contest, tries in contests.items():
        winners = sum(t[5] for t in tries)
        figures["contests"] += 1
        figures["attempts"] += len(tries)
        figures["winners"] += winners
        figures["stale"] += len(tries) - winners
        if contest[1] in own and contest[0] == "step":
            assert (len(tries), winners) == (1, 1), tries  # nobody else: it simply wins
            continue
        # Every worker tried it (every responder, an inquiry).
        assert len(tries) == (len(RESPONDERS) if contest[0] == "inquiry" else WORKERS), tries
        if contest[0] == "step" and contest[2] == "canceling":
            # Only where canceling won the branch is there a canceling to move on.
            assert winners == (1 if contest[1] in canceling else 0), tries
        else:
            assert winners == 1, tries  # exactly one winner per compare-and-set
    # No lost update: the winners' moves are exactly the history's moves, in order.
    history = _history(db)
    for execution_id in {t[1] for t in attempts if t[0] != "respond"}:
        won = sorted(
            ((t[2], t[3]) for t in attempts if t[0] != "respond" and t[1] == execution_id and t[5]),
            key=lambda move: ExecutionStatus(move[0]).order,
        )
        recorded = [(old, new) for op, old, new in history[execution_id] if op == "UPDATE"]
        assert recorded == won, (execution_id, recorded, won)
        figures["executions"] += 1
    # The branch winner's result is the one the row keeps; the inquiry keeps its winner's.
    for execution_id in plan.contested:
        (winner,) = [t[4] for t in contests[("branch", execution_id)] if t[5]]
        assert db.executions.get(execution_id).result == {"winner": winner}
    for inquiry_id in plan.inquiries:
        (winner,) = [t[4] for t in contests[("inquiry", inquiry_id)] if t[5]]
        inquiry = db.inquiries.get(inquiry_id)
        assert inquiry.status == "responded"
        assert inquiry.response == {"worker": winner}
        assert inquiry.responded_by == plan.responders[winner]
    figures["canceling won"] = len(canceling)
    figures["transitions walked"] = _check_paths(db)
    return figures


def _run_threads(target: Callable[[int], list[Attempt]]) -> list[Any]:
    results: list[Any] = [None] * WORKERS

    def run(worker: int) -> None:
        try:
            results[worker] = (worker, target(worker), None)
        except BaseException:
            results[worker] = (worker, [], traceback.format_exc())

    threads = [threading.Thread(target=run, args=(w,), daemon=True) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    return results


# -- the tests ---------------------------------------------------------------------------------


def test_eight_processes_race_and_compare_and_set_holds(db: Database, db_url: str) -> None:
    plan = _prepare(db)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    queue = ctx.Queue()
    processes = [
        ctx.Process(target=_process_worker, args=(db_url, w, plan, barrier, queue), daemon=True)
        for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    try:
        results = [queue.get(timeout=DEADLINE) for _ in processes]
    finally:
        for process in processes:
            process.join(DEADLINE)
            if process.is_alive():  # pragma: no cover - only when a worker hung
                process.kill()
    errors = [error for _w, _a, error in results if error]
    assert not errors, errors[0]
    assert sorted(w for w, _a, _e in results) == list(range(WORKERS))
    assert all(p.exitcode == 0 for p in processes)
    figures = _check(db, plan, [a for _w, attempts, _e in results for a in attempts])
    _expect_figures(figures)


def test_eight_threads_sharing_one_database_race_and_compare_and_set_holds(db: Database) -> None:
    plan = _prepare(db)
    barrier = threading.Barrier(WORKERS)

    def worker(index: int) -> list[Attempt]:
        preview = _warm_up(db, index, plan)
        barrier.wait(timeout=DEADLINE)
        return _race(db, index, plan, preview)

    results = _run_threads(worker)
    errors = [error for _w, _a, error in results if error]
    assert not errors, errors[0]
    figures = _check(db, plan, [a for _w, attempts, _e in results for a in attempts])
    _expect_figures(figures)


def _expect_figures(figures: Counter[str]) -> None:
    """The counts the plan makes: every attempt made, one winner per contest."""
    contested = CONTESTED * (len(CHAIN) + 2)  # the chain, the branch, canceling -> cancelled
    uncontested = OWN * len(OWN_PATH) * WORKERS
    assert figures["contests"] == contested + BULK + INQUIRIES + uncontested
    assert figures["attempts"] == (
        (contested + BULK) * WORKERS + INQUIRIES * len(RESPONDERS) + uncontested
    )
    winners = contested - CONTESTED + figures["canceling won"] + BULK + INQUIRIES + uncontested
    assert figures["winners"] == winners
    assert figures["stale"] == figures["attempts"] - winners
    assert figures["executions"] == CONTESTED + BULK + OWN * WORKERS
    assert figures["transitions walked"] == winners - INQUIRIES
