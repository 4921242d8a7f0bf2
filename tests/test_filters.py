"""The filters of frame() and count(): each alone, combined, as lists, and refused.

A small hand-built database (module-scoped, read-only) where the right answer of
every filter is known by id, then the seeded demo data for realistic volumes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb.errors import AttuneNbError, InvalidFilter, InvalidStatus
from attune_nb.frames import EXECUTION_COLUMNS
from attune_nb.lifecycle import ExecutionStatus
from attune_nb.repository import DEFAULT_LIMIT
from attune_nb.testing import ThrowawayServer

TEN = [s.value for s in ExecutionStatus]

# id | action_ref | status | parent | enforcement | executor | worker | created (UTC)
# Enforcement 99 dangles (retention deleted it): its executions have no rule/trigger ref.
SMALL = """
INSERT INTO attune.identity (id, login) VALUES (1, 'alice'), (2, 'bob');
INSERT INTO attune.worker (id, name, worker_type, worker_role)
    VALUES (1, 'w1', 'local', 'action'), (2, 'w2', 'remote', 'action');
INSERT INTO attune.enforcement (id, rule_ref, trigger_ref, payload) VALUES
    (1, 'ops.nightly', 'core.cronjob', '{}'),
    (2, 'monitoring.http_probe', 'core.intervaltimer', '{}'),
    (3, 'deploy.on_push', 'core.webhook', '{}');
INSERT INTO attune.execution
    (id, action_ref, status, parent, enforcement, executor, worker, created) VALUES
    (1, 'core.echo',        'completed', NULL, NULL, 1,    1,    '2026-01-10 00:00Z'),
    (2, 'core.local_cmd',   'failed',    NULL, 2,    NULL, 2,    '2026-01-10 06:00Z'),
    (3, 'ops.rotate_logs',  'running',   NULL, 1,    NULL, 1,    '2026-01-10 12:00Z'),
    (4, 'ops.db_backup',    'timeout',   3,    NULL, NULL, 2,    '2026-01-10 18:00Z'),
    (5, 'deploy.build',     'requested', NULL, 3,    2,    NULL, '2026-01-11 00:00Z'),
    (6, 'deploy.release',   'cancelled', 5,    NULL, 2,    NULL, '2026-01-11 06:00Z'),
    (7, 'core.echo',        'scheduled', 3,    99,   NULL, NULL, '2026-01-11 12:00Z'),
    (8, 'monitoring.check', 'abandoned', NULL, NULL, NULL, NULL, '2026-01-11 18:00Z');
