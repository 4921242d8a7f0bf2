"""executions.stuck: Attune's supervisor rules, each just over and just under its threshold.

Histories are written with exact times and ``now`` is a parameter, so every age is
known by construction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.errors import InvalidFilter
from attune_nb.repository.supervisor import RULES, STUCK_COLUMNS
from attune_nb.testing import write_history

T0 = pd.Timestamp("2026-01-10T00:00:00Z")


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def story(db: attune_nb.Database, ref: str, *steps: tuple[str, float], **columns: Any) -> int:
    """An execution whose history is exactly ``steps`` ((status, seconds after T0), in order)."""
    return write_history(db, ref, *steps, start=T0, **columns)


NOW = at(3 * 3600)  # three hours after T0
HOUR = 3600


def before(seconds: float) -> float:
    """Seconds after T0 that is ``seconds`` before NOW."""
    return 3 * HOUR - seconds


def worker(db: attune_nb.Database, name: str, *, status: str, silent_for: float) -> int:
    with db.transaction() as conn:
        return int(
            conn.execute(
                sa.text(
                    "INSERT INTO attune.worker (name, worker_type, worker_role, status, "
                    "last_heartbeat, created) VALUES (:n, 'local', 'action', "
                    "CAST(:s AS attune.worker_status_enum), :hb, :created) RETURNING id"
                ),
                {
                    "n": name,
                    "s": status,
                    "hb": (NOW - pd.Timedelta(seconds=silent_for)).to_pydatetime(),
                    "created": T0.to_pydatetime(),
                },
            ).scalar_one()
        )


def queue(db: attune_nb.Database, execution_id: int) -> None:
    """A queued admission entry: the execution waits behind its action's concurrency limit."""
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                """
                WITH p AS (INSERT INTO attune.pack (ref, label, version)
                           VALUES ('q', 'Q', '1') RETURNING id),
                a AS (INSERT INTO attune.action (ref, pack, pack_ref, label, entrypoint)
                      SELECT 'q.job', p.id, 'q', 'Job', 'job.py' FROM p RETURNING id),
                s AS (INSERT INTO attune.execution_admission_state (action_id, max_concurrent)
                      SELECT a.id, 1 FROM a RETURNING id)
                INSERT INTO attune.execution_admission_entry (state_id, execution_id, status)
                SELECT s.id, :e, 'queued' FROM s"""
            ),
            {"e": execution_id},
        )


def running(db: attune_nb.Database, ref: str, on: int | None, **columns: Any) -> int:
    return story(db, ref, ("requested", 0), ("scheduled", 1), ("running", 2), worker=on, **columns)


@pytest.fixture
def cases(db: attune_nb.Database) -> dict[str, int]:
    """One execution per rule, caught, and one just under each threshold, not caught."""
    fresh = worker(db, "fresh", status="active", silent_for=10)
    ids = {
        "scheduled_timeout": story(
            db, "t.scheduled", ("requested", 0), ("scheduling", 1), ("scheduled", before(301))
        ),
        "scheduled_ok": story(db, "t.scheduled_ok", ("requested", 0), ("scheduled", before(299))),
        "worker_heartbeat": running(
            db, "t.dead", worker(db, "dead", status="active", silent_for=91)
        ),
        "heartbeat_ok": running(db, "t.alive", worker(db, "slow", status="busy", silent_for=89)),
        "worker_inactive": running(
            db, "t.inactive", worker(db, "off", status="inactive", silent_for=5)
        ),
        "worker_missing": running(db, "t.missing", None),
        "running_ok": running(db, "t.ok", fresh),
        # A workflow parent runs without a worker; its child runs on one.
        "workflow": story(db, "t.workflow", ("requested", 0), ("running", 1)),
        # Requested for two hours, but queued behind its action's concurrency limit.
        "queued": story(db, "t.queued", ("requested", 3600)),
        "requested_too_long": story(
            db,
            "t.lost",
            ("requested", 0),
            ("scheduling", 10),
            ("requested", before(HOUR + 1)),  # back in the queue: since then
        ),
        "requested_ok": story(db, "t.recent", ("requested", before(HOUR - 1))),
        "scheduling_too_long": story(
            db, "t.scheduling", ("requested", 0), ("scheduling", before(2 * HOUR))
        ),
        "canceling_too_long": story(
            db, "t.canceling", ("requested", 0), ("running", 1), ("canceling", before(HOUR + 60))
        ),
        "done": story(db, "t.done", ("requested", 0), ("running", 1), ("failed", 2)),
    }
    ids["child"] = running(db, "t.child", fresh, parent=ids["workflow"])
    queue(db, ids["queued"])
    return ids


RULED = list(RULES)


def test_each_rule_catches_its_execution_and_nothing_else(
    db: attune_nb.Database, cases: dict[str, int]
) -> None:
    stuck = db.executions.stuck(now=NOW)
    assert list(stuck.columns) == [c.name for c in STUCK_COLUMNS]
    assert [stuck[c.name].dtype for c in STUCK_COLUMNS] == [c.dtype for c in STUCK_COLUMNS]
    caught = dict(zip(stuck["id"].tolist(), stuck["rule"].tolist(), strict=True))
    assert caught == {cases[rule]: rule for rule in RULED}
    would = dict(zip(stuck["rule"], stuck["attune_would"], strict=True))
    assert would["scheduled_timeout"] == "fail it (failed_by: execution_timeout_monitor)"
    assert {would[r] for r in ("worker_missing", "worker_inactive", "worker_heartbeat")} == {
        "abandon it"
    }
    assert {would[r] for r in ("requested_too_long", "scheduling_too_long")} == {
        "nothing: an operator must act"
    }
    assert stuck["since"].is_monotonic_increasing  # longest in its status first


