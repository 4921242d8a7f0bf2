"""Bad input, property-based: every public filter, write and widget argument.

Hypothesis feeds wrong types (floats, bytes, lists, dicts, None, bools where ints are
wanted), unknown statuses, huge and negative limits, ids beyond bigint, SQL injection
strings in refs and JSON keys, NUL bytes and lone surrogates, NaN and infinities in
JSON, naive and aware datetimes (and ones outside Python's range in UTC), pandas
Timestamps and strings. The property: each call works or raises an ``AttuneNbError``
(never another exception type), and a refused write leaves the database as it was
(a hash of every execution and inquiry row and the history's size, before and after).

One seeded database for the module; each write test makes the rows it writes on.
Known bugs in files of other owners are ``xfail(strict=True)`` with the failing example.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import attune_nb
from attune_nb.errors import AttuneNbError
from attune_nb.filters import FILTER_NAMES, INQUIRY_FILTER_NAMES
from attune_nb.frames import JSON_COLUMNS
from attune_nb.lifecycle import ExecutionStatus
from attune_nb.testing import ThrowawayServer
from attune_nb.widgets.browser import ExecutionBrowser
from attune_nb.widgets.bulk import BulkUpdater
from attune_nb.widgets.inbox import InquiryInbox
from attune_nb.widgets.monitor import LiveMonitor
from attune_nb.widgets.status import StatusUpdater

TRIED: Counter[str] = Counter()
"""Inputs tried per test (printed at the end of the module: run with -s to see it)."""
REFUSED: Counter[str] = Counter()

FAST = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(FAST, max_examples=20)


# -- the database and its snapshot ---------------------------------------------------------


@pytest.fixture(scope="module")
def world(pg: ThrowawayServer) -> Iterator[attune_nb.Database]:
    """A small seeded database (100 executions, their history, a few inquiries)."""
    url = pg.create_seeded_database(executions=100, seed=3, name="properties")
    database = attune_nb.connect(url)
    yield database
    database.close()
    pg.drop_database("properties")
    total = sum(TRIED.values())
    print(f"\ntest_properties: {total} inputs tried, {sum(REFUSED.values())} refused: {TRIED}")


def snapshot(db: attune_nb.Database) -> tuple[Any, ...]:
    """Every execution and inquiry row (hashed, in id order) and the history's size."""
    with db.transaction() as conn:
        return tuple(
            conn.execute(
                sa.text("""
            SELECT (SELECT md5(coalesce(string_agg(e::text, '|' ORDER BY e.id), ''))
                    FROM attune.execution e),
                   (SELECT count(*) FROM attune.execution),
                   (SELECT count(*) FROM attune.execution_history),
                   (SELECT md5(coalesce(string_agg(i::text, '|' ORDER BY i.id), ''))
                    FROM attune.inquiry i)""")
            ).one()
        )


