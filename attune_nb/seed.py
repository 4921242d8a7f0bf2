"""Demo data: a realistic, deterministic Attune execution history, loaded with COPY.

The generator is vectorized (numpy) and seeded; the clock is fixed at
:data:`ANCHOR`, so the same ``seed`` and ``executions`` give the same rows, ids
included. Executions are simulated through the lifecycle of ATTUNE_SCHEMA.md:
rule-triggered and manual runs, workflows nested four levels deep, retry chains,
human inquiries, stuck executions for the runbooks, a long tail of durations.
Their ``execution_history`` is built from the same simulated steps, in the exact
shape the ``record_execution_history`` trigger writes.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from attune_nb.db import Database, translate_errors
from attune_nb.errors import ConfigurationError, SeedError
from attune_nb.lifecycle import ExecutionStatus

__all__ = ["ANCHOR", "SeedReport", "seed"]

log = logging.getLogger("attune_nb")

ANCHOR = datetime(2026, 1, 14, tzinfo=UTC)
"""The fixed instant the demo history ends at."""
WINDOW = timedelta(days=14)
MIN_EXECUTIONS = 100
SEED_PHASES = 6
"""How many times :func:`seed` reports progress (one call per phase, as it starts)."""

# Status codes are positions in the lifecycle order of execution_status_enum.
STATUSES = tuple(status.value for status in ExecutionStatus)
RQ, SG, SD, RU, CO, FA, CG, CD, TO, AB = range(10)
TERMINAL = (CO, FA, CD, TO, AB)

# Leaf lifecycles: the paths real services take (ATTUNE_SCHEMA.md, "Transitions").
PATHS: dict[str, tuple[int, ...]] = {
    "ok": (RQ, SG, SD, RU, CO),
    "fail": (RQ, SG, SD, RU, FA),
    "timeout": (RQ, SG, SD, RU, TO),
    "cancel_running": (RQ, SG, SD, RU, CG, CD),
    "cancel_requested": (RQ, CD),
    "abandon_running": (RQ, SG, SD, RU, AB),
    "abandon_scheduled": (RQ, SG, SD, AB),
    "unschedulable": (RQ, SG, FA),
    "requeued": (RQ, SG, RQ, SG, SD, RU, CO),
    "dispatch_reverted": (RQ, SG, SD, RQ, SG, SD, RU, CO),
    "stale": (RQ, SG, SD, FA),
    "killed_running": (RQ, SG, SD, RU, CD),
}
PATH_NAMES = tuple(PATHS)
MAX_STEPS = max(len(p) for p in PATHS.values())
_PATH_MATRIX = np.full((len(PATHS), MAX_STEPS), -1, dtype=np.int8)
for _i, _p in enumerate(PATHS.values()):
    _PATH_MATRIX[_i, : len(_p)] = _p
_PATH_LEN = np.array([len(p) for p in PATHS.values()], dtype=np.int8)
# Which outcome a path means for an enclosing workflow: 0 go on, 1 fail it, 2 cancel it.
_PATH_OUTCOME = np.array([
    0 if p[-1] == CO else 2 if p[-1] == CD else 1 for p in PATHS.values()
], dtype=np.int8)
# Small, fixed odds of the rarer paths; "fail" and "timeout" come from the action.
_BASE_ODDS = {
    "cancel_running": 0.008, "cancel_requested": 0.004, "abandon_running": 0.003,
    "abandon_scheduled": 0.002, "unschedulable": 0.004, "requeued": 0.02,
    "dispatch_reverted": 0.005, "stale": 0.002, "killed_running": 0.002,
}


@dataclass(frozen=True)
class ActionSpec:
    ref: str
    median_s: float = 1.0       # median run time
    sigma: float = 0.8          # lognormal spread
    fail: float = 0.03
    timeout: float = 0.0
    timeout_seconds: int | None = None
    max_retries: int = 0
    workflow: bool = False
    big_result: bool = False    # results over the history digest threshold


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("core.echo", 0.2, 0.5, fail=0.005),
    ActionSpec("core.http_request", 1.2, 0.9, fail=0.04, timeout=0.01, timeout_seconds=30,
               max_retries=3, big_result=True),
    ActionSpec("core.local_cmd", 2.0, 1.0, fail=0.05, timeout=0.005, timeout_seconds=300),
    ActionSpec("core.notify", 0.6, 0.6, fail=0.01, max_retries=2),
    ActionSpec("core.ask_human", 900.0, 1.0, fail=0.0, timeout=0.2, timeout_seconds=3600),
    ActionSpec("ops.nightly_maintenance", workflow=True),
    ActionSpec("ops.rotate_logs", 8.0, 0.5, fail=0.02, max_retries=1),
    ActionSpec("ops.db_backup", workflow=True),
    ActionSpec("ops.snapshot_volume", 140.0, 0.7, fail=0.03, timeout=0.01, timeout_seconds=1800),
    ActionSpec("ops.verify_backup", workflow=True),
    ActionSpec("ops.checksum", 35.0, 0.6, fail=0.02),
    ActionSpec("ops.disk_cleanup", 20.0, 1.1, fail=0.06, timeout=0.01, timeout_seconds=600,
               max_retries=2),
    ActionSpec("deploy.release", workflow=True),
    ActionSpec("deploy.checkout", 12.0, 0.5, fail=0.01, max_retries=2),
    ActionSpec("deploy.build", 210.0, 0.6, fail=0.08, timeout=0.01, timeout_seconds=1800),
    ActionSpec("deploy.canary", workflow=True),
    ActionSpec("deploy.k8s_apply", 7.0, 0.6, fail=0.03),
    ActionSpec("deploy.wait_ready", 45.0, 0.9, fail=0.02, timeout=0.05, timeout_seconds=300),
    ActionSpec("monitoring.check_slo", 4.0, 0.5, fail=0.04),
    ActionSpec("incident.auto_remediate", workflow=True),
    ActionSpec("incident.fetch_alerts", 1.5, 0.6, fail=0.01),
    ActionSpec("incident.triage", workflow=True),
    ActionSpec("incident.restart_pod", 14.0, 0.7, fail=0.05, timeout=0.01, timeout_seconds=120),
)
_ACTION = {a.ref: i for i, a in enumerate(ACTIONS)}

PACKS = (
    ("core", "Core", "Built-in actions and triggers", True),
    ("ops", "Operations", "Backups, log rotation and disk hygiene", False),
    ("deploy", "Deployments", "Build and roll out releases with canaries", False),
    ("monitoring", "Monitoring", "SLO checks and alert triggers", False),
    ("incident", "Incident response", "Automated remediation with a human in the loop", False),
)
TRIGGERS = (
    ("core.intervaltimer", "Interval timer"),
    ("core.cronjob", "Cron schedule"),
    ("core.webhook", "Webhook"),
    ("monitoring.alert_fired", "Alert fired"),
    ("monitoring.disk_pressure", "Disk pressure"),
)
# (rule ref, trigger ref, action ref, weight among rule-triggered roots)
RULES = (
    ("core.heartbeat", "core.intervaltimer", "core.echo", 30),
    ("monitoring.http_probe", "core.intervaltimer", "core.http_request", 25),
    ("ops.hourly_log_rotation", "core.cronjob", "ops.rotate_logs", 8),
    ("ops.disk_pressure_cleanup", "monitoring.disk_pressure", "ops.disk_cleanup", 6),
    ("ops.nightly", "core.cronjob", "ops.nightly_maintenance", 3),
    ("deploy.on_push", "core.webhook", "deploy.release", 4),
    ("incident.on_alert", "monitoring.alert_fired", "incident.auto_remediate", 3),
)
# Roots started by hand: (action ref, weight).
MANUAL = (
    ("core.local_cmd", 8), ("core.notify", 3), ("core.http_request", 2),
    ("deploy.release", 2), ("ops.disk_cleanup", 2),
)
IDENTITIES = (
    ("admin", "Administrator"), ("alice", "Alice Ops"), ("bob", "Bob SRE"),
    ("carol", "Carol Release"), ("dave", "Dave On-call"), ("ci-bot", "CI bot"),
)
HUMANS = (1, 2, 3, 4)  # indexes of IDENTITIES who start runs and answer inquiries
# (name, type, role, status, weight among action workers); the flaky one abandons more.
WORKERS = (
    ("worker-local-1", "local", "action", "active", 3),
    ("worker-remote-1", "remote", "action", "busy", 3),
    ("worker-remote-2", "remote", "action", "active", 3),
    ("worker-remote-3", "remote", "action", "error", 1),
    ("worker-container-1", "container", "action", "active", 2),
    ("sensor-1", "local", "sensor", "active", 0),
)
FLAKY_WORKER = 3  # index of worker-remote-3


@dataclass(frozen=True)
class Task:
    action: str
    parent: int  # index in the template, -1 for the root


# Workflow templates, depth first; ops.nightly_maintenance nests four levels.
WORKFLOWS: dict[str, tuple[Task, ...]] = {
    "ops.nightly_maintenance": (
        Task("ops.nightly_maintenance", -1), Task("ops.rotate_logs", 0),
        Task("ops.db_backup", 0), Task("ops.snapshot_volume", 2), Task("ops.verify_backup", 2),
        Task("ops.checksum", 4), Task("core.notify", 4), Task("core.notify", 0),
    ),
    "deploy.release": (
        Task("deploy.release", -1), Task("deploy.checkout", 0), Task("deploy.build", 0),
        Task("deploy.canary", 0), Task("deploy.k8s_apply", 3), Task("deploy.wait_ready", 3),
        Task("monitoring.check_slo", 3), Task("core.notify", 0),
    ),
    "incident.auto_remediate": (
        Task("incident.auto_remediate", -1), Task("incident.fetch_alerts", 0),
        Task("incident.triage", 0), Task("core.ask_human", 2), Task("incident.restart_pod", 2),
        Task("core.notify", 0),
    ),
}


@dataclass
class SeedReport:
    """What :func:`seed` wrote."""

    executions: int
    history_rows: int
    workflows: int
    inquiries: int
    events: int
    seed: int
    as_of: datetime
    seconds: float
    status_counts: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (f"seeded {self.executions:,} executions ({self.workflows:,} workflows), "
                f"{self.history_rows:,} history rows, {self.inquiries:,} inquiries, "
                f"{self.events:,} events in {self.seconds:.1f}s (seed {self.seed}, "
                f"history ends {self.as_of:%Y-%m-%d %H:%M:%S} UTC)")


# -- simulation --------------------------------------------------------------------


class _Rows:
    """Column arrays of simulated executions, appended in blocks."""

    COLUMNS = ("action", "parent", "tree", "original", "retry_count", "created", "path",
               "times", "task_name", "task_index", "manual", "rule", "forced_cut", "exists")

    def __init__(self) -> None:
        self.blocks: list[dict[str, np.ndarray]] = []
        self.size = 0

    def add(self, **cols: np.ndarray) -> np.ndarray:
        n = len(cols["created"])
        index = np.arange(self.size, self.size + n)
        self.blocks.append(cols)
        self.size += n
        return index

    def concat(self) -> dict[str, np.ndarray]:
        return {c: np.concatenate([b[c] for b in self.blocks]) for c in self.COLUMNS}


class _Simulator:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.rows = _Rows()
        odds = np.zeros((len(ACTIONS), len(PATHS)))
        for a, spec in enumerate(ACTIONS):
            row = dict.fromkeys(PATH_NAMES, 0.0)
            row.update(_BASE_ODDS)
            row["fail"] = spec.fail
            row["timeout"] = spec.timeout if spec.timeout_seconds else 0.0
            if spec.ref == "core.ask_human":  # a person answers, times out, or is cancelled
                row = dict.fromkeys(PATH_NAMES, 0.0)
                row.update(timeout=spec.timeout, cancel_running=0.04)
            row["ok"] = 1.0 - sum(v for k, v in row.items() if k != "ok")
            odds[a] = [row[name] for name in PATH_NAMES]
        self.cum_odds = np.cumsum(odds, axis=1)
        self.median = np.array([a.median_s for a in ACTIONS])
        self.sigma = np.array([a.sigma for a in ACTIONS])
        self.timeout_s = np.array([a.timeout_seconds or 0 for a in ACTIONS], dtype=float)

    # One lifecycle per leaf: a path and the time of each of its steps.
    def lifecycle(self, action: np.ndarray, created: np.ndarray,
                  forced: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        rng, n = self.rng, len(action)
        u = rng.random(n)
        path = (u[:, None] > self.cum_odds[action]).sum(axis=1).astype(np.int8)
        path = np.minimum(path, len(PATHS) - 1)
        if forced is not None:
            path = np.where(forced >= 0, forced, path).astype(np.int8)
        statuses = _PATH_MATRIX[path]
        times = np.full((n, MAX_STEPS), np.nan)
        times[:, 0] = created
        # Run time: lognormal around the action's median, with a heavy tail.
        run = self.median[action] * np.exp(self.sigma[action] * rng.standard_normal(n))
        tail = rng.random(n) < 0.01
        run = np.where(tail, run * (1 + rng.pareto(1.5, n) * 5), run)
        draws = {
            "claim": rng.exponential(0.4, n), "schedule": rng.exponential(0.6, n),
            "dispatch": rng.exponential(0.9, n) + 0.05, "requeue": rng.exponential(25.0, n),
            "revert": rng.exponential(6.0, n), "fail_fast": rng.exponential(4.0, n),
            "lost": rng.exponential(300.0, n) + 60, "cancel": rng.exponential(2.5, n) + 0.1,
            "cancel_queued": rng.exponential(40.0, n), "stale": rng.exponential(150.0, n),
            "partial": run * rng.uniform(0.05, 0.9, n),
        }
        for s in range(1, MAX_STEPS):
            prev, cur = statuses[:, s - 1], statuses[:, s]
            live = cur >= 0
            delta = np.zeros(n)
            ends_run = (prev == RU) & np.isin(cur, (CO, FA))
            delta = np.where((prev == RQ) & (cur == SG), draws["claim"], delta)
            delta = np.where((prev == SG) & (cur == SD), draws["schedule"], delta)
            delta = np.where((prev == SD) & (cur == RU), draws["dispatch"], delta)
            delta = np.where((prev == SG) & (cur == RQ), draws["requeue"], delta)
            delta = np.where((prev == SD) & (cur == RQ), draws["revert"], delta)
            delta = np.where((prev == SG) & (cur == FA), draws["fail_fast"], delta)
            delta = np.where((prev == SD) & (cur == FA), draws["stale"], delta)
            delta = np.where(cur == AB, draws["lost"], delta)
            delta = np.where(ends_run, run, delta)
            delta = np.where((prev == RU) & (cur == TO), self.timeout_s[action] + 0.5, delta)
            delta = np.where((prev == RU) & np.isin(cur, (CG, CD)), draws["partial"], delta)
            delta = np.where((prev == CG) & (cur == CD), draws["cancel"], delta)
            delta = np.where((prev == RQ) & (cur == CD), draws["cancel_queued"], delta)
            times[:, s] = np.where(live, times[:, s - 1] + delta, np.nan)
        return path, times

    def leaves(self, action: np.ndarray, created: np.ndarray, *, parent: np.ndarray,
               tree: np.ndarray, manual: np.ndarray, rule: np.ndarray,
               task_index: np.ndarray | int = -1, task_name: str = "",
               forced: np.ndarray | None = None, forced_cut: np.ndarray | None = None,
               original: np.ndarray | None = None, retry_count: int = 0,
               exists: np.ndarray | None = None) -> np.ndarray:
        n = len(action)
        path, times = self.lifecycle(action, created, forced)
        index = self.rows.add(
            action=action.astype(np.int16), parent=parent, tree=tree,
            original=original if original is not None else np.full(n, -1),
            retry_count=np.full(n, retry_count, dtype=np.int16), created=created,
            path=path.astype(np.int16), times=times,
            task_name=np.full(n, task_name, dtype=object),
            task_index=np.broadcast_to(np.asarray(task_index, dtype=np.int16), (n,)).copy(),
            manual=manual, rule=rule,
            forced_cut=forced_cut if forced_cut is not None else np.full(n, -1, dtype=np.int8),
            exists=exists if exists is not None else np.ones(n, dtype=bool),
        )
        return index

    def workflow(self, ref: str, created: np.ndarray, *, manual: np.ndarray, rule: np.ndarray,
                 force_ask: np.ndarray | None = None) -> None:
        """Instantiate a workflow template for len(created) roots, children run in turn."""
        rng, tasks = self.rng, WORKFLOWS[ref]
        n = len(created)
        tree = np.full(n, -1)  # filled with the root's index once it exists

        def run(j: int, start: np.ndarray, exists: np.ndarray, parent: np.ndarray,
                task_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            task = tasks[j]
            action = np.full(n, _ACTION[task.action], dtype=np.int16)
            children = [c for c, t in enumerate(tasks) if t.parent == j]
            name = task.action.split(".", 1)[1] if task.parent >= 0 else ""
            if not children:
                forced = forced_cut = None
                if task.action == "core.ask_human" and force_ask is not None:
                    forced = np.where(force_ask >= 0, PATH_NAMES.index("ok"), -1).astype(np.int8)
                    forced = np.where(force_ask == 1, PATH_NAMES.index("timeout"), forced)
                    forced_cut = np.where(force_ask == 2, RU, -1).astype(np.int8)
                self.leaves(action, start, parent=parent, tree=tree, manual=manual,
                                  rule=rule, task_index=task_index, task_name=name,
                                  forced=forced, forced_cut=forced_cut, exists=exists)
                path = self.rows.blocks[-1]["path"]
                times = self.rows.blocks[-1]["times"]
                last = _PATH_LEN[path] - 1
                end = times[np.arange(n), last]
                outcome = _PATH_OUTCOME[path]
                cancel_at = np.where(outcome == 2, times[np.arange(n), np.minimum(4, last)], np.nan)
                return end, outcome, cancel_at
            # A workflow parent has no worker: requested -> scheduling -> running.
            claim = start + rng.exponential(0.3, n)
            running = claim + rng.exponential(0.2, n) + 0.01
            own = self.rows.add(
                action=action, parent=parent, tree=tree, original=np.full(n, -1),
                retry_count=np.zeros(n, dtype=np.int16), created=start,
                path=np.full(n, -1, dtype=np.int16), times=np.full((n, MAX_STEPS), np.nan),
                task_name=np.full(n, name, dtype=object),
                task_index=np.full(n, task_index, dtype=np.int16), manual=manual, rule=rule,
                forced_cut=np.full(n, -1, dtype=np.int8), exists=exists,
            )
            block = self.rows.blocks[-1]
            if task.parent < 0:
                tree[:] = own
            cursor, outcome = running.copy(), np.zeros(n, dtype=np.int8)
            cancel_at = np.full(n, np.nan)
            for k, c in enumerate(children):
                alive = exists & (outcome == 0)
                c_end, c_out, c_cancel = run(c, cursor + rng.exponential(0.8, n) + 0.01,
                                             alive, own, k)
                cursor = np.where(alive, c_end, cursor)
                cancel_at = np.where(alive & (c_out == 2), c_cancel, cancel_at)
                outcome = np.where(alive, c_out, outcome)
            end = cursor + rng.exponential(0.5, n) + 0.01
            times = block["times"]
            times[:, 0], times[:, 1], times[:, 2] = start, claim, running
            final = np.select([outcome == 0, outcome == 1], [CO, FA], CD)
            cancelling = outcome == 2
            times[:, 3] = np.where(cancelling, np.fmax(cancel_at, running), end)
            times[:, 4] = np.where(cancelling, end, np.nan)
            block["path"] = _workflow_path(final, cancelling)
            return end, outcome, cancel_at

        run(0, created, np.ones(n, dtype=bool), np.full(n, -1), -1)


# Workflow parents use their own paths, appended after the leaf paths.
WORKFLOW_PATHS = {
    "wf_ok": (RQ, SG, RU, CO), "wf_fail": (RQ, SG, RU, FA), "wf_cancel": (RQ, SG, RU, CG, CD),
}
ALL_PATHS = {**PATHS, **WORKFLOW_PATHS}
_ALL_MATRIX = np.full((len(ALL_PATHS), MAX_STEPS), -1, dtype=np.int8)
for _i, _p in enumerate(ALL_PATHS.values()):
    _ALL_MATRIX[_i, : len(_p)] = _p
_ALL_LEN = np.array([len(p) for p in ALL_PATHS.values()], dtype=np.int8)
_WF_BASE = len(PATHS)


def _workflow_path(final: np.ndarray, cancelling: np.ndarray) -> np.ndarray:
    path = np.where(final == CO, _WF_BASE, _WF_BASE + 1)
    return np.where(cancelling, _WF_BASE + 2, path).astype(np.int16)


def _diurnal_times(rng: np.random.Generator, n: int, start: float, span: float) -> np.ndarray:
    """n instants in [start, start+span), denser in working hours (UTC), sorted."""
    out = np.empty(0)
    while len(out) < n:
        t = rng.uniform(0, span, 2 * n + 16)
        hour = (t / 3600.0 + start / 3600.0) % 24
        weekday = ((t + start) // 86400 + 3) % 7  # 1970-01-01 was a Thursday
        weight = 0.45 + 0.55 * np.exp(-((hour - 14.0) ** 2) / 18.0)
        weight = weight * np.where(weekday >= 5, 0.55, 1.0)
        out = np.concatenate([out, t[rng.random(len(t)) < weight]])
    return np.sort(out[:n]) + start


def _simulate(rng: np.random.Generator, roots: int, start: float, span: float,
              cohort: bool) -> dict[str, np.ndarray]:
    sim = _Simulator(rng)
    created = _diurnal_times(rng, roots, start, span)
    # Who starts each root: a rule (through an event and an enforcement) or a person.
    manual_share = 0.12
    is_manual = rng.random(roots) < manual_share
    rule_w = np.array([r[3] for r in RULES], dtype=float)
    rule = rng.choice(len(RULES), roots, p=rule_w / rule_w.sum())
    man_w = np.array([m[1] for m in MANUAL], dtype=float)
    manual_action = rng.choice(len(MANUAL), roots, p=man_w / man_w.sum())
    action_ref = np.where(is_manual, np.array([m[0] for m in MANUAL])[manual_action],
                          np.array([r[2] for r in RULES])[rule])
    rule = np.where(is_manual, -1, rule)
    manual = np.where(is_manual, rng.integers(0, len(HUMANS), roots), -1)
    force_path = np.full(roots, -1, dtype=np.int8)
    force_cut = np.full(roots, -1, dtype=np.int8)
    force_ask = np.full(roots, -1, dtype=np.int8)
    if cohort:
        _plan_cohort(action_ref, rule, manual, force_path, force_cut, force_ask)

    for ref in WORKFLOWS:
        pick = np.flatnonzero(action_ref == ref)
        if len(pick):
            sim.workflow(ref, created[pick], manual=manual[pick], rule=rule[pick],
                         force_ask=force_ask[pick])
    simple = np.flatnonzero(~np.isin(action_ref, list(WORKFLOWS)))
    actions = np.array([_ACTION[r] for r in action_ref[simple]], dtype=np.int16)
    idx = sim.leaves(actions, created[simple], parent=np.full(len(simple), -1),
                     tree=np.full(len(simple), -1), manual=manual[simple], rule=rule[simple],
                     forced=force_path[simple], forced_cut=force_cut[simple])
    _retries(sim, idx, actions)
    rows = sim.rows.concat()
    own = np.arange(len(rows["created"]))
    rows["tree"] = np.where(rows["tree"] < 0, own, rows["tree"])
    # A retry belongs to the tree of its first attempt: it cannot outlive a cut there.
    for _ in range(4):
        has = rows["original"] >= 0
        rows["tree"][has] = rows["tree"][rows["original"][has]]
    return rows


def _plan_cohort(action_ref: np.ndarray, rule: np.ndarray, manual: np.ndarray,
                 force_path: np.ndarray, force_cut: np.ndarray, force_ask: np.ndarray) -> None:
    """Make the rarer states present at any size: stuck runs, every terminal, inquiries."""
    n = len(action_ref)
    per = max(1, n // 4000)
    plan = [  # (action, path, status the run is stuck in or -1)
        ("core.local_cmd", "ok", RQ), ("core.local_cmd", "ok", SG), ("core.local_cmd", "ok", SD),
        ("core.local_cmd", "ok", RU), ("core.local_cmd", "cancel_running", CG),
        ("core.local_cmd", "abandon_running", -1), ("core.local_cmd", "abandon_scheduled", -1),
        ("core.http_request", "timeout", -1), ("core.local_cmd", "cancel_requested", -1),
        ("core.http_request", "fail", -1), ("ops.disk_cleanup", "fail", -1),
    ]
    # The cohort takes recent roots (stuck for a few days), early enough to survive
    # the final cut that makes the count exact.
    slot = int(n * 0.8)
    rule_of = {r[2]: i for i, r in enumerate(RULES)}

    def assign(ref: str) -> None:
        # Started by the rule that runs this action, or else by hand.
        action_ref[slot] = ref
        rule[slot] = rule_of.get(ref, -1)
        manual[slot] = -1 if ref in rule_of else 0

    for ref, path, cut in plan:
        for _ in range(per):
            assign(ref)
            force_path[slot] = PATH_NAMES.index(path)
            force_cut[slot] = cut
            slot -= 1
    for ask in (0, 1, 2):  # responded, timed out, pending
        for _ in range(per):
            assign("incident.auto_remediate")
            force_ask[slot] = ask
            slot -= 1


def _retries(sim: _Simulator, first: np.ndarray, actions: np.ndarray) -> None:
    """Failed top-level runs of retryable actions get new attempts (original_execution)."""
    rng = sim.rng
    max_retries = np.array([a.max_retries for a in ACTIONS])
    fail_paths = [PATH_NAMES.index(p) for p in ("fail", "unschedulable", "stale")]
    current, acts = first, actions
    for attempt in range(1, int(max_retries.max()) + 1):
        rows = sim.rows
        path = np.concatenate([b["path"] for b in rows.blocks])[current]
        times = np.concatenate([b["times"] for b in rows.blocks])[current]
        failed = np.isin(path, fail_paths) & (max_retries[acts] >= attempt)
        failed &= rng.random(len(current)) < 0.7
        if not failed.any():
            return
        src, a = current[failed], acts[failed]
        end = times[failed, _PATH_LEN[path[failed]] - 1]
        created = end + rng.exponential(20.0, len(src)) + 1.0
        block = {c: np.concatenate([b[c] for b in rows.blocks])[src]
                 for c in ("manual", "rule")}
        current = sim.leaves(a, created, parent=np.full(len(src), -1),
                             tree=np.full(len(src), -1), manual=block["manual"],
                             rule=block["rule"], original=src, retry_count=attempt)
        acts = a


# -- from simulation to rows -------------------------------------------------------


@dataclass
class _Plan:
    rows: dict[str, np.ndarray]
    cut: np.ndarray        # per row: the instant after which nothing has happened
    steps: np.ndarray      # per row: how many lifecycle steps happened
    as_of: float
    seed: int


def _plan(executions: int, seed: int) -> _Plan:
    end = ANCHOR.timestamp()
    start = (ANCHOR - WINDOW).timestamp()
    roots = max(30, int(executions / 1.65))
    while True:
        rng = np.random.default_rng(np.random.PCG64(seed))
        rows = _simulate(rng, roots, start, end - start, cohort=True)
        created = rows["created"]
        cut = np.full(len(created), end)
        forced = rows["forced_cut"]
        times, path = rows["times"], rows["path"]
        status = _ALL_MATRIX[path]
        # Stuck runs: cut their whole tree halfway through the forced state.
        for row in np.flatnonzero(forced >= 0):
            s = int(np.flatnonzero(status[row] == forced[row])[0])
            nxt = times[row, s + 1] if s + 1 < MAX_STEPS else np.nan
            here = times[row, s]
            at = here + (0.5 * (nxt - here) if np.isfinite(nxt) else 1.0)
            tree = rows["tree"][row]
            members = rows["tree"] == tree
            cut[members] = np.minimum(cut[members], at)
        alive = (created <= cut) & rows["exists"]
        if alive.sum() < executions:
            roots = int(roots * executions / max(alive.sum(), 1) * 1.03) + 10
            continue
        # Exactly `executions` rows: the history ends just before the next creation.
        order = np.sort(created[alive])
        as_of = (order[executions - 1] + order[executions]) / 2 if alive.sum() > executions \
            else order[-1] + 1.0
        cut = np.minimum(cut, as_of)
        keep = (created <= cut) & rows["exists"]
        # Shift everything so that the history ends exactly at ANCHOR.
        shift = end - as_of
        rows["created"] = created + shift
        rows["times"] = times + shift
        cut, as_of = cut + shift, end
        steps = np.where(np.isfinite(rows["times"]) & (rows["times"] <= cut[:, None]), 1, 0).sum(axis=1)
        steps = np.minimum(steps, _ALL_LEN[path])
        sub = {k: v[keep] for k, v in rows.items()}
        # Renumber: ids follow creation order, as BIGSERIAL does.
        order = np.argsort(sub["created"], kind="stable")
        new_of_old = np.full(len(created), -1)
        new_of_old[np.flatnonzero(keep)[order]] = np.arange(len(order))
        out = {k: v[order] for k, v in sub.items()}
        for ref in ("parent", "original", "tree"):
            col = out[ref]
            out[ref] = np.where(col >= 0, new_of_old[np.maximum(col, 0)], -1)
        return _Plan(out, cut[keep][order], steps[keep][order], float(as_of), seed)


# -- loading -----------------------------------------------------------------------


def _copy_binary(cursor: Any, table: str, columns: dict[str, np.ndarray]) -> None:
    """COPY fixed-width numpy columns into ``table`` in PostgreSQL's binary format.

    Supported dtypes: int16/int32/int64 (smallint/integer/bigint), float64 (double
    precision) and bool. Building the rows is one numpy record array: no Python loop.
    """
    arrays = [np.asarray(v) for v in columns.values()]
    n = len(arrays[0])
    kinds = {"i2": ">i2", "i4": ">i4", "i8": ">i8", "f8": ">f8", "b1": "u1"}
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, arr in enumerate(arrays):
        code = arr.dtype.str[1:]
        if code not in kinds:
            raise TypeError(f"column {list(columns)[i]} has unsupported dtype {arr.dtype}")
        fields += [(f"len{i}", ">i4"), (f"val{i}", kinds[code])]
    records = np.empty(n, dtype=fields)
    records["count"] = len(arrays)
    for i, arr in enumerate(arrays):
        records[f"len{i}"] = arr.dtype.itemsize
        records[f"val{i}"] = arr
    payload = (b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + records.tobytes()
               + struct.pack(">h", -1))
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)",
                       io.BytesIO(payload))


def _id_or_zero(values: np.ndarray, base: int) -> np.ndarray:
    """Row indexes to ids (``base`` + index + 1); -1 (none) becomes 0, read back as NULL."""
    return np.where(values >= 0, values + base + 1, 0).astype(np.int64)


def _reference_data(conn: sa.Connection, base: datetime) -> dict[str, dict[str, int]]:
    """Packs, actions, triggers, rules, identities, workers; returns ref -> id maps."""
    ids: dict[str, dict[str, int]] = {}
    at = base - timedelta(days=60)
    q = conn.execute

    def upsert(sql: str, params: dict[str, Any]) -> int:
        return int(q(sa.text(sql), params).scalar_one())

    ids["identity"] = {
        login: upsert(
            "INSERT INTO attune.identity (login, display_name, created, updated) "
            "VALUES (:l, :d, :t, :t) ON CONFLICT (login) DO UPDATE SET login = EXCLUDED.login "
            "RETURNING id", {"l": login, "d": name, "t": at})
        for login, name in IDENTITIES
    }
    ids["pack"] = {
        ref: upsert(
            "INSERT INTO attune.pack (ref, label, description, version, is_standard, tags, "
            "created, updated) VALUES (:r, :l, :d, '1.4.0', :s, ARRAY[:r], :t, :t) "
            "ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref RETURNING id",
            {"r": ref, "l": label, "d": desc, "s": std, "t": at})
        for ref, label, desc, std in PACKS
    }
    ids["action"] = {}
    for spec in ACTIONS:
        pack = spec.ref.split(".")[0]
        ids["action"][spec.ref] = upsert(
            "INSERT INTO attune.action (ref, pack, pack_ref, label, description, entrypoint, "
            "timeout_seconds, max_retries, workflow_def, param_schema, created, updated) "
            "VALUES (:r, :p, :pr, :l, :d, :e, :to, :mr, :wf, CAST(:ps AS jsonb), :t, :t) "
            "ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref RETURNING id",
            {"r": spec.ref, "p": ids["pack"][pack], "pr": pack,
             "l": spec.ref.split(".")[1].replace("_", " ").title(),
             "d": f"Demo action {spec.ref}", "e": f"{spec.ref.split('.')[1]}.py",
             "to": spec.timeout_seconds, "mr": spec.max_retries,
             "wf": (list(WORKFLOWS).index(spec.ref) + 1) if spec.ref in WORKFLOWS else None,
             "ps": '{"type": "object"}', "t": at})
    ids["trigger"] = {
        ref: upsert(
            "INSERT INTO attune.trigger (ref, pack, pack_ref, label, created, updated) "
            "VALUES (:r, :p, :pr, :l, :t, :t) ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref "
            "RETURNING id",
            {"r": ref, "p": ids["pack"][ref.split(".")[0]], "pr": ref.split(".")[0],
             "l": label, "t": at})
        for ref, label in TRIGGERS
    }
    ids["rule"] = {
        ref: upsert(
            "INSERT INTO attune.rule (ref, pack, pack_ref, label, action, action_ref, trigger, "
            "trigger_ref, created, updated) VALUES (:r, :p, :pr, :l, :a, :ar, :tr, :trr, :t, :t) "
            "ON CONFLICT (ref) DO UPDATE SET ref = EXCLUDED.ref RETURNING id",
            {"r": ref, "p": ids["pack"][ref.split(".")[0]], "pr": ref.split(".")[0],
             "l": ref.split(".")[1].replace("_", " ").title(), "a": ids["action"][action],
             "ar": action, "tr": ids["trigger"][trig], "trr": trig, "t": at})
        for ref, trig, action, _w in RULES
    }
    ids["worker"] = {
        name: upsert(
            "INSERT INTO attune.worker (name, worker_type, worker_role, host, port, status, "
            "capabilities, last_heartbeat, created, updated) VALUES (:n, "
            "CAST(:ty AS attune.worker_type_enum), CAST(:ro AS attune.worker_role_enum), :h, "
            "9100, CAST(:s AS attune.worker_status_enum), CAST(:c AS jsonb), :hb, :t, :t) "
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            {"n": name, "ty": wtype, "ro": role, "h": f"{name}.attune.internal", "s": status,
             "c": '{"runtimes": ["python", "shell"]}', "hb": base, "t": at})
        for name, wtype, role, status, _w in WORKERS
    }
    return ids


def _next_id(conn: sa.Connection, table: str) -> int:
    return int(conn.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM attune.{table}")).scalar_one())


def seed(db: Database, *, executions: int = 20_000, seed: int = 42, force: bool = False,
         progress: Callable[[str], None] | None = None) -> SeedReport:
    """Write a realistic, deterministic execution history into ``db``.

    Refuses (:class:`SeedError`) when executions exist already, unless ``force=True``.
    All of it is one transaction: on any failure nothing is written.

    >>> report = seed(attune_nb.connect(), executions=10_000, seed=7)   # doctest: +SKIP
    >>> print(report)                                                    # doctest: +SKIP
    seeded 10,000 executions (…) in 2.1s (seed 7, …)
    """
    import time

    if isinstance(executions, bool) or not isinstance(executions, int):
        raise ConfigurationError("executions", executions, "an integer")
    if executions < MIN_EXECUTIONS:
        raise ConfigurationError("executions", executions, f"at least {MIN_EXECUTIONS}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigurationError("seed", seed, "an integer")
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    with translate_errors(db.url), db.engine.connect() as conn:
        if conn.execute(sa.text("SELECT to_regclass('attune_nb.schema_migration')")).scalar() is None:
            raise SeedError(
                f"database {db.url} was not created by attune_nb (no migration ledger); demo "
                "data is never written into a real Attune database. Seed an embedded or empty "
                "database prepared with `attune-nb migrate`"
            )
        enum = conn.execute(sa.text(
            "SELECT enum_range(NULL::attune.execution_status_enum)::text[]")).scalar_one()
        if tuple(enum) != STATUSES:
            raise SeedError(f"execution_status_enum is {enum}, expected {list(STATUSES)}")
        existing = conn.execute(sa.text("SELECT count(*) FROM attune.execution")).scalar_one()
        if existing and not force:
            raise SeedError(
                f"the database already holds {existing:,} executions; demo data is only added "
                "to an empty database. Pass force=True (`attune-nb seed --force`) to add it anyway"
            )
        conn.rollback()
        say("simulating executions")
        plan = _plan(executions, seed)
        with conn.begin():
            # Bulk load with triggers and FK checks off; the history is written below in
            # exactly the shape the triggers would have written it.
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
            ids = _reference_data(conn, ANCHOR - WINDOW)
            report = _load(conn, plan, ids, say)
    report.seed = seed
    report.seconds = time.perf_counter() - started
    return report


def _load(conn: sa.Connection, plan: _Plan, ids: dict[str, dict[str, int]],
          say: Callable[[str], None]) -> SeedReport:
    rows, n = plan.rows, len(plan.rows["created"])
    rng = np.random.default_rng(np.random.PCG64([plan.seed, 1]))
    base = _next_id(conn, "execution")
    ev_base, enf_base = _next_id(conn, "event"), _next_id(conn, "enforcement")
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    path = rows["path"]
    status_m = _ALL_MATRIX[path]
    steps = plan.steps
    last = np.maximum(steps - 1, 0)
    final = status_m[np.arange(n), last]
    times = rows["times"]
    updated = times[np.arange(n), last]
    ran = (status_m == RU) & (np.arange(MAX_STEPS)[None, :] < steps[:, None])
    started_col = np.where(ran.any(axis=1), times[np.arange(n), ran.argmax(axis=1)], np.nan)
    is_leaf = path < _WF_BASE
    scheduled = (status_m == SD) & (np.arange(MAX_STEPS)[None, :] < steps[:, None])
    got_worker = is_leaf & scheduled.any(axis=1)
    w_weights = np.array([w[4] for w in WORKERS], dtype=float)
    worker_pick = rng.choice(len(WORKERS), n, p=w_weights / w_weights.sum())
    abandoned = final == AB
    worker_pick = np.where(abandoned & (rng.random(n) < 0.7), FLAKY_WORKER, worker_pick)
    worker_ids = np.array([ids["worker"][w[0]] for w in WORKERS])
    worker = np.where(got_worker, worker_ids[worker_pick], -1)

    # Roots started by a rule get an event and an enforcement just before them.
    root = rows["parent"] < 0
    first_attempt = root & (rows["original"] < 0)
    ruled = first_attempt & (rows["rule"] >= 0)
    ruled_rows = np.flatnonzero(ruled)
    enforcement_of = np.full(n, -1)
    enforcement_of[ruled_rows] = np.arange(len(ruled_rows))
    retried = rows["original"] >= 0
    # A retry keeps the enforcement of its first attempt (tree holds the first attempt).
    enforcement_of[retried] = enforcement_of[rows["tree"][retried]]
    tree_root = rows["tree"]
    human_ids = np.array([ids["identity"][IDENTITIES[h][0]] for h in HUMANS])
    executor = np.where(rows["manual"] >= 0, human_ids[np.maximum(rows["manual"], 0)], -1)

    say(f"loading {len(ruled_rows):,} events and enforcements")
    rule_ids = np.array([ids["rule"][r[0]] for r in RULES], dtype=np.int64)
    ev_ids = np.arange(len(ruled_rows), dtype=np.int64) + ev_base + 1
    enf_ids = np.arange(len(ruled_rows), dtype=np.int64) + enf_base + 1
    cur.execute("CREATE TEMP TABLE seed_event (event bigint, enforcement bigint, rule bigint, "
                "created double precision) ON COMMIT DROP")
    _copy_binary(cur, "seed_event", {
        "event": ev_ids, "enforcement": enf_ids,
        "rule": rule_ids[rows["rule"][ruled_rows]], "created": rows["created"][ruled_rows]})
    cur.execute(_INSERT_EVENTS)
    trace_event = np.zeros(n, dtype=np.int64)
    trace_event[ruled_rows] = ev_ids
    trace_event = trace_event[tree_root]

    say(f"loading {n:,} executions")
    indexes = _drop_indexes(cur, ("execution", "execution_history"))
    action_ids = np.array([ids["action"][a.ref] for a in ACTIONS], dtype=np.int64)
    act = rows["action"].astype(int)
    enforcement = np.where(root & (enforcement_of >= 0), enforcement_of + enf_base + 1, 0)
    prev = status_m[np.arange(n), np.maximum(last - 1, 0)]
    big = np.array([a.big_result for a in ACTIONS])[act] & (rng.random(n) < 0.3)
    task_names = sorted({t for t in rows["task_name"] if t})
    task_code = {name: i for i, name in enumerate(task_names)}
    task = np.array([task_code.get(t, -1) for t in rows["task_name"]], dtype=np.int16)
    cur.execute("CREATE TEMP TABLE seed_execution (id bigint, action bigint, parent bigint, "
                "enforcement bigint, executor bigint, worker bigint, status smallint, "
                "prev_status smallint, started_at double precision, created double precision, "
                "updated double precision, task smallint, task_index smallint, "
                "retry_count smallint, original bigint, trace_event bigint, big boolean) "
                "ON COMMIT DROP")
    _copy_binary(cur, "seed_execution", {
        "id": np.arange(n, dtype=np.int64) + base + 1, "action": action_ids[act],
        "parent": _id_or_zero(rows["parent"], base),
        "enforcement": enforcement.astype(np.int64),
        "executor": np.maximum(executor, 0).astype(np.int64),
        "worker": np.maximum(worker, 0).astype(np.int64),
        "status": final.astype(np.int16), "prev_status": prev.astype(np.int16),
        "started_at": started_col, "created": rows["created"], "updated": updated,
        "task": np.where(rows["parent"] >= 0, task, -1).astype(np.int16),
        "task_index": rows["task_index"].astype(np.int16),
        "retry_count": rows["retry_count"].astype(np.int16),
        "original": _id_or_zero(rows["original"], base),
        "trace_event": trace_event, "big": big})
    cur.execute("ANALYZE seed_execution")
    cur.execute(_INSERT_EXECUTIONS, {"tasks": task_names})
    cur.execute("ANALYZE attune.execution")

    say("writing execution history")
    step_idx = np.arange(1, MAX_STEPS)
    happened = step_idx[None, :] < steps[:, None]
    r_idx, s_idx = np.nonzero(happened)
    s_idx = s_idx + 1
    new = status_m[r_idx, s_idx]
    first_sched = scheduled.argmax(axis=1)
    # What else changed with the status: 1 result, 2 worker, 3 started_at (never two at once).
    kind = np.select(
        [np.isin(new, TERMINAL), (new == SD) & (s_idx == first_sched[r_idx]) & got_worker[r_idx],
         new == RU], [1, 2, 3], 0)
    order = np.argsort(times[r_idx, s_idx], kind="stable")
    r_idx, s_idx, kind = r_idx[order], s_idx[order], kind[order]
    cur.execute("CREATE TEMP TABLE seed_step (entity_id bigint, time double precision, "
                "old_status smallint, new_status smallint, kind smallint) ON COMMIT DROP")
    _copy_binary(cur, "seed_step", {
        "entity_id": (r_idx + base + 1).astype(np.int64), "time": times[r_idx, s_idx],
        "old_status": status_m[r_idx, s_idx - 1].astype(np.int16),
        "new_status": status_m[r_idx, s_idx].astype(np.int16), "kind": kind.astype(np.int16)})
    first_day = datetime.fromtimestamp(float(rows["created"].min()), UTC).date()
    last_day = datetime.fromtimestamp(plan.as_of, UTC).date()
    cur.execute("ANALYZE seed_step")
    cur.execute("SELECT attune.ensure_execution_history_partitions(%s, %s)", (first_day, last_day))
    cur.execute(_INSERT_HISTORY_CREATED, {"lo": base})
    history_rows = cur.rowcount
    cur.execute(_INSERT_HISTORY, {"lo": base})
    history_rows += cur.rowcount

    say(f"rebuilding {len(indexes)} indexes")  # counted with the history phase
    for definition in indexes:
        cur.execute(definition)

    say("writing inquiries")
    cur.execute(_INSERT_INQUIRIES, {"lo": base, "humans": [int(h) for h in human_ids]})
    inquiries = cur.rowcount
    for table in ("execution", "event", "enforcement", "inquiry"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('attune.{table}', 'id'), "
                    f"greatest((SELECT max(id) FROM attune.{table}), 1))")
    cur.execute("SELECT status::text, count(*) FROM attune.execution WHERE id > %s GROUP BY 1",
                (base,))
    counts = dict(cur.fetchall())
    cur.close()
    return SeedReport(
        executions=n, history_rows=history_rows,
        workflows=int(((rows["parent"] < 0) & ~is_leaf).sum()), inquiries=inquiries,
        events=len(ruled_rows), seed=0, as_of=datetime.fromtimestamp(plan.as_of, UTC),
        seconds=0.0, status_counts={s: int(counts.get(s, 0)) for s in STATUSES},
    )


def _drop_indexes(cur: Any, tables: Sequence[str]) -> list[str]:
    """Drop the secondary indexes of ``tables``; return the statements that rebuild them.

    A bulk load and one sorted index build beat a million index insertions; the
    whole seed is one transaction, so nobody sees the tables without them.
    """
    cur.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes AS i "
        "WHERE i.schemaname = 'attune' AND i.tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname "
        "AND c.connamespace = 'attune'::regnamespace) ORDER BY i.indexname",
        (list(tables),),
    )
    found = cur.fetchall()
    for name, _definition in found:
        cur.execute(f'DROP INDEX attune."{name}"')
    return [definition for _name, definition in found]


def _status_case(column: str) -> str:
    """SQL mapping a status code (position in STATUSES) to its name."""
    whens = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(STATUSES))
    return f"(CASE {column} {whens} END)"


_INSERT_EVENTS = """
INSERT INTO attune.event (id, trigger, trigger_ref, payload, rule, rule_ref, trace_tag, created)
SELECT s.event, r.trigger, r.trigger_ref, jsonb_build_object('seq', s.event, 'source', 'demo'),
       r.id, r.ref, 'trace-' || lpad(s.event::text, 8, '0'),
       to_timestamp(s.created) - interval '350 milliseconds'
