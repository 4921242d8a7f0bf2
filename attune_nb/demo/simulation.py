"""The demo history simulated in numpy: :func:`plan` returns every execution as arrays.

Seeded and on a fixed clock, so the same size and seed give the same rows. No
database here; :mod:`attune_nb.demo.load` turns a :class:`Plan` into rows and history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from attune_nb.demo.catalogue import (
    AB,
    ACTION_INDEX,
    ACTIONS,
    ALL_LEN,
    ALL_MATRIX,
    ANCHOR,
    CD,
    CG,
    CO,
    FA,
    HUMANS,
    MANUAL,
    MAX_STEPS,
    PATH_LEN,
    PATH_MATRIX,
    PATH_NAMES,
    PATH_ODDS,
    PATH_OUTCOME,
    PATHS,
    RQ,
    RU,
    RULES,
    SD,
    SG,
    TO,
    WINDOW,
    WORKFLOW_PATH_BASE,
    WORKFLOWS,
)
from attune_nb.errors import ConfigurationError

__all__ = ["Plan", "plan"]


@dataclass(repr=False)
class Plan:
    """The simulated executions, one array element per row, in id (creation) order.

    ``rows`` holds the columns (``action`` an index in ``ACTIONS``, ``path`` one in
    ``ALL_PATHS``, ``times`` the instant of each path step as POSIX seconds; ``parent``,
    ``original`` and ``tree`` are row indexes, -1 for none). ``steps`` says how many
    steps of its path a row has taken by ``as_of``, the end of the history.

    >>> p = plan(1_000, random_seed=7)
    >>> p
    <Plan 1,000 executions (seed 7, history ends 2026-01-14 00:00:00 UTC)>
    """

    rows: dict[str, np.ndarray]
    cut: np.ndarray  # per row: the instant after which nothing has happened
    steps: np.ndarray  # per row: how many lifecycle steps happened
    as_of: float
    random_seed: int

    @property
    def size(self) -> int:
        """How many executions were planned."""
        return len(self.rows["created"])

    @property
    def statuses(self) -> np.ndarray:
        """Per row, the status codes of its whole path, -1 past its end: (size, MAX_STEPS)."""
        statuses: np.ndarray = ALL_MATRIX[self.rows["path"]]
        return statuses

    @property
    def final_status(self) -> np.ndarray:
        """Per row, the code (position in ``STATUSES``) of its status at ``as_of``."""
        final: np.ndarray = self.statuses[np.arange(self.size), np.maximum(self.steps - 1, 0)]
        return final

    def __repr__(self) -> str:
        as_of = datetime.fromtimestamp(self.as_of, UTC)
        return (
            f"<Plan {self.size:,} executions (seed {self.random_seed}, "
            f"history ends {as_of:%Y-%m-%d %H:%M:%S} UTC)>"
        )


def plan(executions: int, *, random_seed: int) -> Plan:
    """Simulate exactly ``executions`` executions whose history ends at ``ANCHOR``.

    Rule-triggered and manual runs, workflows nested four levels deep, retry chains,
    human inquiries and a cohort of stuck runs, so that every status is present.
    """
    if executions < 1:
        raise ConfigurationError("executions", executions, "at least 1")
    end = ANCHOR.timestamp()
    start = (ANCHOR - WINDOW).timestamp()
    roots = max(30, int(executions / 1.65))
    while True:
        rng = np.random.default_rng(np.random.PCG64(random_seed))
        rows = _simulate(rng, roots, start, end - start, cohort=True)
        created = rows["created"]
        cut = np.full(len(created), end)
        forced = rows["forced_cut"]
        times, path = rows["times"], rows["path"]
        status = ALL_MATRIX[path]
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
        as_of = (
            (order[executions - 1] + order[executions]) / 2
            if alive.sum() > executions
            else order[-1] + 1.0
        )
        cut = np.minimum(cut, as_of)
        keep = (created <= cut) & rows["exists"]
        # Shift everything so that the history ends exactly at ANCHOR.
        shift = end - as_of
        rows["created"] = created + shift
        rows["times"] = times + shift
        cut, as_of = cut + shift, end
        happened = np.isfinite(rows["times"]) & (rows["times"] <= cut[:, None])
        steps = np.minimum(np.where(happened, 1, 0).sum(axis=1), ALL_LEN[path])
        sub = {k: v[keep] for k, v in rows.items()}
        # Renumber: ids follow creation order, as BIGSERIAL does.
        order = np.argsort(sub["created"], kind="stable")
        new_of_old = np.full(len(created), -1)
        new_of_old[np.flatnonzero(keep)[order]] = np.arange(len(order))
        out = {k: v[order] for k, v in sub.items()}
        for ref in ("parent", "original", "tree"):
            col = out[ref]
            out[ref] = np.where(col >= 0, new_of_old[np.maximum(col, 0)], -1)
        return Plan(out, cut[keep][order], steps[keep][order], float(as_of), random_seed)


class _Rows:
    """Column arrays of simulated executions, appended in blocks."""

    COLUMNS = (
        "action",
        "parent",
        "tree",
        "original",
        "retry_count",
        "created",
        "path",
        "times",
        "task_name",
        "task_index",
        "manual",
        "rule",
        "forced_cut",
        "exists",
    )

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
        self.cum_odds = np.cumsum(PATH_ODDS, axis=1)
        self.median = np.array([a.median_s for a in ACTIONS])
        self.sigma = np.array([a.sigma for a in ACTIONS])
        self.timeout_s = np.array([a.timeout_seconds or 0 for a in ACTIONS], dtype=float)

    # One lifecycle per leaf: a path and the time of each of its steps.
    def lifecycle(
        self, action: np.ndarray, created: np.ndarray, forced: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        rng, n = self.rng, len(action)
        u = rng.random(n)
        path = (u[:, None] > self.cum_odds[action]).sum(axis=1).astype(np.int8)
        path = np.minimum(path, len(PATHS) - 1)
        if forced is not None:
            path = np.where(forced >= 0, forced, path).astype(np.int8)
        statuses = PATH_MATRIX[path]
        times = np.full((n, MAX_STEPS), np.nan)
        times[:, 0] = created
        # Run time: lognormal around the action's median, with a heavy tail.
        run = self.median[action] * np.exp(self.sigma[action] * rng.standard_normal(n))
        tail = rng.random(n) < 0.01
        run = np.where(tail, run * (1 + rng.pareto(1.5, n) * 5), run)
        draws = {
            "claim": rng.exponential(0.4, n),
            "schedule": rng.exponential(0.6, n),
            "dispatch": rng.exponential(0.9, n) + 0.05,
            "requeue": rng.exponential(25.0, n),
            "revert": rng.exponential(6.0, n),
            "fail_fast": rng.exponential(4.0, n),
            "lost": rng.exponential(300.0, n) + 60,
            "cancel": rng.exponential(2.5, n) + 0.1,
            "cancel_queued": rng.exponential(40.0, n),
            "stale": rng.exponential(150.0, n),
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

    def leaves(
        self,
        action: np.ndarray,
        created: np.ndarray,
        *,
        parent: np.ndarray,
        tree: np.ndarray,
        manual: np.ndarray,
        rule: np.ndarray,
        task_index: np.ndarray | int = -1,
        task_name: str = "",
        forced: np.ndarray | None = None,
        forced_cut: np.ndarray | None = None,
        original: np.ndarray | None = None,
        retry_count: int = 0,
        exists: np.ndarray | None = None,
    ) -> np.ndarray:
        n = len(action)
        path, times = self.lifecycle(action, created, forced)
        index = self.rows.add(
            action=action.astype(np.int16),
            parent=parent,
            tree=tree,
            original=original if original is not None else np.full(n, -1),
            retry_count=np.full(n, retry_count, dtype=np.int16),
            created=created,
            path=path.astype(np.int16),
            times=times,
            task_name=np.full(n, task_name, dtype=object),
            task_index=np.broadcast_to(np.asarray(task_index, dtype=np.int16), (n,)).copy(),
            manual=manual,
            rule=rule,
            forced_cut=forced_cut if forced_cut is not None else np.full(n, -1, dtype=np.int8),
            exists=exists if exists is not None else np.ones(n, dtype=bool),
        )
        return index

    def workflow(
        self,
        ref: str,
        created: np.ndarray,
        *,
        manual: np.ndarray,
        rule: np.ndarray,
        force_ask: np.ndarray | None = None,
    ) -> None:
        """Instantiate a workflow template for len(created) roots, children run in turn."""
        rng, tasks = self.rng, WORKFLOWS[ref]
        n = len(created)
        tree = np.full(n, -1)  # filled with the root's index once it exists

        def run(
            j: int, start: np.ndarray, exists: np.ndarray, parent: np.ndarray, task_index: int
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            task = tasks[j]
            action = np.full(n, ACTION_INDEX[task.action], dtype=np.int16)
            children = [c for c, t in enumerate(tasks) if t.parent == j]
            name = task.action.split(".", 1)[1] if task.parent >= 0 else ""
            if not children:
                forced = forced_cut = None
                if task.action == "core.ask_human" and force_ask is not None:
                    forced = np.where(force_ask >= 0, PATH_NAMES.index("ok"), -1).astype(np.int8)
                    forced = np.where(force_ask == 1, PATH_NAMES.index("timeout"), forced)
                    forced_cut = np.where(force_ask == 2, RU, -1).astype(np.int8)
                self.leaves(
                    action,
                    start,
                    parent=parent,
                    tree=tree,
                    manual=manual,
                    rule=rule,
                    task_index=task_index,
                    task_name=name,
                    forced=forced,
                    forced_cut=forced_cut,
                    exists=exists,
                )
                path = self.rows.blocks[-1]["path"]
                times = self.rows.blocks[-1]["times"]
                last = PATH_LEN[path] - 1
                end = times[np.arange(n), last]
                outcome = PATH_OUTCOME[path]
                cancel_at = np.where(outcome == 2, times[np.arange(n), np.minimum(4, last)], np.nan)
                return end, outcome, cancel_at
            # A workflow parent has no worker: requested -> scheduling -> running.
            claim = start + rng.exponential(0.3, n)
            running = claim + rng.exponential(0.2, n) + 0.01
            own = self.rows.add(
                action=action,
                parent=parent,
                tree=tree,
                original=np.full(n, -1),
                retry_count=np.zeros(n, dtype=np.int16),
                created=start,
                path=np.full(n, -1, dtype=np.int16),
                times=np.full((n, MAX_STEPS), np.nan),
                task_name=np.full(n, name, dtype=object),
                task_index=np.full(n, task_index, dtype=np.int16),
                manual=manual,
                rule=rule,
                forced_cut=np.full(n, -1, dtype=np.int8),
                exists=exists,
            )
            block = self.rows.blocks[-1]
            if task.parent < 0:
                tree[:] = own
            cursor, outcome = running.copy(), np.zeros(n, dtype=np.int8)
            cancel_at = np.full(n, np.nan)
            for k, c in enumerate(children):
                alive = exists & (outcome == 0)
                c_end, c_out, c_cancel = run(
                    c, cursor + rng.exponential(0.8, n) + 0.01, alive, own, k
                )
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


def _workflow_path(final: np.ndarray, cancelling: np.ndarray) -> np.ndarray:
    path = np.where(final == CO, WORKFLOW_PATH_BASE, WORKFLOW_PATH_BASE + 1)
    return np.where(cancelling, WORKFLOW_PATH_BASE + 2, path).astype(np.int16)


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


def _simulate(
    rng: np.random.Generator, roots: int, start: float, span: float, cohort: bool
) -> dict[str, np.ndarray]:
    sim = _Simulator(rng)
    created = _diurnal_times(rng, roots, start, span)
    # Who starts each root: a rule (through an event and an enforcement) or a person.
    manual_share = 0.12
    is_manual = rng.random(roots) < manual_share
    rule_w = np.array([r[3] for r in RULES], dtype=float)
    rule = rng.choice(len(RULES), roots, p=rule_w / rule_w.sum())
    man_w = np.array([m[1] for m in MANUAL], dtype=float)
    manual_action = rng.choice(len(MANUAL), roots, p=man_w / man_w.sum())
    action_ref = np.where(
        is_manual,
        np.array([m[0] for m in MANUAL])[manual_action],
        np.array([r[2] for r in RULES])[rule],
    )
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
            sim.workflow(
                ref, created[pick], manual=manual[pick], rule=rule[pick], force_ask=force_ask[pick]
            )
    simple = np.flatnonzero(~np.isin(action_ref, list(WORKFLOWS)))
    actions = np.array([ACTION_INDEX[r] for r in action_ref[simple]], dtype=np.int16)
    idx = sim.leaves(
        actions,
        created[simple],
        parent=np.full(len(simple), -1),
        tree=np.full(len(simple), -1),
        manual=manual[simple],
        rule=rule[simple],
        forced=force_path[simple],
        forced_cut=force_cut[simple],
    )
    _retries(sim, idx, actions)
    rows = sim.rows.concat()
    own = np.arange(len(rows["created"]))
    rows["tree"] = np.where(rows["tree"] < 0, own, rows["tree"])
    # A retry belongs to the tree of its first attempt: it cannot outlive a cut there.
    for _ in range(4):
        has = rows["original"] >= 0
        rows["tree"][has] = rows["tree"][rows["original"][has]]
    return rows


def _plan_cohort(
    action_ref: np.ndarray,
    rule: np.ndarray,
    manual: np.ndarray,
    force_path: np.ndarray,
    force_cut: np.ndarray,
    force_ask: np.ndarray,
) -> None:
    """Make the rarer states present at any size: stuck runs, every terminal, inquiries."""
    n = len(action_ref)
    per = max(1, n // 4000)
    cohort = [  # (action, path, status the run is stuck in or -1)
        ("core.local_cmd", "ok", RQ),
        ("core.local_cmd", "ok", SG),
        ("core.local_cmd", "ok", SD),
        ("core.local_cmd", "ok", RU),
        ("core.local_cmd", "cancel_running", CG),
        ("core.local_cmd", "abandon_running", -1),
        ("core.local_cmd", "abandon_scheduled", -1),
        ("core.http_request", "timeout", -1),
        ("core.local_cmd", "cancel_requested", -1),
        ("core.http_request", "fail", -1),
        ("ops.disk_cleanup", "fail", -1),
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

    for ref, path, cut in cohort:
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
        end = times[failed, PATH_LEN[path[failed]] - 1]
        created = end + rng.exponential(20.0, len(src)) + 1.0
        block = {c: np.concatenate([b[c] for b in rows.blocks])[src] for c in ("manual", "rule")}
        current = sim.leaves(
            a,
            created,
            parent=np.full(len(src), -1),
            tree=np.full(len(src), -1),
            manual=block["manual"],
            rule=block["rule"],
            original=src,
            retry_count=attempt,
        )
        acts = a