def attempt(test: str, call: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, result) or (False, the AttuneNbError); any other exception fails the test."""
    TRIED[test] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return True, call()
    except AttuneNbError as exc:
        REFUSED[test] += 1
        refusal = exc
    assert str(refusal), f"{type(refusal).__name__} without a message"
    return False, refusal


def refused_or_done(db: attune_nb.Database, test: str, call: Callable[[], Any]) -> Any:
    """``attempt`` a write: when refused, the database must be exactly as before."""
    before = snapshot(db)
    ok, value = attempt(test, call)
    if not ok:
        assert snapshot(db) == before, f"a refused write ({value!r}) changed the database"
    return value


def read_only(db: attune_nb.Database, test: str, call: Callable[[], Any]) -> Any:
    """``attempt`` a read: it never changes the database, whatever its arguments."""
    before = snapshot(db)
    _ok, value = attempt(test, call)
    assert snapshot(db) == before
    return value


def fresh(db: attune_nb.Database, status: str = "running", ref: str = "prop.scratch") -> int:
    return db.executions.create(ref, status=status).id


def fresh_inquiry(db: attune_nb.Database, execution: int, *, schema: Any = None) -> int:
    with db.transaction() as conn:
        return int(
            conn.execute(
                sa.text("""
            INSERT INTO attune.inquiry (created_by_execution, prompt, response_schema,
                                        response_options)
            VALUES (:e, 'Proceed?', CAST(:schema AS jsonb),
                    '[{"ref": "ok", "label": "OK", "style": "positive", "response": {}}]')
            RETURNING id"""),
                {"e": execution, "schema": None if schema is None else json.dumps(schema)},
            ).scalar_one()
        )


# -- strategies ----------------------------------------------------------------------------

INJECTIONS = [
    "'; DROP TABLE attune.execution; --",
    '" OR 1=1',
    "$$",
    "$$; DELETE FROM attune.execution; $$",
    "\\",
    "\\'",
    "core.echo' OR '1'='1",
    "%",
    "_",
    "core.%",
]
BAD_TEXT = ["a\x00b", "\x00", "\ud800", "core.\udfff", "x" * 100_000]
BEYOND = [2**63, -(2**63) - 1, 10**30, -(10**30)]
EDGE_INTS = [0, -1, 1, 2**31, 2**31 - 1, 2**63 - 1, -(2**63), *BEYOND]

small_text = st.text(max_size=12)
texts = st.one_of(small_text, st.sampled_from(INJECTIONS), st.sampled_from(BAD_TEXT))
ints = st.one_of(st.integers(-5, 400), st.sampled_from(EDGE_INTS), st.integers())
wrong = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(),
    st.binary(max_size=4),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(small_text, st.integers(), max_size=2),
    st.just(object()),
    st.just(pd.NaT),
    st.just(float("nan")),
)
statuses = st.one_of(
    st.sampled_from([s.value for s in ExecutionStatus]),
    st.sampled_from(list(ExecutionStatus)),
    st.sampled_from(["Running", " failed ", "canceled", "pending", "responded", "timeout"]),
    texts,
)
offsets = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
naive = st.datetimes()
aware = st.datetimes(timezones=offsets)
EXTREMES = [
    datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
    datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
    datetime(1, 1, 1),
    datetime.max,
    datetime.min.replace(tzinfo=UTC),
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00+05:00",
    pd.NaT,
    pd.Timestamp("2026-01-13 12:00:00.000000001"),
]
times = st.one_of(
    naive,
    aware,
    st.dates(),
    naive.map(lambda d: d.isoformat()),
    aware.map(lambda d: d.isoformat()),
    st.datetimes(
        min_value=datetime(1700, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets
    ).map(pd.Timestamp),
    st.sampled_from(EXTREMES),
    texts,
    ints,
    wrong,
)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
json_keys = st.one_of(small_text, st.sampled_from(INJECTIONS), st.sampled_from(["a\x00", "\ud800"]))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(json_keys, inner, max_size=3)
    ),
    max_leaves=8,
)
not_json = st.one_of(
    st.binary(max_size=3),
    st.just({1, 2}),
    st.just(object()),
    st.just({("a",): 1}),
    st.just({1: "int key"}),
    st.just(datetime(2026, 1, 1)),
)
results = st.one_of(json_values, not_json)


def one_or_many(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.lists(values, max_size=3), st.tuples(values))


def filter_value(name: str) -> st.SearchStrategy[Any]:
    """Values for one execution filter: good ones, and every kind of bad one."""
    if name == "status":
        return one_or_many(statuses) | wrong
    if name in ("action_ref", "rule_ref", "trigger_ref"):
        refs = st.sampled_from(["core.echo", "core.*", "deploy.*", "*", ".*", "core.*.*"])
        return one_or_many(texts | refs) | wrong
    if name == "pack":
        return one_or_many(texts | st.sampled_from(["core", "deploy", "core.echo"])) | wrong
    if name in ("id", "executor", "worker", "enforcement", "parent"):
        return one_or_many(ints | wrong) | wrong
    if name in ("since", "until"):
        return times
    return st.booleans() | wrong | ints  # top_level_only, workflows_only, waiting_for_slot


def filters_of(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    known = st.sampled_from(names).flatmap(lambda n: st.tuples(st.just(n), filter_value(n)))
    unknown = st.tuples(st.sampled_from(["bogus", "Status", "limit_", ""]), wrong | texts)
    return st.lists(known | unknown, max_size=3).map(dict)


def inquiry_filter_value(name: str) -> st.SearchStrategy[Any]:
    if name == "status":
        return one_or_many(statuses) | wrong
    if name in ("since", "until"):
        return times
    return one_or_many(ints | wrong) | wrong


inquiry_filters = st.lists(
    st.sampled_from(INQUIRY_FILTER_NAMES).flatmap(
        lambda n: st.tuples(st.just(n), inquiry_filter_value(n))
    )
    | st.tuples(st.sampled_from(["bogus", "action_ref"]), wrong),
    max_size=3,
).map(dict)

# Within bigint: beyond it is the known bug of test_limits_beyond_bigint_are_refused.
limits = st.one_of(st.none(), st.integers(-3, 50), st.sampled_from([0, 2**63 - 1]), wrong)
# Iterables only: a non-iterable include is the known bug of test_include_not_a_list.
includes = st.one_of(
    st.sampled_from(JSON_COLUMNS),
    st.lists(st.sampled_from([*JSON_COLUMNS, "bogus", "RESULT", "status"]), max_size=3),
    st.lists(texts, max_size=2),
    st.tuples(wrong),
)


# -- execution reads ---------------------------------------------------------------------


@FAST
@given(
    how=st.sampled_from(["frame", "count", "latest", "intervals"]),
    filters=filters_of(FILTER_NAMES),
    limit=limits,
    offset=st.one_of(st.integers(-3, 50), wrong),
    include=includes,
)
def test_execution_filters(
    world: attune_nb.Database,
    how: str,
    filters: dict[str, Any],
    limit: Any,
    offset: Any,
    include: Any,
) -> None:
    ex = world.executions
    calls: dict[str, Callable[[], Any]] = {
        "frame": lambda: ex.frame(include=include, limit=limit, offset=offset, **filters),
        "count": lambda: ex.count(**filters),
        "latest": lambda: ex.latest(**filters),
        "intervals": lambda: ex.intervals(limit=limit, **filters),
    }
    value = read_only(world, "execution_filters", calls[how])
    if how == "count" and not isinstance(value, AttuneNbError):
        assert isinstance(value, int) and value >= 0


@FAST
@given(
    how=st.sampled_from(
        ["get", "history", "children", "descendants", "ancestors", "tree", "retries", "trace"]
    ),
    execution_id=ints | wrong | texts,
    include=includes,
    max_depth=st.one_of(st.none(), st.integers(-2, 5), st.sampled_from(BEYOND), wrong),
    since=st.one_of(st.none(), times),
    until=st.one_of(st.none(), times),
)
def test_one_execution_reads(
    world: attune_nb.Database,
    how: str,
    execution_id: Any,
    include: Any,
    max_depth: Any,
    since: Any,
    until: Any,
) -> None:
    ex = world.executions
    calls: dict[str, Callable[[], Any]] = {
        "get": lambda: ex.get(execution_id),
        "history": lambda: ex.history(execution_id, since=since, until=until),
        "children": lambda: ex.children(execution_id, include=include),
        "descendants": lambda: ex.descendants(execution_id, max_depth=max_depth, include=include),
        "ancestors": lambda: ex.ancestors(execution_id, include=include),
        "tree": lambda: ex.tree(execution_id, max_depth=max_depth),
        "retries": lambda: ex.retries(execution_id),
        "trace": lambda: world.trace(execution_id),
    }
    read_only(world, "one_execution_reads", calls[how])


@FAST
@given(
    now=st.one_of(st.none(), times),
    timeouts=st.lists(
        st.one_of(
            st.floats(),
            ints,
            st.timedeltas(),
            st.just(timedelta.max),
            st.just(pd.Timedelta("-1s")),
            wrong,
        ),
        min_size=3,
        max_size=3,
    ),
    limit=st.one_of(limits, st.sampled_from(BEYOND)),
)
def test_stuck(world: attune_nb.Database, now: Any, timeouts: list[Any], limit: Any) -> None:
    scheduled, heartbeat, threshold = timeouts
    read_only(
        world,
        "stuck",
        lambda: world.executions.stuck(
            now=now,
            scheduled_timeout=scheduled,
            heartbeat_timeout=heartbeat,
            threshold=threshold,
            limit=limit,
        ),
    )


# -- analysis ------------------------------------------------------------------------------

ANALYSIS_FILTERS = tuple(n for n in FILTER_NAMES if n not in ("id", "since", "until"))


@FAST
@given(
    how=st.sampled_from(
        ["durations", "failure_rate", "throughput", "compare_windows", "concurrency"]
    ),
    since=times,
    until=times,
    by=st.one_of(st.sampled_from([None, "action_ref", "day", "hour", "Day"]), wrong),
    freq=st.one_of(st.sampled_from([None, "minute", "hour", "day", "week"]), wrong),
    chosen=st.one_of(one_or_many(statuses), wrong),
    now=st.one_of(st.none(), times),
    filters=filters_of(ANALYSIS_FILTERS),
)
def test_analysis(
    world: attune_nb.Database,
    how: str,
    since: Any,
    until: Any,
    by: Any,
    freq: Any,
    chosen: Any,
    now: Any,
    filters: dict[str, Any],
) -> None:
    an = world.analysis
    calls: dict[str, Callable[[], Any]] = {
        "durations": lambda: an.durations(since=since, until=until, **filters),
        "failure_rate": lambda: an.failure_rate(since=since, until=until, by=by, **filters),
        "throughput": lambda: an.throughput(
            since=since, until=until, freq=freq if freq is not None else "hour", **filters
        ),
        "compare_windows": lambda: an.compare_windows(
            a=(since, until), b=(until, "2026-01-14") if freq else since, **filters
        ),
        "concurrency": lambda: an.concurrency(
            since=since, until=until, statuses=chosen, now=now, freq=freq, **filters
        ),
    }
    # A window of centuries in buckets is millions of rows (slow, not wrong): a window
    # that is a time and longer than two days is cut to two days after ``since``.
    if how in ("throughput", "concurrency", "failure_rate"):
        try:
            start, end = pd.Timestamp(since), pd.Timestamp(until)
            long = not pd.isna(start) and abs(end - start) > pd.Timedelta(days=2)
        except Exception:
            long = False
        if long:
            until = start + pd.Timedelta(days=2)
    read_only(world, "analysis", calls[how])


# -- inquiries -----------------------------------------------------------------------------


@FAST
@given(
    how=st.sampled_from(["frame", "count", "get"]),
    filters=inquiry_filters,
    inquiry_id=ints | wrong | texts,
    limit=limits,
    offset=st.one_of(st.integers(-3, 5), wrong),
    include=st.one_of(
        st.just("response_schema"), st.lists(st.sampled_from(["response_schema", "x"]))
    ),
)
def test_inquiry_reads(
    world: attune_nb.Database,
    how: str,
    filters: dict[str, Any],
    inquiry_id: Any,
    limit: Any,
    offset: Any,
    include: Any,
) -> None:
    iq = world.inquiries
    calls: dict[str, Callable[[], Any]] = {
        "frame": lambda: iq.frame(include=include, limit=limit, offset=offset, **filters),
        "count": lambda: iq.count(**filters),
        "get": lambda: iq.get(inquiry_id),
    }
    read_only(world, "inquiry_reads", calls[how])


@FAST
@given(
    target=st.sampled_from(["fresh", "schema"]) | ints | wrong,
    response=st.one_of(json_values, not_json, st.none(), wrong),
    option=st.one_of(st.none(), st.just("ok"), texts, wrong),
    responder=st.one_of(st.none(), ints, wrong),
)
def test_respond(
    world: attune_nb.Database, target: Any, response: Any, option: Any, responder: Any
) -> None:
    run = fresh(world)
    schema = {"approved": {"type": "boolean", "required": True}, "note": {"type": "string"}}
    if target == "fresh":
        target = fresh_inquiry(world, run)
    elif target == "schema":
        target = fresh_inquiry(world, run, schema=schema)
    refused_or_done(
        world,
        "respond",
        lambda: world.inquiries.respond(target, response, option=option, responder=responder),
    )


# -- writes --------------------------------------------------------------------------------

CREATE_ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "action": ints | wrong,
    "config": results,
    "parent": ints | wrong,
    "enforcement": ints | wrong,
    "executor": ints | wrong,
    "status": statuses | wrong,
    "env_vars": results,
    "worker": ints | wrong,
    "result": results,
    "started_at": times,
    "timeout_seconds": ints | wrong,
    "workflow_task": results,
    "retry_count": ints | wrong,
    "max_retries": ints | wrong,
    "retry_reason": texts | wrong | ints,
    "original_execution": ints | wrong,
    "trace_tag": texts | wrong | ints,
    "permission_set_refs": st.lists(texts | ints, max_size=2) | texts | wrong,
}


@FAST
@given(
    action_ref=texts | wrong | st.just("prop.create"),
    arguments=st.lists(
        st.sampled_from(sorted(CREATE_ARGUMENTS)).flatmap(
            lambda n: st.tuples(st.just(n), CREATE_ARGUMENTS[n])
        ),
        max_size=4,
    ).map(dict),
)
def test_create(world: attune_nb.Database, action_ref: Any, arguments: dict[str, Any]) -> None:
    created = refused_or_done(
        world, "create", lambda: world.executions.create(action_ref, **arguments)
    )
    if not isinstance(created, AttuneNbError):
        assert world.executions.get(created.id) == created


UPDATE_ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "status": statuses | wrong,
    "result": results,
    "executor": ints | wrong,
    "worker": ints | wrong,
    "started_at": times,
    "env_vars": results,
    "workflow_task": results,
    "trace_tag": texts | wrong | ints,
    "config": results,
    "force": st.booleans() | wrong,
}


@FAST
@given(
    which=st.sampled_from(["fresh", "other"]),
    other=ints | wrong | texts,
    arguments=st.lists(
        st.sampled_from(sorted(UPDATE_ARGUMENTS)).flatmap(
            lambda n: st.tuples(st.just(n), UPDATE_ARGUMENTS[n])
        ),
        max_size=3,
    ).map(dict),
)
def test_update_and_delete(
    world: attune_nb.Database, which: str, other: Any, arguments: dict[str, Any]
) -> None:
    if which == "fresh" or (isinstance(other, int) and 0 < other < 10**6):
        other = fresh(world)  # a seeded row is left as it is for the other tests
    refused_or_done(world, "update", lambda: world.executions.update(other, **arguments))
    refused_or_done(world, "delete", lambda: world.executions.delete(other))


@FAST
@given(
    which=st.sampled_from(["fresh", "other"]),
    other=ints | wrong | texts,
    start=st.sampled_from([s.value for s in ExecutionStatus]),
    to=statuses | wrong,
    expected=st.one_of(st.none(), statuses, wrong),
    result=st.one_of(st.just("unset"), results),
)
def test_transition(
    world: attune_nb.Database,
    which: str,
    other: Any,
    start: str,
    to: Any,
    expected: Any,
    result: Any,
) -> None:
    execution_id = other
    if which == "fresh" or (isinstance(other, int) and 0 < other < 10**6):
        execution_id = fresh(world, start)
    kwargs = {} if result == "unset" else {"result": result}
    refused_or_done(
        world,
        "transition",
        lambda: world.executions.transition(execution_id, to, expected=expected, **kwargs),
    )


@FAST
@given(
    to=statuses | wrong,
    ids=st.one_of(st.none(), one_or_many(ints | wrong), wrong, texts),
    with_fresh=st.booleans(),
    dry_run=st.one_of(st.booleans(), wrong),
    result=st.one_of(st.just("unset"), results),
    extra=filters_of(("status", "since", "until", "top_level_only", "parent")),
)
def test_bulk_transition(
    world: attune_nb.Database,
    to: Any,
    ids: Any,
    with_fresh: bool,
    dry_run: Any,
    result: Any,
    extra: dict[str, Any],
) -> None:
    if with_fresh:
        ids = [fresh(world, "scheduled", "prop.bulk"), fresh(world, "running", "prop.bulk")]
    kwargs = {} if result == "unset" else {"result": result}
    # Only rows this test made can change: the selection always includes its action_ref.
    refused_or_done(
        world,
        "bulk_transition",
        lambda: world.executions.bulk_transition(
            to, ids=ids, dry_run=dry_run, action_ref="prop.bulk", **kwargs, **extra
        ),
    )


@st.composite
def previews(draw: st.DrawFn, db: attune_nb.Database) -> Any:
    """A real preview of fresh rows, then spoiled in one column (or not a frame at all)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(wrong | texts)
    ids = [fresh(db, "running", "prop.apply"), fresh(db, "scheduled", "prop.apply")]
    kind = draw(st.sampled_from(["bulk", "cancel"]))
    frame = (
        db.executions.bulk_transition("failed", ids=ids)
        if kind == "bulk"
        else db.executions.cancel_preview(ids=ids)
    )
    column = draw(st.sampled_from([None, "id", "current", "to", "applied", "action_ref", "drop"]))
    if column == "drop":
        return frame.drop(columns=[draw(st.sampled_from(list(frame.columns)))])
    if column is not None:
        values = draw(st.lists(ints | wrong | texts | statuses, min_size=2, max_size=2))
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
    return frame


