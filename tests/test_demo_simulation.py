"""The demo simulation, in numpy and without a database: what :func:`plan` produces."""

from __future__ import annotations

import numpy as np
import pytest

from attune_nb.demo.catalogue import (
    ACTIONS,
    ALL_LEN,
    ANCHOR,
    FA,
    MAX_STEPS,
    RQ,
    STATUSES,
    WINDOW,
    WORKFLOW_PATH_BASE,
)
from attune_nb.demo.simulation import Plan, plan
from attune_nb.errors import ConfigurationError
from attune_nb.lifecycle import ALLOWED_TRANSITIONS, ExecutionStatus

SIZE, SEED = 3000, 7


@pytest.fixture(scope="module")
def planned() -> Plan:
    return plan(SIZE, random_seed=SEED)


def happened(p: Plan) -> np.ndarray:
    """Per row and step: whether that step of its path has happened by ``as_of``."""
    return np.arange(MAX_STEPS)[None, :] < p.steps[:, None]


def last_time(p: Plan) -> np.ndarray:
    """Per row: the instant of its latest step (its ``updated``)."""
    times: np.ndarray = p.rows["times"][np.arange(p.size), p.steps - 1]
    return times


def depths(p: Plan) -> np.ndarray:
    """Per row: how many parents it has (0 for a root)."""
    parent = p.rows["parent"]
    depth = np.zeros(p.size, dtype=int)
    for row in np.flatnonzero(parent >= 0):  # parents come first: ids follow creation
        depth[row] = depth[parent[row]] + 1
    return depth


def test_same_seed_gives_identical_arrays(planned: Plan) -> None:
    again = plan(SIZE, random_seed=SEED)
    assert set(again.rows) == set(planned.rows)
    for column, values in planned.rows.items():
        np.testing.assert_array_equal(again.rows[column], values, err_msg=column)
    np.testing.assert_array_equal(again.cut, planned.cut)
    np.testing.assert_array_equal(again.steps, planned.steps)
    assert again.as_of == planned.as_of


def test_a_different_seed_gives_different_rows(planned: Plan) -> None:
    other = plan(SIZE, random_seed=SEED + 1)
    assert other.size == planned.size
    assert not np.array_equal(other.rows["created"], planned.rows["created"])
    assert not np.array_equal(other.rows["action"], planned.rows["action"])


@pytest.mark.parametrize("executions", [1, 100, 1234, 5000], ids=["one", "min", "odd", "5k"])
def test_exactly_the_requested_number_of_executions(executions: int) -> None:
    p = plan(executions, random_seed=3)
    assert p.size == executions
    assert {len(v) for v in p.rows.values()} == {executions}
    assert len(p.cut) == len(p.steps) == executions


@pytest.mark.parametrize("executions", [0, -5], ids=["zero", "negative"])
def test_no_executions_is_refused(executions: int) -> None:
    with pytest.raises(ConfigurationError) as info:
        plan(executions, random_seed=1)
    assert info.value.name == "executions"


def test_ids_follow_creation_order(planned: Plan) -> None:
    assert np.all(np.diff(planned.rows["created"]) >= 0)
    assert planned.rows["exists"].all()


@pytest.mark.parametrize("random_seed", [1, SEED, 42], ids=["seed-1", "seed-7", "seed-42"])
def test_every_status_is_present(random_seed: int) -> None:
    p = plan(SIZE, random_seed=random_seed)
    found = {STATUSES[code] for code in np.unique(p.final_status)}
    assert found == {s.value for s in ExecutionStatus}


def test_status_paths_only_take_allowed_transitions(planned: Plan) -> None:
    allowed = np.zeros((len(STATUSES), len(STATUSES)), dtype=bool)
    for status, targets in ALLOWED_TRANSITIONS.items():
        for target in targets:
            allowed[status.order, target.order] = True
    statuses, took = planned.statuses, happened(planned)
    assert (planned.steps >= 1).all() and (statuses[:, 0] == RQ).all()
    assert (statuses[took] >= 0).all()
    moved = took[:, 1:]
    old, new = statuses[:, :-1][moved], statuses[:, 1:][moved]
    bad = ~allowed[old, new]
    assert not bad.any(), sorted(
        {(STATUSES[o], STATUSES[n]) for o, n in zip(old[bad], new[bad], strict=True)}
    )


def test_only_stuck_runs_end_in_an_active_status(planned: Plan) -> None:
    # A row is terminal exactly when its whole path has happened.
    finished = planned.steps == ALL_LEN[planned.rows["path"]]
    terminal = np.isin(planned.final_status, [s.order for s in ExecutionStatus if s.is_terminal])
    np.testing.assert_array_equal(finished, terminal)
    assert 0 < (~terminal).sum() < planned.size / 100


def test_workflows_nest_four_levels(planned: Plan) -> None:
    depth = depths(planned)
    assert depth.max() + 1 == 4
    parent = planned.rows["parent"]
    parents = np.unique(parent[parent >= 0])
    assert all(ACTIONS[a].workflow for a in planned.rows["action"][parents])
    assert (planned.rows["path"][parents] >= WORKFLOW_PATH_BASE).all()
    # A child belongs to its parent's tree and starts after it.
    child = np.flatnonzero(parent >= 0)
    assert (parent[child] < child).all()
    np.testing.assert_array_equal(planned.rows["tree"][child], planned.rows["tree"][parent[child]])
    assert (planned.rows["created"][child] > planned.rows["created"][parent[child]]).all()


def test_children_end_before_a_finished_parent(planned: Plan) -> None:
    parent = planned.rows["parent"]
    child = np.flatnonzero(parent >= 0)
    of = parent[child]
    finished = np.isin(
        planned.final_status[of], [s.order for s in ExecutionStatus if s.is_terminal]
    )
    assert finished.any()
    assert (last_time(planned)[child[finished]] <= last_time(planned)[of[finished]]).all()


def test_retries_point_at_failed_originals(planned: Plan) -> None:
    rows = planned.rows
    retry = np.flatnonzero(rows["original"] >= 0)
    original = rows["original"][retry]
    assert len(retry) > 0
    assert (original < retry).all()
    assert (planned.final_status[original] == FA).all()
    np.testing.assert_array_equal(rows["retry_count"][retry], rows["retry_count"][original] + 1)
    np.testing.assert_array_equal(rows["action"][retry], rows["action"][original])
    assert (rows["parent"][retry] < 0).all()
    assert (rows["created"][retry] > last_time(planned)[original]).all()
    max_retries = np.array([a.max_retries for a in ACTIONS])
    assert (rows["retry_count"][retry] <= max_retries[rows["action"][retry]]).all()


def test_timestamps_lie_in_the_window(planned: Plan) -> None:
    lo, hi = (ANCHOR - WINDOW).timestamp(), ANCHOR.timestamp()
    assert planned.as_of == hi
    times = planned.rows["times"][happened(planned)]
    assert np.isfinite(times).all()
    assert lo <= times.min() and times.max() <= hi
    assert lo <= planned.rows["created"].min()
    # Within a row, each step happens no earlier than the one before it.
    gaps = np.diff(planned.rows["times"], axis=1)[happened(planned)[:, 1:]]
    assert (gaps >= 0).all()


def test_repr_is_short(planned: Plan) -> None:
    assert repr(planned) == (
        "<Plan 3,000 executions (seed 7, history ends 2026-01-14 00:00:00 UTC)>"
    )
