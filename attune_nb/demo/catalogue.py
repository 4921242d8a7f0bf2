"""What the demo history is made of: packs, actions, triggers, rules, people, workers.

Also the status paths an execution can take and the odds of each. Pure data, no
database; :mod:`attune_nb.demo.simulation` draws from it, :mod:`attune_nb.demo.load` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from attune_nb.lifecycle import ExecutionStatus

# The demo history: what `attune-nb demo` and a fresh embedded default get.
DEMO_EXECUTIONS = 20_000
DEMO_SEED = 42
ANCHOR = datetime(2026, 1, 14, tzinfo=UTC)
"""The fixed instant the demo history ends at."""
WINDOW = timedelta(days=14)
"""How far back the demo history starts, before :data:`ANCHOR`."""

# Status codes are positions in the lifecycle order of execution_status_enum.
STATUSES = tuple(status.value for status in ExecutionStatus)
RQ, SG, SD, RU, CO, FA, CG, CD, TO, AB = range(10)
TERMINAL_CODES = (CO, FA, CD, TO, AB)

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
# Workflow parents use their own paths (no worker, so no "scheduled"), after the leaf paths.
WORKFLOW_PATHS: dict[str, tuple[int, ...]] = {
    "wf_ok": (RQ, SG, RU, CO),
    "wf_fail": (RQ, SG, RU, FA),
    "wf_cancel": (RQ, SG, RU, CG, CD),
}
ALL_PATHS = {**PATHS, **WORKFLOW_PATHS}
WORKFLOW_PATH_BASE = len(PATHS)
"""Path codes from here on are workflow parents' paths."""


def _matrix(paths: dict[str, tuple[int, ...]]) -> np.ndarray:
    """One row per path: its status codes, padded with -1 to MAX_STEPS."""
    matrix = np.full((len(paths), MAX_STEPS), -1, dtype=np.int8)
    for i, path in enumerate(paths.values()):
        matrix[i, : len(path)] = path
    return matrix


PATH_MATRIX = _matrix(PATHS)
PATH_LEN = np.array([len(p) for p in PATHS.values()], dtype=np.int8)
ALL_MATRIX = _matrix(ALL_PATHS)
ALL_LEN = np.array([len(p) for p in ALL_PATHS.values()], dtype=np.int8)
# Which outcome a path means for an enclosing workflow: 0 go on, 1 fail it, 2 cancel it.
PATH_OUTCOME = np.array(
    [0 if p[-1] == CO else 2 if p[-1] == CD else 1 for p in PATHS.values()], dtype=np.int8
)
# Small, fixed odds of the rarer paths; "fail" and "timeout" come from the action.
BASE_ODDS = {
    "cancel_running": 0.008,
    "cancel_requested": 0.004,
    "abandon_running": 0.003,
    "abandon_scheduled": 0.002,
    "unschedulable": 0.004,
    "requeued": 0.02,
    "dispatch_reverted": 0.005,
    "stale": 0.002,
    "killed_running": 0.002,
}


@dataclass(frozen=True)
class ActionSpec:
    """An action of the demo packs and how its runs behave."""

    ref: str
    median_s: float = 1.0  # median run time
    sigma: float = 0.8  # lognormal spread
    fail: float = 0.03
    timeout: float = 0.0
    timeout_seconds: int | None = None
    max_retries: int = 0
    workflow: bool = False
    big_result: bool = False  # results over the history digest threshold


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("core.echo", 0.2, 0.5, fail=0.005),
    ActionSpec(
        "core.http_request",
        1.2,
        0.9,
        fail=0.04,
        timeout=0.01,
        timeout_seconds=30,
        max_retries=3,
        big_result=True,
    ),
    ActionSpec("core.local_cmd", 2.0, 1.0, fail=0.05, timeout=0.005, timeout_seconds=300),
    ActionSpec("core.notify", 0.6, 0.6, fail=0.01, max_retries=2),
    ActionSpec("core.ask_human", 900.0, 1.0, fail=0.0, timeout=0.2, timeout_seconds=3600),
    ActionSpec("ops.nightly_maintenance", workflow=True),
    ActionSpec("ops.rotate_logs", 8.0, 0.5, fail=0.02, max_retries=1),
    ActionSpec("ops.db_backup", workflow=True),
    ActionSpec("ops.snapshot_volume", 140.0, 0.7, fail=0.03, timeout=0.01, timeout_seconds=1800),
    ActionSpec("ops.verify_backup", workflow=True),
    ActionSpec("ops.checksum", 35.0, 0.6, fail=0.02),
    ActionSpec(
        "ops.disk_cleanup", 20.0, 1.1, fail=0.06, timeout=0.01, timeout_seconds=600, max_retries=2
    ),
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
ACTION_INDEX = {a.ref: i for i, a in enumerate(ACTIONS)}
"""Action ref -> its position in :data:`ACTIONS` (the action code of simulated rows)."""