@FAST
@given(data=st.data(), how=st.sampled_from(["apply", "cancel"]), result=results)
def test_apply_and_cancel_previews(
    world: attune_nb.Database, data: Any, how: str, result: Any
) -> None:
    preview = data.draw(previews(world))
    if how == "apply":
        refused_or_done(world, "apply", lambda: world.executions.apply(preview, result=result))
    else:
        refused_or_done(world, "cancel", lambda: world.executions.cancel(preview))


@FAST
@given(
    target=ints | wrong | texts,
    ids=st.one_of(st.none(), one_or_many(ints | wrong), wrong),
    children=st.one_of(st.booleans(), wrong),
    extra=filters_of(("status", "action_ref", "since")),
)
def test_cancel_by_id_and_its_preview(
    world: attune_nb.Database, target: Any, ids: Any, children: Any, extra: dict[str, Any]
) -> None:
    read_only(
        world,
        "cancel_preview",
        lambda: world.executions.cancel_preview(ids=ids, cancel_running_children=children, **extra),
    )
    # Existing seeded ids would really be cancelled: a fresh row stands in for them.
    if isinstance(target, int) and not isinstance(target, bool) and 0 < target < 10**6:
        target = fresh(world, "scheduled")
    refused_or_done(
        world,
        "cancel",
        lambda: world.executions.cancel(target, cancel_running_children=children),
    )