def test_since_and_age_come_from_the_history(db: attune_nb.Database, cases: dict[str, int]) -> None:
    stuck = db.executions.stuck(now=NOW).set_index("rule")
    assert stuck.loc["scheduled_timeout", "age"] == pd.Timedelta(seconds=301)
    assert stuck.loc["scheduled_timeout", "since"] == at(before(301))
    # It was requested twice: since the second time.
    assert stuck.loc["requested_too_long", "age"] == pd.Timedelta(seconds=HOUR + 1)
    assert stuck.loc["canceling_too_long", "age"] == pd.Timedelta(seconds=HOUR + 60)
    assert stuck.loc["worker_heartbeat", "since"] == at(2)
    assert stuck.loc["worker_missing", "worker"] is pd.NA
    assert stuck.loc["worker_inactive", "status"] == "running"


def test_thresholds_are_parameters(db: attune_nb.Database, cases: dict[str, int]) -> None:
    strict = db.executions.stuck(
        now=NOW, scheduled_timeout=298, heartbeat_timeout=timedelta(seconds=88), threshold=1800
    )
    caught = set(strict["id"])
    assert {cases["scheduled_ok"], cases["heartbeat_ok"], cases["requested_ok"]} <= caught
    assert cases["queued"] not in caught  # however long it waits
    lenient = db.executions.stuck(
        now=NOW, scheduled_timeout=400, heartbeat_timeout=100, threshold=timedelta(hours=3)
    )
    assert set(lenient["rule"]) == {"worker_missing", "worker_inactive"}
    assert len(db.executions.stuck(now=NOW, limit=2)) == 2


def test_now_defaults_to_the_clock_and_an_earlier_now_sees_less(
    db: attune_nb.Database, cases: dict[str, int]
) -> None:
    today = db.executions.stuck()  # months after T0: the slow ones are stuck too
    assert {cases["scheduled_ok"], cases["requested_ok"]} <= set(today["id"])
    assert cases["queued"] not in set(today["id"])
    early = db.executions.stuck(now=at(1.5))  # scheduled at 1 s, running from 2 s
    assert cases["scheduled_timeout"] not in set(early["id"])
    assert cases["worker_missing"] not in set(early["id"])


def test_without_history_since_is_the_rows_updated(db: attune_nb.Database) -> None:
    lost = story(db, "t.scheduled", ("requested", 0), ("scheduled", 100))
    db.scalar("DELETE FROM attune.execution_history WHERE entity_id = :i RETURNING 1", i=lost)
    stuck = db.executions.stuck(now=at(500))
    assert stuck["id"].tolist() == [lost]
    assert stuck["since"].tolist() == [at(100)]
    assert stuck["age"].tolist() == [pd.Timedelta(seconds=400)]


def test_a_deleted_worker_is_missing(db: attune_nb.Database) -> None:
    gone = worker(db, "gone", status="active", silent_for=0)
    orphan = running(db, "t.orphan", gone)
    db.scalar("DELETE FROM attune.worker WHERE id = :i RETURNING 1", i=gone)
    stuck = db.executions.stuck(now=NOW)
    assert stuck[["id", "rule"]].values.tolist() == [[orphan, "worker_missing"]]


def test_nothing_stuck_keeps_the_layout(db: attune_nb.Database) -> None:
    stuck = db.executions.stuck(now=NOW)
    assert stuck.empty
    assert list(stuck.columns) == [c.name for c in STUCK_COLUMNS]
    assert [stuck[c.name].dtype for c in STUCK_COLUMNS] == [c.dtype for c in STUCK_COLUMNS]


def test_an_older_schema_without_admission_tables_or_workflow_def(db_url: str) -> None:
    setup = attune_nb.connect(db_url)
    queued = story(setup, "t.queued", ("requested", 0))
    queue(setup, queued)
    with setup.transaction() as conn:
        conn.execute(sa.text("DROP TABLE attune.execution_admission_entry"))
        conn.execute(sa.text("DROP TABLE attune.execution_admission_state"))
        conn.execute(sa.text("ALTER TABLE attune.execution DROP COLUMN workflow_def"))
    setup.close()
    old = attune_nb.connect(db_url, readonly=True)
    try:
        assert "execution_admission_entry" not in old.schema_features
        stuck = old.executions.stuck(now=NOW)
        # Nothing can wait for a slot there: a requested execution is simply old.
        assert stuck[["id", "rule"]].values.tolist() == [[queued, "requested_too_long"]]
    finally:
        old.close()


@pytest.mark.parametrize(
    ("options", "name"),
    [
        pytest.param({"scheduled_timeout": -1}, "scheduled_timeout", id="negative"),
        pytest.param({"heartbeat_timeout": "90"}, "heartbeat_timeout", id="text"),
        pytest.param({"heartbeat_timeout": float("nan")}, "heartbeat_timeout", id="nan"),
        pytest.param({"threshold": True}, "threshold", id="bool"),
        pytest.param({"threshold": timedelta(seconds=-5)}, "threshold", id="negative-delta"),
        pytest.param({"now": "yesterday"}, "now", id="now"),
        pytest.param({"limit": -1}, "limit", id="limit"),
    ],
)
def test_bad_options_are_refused(
    db: attune_nb.Database, options: dict[str, Any], name: str
) -> None:
    with pytest.raises(InvalidFilter) as info:
        db.executions.stuck(**options)
    assert info.value.name == name
    assert repr(options[name])[:3] in str(info.value)
