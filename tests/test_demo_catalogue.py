"""The demo catalogue: refs that resolve, templates that fit, paths and odds that add up."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from attune_nb.demo.catalogue import (
    ACTION_INDEX,
    ACTIONS,
    ALL_MATRIX,
    ALL_PATHS,
    FLAKY_WORKER,
    HUMANS,
    IDENTITIES,
    MANUAL,
    PACKS,
    PATH_NAMES,
    PATH_ODDS,
    RQ,
    RULES,
    STATUSES,
    TRIGGERS,
    WORKERS,
    WORKFLOWS,
)
from attune_nb.lifecycle import ALLOWED_TRANSITIONS, ExecutionStatus

REF = re.compile(r"[a-z]+\.[a-z][a-z0-9_]*")
PACK_REFS = {p[0] for p in PACKS}
ACTION_REFS = {a.ref for a in ACTIONS}
TRIGGER_REFS = {t[0] for t in TRIGGERS}
NAMED = {
    "packs": [p[0] for p in PACKS],
    "actions": [a.ref for a in ACTIONS],
    "triggers": [t[0] for t in TRIGGERS],
    "rules": [r[0] for r in RULES],
    "identities": [i[0] for i in IDENTITIES],
    "workers": [w[0] for w in WORKERS],
}


@pytest.mark.parametrize("kind", sorted(NAMED), ids=sorted(NAMED))
def test_refs_are_unique(kind: str) -> None:
    assert len(set(NAMED[kind])) == len(NAMED[kind])


@pytest.mark.parametrize("kind", ["actions", "triggers", "rules"], ids=str)
def test_refs_are_pack_dot_name_in_a_known_pack(kind: str) -> None:
    for ref in NAMED[kind]:
        assert REF.fullmatch(ref), ref
        assert ref.split(".")[0] in PACK_REFS, ref


def test_rules_and_manual_runs_name_existing_actions_and_triggers() -> None:
    for ref, trigger, action, weight in RULES:
        assert trigger in TRIGGER_REFS, ref
        assert action in ACTION_REFS, ref
        assert weight > 0, ref
    assert all(action in ACTION_REFS and weight > 0 for action, weight in MANUAL)
    assert {a.ref: i for i, a in enumerate(ACTIONS)} == ACTION_INDEX


@pytest.mark.parametrize("ref", sorted(WORKFLOWS), ids=sorted(WORKFLOWS))
def test_workflow_templates_fit_their_actions(ref: str) -> None:
    tasks = WORKFLOWS[ref]
    assert tasks[0].action == ref and tasks[0].parent == -1
    assert all(0 <= t.parent < i for i, t in enumerate(tasks) if i > 0)
    assert all(t.action in ACTION_REFS for t in tasks)
    # A task has children exactly when its action is a workflow.
    spec = {a.ref: a for a in ACTIONS}
    parents = {tasks[t.parent].action for t in tasks if t.parent >= 0}
    assert parents == {t.action for t in tasks if spec[t.action].workflow}


def test_every_workflow_action_has_a_template_or_runs_inside_one() -> None:
    inside = {t.action for tasks in WORKFLOWS.values() for t in tasks}
    assert {a.ref for a in ACTIONS if a.workflow} <= inside
    assert set(WORKFLOWS) <= {a.ref for a in ACTIONS if a.workflow}


def test_statuses_are_the_lifecycle_in_order() -> None:
    assert [ExecutionStatus(s).order for s in STATUSES] == list(range(len(ExecutionStatus)))


@pytest.mark.parametrize("name", list(ALL_PATHS), ids=list(ALL_PATHS))
def test_paths_take_allowed_transitions_to_a_terminal(name: str) -> None:
    row = ALL_MATRIX[list(ALL_PATHS).index(name)]
    path = [ExecutionStatus(STATUSES[code]) for code in row[row >= 0]]
    assert path == [ExecutionStatus(STATUSES[code]) for code in ALL_PATHS[name]]
    assert path[0].order == RQ
    assert path[-1].is_terminal and not any(s.is_terminal for s in path[:-1])
    for old, new in itertools.pairwise(path):
        assert new in ALLOWED_TRANSITIONS[old], (old, new)


def test_path_odds_are_probabilities() -> None:
    assert PATH_ODDS.shape == (len(ACTIONS), len(PATH_NAMES))
    assert (PATH_ODDS >= 0).all()
    np.testing.assert_allclose(PATH_ODDS.sum(axis=1), 1.0)
    assert (PATH_ODDS[:, PATH_NAMES.index("ok")] > 0.5).all()


def test_people_and_workers() -> None:
    assert all(0 <= h < len(IDENTITIES) for h in HUMANS)
    flaky = WORKERS[FLAKY_WORKER]
    assert flaky[0] == "worker-remote-3" and flaky[2] == "action" and flaky[4] > 0
    # Only action workers take runs (the sensor has weight 0).
    assert all((w[4] > 0) == (w[2] == "action") for w in WORKERS)