# -- widgets ---------------------------------------------------------------------------------

REASONS = st.one_of(
    texts,
    st.sampled_from(
        ["NaN", "[1, Infinity]", '"\\u0000"', '{"\\u0000": 1}', '{"a": -Infinity}', "null"]
    ),
    json_values.map(lambda v: json.dumps(v)),
)


@FEW
@given(execution_id=ints | wrong | texts, reason=REASONS, pick=st.integers(0, 8))
def test_status_updater(
    world: attune_nb.Database, execution_id: Any, reason: str, pick: int
) -> None:
    TRIED["StatusUpdater"] += 1
    before = snapshot(world)
    updater = StatusUpdater(world, execution_id)  # the load's errors are shown, not raised
    updater.apply_button.click()
    assert snapshot(world) == before  # nothing loaded or planned that writes
    updater.load(fresh(world))
    updater.action.value = updater.choices[pick % len(updater.choices)].key
    updater.reason.value = reason
    updater.apply_button.click()
    before = snapshot(world)
    updater.last_error = None  # the errors of the bad id above are not this write's
    updater.confirm_button.click()
    if updater.last_error is not None or not updater.status_text.startswith("Written"):
        REFUSED["StatusUpdater"] += 1
        assert snapshot(world) == before, updater.status_text


@FEW
@given(
    fields=st.lists(
        st.tuples(st.sampled_from(["action_ref", "pack", "since", "until"]), texts | REASONS),
        max_size=3,
    ),
    chosen=st.lists(st.sampled_from([s.value for s in ExecutionStatus]), max_size=2),
    target=st.sampled_from(["cancel", *(s.value for s in ExecutionStatus)]),
    reason=REASONS,
)
def test_bulk_updater(
    world: attune_nb.Database,
    fields: list[tuple[str, str]],
    chosen: list[str],
    target: str,
    reason: str,
) -> None:
    TRIED["BulkUpdater"] += 1
    bulk = BulkUpdater(world)
    bulk.filters.status.value = tuple(chosen)
    for name, text in fields:
        getattr(bulk.filters, name).value = text
    bulk.target.value = target
    before = snapshot(world)
    bulk.preview_button.click()
    bulk.apply_button.click()
    bulk.back_button.click()  # any filter may select seeded rows: nothing is confirmed
    assert snapshot(world) == before
    # Confirmed on rows of its own: the reason is what varies.
    fresh(world, "running", "prop.widget")
    bulk = BulkUpdater(world)
    bulk.filters.action_ref.value = "prop.widget"
    bulk.target.value = target
    bulk.reason.value = reason
    bulk.preview_button.click()
    bulk.apply_button.click()
    before = snapshot(world)
    bulk.confirm_button.click()
    if bulk.last_error is not None:
        REFUSED["BulkUpdater"] += 1
        assert snapshot(world) == before, bulk.status_text


