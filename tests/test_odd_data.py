"""Odd data from real Attune databases: every read keeps working, and says what it skipped.

One database (built once for the module) holds what real Attune databases hold and
our own writes never make: ``parent`` and ``enforcement`` ids whose rows are gone,
history rows of deleted executions, status sequences written by Attune's unguarded
paths (requested straight to running; completed, then failed), inquiries in older
formats, columns newer (or local) schemas add, and a history spread over daily
partitions, a partition of its own and a DEFAULT partition holding old rows. Other
tests change the schema itself: an older inquiry column, a missing required column.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb import InvalidResponse, SchemaMismatch, analysis, charts
from attune_nb.engine import REQUIRED_COLUMNS
from attune_nb.errors import SkippedRowsWarning
from attune_nb.testing import ThrowawayServer, write_history
from attune_nb.widgets import ExecutionBrowser, InquiryInbox

T0 = pd.Timestamp("2026-01-10", tz="UTC")
SINCE, UNTIL = "2025-11-01T00:00Z", "2026-02-01T00:00Z"
NOW = "2026-01-20"
# Ids that no row has: what retention left behind.
GONE_PARENT, GONE_ENFORCEMENT, GONE_EXECUTION, GONE_EVENT, GONE_ASKER = (
    990001,
    990002,
    990003,
    990004,
    990005,
)
MAIN = (("requested", 0), ("scheduling", 1), ("scheduled", 2), ("running", 3), ("completed", 10))


def sql(db: attune_nb.Database, statement: str, **params: Any) -> Any:
    with db.transaction() as conn:
        result = conn.execute(sa.text(statement), params)
        return result.scalar() if result.returns_rows else None


def at(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


def ghost_history(db: attune_nb.Database, entity_id: int, start: pd.Timestamp) -> None:
    """The history of an execution whose row retention deleted (no DELETE row either)."""
    previous = None
    for status, seconds in MAIN:
        sql(
            db,
            "INSERT INTO attune.execution_history (time, operation, entity_id, entity_ref, "
            "changed_fields, old_values, new_values) VALUES (:time, :op, :id, 'core.gone', "
            ":fields, CAST(:old AS jsonb), CAST(:new AS jsonb))",
            time=(start + pd.Timedelta(seconds=seconds)).to_pydatetime(),
            op="INSERT" if previous is None else "UPDATE",
            id=entity_id,
            fields=[] if previous is None else ["status"],
            old=None if previous is None else json.dumps({"status": previous}),
            new=json.dumps({"status": status}),
        )
        previous = status


def inquiry(
    db: attune_nb.Database,
    execution: int,
    *,
    schema: Any,
    options: Any,
    status: str = "pending",
    response: Any = None,
) -> int:
    return sql(
        db,
        "INSERT INTO attune.inquiry (created_by_execution, prompt, response_schema, "
        "response_options, status, response, created, updated) VALUES (:e, 'Go?', "
        "CAST(:s AS jsonb), CAST(:o AS jsonb), CAST(:st AS attune.inquiry_status_enum), "
        "CAST(:r AS jsonb), :c, :c) RETURNING id",
        e=execution,
        s=None if schema is None else json.dumps(schema),
        o=json.dumps(options),
        st=status,
        r=None if response is None else json.dumps(response),
        c=at(6).to_pydatetime(),
    )


def build_world(db: attune_nb.Database) -> dict[str, int]:
    """Every odd case in one database; returns the ids of the executions by case."""
    # Columns newer or local schemas have and attune_nb does not read.
    sql(
        db,
        "ALTER TABLE attune.execution ADD COLUMN pack_release TEXT, "
        "ADD COLUMN worker_selector JSONB, ADD COLUMN zz_local_note TEXT DEFAULT 'local'",
    )
    sql(db, "ALTER TABLE attune.execution_history ADD COLUMN zz_origin TEXT DEFAULT 'h'")
    sql(
        db,
        "ALTER TABLE attune.inquiry ADD COLUMN purpose TEXT, "
        "ADD COLUMN workflow_execution BIGINT, ADD COLUMN external_actor TEXT",
    )
    sql(db, "ALTER TABLE attune.enforcement ADD COLUMN zz_extra JSONB DEFAULT '{}'")
    # Partitions: daily ones for 2026-01-11/12, one of our own for December, and the
    # DEFAULT partition holding what was written before (November, 2026-01-10).
    sql(db, "SELECT attune.ensure_execution_history_partitions('2026-01-11', '2026-01-12')")
    sql(
        db,
        "CREATE TABLE attune.execution_history_2025_12 PARTITION OF attune.execution_history "
        "FOR VALUES FROM ('2025-12-01 00:00+00') TO ('2026-01-01 00:00+00')",
    )
    ids: dict[str, int] = {}
    pack = sql(
        db,
        "INSERT INTO attune.pack (ref, label, version) VALUES ('core', 'Core', '1') RETURNING id",
    )
    rule = sql(
        db,
        "INSERT INTO attune.rule (ref, pack, pack_ref, label, action_ref, trigger_ref) "
        "VALUES ('core.on_tick', :p, 'core', 'On tick', 'core.echo', 'core.tick') RETURNING id",
        p=pack,
    )
    event = sql(
        db,
        "INSERT INTO attune.event (trigger_ref, created) VALUES ('core.tick', :c) RETURNING id",
        c=at(-1).to_pydatetime(),
    )
    enforcement = sql(
        db,
        "INSERT INTO attune.enforcement (rule, rule_ref, trigger_ref, event, payload, created) "
        "VALUES (:r, 'core.on_tick', 'core.tick', :e, '{}', :c) RETURNING id",
        r=rule,
        e=event,
        c=at(-1).to_pydatetime(),
    )
    # An enforcement whose rule was deleted (SET NULL) and whose event is gone.
    orphaned_enforcement = sql(
        db,
        "INSERT INTO attune.enforcement (rule, rule_ref, trigger_ref, event, payload, created) "
        "VALUES (NULL, 'core.deleted_rule', 'core.tick', :e, '{}', :c) RETURNING id",
        e=GONE_EVENT,
        c=at(-1).to_pydatetime(),
    )
    ids["plain"] = write_history(db, "core.echo", *MAIN, start=at(0), enforcement=enforcement)
    ids["dangling"] = write_history(
        db,
        "deploy.release",
        *MAIN,
        start=at(1),
        parent=GONE_PARENT,
        enforcement=GONE_ENFORCEMENT,
    )
    ids["child"] = write_history(
        db, "deploy.build", *MAIN, start=at(1) + pd.Timedelta(seconds=4), parent=ids["dangling"]
    )
    ids["rule_gone"] = write_history(
        db, "core.echo", *MAIN, start=at(1.5), enforcement=orphaned_enforcement
    )
    ids["jump"] = write_history(
        db, "core.jump", ("requested", 0), ("running", 5), ("completed", 9), start=at(2)
    )
    ids["flip"] = write_history(db, "core.flip", *MAIN, ("failed", 12), start=at(3))
    ids["retry"] = write_history(
        db,
        "core.flip",
        *MAIN,
        start=at(3.5),
        original_execution=ids["flip"],
        retry_count=1,
        retry_reason="worker lost",
    )
    # The unguarded paths themselves: plain UPDATEs, the trigger writes the history.
    unguarded = sql(
        db, "INSERT INTO attune.execution (action_ref) VALUES ('core.unguarded') RETURNING id"
    )
    for status in ("running", "completed", "failed"):
        sql(db, f"UPDATE attune.execution SET status = '{status}' WHERE id = :id", id=unguarded)
    ids["unguarded"] = unguarded
    ids["daily"] = write_history(db, "core.echo", *MAIN, start=pd.Timestamp("2026-01-11T08:00Z"))
    ids["december"] = write_history(db, "core.echo", *MAIN, start=pd.Timestamp("2025-12-15T08:00Z"))
    ids["november"] = write_history(db, "core.echo", *MAIN, start=pd.Timestamp("2025-11-20T08:00Z"))
    # Deleted: its history outlives it, with the trigger's DELETE row.
    deleted = write_history(db, "core.deleted", *MAIN, start=at(4))
    sql(db, "DELETE FROM attune.execution WHERE id = :id", id=deleted)
    ghost_history(db, GONE_EXECUTION, at(5))
    # Inquiries in every format, one asked by an execution that is gone.
    inquiry(
        db,
        ids["plain"],
        schema={"approved": {"type": "boolean", "required": True}},
        options=[{"ref": "yes", "label": "Yes", "response": {"approved": True}}],
    )
    inquiry(
        db,
        GONE_ASKER,
        schema={
            "type": "object",
            "properties": {"choice": {"type": "string"}, "pin": {"type": "string", "secret": True}},
            "required": ["choice"],
        },
        options=["restart", "ignore"],
    )
    inquiry(db, ids["dangling"], schema=None, options=[{"ref": "go", "label": "Go"}])
    inquiry(
        db,
        ids["jump"],
        schema={"type": "object", "properties": {"choice": {"type": "string"}}},
        options=["restart"],
        status="responded",
        response={"choice": "restart"},
    )
    # Written by older or foreign tools: a schema stored as a JSON string (encoded twice),
    # and an answer that is a bare string.
    ids["odd_inquiry"] = inquiry(
        db,
        ids["flip"],
        schema=json.dumps({"ok": {"type": "boolean"}}),
        options=[{"ref": "only", "label": "Only", "response": {"ok": True}}],
    )
    inquiry(
        db,
        ids["retry"],
        schema=None,
        options=["done"],
        status="responded",
        response="done",
    )
    ids["deleted"] = deleted
    ids["ghost"] = GONE_EXECUTION
    return ids


@pytest.fixture(scope="module")
def world(pg: ThrowawayServer) -> Iterator[tuple[attune_nb.Database, dict[str, int]]]:
    url = pg.create_database(name="odd_world")
    db = attune_nb.connect(url)
    try:
        yield db, build_world(db)
    finally:
        db.close()
        pg.drop_database("odd_world")


def existing(ids: dict[str, int]) -> dict[str, int]:
    """The executions that have a row."""
    return {k: v for k, v in ids.items() if k not in ("deleted", "ghost", "odd_inquiry")}


# -- the world is what it claims -------------------------------------------------------------


def statuses(db: attune_nb.Database, entity_id: int) -> list[str]:
    return list(db.executions.history(entity_id)["new_status"].dropna())


def test_the_world_holds_the_odd_cases(world: tuple[attune_nb.Database, dict[str, int]]) -> None:
    db, ids = world
    with db.transaction() as conn:
        partitions: dict[str, int] = dict(
            conn.execute(
                sa.text(
                    "SELECT tableoid::regclass::text, count(*) FROM attune.execution_history "
                    "GROUP BY 1"
                )
            ).all()
        )
        gone = conn.execute(
            sa.text("SELECT count(*) FROM attune.execution WHERE id = ANY(:ids)"),
            {"ids": [GONE_PARENT, GONE_ENFORCEMENT, GONE_EXECUTION, ids["deleted"]]},
        ).scalar()
        enforcements = conn.execute(
            sa.text("SELECT count(*) FROM attune.enforcement WHERE id = :id"),
            {"id": GONE_ENFORCEMENT},
        ).scalar()
    assert gone == 0 and enforcements == 0
    assert partitions["execution_history_default"] > 0  # November and 2026-01-10
    assert partitions["execution_history_20260111"] == len(MAIN)
    assert partitions["execution_history_2025_12"] == len(MAIN)
    # A day whose rows are in the DEFAULT partition gets no partition of its own.
    assert (
        db.scalar("SELECT attune.ensure_execution_history_partitions('2025-11-20', '2025-11-20')")
        == 0
    )
    assert statuses(db, ids["jump"]) == ["requested", "running", "completed"]
    assert statuses(db, ids["flip"])[-2:] == ["completed", "failed"]
    assert statuses(db, ids["unguarded"]) == ["requested", "running", "completed", "failed"]
    assert db.executions.history(ids["deleted"])["operation"].tolist()[-1] == "DELETE"


# -- every read keeps working ----------------------------------------------------------------


def test_frames_and_counts_keep_every_row(world: tuple[attune_nb.Database, dict[str, int]]) -> None:
    db, ids = world
    rows = db.scalar("SELECT count(*) FROM attune.execution")
    frame = db.executions.frame(limit=None, include=["config", "result", "workflow_task"])
    assert len(frame) == rows == db.executions.count() == len(existing(ids))
    assert set(frame["id"]) == set(existing(ids).values())
    dangling = frame.set_index("id").loc[ids["dangling"]]
    assert dangling["parent"] == GONE_PARENT and dangling["enforcement"] == GONE_ENFORCEMENT
    assert pd.isna(dangling["rule_ref"])  # the enforcement is gone: nothing to join
    assert db.executions.count(enforcement=GONE_ENFORCEMENT) == 1
    assert db.executions.count(parent=GONE_PARENT) == 1
    assert db.executions.count(top_level_only=True) == rows - 2  # child and dangling
    assert list(db.executions.frame(parent=ids["dangling"])["id"]) == [ids["child"]]
    assert db.executions.get(ids["dangling"]).parent == GONE_PARENT
    assert db.executions.latest(action_ref="core.flip").id == ids["retry"]


@pytest.mark.parametrize("case", ["deleted", "ghost"])
def test_the_history_of_an_execution_that_is_gone(
    world: tuple[attune_nb.Database, dict[str, int]], case: str
) -> None:
    db, ids = world
    history = db.executions.history(ids[case])
    assert history["new_status"].dropna().tolist() == [s for s, _ in MAIN]
    assert history["operation"].tolist()[-1] == ("DELETE" if case == "deleted" else "UPDATE")


def test_intervals_of_odd_sequences(world: tuple[attune_nb.Database, dict[str, int]]) -> None:
    db, ids = world
    intervals = db.executions.intervals()
    by = {k: intervals[intervals["execution_id"] == v] for k, v in existing(ids).items()}
    assert set(intervals["execution_id"]) == set(existing(ids).values())
    assert by["jump"]["status"].astype(str).tolist() == ["requested", "running", "completed"]
    assert by["flip"]["status"].astype(str).tolist()[-2:] == ["completed", "failed"]
    assert by["flip"]["current"].tolist()[-1]
    assert by["unguarded"]["status"].astype(str).tolist() == [
        "requested",
        "running",
        "completed",
        "failed",
    ]


def test_hierarchies_flag_the_dangling_parent(
    world: tuple[attune_nb.Database, dict[str, int]],
) -> None:
    db, ids = world
    down = db.executions.descendants(ids["dangling"])
    assert down["id"].tolist() == [ids["dangling"], ids["child"]]
    assert down["orphan"].tolist() == [True, False]
    up = db.executions.ancestors(ids["child"])
    assert up["id"].tolist() == [ids["dangling"]]
    assert up["orphan"].tolist() == [True]
    own = db.executions.ancestors(ids["dangling"])  # its own parent is gone: said so
    assert own["id"].tolist() == [ids["dangling"]] and own["orphan"].tolist() == [True]
    tree = db.executions.tree(ids["dangling"])
    assert tree.orphan and [n.id for n in tree.walk()] == [ids["dangling"], ids["child"]]
    assert "[orphan]" in str(tree)
    assert db.executions.children(ids["dangling"])["id"].tolist() == [ids["child"]]
    assert db.executions.children(ids["child"]).empty
    chain = db.executions.retries(ids["retry"])
    assert chain["id"].tolist() == [ids["flip"], ids["retry"]]


def test_traces_flag_what_is_gone(world: tuple[attune_nb.Database, dict[str, int]]) -> None:
    db, ids = world

    def links(execution: int) -> list[tuple[str, int | None, bool]]:
        return [(k.kind, k.id, k.missing) for k in db.trace(execution).links]

    assert links(ids["child"]) == [
        ("enforcement", GONE_ENFORCEMENT, True),
        ("parent", GONE_PARENT, True),
        ("root", ids["dangling"], False),
        ("execution", ids["child"], False),
    ]
    kinds = links(ids["rule_gone"])
    assert kinds[0] == ("event", GONE_EVENT, True)
    assert ("rule", None, False) in kinds  # the rule was deleted: its ref is kept
    assert [k for k, _, missing in links(ids["plain"]) if missing] == []
    assert "MISSING" in repr(db.trace(ids["child"]))


def _equal(local: pd.DataFrame, pushed: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(local, pushed, check_exact=True)
    assert local.attrs == pushed.attrs


def test_analyses_work_and_agree_with_sql(
    world: tuple[attune_nb.Database, dict[str, int]],
) -> None:
    db, ids = world
    intervals = db.executions.intervals(since=SINCE, until=UNTIL)
    frame = db.executions.frame(since=SINCE, until=UNTIL, limit=None)
    window: dict[str, Any] = {"since": SINCE, "until": UNTIL}
    durations = analysis.durations(intervals, **window)
    _equal(durations, db.analysis.durations(**window))
    flips = durations.set_index("action_ref").loc["core.flip"]
    assert flips["count"] == 2  # the one that failed after completing counts once
    jump = durations.set_index("action_ref").loc["core.jump"]
    assert jump["queue_wait_p50"] == pd.Timedelta(seconds=5)  # requested straight to running
    for by in (None, "action_ref", "day"):
        _equal(
            analysis.failure_rate(frame, by=by, **window),
            db.analysis.failure_rate(by=by, **window),
        )
    rates = analysis.failure_rate(frame, by="action_ref", **window).set_index("action_ref")
    assert rates.loc["core.flip", "failed"] == 1 and rates.loc["core.flip", "completed"] == 1
    throughput = analysis.throughput(frame, freq="day", **window)
    _equal(throughput, db.analysis.throughput(freq="day", **window))
    assert int(throughput["total"].sum()) == len(frame)
    concurrency = analysis.concurrency(intervals, **window)
    _equal(concurrency, db.analysis.concurrency(**window))
    a, b = ("2025-11-01", "2026-01-10"), ("2026-01-10", "2026-02-01")
    _equal(analysis.compare_windows(intervals, a=a, b=b), db.analysis.compare_windows(a=a, b=b))
    chains = analysis.retry_chains(db.executions.frame(limit=None)).set_index("chain")
    assert chains.loc[ids["flip"], "ids"] == [ids["flip"], ids["retry"]]
    assert not analysis.retry_summary(chains.reset_index()).empty
    path = analysis.critical_path(
        db.executions.descendants(ids["dangling"]), intervals, root=ids["dangling"]
    )
    assert path["id"].tolist() == [ids["dangling"], ids["child"]]
    assert analysis.wall_time(intervals, ids=[ids["jump"]]) == pd.Timedelta(seconds=9)
    assert db.executions.stuck(now=NOW).empty  # nothing in the odd world is active


def test_charts_draw_the_odd_frames(world: tuple[attune_nb.Database, dict[str, int]]) -> None:
    db, ids = world
    window: dict[str, Any] = {"since": SINCE, "until": UNTIL}
    intervals = db.executions.intervals(**window)
    frame = db.executions.frame(limit=None, **window)
    down = db.executions.descendants(ids["dangling"])
    figures: dict[str, Callable[[], go.Figure]] = {
        "timeline": lambda: charts.lifecycle_timeline(intervals, executions=frame),
        "workflow": lambda: charts.lifecycle_timeline(
            intervals[intervals["execution_id"].isin(down["id"])], descendants=down
        ),
        "icicle": lambda: charts.workflow_icicle(down),
        "status": lambda: charts.status_over_time(analysis.throughput(frame, freq="day", **window)),
        "durations": lambda: charts.duration_distribution(analysis.durations(intervals, **window)),
        "calendar": lambda: charts.outcome_calendar(frame),
        "concurrency": lambda: charts.concurrency(analysis.concurrency(intervals, **window)),
        "retries": lambda: charts.retry_chains(analysis.retry_chains(frame)),
        "critical": lambda: charts.critical_path(
            analysis.critical_path(down, intervals, root=ids["dangling"]), intervals
        ),
    }
    for name, draw in figures.items():
        figure = draw()
        assert isinstance(figure, go.Figure), name
        assert figure.data, name


def test_inquiries_in_every_format_and_asked_by_a_gone_execution(
    world: tuple[attune_nb.Database, dict[str, int]],
) -> None:
    db, ids = world
    frame = db.inquiries.frame(include=["response_schema"])
    assert len(frame) == db.inquiries.count() == 6
    assert frame["response"].tolist().count("done") == 1  # a bare answer is shown as it is
    assert db.inquiries.count(execution=GONE_ASKER) == 1
    gone = db.inquiries.get(int(frame.loc[frame["execution"] == GONE_ASKER, "id"].to_numpy()[0]))
    assert [f.name for f in gone.fields] == ["choice", "pin"]
    assert [f.secret for f in gone.fields] == [False, True]
    assert [o.ref for o in gone.options] == ["restart", "ignore"]
    assert gone.options[0].response == {"choice": "restart"}
    answered = db.inquiries.respond(gone.id, option="ignore")
    assert answered.response == {"choice": "ignore"}
    # A schema stored as a JSON string is no schema attune_nb can check against: said so.
    odd = db.inquiries.get(ids["odd_inquiry"])
    assert odd.fields == () and [o.ref for o in odd.options] == ["only"]
    with pytest.raises(InvalidResponse) as info:
        db.inquiries.respond(odd.id, option="only")
    assert info.value.messages[0].startswith("response_schema: the inquiry's schema is not valid")
    inbox = InquiryInbox(db)
    assert len(inbox.pending) == 3
    for pending in inbox.pending["id"].tolist():
        inbox.select(int(pending))
        assert inbox.last_error is None, inbox.status_text


def test_the_summary_and_the_widgets_read_the_odd_world(
    world: tuple[attune_nb.Database, dict[str, int]],
) -> None:
    db, ids = world
    summary = db.summary().set_index("table")
    assert summary.loc["execution", "rows"] == len(existing(ids))
    assert summary.loc["execution_history", "oldest"] == pd.Timestamp("2025-11-20T08:00Z")
    browser = ExecutionBrowser(db)
    for execution in (ids["dangling"], ids["child"], ids["flip"], ids["unguarded"]):
        browser.select(execution)
        assert browser.last_error is None, browser.status_text


def test_exports_keep_every_row(
    world: tuple[attune_nb.Database, dict[str, int]], tmp_path: Path
) -> None:
    db, ids = world
    report = db.executions.export(tmp_path / "e.parquet")
    assert report.rows == len(existing(ids))
    history = db.executions.export(tmp_path / "h.csv", what="history")
    assert history.rows > 0


def test_a_replay_from_the_history_reads_gone_executions(
    world: tuple[attune_nb.Database, dict[str, int]],
) -> None:
    db, ids = world
    with db.listen(since=pd.Timestamp(SINCE, tz="UTC").to_pydatetime()) as listener:
        seen = []
        while True:
            try:
                seen.append(listener.get(timeout=3))
            except queue.Empty:  # the replay is over
                break
    assert {c.id for c in seen} >= set(existing(ids).values())
    # The recorded changes of executions that are gone are replayed as they were.
    for gone in (ids["deleted"], ids["ghost"]):
        assert [c.status for c in seen if c.id == gone and c.channel != "inquiry_created"] == [
            s for s, _ in MAIN
        ]
    flip = [c.status for c in seen if c.id == ids["flip"] and c.channel.startswith("execution")]
    assert flip[-2:] == ["completed", "failed"]


# -- older and narrower schemas ------------------------------------------------------------------


def _older_inquiry_schema(db: attune_nb.Database) -> None:
    """The inquiry's first column as older Attune schemas name it, with its own payload."""
    sql(db, "ALTER TABLE attune.inquiry RENAME COLUMN created_by_execution TO execution")
    sql(
        db,
        """CREATE OR REPLACE FUNCTION attune._inquiry_payload(i attune.inquiry) RETURNS JSONB AS $$
            SELECT jsonb_build_object(
                'entity_type', 'inquiry', 'entity_id', i.id, 'id', i.id,
                'execution', i.execution, 'status', i.status,
                'timeout_at', i.timeout_at, 'updated', i.updated, 'created', i.created)
        $$ LANGUAGE sql STABLE""",
    )