SELECT setval('attune.execution_id_seq', 8);
"""
ALL = [8, 7, 6, 5, 4, 3, 2, 1]  # newest first


@pytest.fixture(scope="module")
def small(pg: ThrowawayServer) -> Iterator[attune_nb.Database]:
    url = pg.create_database(name="filters_small")
    writer = attune_nb.connect(url)
    with writer.transaction() as conn:
        conn.execute(sa.text(SMALL))
    writer.close()
    db = attune_nb.connect(url, readonly=True)
    yield db
    db.close()
    pg.drop_database("filters_small")


@pytest.fixture(scope="module")
def seeded(pg: ThrowawayServer) -> Iterator[attune_nb.Database]:
    db = attune_nb.connect(
        pg.create_seeded_database(executions=3000, seed=5, name="filters_seeded"), readonly=True
    )
    yield db
    db.close()
    pg.drop_database("filters_seeded")


def ids(frame: pd.DataFrame) -> list[int]:
    return [int(i) for i in frame["id"]]


# -- each filter alone, one value and lists --------------------------------------------

ALONE: list[tuple[dict[str, Any], Any]] = [
    ({"status": "failed"}, [2]),
    ({"status": ["completed", "failed"]}, [2, 1]),
    ({"status": ExecutionStatus.RUNNING}, [3]),
    ({"status": " FAILED "}, [2]),
    ({"status": []}, []),
    ({"action_ref": "core.echo"}, [7, 1]),
    ({"action_ref": "ops.*"}, [4, 3]),
    ({"action_ref": ["core.*", "deploy.build"]}, [7, 5, 2, 1]),
    ({"action_ref": "core.missing"}, []),
    ({"pack": "deploy"}, [6, 5]),
    ({"pack": ["ops", "monitoring"]}, [8, 4, 3]),
    ({"rule_ref": "ops.nightly"}, [3]),
    ({"rule_ref": "monitoring.*"}, [2]),
    ({"rule_ref": ["ops.*", "deploy.on_push"]}, [5, 3]),
    ({"trigger_ref": "core.webhook"}, [5]),
    ({"trigger_ref": "core.*"}, [5, 3, 2]),
    ({"trigger_ref": "monitoring.*"}, []),
    ({"executor": 1}, [1]),
    ({"executor": [1, 2]}, [6, 5, 1]),
    ({"worker": 2}, [4, 2]),
    ({"worker": (1, 2)}, [4, 3, 2, 1]),
    ({"enforcement": 1}, [3]),
    ({"enforcement": [2, 3, 99]}, [7, 5, 2]),
    ({"id": 3}, [3]),
    ({"id": [1, 4, 99]}, [4, 1]),
    ({"parent": 3}, [7, 4]),
    ({"parent": [3, 5]}, [7, 6, 4]),
    ({"top_level_only": True}, [8, 5, 3, 2, 1]),
    ({"top_level_only": False}, ALL),
    ({"since": "2026-01-11T00:00:00Z"}, [8, 7, 6, 5]),
    ({"until": "2026-01-10T12:00:00Z"}, [2, 1]),
    ({"status": None, "parent": None}, ALL),
]


@pytest.mark.parametrize(
    ("filters", "expected"), ALONE, ids=[f"{'-'.join(f)}={list(f.values())!r}" for f, _ in ALONE]
)
def test_each_filter_alone(
    small: attune_nb.Database, filters: dict[str, Any], expected: list[int]
) -> None:
    assert ids(small.executions.frame(**filters)) == expected
    assert small.executions.count(**filters) == len(expected)


COMBINED = [
    ({"status": ["completed", "scheduled"], "action_ref": "core.echo"}, [7, 1]),
    ({"pack": "core", "top_level_only": True}, [2, 1]),
    (
        {"trigger_ref": "core.*", "since": "2026-01-10T06:00:00Z", "until": "2026-01-11T00:00:00Z"},
        [3, 2],
    ),
    ({"worker": [1, 2], "status": ["running", "timeout", "failed"], "parent": 3}, [4]),
    ({"rule_ref": "ops.*", "executor": 2}, []),
    ({"enforcement": [1, 2, 3], "rule_ref": "deploy.*", "trigger_ref": "core.webhook"}, [5]),
]


@pytest.mark.parametrize(
    ("filters", "expected"),
    COMBINED,
    ids=[
        "status+action",
        "pack+top",
        "trigger+range",
        "worker+status+parent",
        "rule+executor-none",
        "enforcement+refs",
    ],
)
def test_filters_combine_with_and(
    small: attune_nb.Database, filters: dict[str, Any], expected: list[int]
) -> None:
    assert ids(small.executions.frame(**filters)) == expected
    assert small.executions.count(**filters) == len(expected)


def test_rule_and_trigger_refs_come_from_the_enforcement(small: attune_nb.Database) -> None:
    frame = small.executions.frame().set_index("id")
    assert (frame.at[3, "rule_ref"], frame.at[3, "trigger_ref"]) == ("ops.nightly", "core.cronjob")
    assert (frame.at[5, "rule_ref"], frame.at[5, "trigger_ref"]) == (
        "deploy.on_push",
        "core.webhook",
    )
    # No enforcement, or a dangling one: the row is there, with no refs.
    assert frame.loc[[1, 7], "rule_ref"].isna().all()
    assert frame.loc[[1, 7], "trigger_ref"].isna().all()
    assert frame.at[7, "enforcement"] == 99


# -- time ranges --------------------------------------------------------------------------

NOON = datetime(2026, 1, 10, 12, tzinfo=UTC)
SAME_INSTANT = [
    NOON,
    datetime(2026, 1, 10, 12),  # naive means UTC
    NOON.astimezone(timezone(timedelta(hours=-5))),
    "2026-01-10T12:00:00Z",
    "2026-01-10T12:00:00+00:00",
    "2026-01-10T14:00:00+02:00",
    "2026-01-10T07:00:00-05:00",
    "2026-01-10 12:00",
    pd.Timestamp("2026-01-10T12:00Z"),
]
INSTANT_IDS = [
    "aware",
    "naive",
    "aware-minus-5",
    "iso-z",
    "iso-utc",
    "iso-plus-2",
    "iso-minus-5",
    "iso-naive",
    "pandas",
]


@pytest.mark.parametrize("since", SAME_INSTANT, ids=INSTANT_IDS)
def test_since_is_inclusive_in_any_spelling(small: attune_nb.Database, since: Any) -> None:
    assert ids(small.executions.frame(since=since)) == [8, 7, 6, 5, 4, 3]


@pytest.mark.parametrize("until", SAME_INSTANT, ids=INSTANT_IDS)
def test_until_is_exclusive_in_any_spelling(small: attune_nb.Database, until: Any) -> None:
    assert ids(small.executions.frame(until=until)) == [2, 1]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (date(2026, 1, 11), None, [8, 7, 6, 5]),
        ("2026-01-10", "2026-01-11", [4, 3, 2, 1]),
        ("2026-01-10T06:00:00Z", "2026-01-10T06:00:00Z", []),
        ("2026-01-10T05:59:59.999999Z", "2026-01-10T06:00:00.000001Z", [2]),
        ("2027-01-01", None, []),
    ],
    ids=["date", "one-day", "empty-range", "microsecond-window", "future"],
)
def test_time_ranges(
    small: attune_nb.Database, since: Any, until: Any, expected: list[int]
) -> None:
    assert ids(small.executions.frame(since=since, until=until)) == expected


# -- limit, offset, include -------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "offset", "expected"),
    [
        (3, 0, [8, 7, 6]),
        (3, 2, [6, 5, 4]),
        (None, 7, [1]),
        (5, 100, []),
        (0, 0, []),
        (None, 0, ALL),
    ],
    ids=["limit", "limit-offset", "offset-only", "offset-past-end", "zero", "none"],
)
def test_limit_and_offset(
    small: attune_nb.Database, limit: int | None, offset: int, expected: list[int]
) -> None:
    assert ids(small.executions.frame(limit=limit, offset=offset)) == expected


def test_include_adds_json_columns_at_the_end(small: attune_nb.Database) -> None:
    names = [c.name for c in EXECUTION_COLUMNS]
    frame = small.executions.frame(include=["result", "config"])
    assert list(frame.columns) == [*names, "result", "config"]
    assert list(small.executions.frame(include="env_vars").columns) == [*names, "env_vars"]
    assert list(small.executions.frame().columns) == names
    assert frame["result"].dtype == object


# -- refused input ------------------------------------------------------------------------


def test_an_unknown_status_lists_the_ten(small: attune_nb.Database) -> None:
    with pytest.raises(InvalidStatus) as info:
        small.executions.frame(status=["failed", "exploded"])
    assert (info.value.name, info.value.value) == ("status", "exploded")
    assert info.value.allowed_statuses == TEN
    assert all(status in str(info.value) for status in TEN)


BAD: list[tuple[dict[str, Any], Any, str, Any]] = [
    ({"status": "done"}, InvalidStatus, "status", "done"),
    ({"status": 3}, InvalidStatus, "status", 3),
    ({"executor": "abc"}, InvalidFilter, "executor", "abc"),
    ({"executor": True}, InvalidFilter, "executor", True),
    ({"worker": 1.5}, InvalidFilter, "worker", 1.5),
    ({"parent": [1, "2"]}, InvalidFilter, "parent", "2"),
    ({"enforcement": {"id": 1}}, InvalidFilter, "enforcement", {"id": 1}),
    ({"action_ref": 5}, InvalidFilter, "action_ref", 5),
    ({"action_ref": "co*e.x"}, InvalidFilter, "action_ref", "co*e.x"),
    ({"action_ref": ""}, InvalidFilter, "action_ref", ""),
    ({"rule_ref": ".*"}, InvalidFilter, "rule_ref", ".*"),
    ({"trigger_ref": "core.*.*"}, InvalidFilter, "trigger_ref", "core.*.*"),
    ({"pack": "a.b"}, InvalidFilter, "pack", "a.b"),
    ({"pack": ["core", ""]}, InvalidFilter, "pack", ["core", ""]),
    ({"since": "yesterday"}, InvalidFilter, "since", "yesterday"),
    ({"until": 20260110}, InvalidFilter, "until", 20260110),
    ({"top_level_only": "yes"}, InvalidFilter, "top_level_only", "yes"),
    ({"since": "2026-01-11", "until": "2026-01-10"}, InvalidFilter, "until", "2026-01-10"),
    ({"statuses": "failed"}, InvalidFilter, "statuses", "failed"),
]


@pytest.mark.parametrize("method", ["frame", "count"])
@pytest.mark.parametrize(
    ("filters", "error", "name", "value"),
    BAD,
    ids=[f"{'-'.join(f)}={list(f.values())[-1]!r}" for f, *_ in BAD],
)
def test_bad_filters_are_refused(
    small: attune_nb.Database,
    method: str,
    filters: dict[str, Any],
    error: type[AttuneNbError],
    name: str,
    value: object,
) -> None:
    with pytest.raises(error) as info:
        getattr(small.executions, method)(**filters)
    assert isinstance(info.value, AttuneNbError)
    err: Any = info.value
    assert (err.name, err.value) == (name, value)
    assert name in str(err) and repr(value) in str(err)


@pytest.mark.parametrize(
    ("kwargs", "name", "value"),
    [
        ({"limit": -1}, "limit", -1),
        ({"limit": "10"}, "limit", "10"),
        ({"limit": True}, "limit", True),
        ({"limit": 2.0}, "limit", 2.0),
        ({"offset": -1}, "offset", -1),
        ({"offset": None}, "offset", None),
        ({"include": ["payload"]}, "include", "payload"),
        ({"include": ["config", "rule"]}, "include", "rule"),
    ],
    ids=[
        "limit-negative",
        "limit-str",
        "limit-bool",
        "limit-float",
        "offset-negative",
        "offset-none",
        "include-unknown",
        "include-one-bad",
    ],
)
def test_bad_frame_options_are_refused(
    small: attune_nb.Database, kwargs: dict[str, Any], name: str, value: object
) -> None:
    with pytest.raises(InvalidFilter) as info:
        small.executions.frame(**kwargs)
    assert (info.value.name, info.value.value) == (name, value)


def test_count_takes_no_frame_options(small: attune_nb.Database) -> None:
    with pytest.raises(InvalidFilter) as info:
        small.executions.count(limit=5)  # type: ignore[call-arg]
    assert info.value.name == "limit"


def test_an_id_taken_from_a_frame_works_as_a_filter(small: attune_nb.Database) -> None:
    frame = small.executions.frame(action_ref="ops.rotate_logs")
    parent = frame["id"].iloc[0]  # a numpy integer, not an int
    assert not isinstance(parent, int)
    assert ids(small.executions.frame(parent=parent)) == [7, 4]
    assert small.executions.count(parent=parent) == 2
    # A whole column of ids (a pandas Int64 Series), as ``id=tree["id"]`` hands them in.
    assert ids(small.executions.frame(id=frame["id"])) == ids(frame)
    assert small.executions.intervals(id=frame["id"])["execution_id"].nunique() == len(frame)
    workers = small.executions.frame(status="failed")["worker"]
    assert ids(small.executions.frame(worker=workers.iloc[0])) == [4, 2]


# -- realistic data -----------------------------------------------------------------------


def test_default_limit_and_limit_none(seeded: attune_nb.Database) -> None:
    total = seeded.scalar("SELECT count(*) FROM attune.execution")
    assert total > DEFAULT_LIMIT
    assert len(seeded.executions.frame()) == DEFAULT_LIMIT
    everything = seeded.executions.frame(limit=None)
    assert len(everything) == total
    assert everything["id"].is_unique
    newest = everything[["created", "id"]].apply(tuple, axis=1)
    assert newest.is_monotonic_decreasing


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"status": ["failed", "timeout"]},
        {"pack": "deploy"},
        {"action_ref": "deploy.*"},
        {"rule_ref": "monitoring.*"},
        {"trigger_ref": ["core.cronjob", "core.webhook"]},
        {"top_level_only": True, "since": "2026-01-12"},
        {"executor": [2, 3]},
        {"worker": 1, "status": "completed"},
        {"until": "2026-01-05T00:00:00+01:00"},
    ],
    ids=[
        "none",
        "status",
        "pack",
        "action-wildcard",
        "rule-wildcard",
        "trigger-list",
        "top-since",
        "executor",
        "worker-status",
        "until-offset",
    ],
)
def test_count_equals_the_rows_of_frame(
    seeded: attune_nb.Database, filters: dict[str, Any]
) -> None:
    count = seeded.executions.count(**filters)
    assert count == len(seeded.executions.frame(limit=None, **filters))
    assert count > 0


def test_status_lists_return_only_those_statuses(seeded: attune_nb.Database) -> None:
    wanted = ["failed", "timeout", "abandoned"]
    frame = seeded.executions.frame(status=wanted, limit=None)
    assert set(frame["status"].astype(str)) == set(wanted)
    expected = seeded.scalar(
        "SELECT count(*) FROM attune.execution WHERE status IN ('failed', 'timeout', 'abandoned')"
    )
    assert len(frame) == expected


def test_pack_equals_the_pack_wildcard(seeded: attune_nb.Database) -> None:
    by_pack = seeded.executions.count(pack="deploy")
    assert by_pack == seeded.executions.count(action_ref="deploy.*")
    assert by_pack == seeded.scalar(
        "SELECT count(*) FROM attune.execution WHERE action_ref LIKE 'deploy.%'"
    )
    assert by_pack > 0


def test_rule_ref_matches_the_enforcements_rule(seeded: attune_nb.Database) -> None:
    with seeded.transaction() as conn:
        expected = [
            r[0]
            for r in conn.execute(
                sa.text("""
            SELECT e.id FROM attune.execution e
            JOIN attune.enforcement enf ON enf.id = e.enforcement
            WHERE enf.rule_ref = 'ops.nightly' ORDER BY e.created DESC, e.id DESC""")
            )
        ]
    frame = seeded.executions.frame(rule_ref="ops.nightly", limit=None)
    assert expected and ids(frame) == expected
    assert set(frame["rule_ref"]) == {"ops.nightly"}


def test_trigger_wildcard_matches_the_enforcements_trigger(seeded: attune_nb.Database) -> None:
    frame = seeded.executions.frame(trigger_ref="monitoring.*", limit=None)
    assert len(frame) > 0
    assert frame["trigger_ref"].str.startswith("monitoring.").all()
    # Rules of other packs fire on monitoring triggers: the wildcard is on the trigger.
    assert seeded.executions.count(trigger_ref="monitoring.*") != seeded.executions.count(
        rule_ref="monitoring.*"
    )


# -- workflows_only, and a schema without workflow_def ---------------------------------------


def test_workflows_only_selects_the_executions_that_run_a_workflow(db: attune_nb.Database) -> None:
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO attune.execution (action_ref, workflow_def) "
                "VALUES ('wf.root', 7), ('core.echo', NULL)"
            )
        )
    frame = db.executions.frame(workflows_only=True)
    assert frame["action_ref"].tolist() == ["wf.root"]
    assert frame["workflow_def"].tolist() == [7]
    assert db.executions.count(workflows_only=False) == 2
    with pytest.raises(attune_nb.InvalidFilter):
        db.executions.frame(workflows_only="yes")  # type: ignore[arg-type]


def test_an_older_schema_without_workflow_def_reads_null(db_url: str) -> None:
    setup = attune_nb.connect(db_url)
    with setup.transaction() as conn:
        conn.execute(sa.text("ALTER TABLE attune.execution DROP COLUMN workflow_def"))
        conn.execute(sa.text("INSERT INTO attune.execution (action_ref) VALUES ('core.echo')"))
    setup.close()
    old = attune_nb.connect(db_url, readonly=True)
    try:
        assert "workflow_def" not in old.schema_features
        frame = old.executions.frame()
        assert frame["workflow_def"].isna().all()
        assert str(frame["workflow_def"].dtype) == "Int64"
        root = int(frame["id"].iloc[0])
        assert old.executions.descendants(root)["workflow_def"].isna().all()
        with pytest.raises(attune_nb.InvalidFilter, match="workflow_def"):
            old.executions.count(workflows_only=True)
    finally:
        old.close()


# -- waiting_for_slot: queued behind a concurrency limit, not stuck --------------------------


def _queue(db: attune_nb.Database) -> dict[str, int]:
    """An action limited to one at a time: one running (active), one queued, one lost."""
    ids: dict[str, int] = {}
    with db.transaction() as conn:
        action = conn.execute(
            sa.text(
                "INSERT INTO attune.pack (ref, label, version) VALUES ('q', 'Q', '1') RETURNING id"
            )
        ).scalar_one()
        action = conn.execute(
            sa.text(
                "INSERT INTO attune.action (ref, pack, pack_ref, label, entrypoint) "
                "VALUES ('q.job', :p, 'q', 'Job', 'job.py') RETURNING id"
            ),
            {"p": action},
        ).scalar_one()
        state = conn.execute(
            sa.text(
                "INSERT INTO attune.execution_admission_state (action_id, max_concurrent) "
                "VALUES (:a, 1) RETURNING id"
            ),
            {"a": action},
        ).scalar_one()
        for name, status in (("active", "running"), ("queued", "requested"), ("lost", "requested")):
            ids[name] = conn.execute(
                sa.text(
                    "INSERT INTO attune.execution (action, action_ref, status) VALUES "
                    "(:a, 'q.job', CAST(:s AS attune.execution_status_enum)) RETURNING id"
                ),
                {"a": action, "s": status},
            ).scalar_one()
        for name in ("active", "queued"):
            conn.execute(
                sa.text(
                    "INSERT INTO attune.execution_admission_entry (state_id, execution_id, status) "
                    "VALUES (:s, :e, :st)"
                ),
                {"s": state, "e": ids[name], "st": name},
            )
    return ids


def test_waiting_for_slot_tells_queued_from_lost(db: attune_nb.Database) -> None:
    ids = _queue(db)
    waiting = db.executions.frame(status="requested", waiting_for_slot=True)
    assert waiting["id"].tolist() == [ids["queued"]]
    lost = db.executions.frame(status="requested", waiting_for_slot=False)
    assert lost["id"].tolist() == [ids["lost"]]
    assert db.executions.count(waiting_for_slot=False) == 2  # the active one is not waiting
    preview = db.executions.bulk_transition("abandoned", status="requested", waiting_for_slot=False)
    assert preview["id"].tolist() == [ids["lost"]]
    with pytest.raises(attune_nb.InvalidFilter):
        db.executions.count(waiting_for_slot=1)  # type: ignore[arg-type]


def test_without_the_admission_table_nothing_waits(db_url: str) -> None:
    setup = attune_nb.connect(db_url)
    ids = _queue(setup)
    with setup.transaction() as conn:
        conn.execute(sa.text("DROP TABLE attune.execution_admission_entry"))
    setup.close()
    old = attune_nb.connect(db_url, readonly=True)
    try:
        assert "execution_admission_entry" not in old.schema_features
        assert old.executions.count(status="requested", waiting_for_slot=True) == 0
        assert sorted(old.executions.frame(status="requested", waiting_for_slot=False)["id"]) == (
            sorted([ids["queued"], ids["lost"]])
        )
    finally:
        old.close()