@FEW
@given(
    page_size=st.one_of(st.sampled_from([10, 25, 50, 100]), ints, wrong),
    fields=st.lists(
        st.tuples(st.sampled_from(["action_ref", "pack", "since", "until"]), texts | REASONS),
        max_size=3,
    ),
    top=st.booleans(),
    clicks=st.lists(st.sampled_from(["next", "prev", "search"]), max_size=3),
    select=st.booleans(),
)
def test_execution_browser(
    world: attune_nb.Database,
    page_size: Any,
    fields: list[tuple[str, str]],
    top: bool,
    clicks: list[str],
    select: bool,
) -> None:
    TRIED["ExecutionBrowser"] += 1
    before = snapshot(world)
    _ok, browser = attempt("ExecutionBrowser", lambda: ExecutionBrowser(world, page_size=page_size))
    if isinstance(browser, AttuneNbError):
        return
    for name, text in fields:
        getattr(browser.filters, name).value = text
    browser.filters.top_level_only.value = top
    for click in ["search", *clicks]:
        getattr(browser, f"{click}_button").click()
    if select and len(browser.page):
        browser.select(int(browser.page["id"].iloc[0]))
        assert browser.selected is not None
    assert snapshot(world) == before


@FEW
@given(
    responder=st.one_of(st.none(), ints, wrong),
    now=st.one_of(st.none(), times),
    values=st.lists(st.one_of(texts, REASONS, st.floats().map(str)), min_size=3, max_size=3),
    numbers=st.floats(allow_nan=True, allow_infinity=True),
)
def test_inquiry_inbox(
    world: attune_nb.Database, responder: Any, now: Any, values: list[str], numbers: float
) -> None:
    _ok, inbox = attempt("InquiryInbox", lambda: InquiryInbox(world, responder=responder, now=now))
    if isinstance(inbox, AttuneNbError):
        return
    schema = {
        "note": {"type": "string", "required": True},
        "ratio": {"type": "number"},
        "extra": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "string"}},
    }
    inquiry = fresh_inquiry(world, fresh(world), schema=schema)
    inbox.refresh()
    inbox.select(inquiry)
    inbox.inputs["note"].control.value = values[0]
    inbox.inputs["extra"].control.value = values[1]
    inbox.inputs["tags"].control.value = values[2]
    inbox.inputs["ratio"].control.value = numbers
    before = snapshot(world)
    TRIED["InquiryInbox"] += 1
    inbox.submit_button.click()
    if inbox.answered is None or inbox.answered.id != inquiry:
        REFUSED["InquiryInbox"] += 1
        assert snapshot(world) == before, inbox.status_text


