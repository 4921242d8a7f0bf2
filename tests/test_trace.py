"""Traces (attune_nb/trace.py) on a real PostgreSQL, over rows made with plain SQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb import ExecutionNotFound, Trace
from attune_nb.records import TraceLink
from attune_nb.testing import ThrowawayServer


def sql(db: attune_nb.Database, statement: str, **params: Any) -> Any:
    """Run one statement in its own committed transaction; the first column of the first row."""
    with db.transaction() as conn:
        result = conn.execute(sa.text(statement), params)
        return result.scalar() if result.returns_rows else None


@pytest.fixture(scope="module")
def shared(pg: ThrowawayServer) -> Iterator[attune_nb.Database]:
    """One database for tests that only look at the rows they made themselves."""
    url = pg.create_database(name="trace_shared")
    database = attune_nb.connect(url)
    yield database
    database.close()
    pg.drop_database("trace_shared")


_chains = itertools.count(1)


@pytest.fixture
def chain(shared: attune_nb.Database) -> dict[str, Any]:
    """pack, action, trigger, rule, an event and its enforcement, as Attune writes them.

    Refs get a number so that every test has rows of its own in the shared database.
    """
    n = next(_chains)
    c: dict[str, Any] = {
        "pack_ref": f"incident{n}",
        "action_ref": f"incident{n}.open",
        "trigger_ref": f"monitoring{n}.alert_fired",
        "rule_ref": f"incident{n}.on_alert",
    }
    c["pack"] = sql(
        shared,
        "INSERT INTO attune.pack (ref, label, version) "
        "VALUES (:ref, 'Incident', '1.0') RETURNING id",
        ref=c["pack_ref"],
    )
    c["action"] = sql(
        shared,
        "INSERT INTO attune.action (ref, pack, pack_ref, label, "
        "entrypoint) VALUES (:ref, :p, :pr, 'Open', 'open.py') "
        "RETURNING id",
        ref=c["action_ref"],
        p=c["pack"],
        pr=c["pack_ref"],
    )
    c["trigger"] = sql(
        shared,
        "INSERT INTO attune.trigger (ref, pack, pack_ref, label) "
        "VALUES (:ref, :p, :pr, 'Alert') RETURNING id",
        ref=c["trigger_ref"],
        p=c["pack"],
        pr=c["pack_ref"],
    )
    c["rule"] = sql(
        shared,
        """
        INSERT INTO attune.rule (ref, pack, pack_ref, label, action, action_ref, trigger,
                                 trigger_ref)
        VALUES (:ref, :p, :pr, 'On alert', :a, :ar, :t, :tr) RETURNING id""",
        ref=c["rule_ref"],
        p=c["pack"],
        pr=c["pack_ref"],
        a=c["action"],
        ar=c["action_ref"],
        t=c["trigger"],
        tr=c["trigger_ref"],
    )
    c["event"] = sql(
        shared,
        "INSERT INTO attune.event (trigger, trigger_ref, payload) "
        "VALUES (:t, :tr, '{}') RETURNING id",
        t=c["trigger"],
        tr=c["trigger_ref"],
    )
    c["enforcement"] = sql(
        shared,
        """
        INSERT INTO attune.enforcement (rule, rule_ref, trigger_ref, event, status, payload)
        VALUES (:r, :rr, :tr, :e, 'processed', '{}') RETURNING id""",
        r=c["rule"],
        rr=c["rule_ref"],
        tr=c["trigger_ref"],
        e=c["event"],
    )
    return c


def link(trace: Trace, kind: str) -> TraceLink:
    found = trace.link(kind)
    assert found is not None, f"no {kind} link in {trace!r}"
    return found


def kinds(trace: Trace) -> list[str]:
    return [link.kind for link in trace.links]


def test_trace_of_a_rule_execution(shared: attune_nb.Database, chain: dict[str, Any]) -> None:
    e = shared.executions.create(
        chain["action_ref"],
        action=chain["action"],
        enforcement=chain["enforcement"],
        status="completed",
    )
    trace = shared.trace(e.id)
    assert isinstance(trace, Trace)
    assert trace.execution == shared.executions.get(e.id)
    assert kinds(trace) == ["event", "enforcement", "rule", "execution"]
    assert [(link.id, link.ref, link.status, link.missing) for link in trace.links] == [
        (chain["event"], chain["trigger_ref"], None, False),
        (chain["enforcement"], chain["rule_ref"], "processed", False),
        (chain["rule"], chain["rule_ref"], None, False),
        (e.id, chain["action_ref"], "completed", False),
    ]
    assert all(link.created is not None for link in trace.links)
    assert trace.missing == []
    assert trace.link("rule") == trace.links[2]
    assert trace.link("root") is None and trace.link("parent") is None


def test_trace_of_a_workflow_child_includes_the_root(
    shared: attune_nb.Database, chain: dict[str, Any]
) -> None:
    root = shared.executions.create(
        chain["action_ref"], enforcement=chain["enforcement"], status="running"
    )
    task = shared.executions.create("incident.page", parent=root.id, status="running")
    leaf = shared.executions.create("core.http", parent=task.id)
    trace = shared.trace(leaf.id)
    assert kinds(trace) == ["event", "enforcement", "rule", "root", "execution"]
    assert link(trace, "enforcement").id == chain["enforcement"]  # the root's
    root_link = link(trace, "root")
    assert (root_link.id, root_link.ref, root_link.status) == (
        root.id,
        chain["action_ref"],
        "running",
    )
    assert link(trace, "execution").id == leaf.id
    assert trace.missing == []


def test_trace_of_a_manual_execution_is_just_itself(shared: attune_nb.Database) -> None:
    e = shared.executions.create("core.echo")
    trace = shared.trace(e.id)
    assert kinds(trace) == ["execution"]
    assert trace.missing == []


def test_trace_flags_a_deleted_event(shared: attune_nb.Database, chain: dict[str, Any]) -> None:
    e = shared.executions.create(chain["action_ref"], enforcement=chain["enforcement"])
    sql(shared, "DELETE FROM attune.event WHERE id = :id", id=chain["event"])
    trace = shared.trace(e.id)
    assert kinds(trace) == ["event", "enforcement", "rule", "execution"]
    event = link(trace, "event")
    assert (event.id, event.missing, event.ref) == (chain["event"], True, None)
    assert trace.missing == [f"event {chain['event']}"]
    assert not link(trace, "enforcement").missing


def test_trace_flags_a_dangling_enforcement(shared: attune_nb.Database) -> None:
    e = shared.executions.create("incident.open", enforcement=777_000)
    trace = shared.trace(e.id)
    assert kinds(trace) == ["enforcement", "execution"]
    assert (link(trace, "enforcement").id, link(trace, "enforcement").missing) == (777_000, True)
    assert trace.missing == ["enforcement 777000"]


def test_trace_keeps_the_rule_ref_when_the_rule_is_deleted(
    shared: attune_nb.Database, chain: dict[str, Any]
) -> None:
    e = shared.executions.create(chain["action_ref"], enforcement=chain["enforcement"])
    sql(shared, "DELETE FROM attune.rule WHERE id = :id", id=chain["rule"])
    rule = link(shared.trace(e.id), "rule")
    assert rule.ref == chain["rule_ref"]
    assert rule.id is None  # ON DELETE SET NULL: the id is gone, the ref survives


def test_trace_flags_a_dangling_parent_chain(shared: attune_nb.Database) -> None:
    middle = shared.executions.create("wf.middle")
    leaf = shared.executions.create("wf.leaf", parent=middle.id)
    sql(shared, "UPDATE attune.execution SET parent = 555000 WHERE id = :id", id=middle.id)
    trace = shared.trace(leaf.id)
    assert kinds(trace) == ["parent", "root", "execution"]
    assert (link(trace, "parent").id, link(trace, "parent").missing) == (555_000, True)
    assert link(trace, "root").id == middle.id
    assert trace.missing == ["parent 555000"]


def test_trace_of_an_orphan_itself(shared: attune_nb.Database) -> None:
    e = shared.executions.create("wf.leaf")
    sql(shared, "UPDATE attune.execution SET parent = 555001 WHERE id = :id", id=e.id)
    trace = shared.trace(e.id)
    assert kinds(trace) == ["parent", "execution"]
    assert trace.missing == ["parent 555001"]


def test_trace_of_a_parent_loop_does_not_call_existing_rows_missing(
    shared: attune_nb.Database,
) -> None:
    a = shared.executions.create("wf.a")
    b = shared.executions.create("wf.b", parent=a.id)
    sql(shared, "UPDATE attune.execution SET parent = :b WHERE id = :a", a=a.id, b=b.id)
    # Flagged, never raised: the chain b -> a -> b is cut where it comes back.
    trace = shared.trace(b.id)
    assert trace.missing == []
    assert trace.cycle
    loop = trace.link("parent")
    assert loop is not None and loop.cycle and loop.id == b.id
    assert trace.link("root") is not None and trace.link("root").id == a.id  # type: ignore[union-attr]
    assert f"<parent {b.id} LOOP>" in repr(trace)
    assert trace.to_frame()["cycle"].tolist() == [link.cycle for link in trace.links]


def test_trace_unknown_execution(shared: attune_nb.Database) -> None:
    with pytest.raises(ExecutionNotFound) as info:
        shared.trace(123_456)
    assert info.value.execution_id == 123_456


def test_trace_frame_and_repr(shared: attune_nb.Database, chain: dict[str, Any]) -> None:
    e = shared.executions.create(chain["action_ref"], enforcement=chain["enforcement"])
    sql(shared, "DELETE FROM attune.event WHERE id = :id", id=chain["event"])
    trace = shared.trace(e.id)
    frame = trace.to_frame()
    assert list(frame.columns) == ["kind", "id", "ref", "status", "created", "missing", "cycle"]
    assert {c: str(frame[c].dtype) for c in frame.columns} == {
        "kind": "string",
        "id": "Int64",
        "ref": "string",
        "status": "string",
        "created": "datetime64[ns, UTC]",
        "missing": "bool",
        "cycle": "bool",
    }
    assert not frame["cycle"].any()
    assert frame["kind"].tolist() == ["event", "enforcement", "rule", "execution"]
    assert frame["missing"].tolist() == [True, False, False, False]
    assert frame["id"].tolist() == [chain["event"], chain["enforcement"], chain["rule"], e.id]
    assert pd.isna(frame.loc[0, "created"]) and frame["created"].iloc[1:].notna().all()
    assert repr(trace) == (
        f"<event {chain['event']} MISSING> -> "
        f"<enforcement {chain['enforcement']} {chain['rule_ref']} processed> -> "
        f"<rule {chain['rule']} {chain['rule_ref']}> -> "
        f"<execution {e.id} {chain['action_ref']} requested>"
    )


def test_empty_trace_frame_has_the_layout() -> None:
    e = attune_nb.Execution(1, "core.echo", attune_nb.ExecutionStatus.RUNNING)
    frame = Trace(e).to_frame()
    assert frame.empty
    assert {c: str(frame[c].dtype) for c in frame.columns} == {
        "kind": "string",
        "id": "Int64",
        "ref": "string",
        "status": "string",
        "created": "datetime64[ns, UTC]",
        "missing": "bool",
        "cycle": "bool",
    }
    assert (
        repr(Trace(e, (TraceLink("execution", 1, "core.echo", "running"),)))
        == "<execution 1 core.echo running>"
    )