def test_an_older_schema_whose_inquiry_column_is_execution(db: attune_nb.Database) -> None:
    _older_inquiry_schema(db)
    asker = write_history(db, "core.ask", ("requested", 0), ("running", 1), start=at(0))
    older = sql(
        db,
        "INSERT INTO attune.inquiry (execution, prompt, response_schema, response_options) "
        'VALUES (:e, \'Go?\', \'{"ok": {"type": "boolean", "required": true}}\', '
        '\'[{"ref": "yes", "label": "Yes", "response": {"ok": true}}]\') RETURNING id',
        e=asker,
    )
    fresh = attune_nb.connect(db.engine.url.render_as_string(hide_password=False))
    try:
        assert fresh.inquiries.execution_column == "execution"
        frame = fresh.inquiries.frame()
        assert frame["execution"].tolist() == [asker]
        assert fresh.inquiries.count(execution=asker) == 1
        assert fresh.inquiries.get(older).created_by_execution == asker
        with fresh.listen(channels=["inquiry_responded"]) as listener:
            answered = fresh.inquiries.respond(older, option="yes")
            change = listener.get(timeout=15)
        assert answered.status == "responded" and answered.created_by_execution == asker
        assert change.id == older
        inbox = InquiryInbox(fresh)
        assert inbox.pending.empty and inbox.last_error is None
        cancelled = fresh.executions.cancel(asker)
        assert cancelled is not None
    finally:
        fresh.close()