@settings(FEW, max_examples=10)
@given(
    limit=st.one_of(st.integers(-2, 5), st.sampled_from(BEYOND), wrong),
    channels=st.one_of(
        st.lists(st.sampled_from(["execution_created", "inquiry_created", "bogus", ""])),
        texts,
        wrong.filter(lambda v: isinstance(v, (list, dict))),
    ),
    since=st.one_of(st.none(), times),
)
def test_live_monitor(world: attune_nb.Database, limit: Any, channels: Any, since: Any) -> None:
    ok, monitor = attempt(
        "LiveMonitor", lambda: LiveMonitor(world, limit=limit, channels=channels, since=since)
    )
    if ok:
        monitor.stop()
        assert monitor.state == "stopped"  # also when its listener never started
        if monitor.listener is None:
            assert isinstance(monitor.last_error, AttuneNbError)


# -- known bugs in modules of other owners (each with the failing example) -----------------


@pytest.mark.parametrize(
    ("how", "value"),
    [
        ("frame_limit", 2**63),
        ("frame_offset", 10**30),
        ("intervals_limit", 2**63),
        ("inquiries_limit", 2**63),
        ("inquiries_offset", 2**63),
    ],
    ids=["frame-limit", "frame-offset", "intervals-limit", "inquiries-limit", "inquiries-offset"],
)
def test_limits_beyond_bigint_are_refused(world: attune_nb.Database, how: str, value: int) -> None:
    calls: dict[str, Callable[[], Any]] = {
        "frame_limit": lambda: world.executions.frame(limit=value),
        "frame_offset": lambda: world.executions.frame(offset=value),
        "intervals_limit": lambda: world.executions.intervals(limit=value),
        "inquiries_limit": lambda: world.inquiries.frame(limit=value),
        "inquiries_offset": lambda: world.inquiries.frame(offset=value),
    }
    attempt("known_bugs", calls[how])