def _path_odds() -> np.ndarray:
    """Per action (row) the odds of each leaf path (column, in PATHS order)."""
    odds = np.zeros((len(ACTIONS), len(PATHS)))
    for a, spec in enumerate(ACTIONS):
        row = dict.fromkeys(PATH_NAMES, 0.0)
        row.update(BASE_ODDS)
        row["fail"] = spec.fail
        row["timeout"] = spec.timeout if spec.timeout_seconds else 0.0
        if spec.ref == "core.ask_human":  # a person answers, times out, or is cancelled
            row = dict.fromkeys(PATH_NAMES, 0.0)
            row.update(timeout=spec.timeout, cancel_running=0.04)
        row["ok"] = 1.0 - sum(v for k, v in row.items() if k != "ok")
        odds[a] = [row[name] for name in PATH_NAMES]
    return odds


PATH_ODDS = _path_odds()

# (ref, label, description, is_standard)
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
    ("core.local_cmd", 8),
    ("core.notify", 3),
    ("core.http_request", 2),
    ("deploy.release", 2),
    ("ops.disk_cleanup", 2),
)
IDENTITIES = (
    ("admin", "Administrator"),
    ("alice", "Alice Ops"),
    ("bob", "Bob SRE"),
    ("carol", "Carol Release"),
    ("dave", "Dave On-call"),
    ("ci-bot", "CI bot"),
)
HUMANS = (1, 2, 3, 4)  # indexes of IDENTITIES who start runs and answer inquiries
# What every core.ask_human inquiry asks, in Attune's own formats (ATTUNE_SCHEMA.md,
# "inquiry"): a flat response_schema (required and optional fields of several types, one
# secret) and option objects of all three styles, each response satisfying the schema.
INQUIRY_SCHEMA: dict[str, dict[str, object]] = {
    "action": {
        "type": "string",
        "enum": ["restart", "escalate", "ignore"],
        "required": True,
        "position": 0,
        "description": "What to do about the alert",
    },
    "notify_oncall": {
        "type": "boolean",
        "required": True,
        "default": False,
        "position": 1,
        "description": "Page the on-call engineer",
    },
    "replicas": {
        "type": "integer",
        "minimum": 1,
        "maximum": 10,
        "position": 2,
        "description": "How many pods to run after a restart",
    },
    "comment": {"type": "string", "maxLength": 500, "position": 3},
    "ack_token": {
        "type": "string",
        "secret": True,
        "position": 4,
        "description": "The pager's acknowledgement code",
    },
}
INQUIRY_OPTIONS: tuple[dict[str, object], ...] = (
    {
        "ref": "restart",
        "label": "Restart the pod",
        "style": "destructive",
        "response": {"action": "restart", "notify_oncall": False},
    },
    {
        "ref": "escalate",
        "label": "Escalate to on-call",
        "style": "positive",
        "response": {"action": "escalate", "notify_oncall": True},
    },
    {
        "ref": "ignore",
        "label": "Ignore",
        "style": "default",
        "response": {"action": "ignore", "notify_oncall": False},
    },
)
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
    """One task of a workflow template."""

    action: str
    parent: int  # index in the template, -1 for the root


# Workflow templates, depth first; ops.nightly_maintenance nests four levels.
WORKFLOWS: dict[str, tuple[Task, ...]] = {
    "ops.nightly_maintenance": (
        Task("ops.nightly_maintenance", -1),
        Task("ops.rotate_logs", 0),
        Task("ops.db_backup", 0),
        Task("ops.snapshot_volume", 2),
        Task("ops.verify_backup", 2),
        Task("ops.checksum", 4),
        Task("core.notify", 4),
        Task("core.notify", 0),
    ),
    "deploy.release": (
        Task("deploy.release", -1),
        Task("deploy.checkout", 0),
        Task("deploy.build", 0),
        Task("deploy.canary", 0),
        Task("deploy.k8s_apply", 3),
        Task("deploy.wait_ready", 3),
        Task("monitoring.check_slo", 3),
        Task("core.notify", 0),
    ),
    "incident.auto_remediate": (
        Task("incident.auto_remediate", -1),
        Task("incident.fetch_alerts", 0),
        Task("incident.triage", 0),
        Task("core.ask_human", 2),
        Task("incident.restart_pod", 2),
        Task("core.notify", 0),
    ),
}