@pytest.mark.parametrize(
    ("table", "column"),
    [(table, column) for table, columns in REQUIRED_COLUMNS.items() for column in columns],
    ids=[f"{table}.{column}" for table, columns in REQUIRED_COLUMNS.items() for column in columns],
)
def test_a_missing_required_column_is_named(
    db: attune_nb.Database, db_url: str, table: str, column: str
) -> None:
    # Renamed rather than dropped: a partition key (execution_history.time) cannot be.
    sql(db, f"ALTER TABLE attune.{table} RENAME COLUMN {column} TO zz_{column}")
    with pytest.raises(SchemaMismatch) as info:
        attune_nb.connect(db_url)
    assert info.value.missing == [f"{table}.{column}"]
    assert f"{table}.{column}" in str(info.value)


@pytest.mark.parametrize("column", ["original_execution", "workflow_task", "retry_count"])
def test_a_missing_column_that_reads_select_is_named(
    db: attune_nb.Database, db_url: str, column: str
) -> None:
    execution = db.executions.create("core.echo").id
    sql(db, f"ALTER TABLE attune.execution DROP COLUMN {column} CASCADE")

    def read() -> None:
        narrow = attune_nb.connect(db_url)
        try:
            narrow.executions.get(execution)
        finally:
            narrow.close()

    with pytest.raises(SchemaMismatch) as info:
        read()
    assert info.value.missing == [f"execution.{column}"]