@pytest.mark.parametrize("include", [None, 5, True, 1.5], ids=["None", "int", "bool", "float"])
@pytest.mark.parametrize("how", ["frame", "children", "inquiries"])
def test_include_not_a_list(world: attune_nb.Database, how: str, include: Any) -> None:
    some = int(world.executions.frame(limit=1)["id"].iloc[0])
    calls: dict[str, Callable[[], Any]] = {
        "frame": lambda: world.executions.frame(include=include),
        "children": lambda: world.executions.children(some, include=include),
        "inquiries": lambda: world.inquiries.frame(include=include),
    }
    attempt("known_bugs", calls[how])


@pytest.mark.parametrize(
    "response",
    [{"note": "a\x00b"}, {"a\x00": 1}, {"ratio": math.nan}, {"ratio": math.inf}, {"n": "\ud800"}],
    ids=["nul-value", "nul-key", "nan", "inf", "surrogate"],
)
def test_respond_refuses_what_jsonb_cannot_store(
    world: attune_nb.Database, response: dict[str, Any]
) -> None:
    """(Found here, fixed in inquiries.py by its owner.)"""
    inquiry = fresh_inquiry(world, fresh(world))  # no schema: any object is a response
    before = snapshot(world)
    ok, _value = attempt("respond", lambda: world.inquiries.respond(inquiry, response))
    assert not ok and snapshot(world) == before