FROM seed_event AS s JOIN attune.rule AS r ON r.id = s.rule ORDER BY s.event;
INSERT INTO attune.enforcement (id, rule, rule_ref, trigger_ref, event, status, payload,
    condition, created, resolved_at)
SELECT s.enforcement, r.id, r.ref, r.trigger_ref, s.event, 'processed',
       jsonb_build_object('event', s.event), 'all',
       to_timestamp(s.created) - interval '200 milliseconds',
       to_timestamp(s.created) - interval '10 milliseconds'
FROM seed_event AS s JOIN attune.rule AS r ON r.id = s.rule ORDER BY s.enforcement;
"""

_INSERT_EXECUTIONS = """
INSERT INTO attune.execution (id, action, action_ref, config, env_vars, parent, enforcement,
    executor, worker, status, result, started_at, timeout_seconds, created, workflow_task,
    retry_count, max_retries, retry_reason, original_execution, trace_tag, updated)
SELECT s.id, s.action, a.ref,
    jsonb_build_object('request_id', s.id, 'target', 'host-' || (s.id %% 40)),
    CASE WHEN s.id %% 7 = 0 THEN jsonb_build_object('LOG_LEVEL', 'debug') END,
    nullif(s.parent, 0), nullif(s.enforcement, 0), nullif(s.executor, 0),
    nullif(s.worker, 0), st.status,
    CASE st.status
        WHEN 'completed' THEN CASE WHEN s.big
            THEN jsonb_build_object('exit_code', 0, 'status_code', 200,
                                    'body', repeat('{"item": ' || s.id || '}, ', 90))
            ELSE jsonb_build_object('exit_code', 0, 'stdout', 'ok ' || s.id) END
        WHEN 'failed' THEN CASE
            WHEN st.previous = 'scheduling' THEN jsonb_build_object(
                'error', 'no worker available for runtime', 'failed_by', 'scheduler',
                'previous_status', 'scheduling')
            WHEN st.previous = 'scheduled' THEN jsonb_build_object(
                'error', 'dispatch went stale', 'failed_by', 'executor',
                'previous_status', 'scheduled')
            ELSE jsonb_build_object('error', 'action exited with code 1', 'exit_code', 1,
                                    'stderr', 'Traceback (most recent call last): ...') END
        WHEN 'timeout' THEN jsonb_build_object('timed_out', true,
            'error', 'action timed out after ' || a.timeout_seconds || 's')
        WHEN 'cancelled' THEN jsonb_build_object('cancelled_by', 'identity:alice',
            'previous_status', st.previous)
        WHEN 'abandoned' THEN jsonb_build_object('abandoned_by', 'executor',
            'error', 'worker stopped sending heartbeats', 'previous_status', st.previous)
    END,
    CASE WHEN s.started_at = 'NaN' THEN NULL ELSE to_timestamp(s.started_at) END,
    a.timeout_seconds, to_timestamp(s.created),
    CASE WHEN s.parent <> 0 THEN jsonb_build_object(
        'workflow_execution', s.parent, 'task_name', (%(tasks)s::text[])[s.task + 1],
        'task_index', s.task_index, 'task_batch', NULL, 'retry_count', 0,
        'max_retries', a.max_retries, 'timeout_seconds', a.timeout_seconds) END,
    s.retry_count, a.max_retries,
    CASE WHEN s.original <> 0 THEN 'previous attempt failed' END,
    nullif(s.original, 0),
    CASE WHEN s.trace_event <> 0 THEN 'trace-' || lpad(s.trace_event::text, 8, '0') END,
    to_timestamp(s.updated)