def test_an_inquiry_table_without_its_execution_column_is_named(
    db: attune_nb.Database, db_url: str
) -> None:
    sql(db, "ALTER TABLE attune.inquiry DROP COLUMN created_by_execution CASCADE")
    fresh = attune_nb.connect(db_url)
    try:
        for read in (fresh.inquiries.frame, fresh.inquiries.count, lambda: fresh.inquiries.get(1)):
            with pytest.raises(SchemaMismatch) as info:
                read()
            assert info.value.missing == ["inquiry.created_by_execution"]
            assert "inquiry.created_by_execution" in str(info.value)
    finally:
        fresh.close()


def test_an_inquiry_table_without_a_column_it_reads_is_named(
    db: attune_nb.Database, db_url: str
) -> None:
    sql(db, "ALTER TABLE attune.inquiry DROP COLUMN response_options CASCADE")
    fresh = attune_nb.connect(db_url)
    try:
        with pytest.raises(SchemaMismatch) as info:
            fresh.inquiries.frame()
        assert info.value.missing == ["inquiry.response_options"]
    finally:
        fresh.close()


# -- executions whose history retention deleted --------------------------------------------------


def _history_gone(db: attune_nb.Database) -> tuple[int, int]:
    kept = write_history(db, "core.echo", *MAIN, start=at(0))
    pruned = write_history(db, "core.echo", *MAIN, start=at(1))
    sql(db, "DELETE FROM attune.execution_history WHERE entity_id = :id", id=pruned)
    return kept, pruned


def test_intervals_say_how_many_executions_have_no_history(db: attune_nb.Database) -> None:
    kept, _pruned = _history_gone(db)
    with pytest.warns(SkippedRowsWarning, match="1 of 2 executions selected have no history"):
        intervals = db.executions.intervals()
    assert set(intervals["execution_id"]) == {kept}
    assert intervals.attrs["without_history"] == 1
    assert db.executions.intervals(id=kept).attrs["without_history"] == 0
    assert db.executions.intervals(since="2030-01-01").attrs["without_history"] == 0
    # The analyses on those rows count what the intervals have: one execution, not two.
    durations = analysis.durations(intervals, since=SINCE, until=UNTIL)
    assert durations["count"].tolist() == [1]
    assert db.analysis.durations(since=SINCE, until=UNTIL)["count"].tolist() == [1]
    assert db.executions.count() == 2