@pytest.mark.parametrize("channels", [None, 5, "execution_created"], ids=["None", "int", "str"])
def test_listen_channels_not_a_list(world: attune_nb.Database, channels: Any) -> None:
    ok, listener = attempt("known_bugs", lambda: world.listen(channels=channels))
    if ok:
        listener.stop()


# -- the fixed bugs, one example each (fast, and readable when one comes back) ---------------


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.executions.get(2**63),
        lambda db: db.executions.frame(action_ref="core.\x00"),
        lambda db: db.executions.count(pack="co\x00re"),
        lambda db: db.executions.frame(since="9999-12-31T23:00:00-05:00"),
        lambda db: db.executions.count(until=pd.NaT),
        lambda db: db.executions.create("core.echo", executor=2**63),
        lambda db: db.executions.create("core.echo", executor=999_999),
        lambda db: db.executions.create("core.echo", timeout_seconds=2**31),
        lambda db: db.executions.create("core.echo", result={"x": math.nan}),
        lambda db: db.executions.create("core.echo", config={"'; DROP\x00": 1}),
        lambda db: db.executions.create("core.echo", trace_tag={"a": 1}),
        lambda db: db.executions.create("core.echo", permission_set_refs=None),
        lambda db: db.executions.create("core.\x00echo"),
        lambda db: db.executions.stuck(limit=2**63),
        lambda db: db.executions.stuck(scheduled_timeout=10**30),
        lambda db: db.analysis.durations(since="0001-01-01T00:00:00+05:00", until="2026-01-02"),
        lambda db: LiveMonitor(db, limit=-1),
        lambda db: InquiryInbox(db, now="not a time"),  # type: ignore[arg-type]
    ],
    ids=[
        "get-beyond-bigint",
        "ref-nul",
        "pack-nul",
        "since-past-9999-in-utc",
        "until-nat",
        "executor-beyond-bigint",
        "executor-missing",
        "timeout-beyond-integer",
        "result-nan",
        "config-key-nul",
        "trace-tag-dict",
        "permission-set-refs-none",
        "action-ref-nul",
        "stuck-limit-beyond-bigint",
        "stuck-timeout-huge",
        "analysis-year-0-in-utc",
        "monitor-negative-limit",
        "inbox-now-text",
    ],
)
def test_fixed_examples_are_refused_clearly(
    world: attune_nb.Database, call: Callable[[attune_nb.Database], Any]
) -> None:
    before = snapshot(world)
    with pytest.raises(AttuneNbError):
        call(world)
    assert snapshot(world) == before


def test_an_aware_time_and_its_naive_utc_twin_select_the_same(world: attune_nb.Database) -> None:
    """Naive means UTC: the same instant, however it is written, selects the same rows."""
    instant = world.executions.frame(limit=50)["created"].iloc[25].to_pydatetime()
    tokyo = instant.astimezone(timezone(timedelta(hours=9)))
    forms = [
        instant,
        instant.replace(tzinfo=None),
        tokyo,
        tokyo.isoformat(),
        pd.Timestamp(tokyo),
        instant.isoformat().replace("+00:00", "Z"),
    ]
    counts = {world.executions.count(since=form) for form in forms}
    assert len(counts) == 1 and counts.pop() > 0
    day = instant.date()
    assert world.executions.count(since=day) == world.executions.count(
        since=datetime(day.year, day.month, day.day, tzinfo=UTC)
    )