FROM seed_execution AS s
JOIN attune.action AS a ON a.id = s.action
CROSS JOIN LATERAL (SELECT """ + _status_case("s.status") + """::attune.execution_status_enum
                    AS status, """ + _status_case("s.prev_status") + """ AS previous) AS st
"""

_INSERT_HISTORY_CREATED = """
INSERT INTO attune.execution_history (time, operation, entity_id, entity_ref, changed_fields,
    old_values, new_values)
SELECT e.created, 'INSERT', e.id, e.action_ref, '{}', NULL,
    jsonb_build_object('status', 'requested', 'action_ref', e.action_ref,
                       'executor', e.executor, 'worker', NULL, 'parent', e.parent,
                       'enforcement', e.enforcement, 'started_at', NULL,
                       'trace_tag', e.trace_tag)
FROM attune.execution AS e WHERE e.id > %(lo)s
"""

_INSERT_HISTORY = """
INSERT INTO attune.execution_history (time, operation, entity_id, entity_ref, changed_fields,
    old_values, new_values)
SELECT to_timestamp(st.time), 'UPDATE', e.id, e.action_ref,
    CASE st.kind WHEN 1 THEN '{status,result}'::text[] WHEN 2 THEN '{status,worker}'::text[]
                 WHEN 3 THEN '{status,started_at}'::text[] ELSE '{status}'::text[] END,
    CASE st.kind WHEN 1 THEN jsonb_build_object('status', o.status, 'result', NULL)
                 WHEN 2 THEN jsonb_build_object('status', o.status, 'worker', NULL)
                 WHEN 3 THEN jsonb_build_object('status', o.status, 'started_at', NULL)
                 ELSE jsonb_build_object('status', o.status) END,
    CASE st.kind WHEN 1 THEN jsonb_build_object('status', n.status,
                                                'result', attune._jsonb_history_value(e.result))
                 WHEN 2 THEN jsonb_build_object('status', n.status, 'worker', e.worker)
                 WHEN 3 THEN jsonb_build_object('status', n.status, 'started_at', e.started_at)
                 ELSE jsonb_build_object('status', n.status) END
FROM seed_step AS st
JOIN attune.execution AS e ON e.id = st.entity_id
CROSS JOIN LATERAL (SELECT """ + _status_case("st.old_status") + """ AS status) AS o
CROSS JOIN LATERAL (SELECT """ + _status_case("st.new_status") + """ AS status) AS n
WHERE e.id > %(lo)s
"""

# One inquiry per core.ask_human task that got to run: answered when the task
# completed, timed out with it, cancelled with it, pending while it still runs.
_INSERT_INQUIRIES = """
INSERT INTO attune.inquiry (created_by_execution, prompt, response_schema, response_options,
    assigned_to, status, response, timeout_at, responded_at, responded_by, created, updated)
SELECT e.id,
    'Alert on ' || (e.config->>'target') || ': restart the pod, escalate, or ignore?',
    '{"type": "object", "required": ["choice"], "properties": {"choice": {"type": "string",
      "enum": ["restart", "escalate", "ignore"]}, "comment": {"type": "string"}}}'::jsonb,
    '["restart", "escalate", "ignore"]'::jsonb,
    h.assignee,
    CASE e.status WHEN 'completed' THEN 'responded' WHEN 'timeout' THEN 'timeout'
                  WHEN 'running' THEN 'pending' ELSE 'cancelled' END::attune.inquiry_status_enum,
    CASE WHEN e.status = 'completed' THEN jsonb_build_object(
        'choice', (ARRAY['restart', 'restart', 'escalate', 'ignore'])[1 + e.id %% 4]) END,
    CASE WHEN e.status = 'running' THEN NULL
         ELSE e.started_at + make_interval(secs => e.timeout_seconds) END,
    CASE WHEN e.status = 'completed' THEN e.updated - interval '1 second' END,
    CASE WHEN e.status = 'completed' THEN h.assignee END,
    e.started_at + interval '1 second',
    CASE e.status WHEN 'running' THEN e.started_at + interval '1 second'
                  WHEN 'completed' THEN e.updated - interval '1 second'
                  ELSE e.updated END
FROM attune.execution AS e
CROSS JOIN LATERAL (SELECT (%(humans)s::bigint[])[1 + (e.id %% 4)] AS assignee) AS h
WHERE e.id > %(lo)s AND e.action_ref = 'core.ask_human' AND e.started_at IS NOT NULL
ORDER BY e.id
"""
