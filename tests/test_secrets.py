"""Secrets on a real PostgreSQL: passwords, ``secret`` inquiry fields, read-only, permissions.

A role with a password is created on the session's server and every test connects with
a URL that carries it (the embedded server trusts its unix socket, so the password is
not checked, but it travels in the URL all the same and must never be shown). Each
test then looks for the password, or a secret field's value, in everything a user
can see: reprs, messages, tracebacks with their chained causes, log records, widget
states, the command line's output and an executed notebook.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as w
import ipywidgets.widgets.widget as widget_registry
import nbformat
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

import attune_nb
from attune_nb import (
    DatabaseOnlyWarning,
    DatabaseUnavailable,
    InvalidResponse,
    ReadOnlyError,
)
from attune_nb.embedded import EmbeddedServer
from attune_nb.errors import QueryCancelled
from attune_nb.frames import Column
from attune_nb.listener import INQUIRY_CHANNELS
from attune_nb.runner import run_notebook
from attune_nb.testing import ThrowawayServer
from attune_nb.widgets import (
    BulkUpdater,
    ExecutionBrowser,
    InquiryInbox,
    LiveMonitor,
    StatusUpdater,
)

# Hex only: the URL-quoted form is the same string, so one search finds both.
PASSWORD = "Pw" + secrets.token_hex(12)
SECRET = "pin-" + secrets.token_hex(8)
ROLE = "h3_" + secrets.token_hex(4)
DATABASE = "secrets_" + secrets.token_hex(4)

PIN_SCHEMA: dict[str, Any] = {
    "approved": {"type": "boolean", "required": True, "position": 0},
    "pin": {
        "type": "string",
        "secret": True,
        "minLength": 8,
        "pattern": "^pin-",
        "position": 1,
    },
    "reason": {"type": "string", "maxLength": 5, "position": 2},
}
PIN_OPTIONS = [{"ref": "approve", "label": "Approve", "response": {"approved": True}}]


# -- helpers -----------------------------------------------------------------------------


def hidden(text: str, *, what: str = PASSWORD) -> None:
    assert what not in text, f"{what!r} is shown in: {text[:2000]}"


def chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its cause and its context, and theirs (each once)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]


def everything_about(exc: BaseException) -> str:
    """What a user may see of an exception: its traceback (causes chained), each link's
    message, repr, args and attributes, and a driver error's statement and parameters."""
    parts = ["".join(traceback.format_exception(exc))]
    for item in chain(exc):
        parts += [str(item), repr(item), repr(item.args), repr(vars(item))]
        if isinstance(item, DBAPIError):
            parts += [str(item.orig), repr(item.params), str(item.statement)]
    return "\n".join(parts)


def widget_states() -> str:
    """The state of every widget model alive in this process, as its frontend gets it."""
    return "\n".join(
        json.dumps(widget.get_state(), default=str)
        for widget in list(widget_registry._instances.values())
    )


def sql(db: attune_nb.Database, statement: str, **params: Any) -> Any:
    with db.transaction() as conn:
        result = conn.execute(sa.text(statement), params)
        return result.scalar() if result.returns_rows else None


def ask(db: attune_nb.Database, *, schema: Any = PIN_SCHEMA, options: Any = PIN_OPTIONS) -> int:
    """A pending inquiry (and the running execution that asks it), as Attune writes one."""
    execution = db.executions.create("deploy.approve", status="running").id
    return sql(
        db,
        "INSERT INTO attune.inquiry (created_by_execution, prompt, response_schema, "
        "response_options) VALUES (:e, 'Deploy?', CAST(:s AS jsonb), CAST(:o AS jsonb)) "
        "RETURNING id",
        e=execution,
        s=json.dumps(schema),
        o=json.dumps(options),
    )


@pytest.fixture(scope="module")
def secret_url(pg: ThrowawayServer) -> Iterator[str]:
    """A migrated database reached as a role with a password: the URL carries it."""
    pg._admin(f"CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
    try:
        plain = pg.create_database(name=DATABASE)
        url = plain.replace("://postgres@", f"://{ROLE}:{PASSWORD}@", 1)
        assert PASSWORD in url
        yield url
    finally:
        pg.drop_database(DATABASE)
        pg._admin(f"DROP ROLE IF EXISTS {ROLE}")


@pytest.fixture
def sdb(secret_url: str) -> Iterator[attune_nb.Database]:
    database = attune_nb.connect(secret_url)
    yield database
    database.close()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record at DEBUG, from attune_nb and from the root logger."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="attune_nb")
    return caplog


def all_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        [caplog.text] + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    )


# -- the password ------------------------------------------------------------------------------


def test_the_password_is_in_the_url_and_the_role_uses_it(sdb: attune_nb.Database) -> None:
    # The fixture's claim: this connection is the role of the URL with the password.
    assert sdb.scalar("SELECT current_user") == ROLE
    assert sdb.engine.url.password == PASSWORD


def test_reprs_never_show_the_password(sdb: attune_nb.Database) -> None:
    execution = sdb.executions.create("core.echo", status="running").id
    shown = [
        repr(sdb),
        str(sdb),
        sdb.url,
        repr(sdb.engine),
        str(sdb.engine.url),
        repr(sdb.engine.pool),
        repr(sdb.reader),
        repr(sdb.executions),
        repr(sdb.inquiries),
        repr(sdb.analysis),
        repr(sdb.executions.get(execution)),
        repr(sdb.trace(execution)),
    ]
    listener = sdb.listen()
    try:
        shown.append(repr(listener))
    finally:
        listener.stop()
    shown.append(repr(listener))
    for text in shown:
        hidden(text)
    assert "***" in repr(sdb)


def test_widgets_never_show_the_password_not_even_in_their_errors(
    pg: ThrowawayServer, sdb: attune_nb.Database
) -> None:
    execution = sdb.executions.create("core.echo", status="running").id
    ask(sdb)
    browser = ExecutionBrowser(sdb)
    browser.select(execution)
    made = [
        browser,
        StatusUpdater(sdb, execution),
        BulkUpdater(sdb),
        InquiryInbox(sdb),
        LiveMonitor(sdb),
    ]
    try:
        for widget in made:
            hidden(repr(widget))
        hidden(widget_states())
        # The database goes away: every widget says so in its status line, masked.
        pg._admin(f'ALTER DATABASE "{DATABASE}" ALLOW_CONNECTIONS false')
        pg._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()"
        )
        browser.search_button.click()
        made[1].load_button.click()  # type: ignore[attr-defined]
        made[2].filters.action_ref.value = "core.*"  # type: ignore[attr-defined]
        made[2].preview_button.click()  # type: ignore[attr-defined]
        made[3].refresh_button.click()  # type: ignore[attr-defined]
        failed = [m for m in made[:4] if m.last_error is not None]
        assert len(failed) == 4, [m.status_text for m in made[:4]]
        for widget in failed:
            assert isinstance(widget.last_error, DatabaseUnavailable)
            hidden(widget.status_text)
            hidden(everything_about(widget.last_error))
        hidden(widget_states())
    finally:
        pg._admin(f'ALTER DATABASE "{DATABASE}" ALLOW_CONNECTIONS true')
        made[4].stop()  # type: ignore[attr-defined]
    hidden(widget_states())


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda url: url.replace(f"/{DATABASE}?", "/no_such_database?"), id="no-such-database"
        ),
        pytest.param(lambda url: url.replace(f"{ROLE}:", "nobody_here:"), id="no-such-role"),
        pytest.param(
            lambda url: re.sub(r"host=[^&]*", "host=/nonexistent/socket/dir", url), id="no-server"
        ),
        pytest.param(lambda url: url.replace("@/", "@localhost:notaport/"), id="bad-port"),
        pytest.param(
            lambda url: url.replace("postgresql+psycopg2://", "mysql://"), id="not-postgresql"
        ),
        pytest.param(
            lambda url: url.replace("postgresql+psycopg2://", "postgresql+asyncpg://"),
            id="other-driver",
        ),
    ],
)
def test_a_connection_that_fails_never_shows_the_password(
    secret_url: str, make: Any, logs: pytest.LogCaptureFixture
) -> None:
    bad = make(secret_url)
    assert PASSWORD in bad
    with pytest.raises(DatabaseUnavailable) as info:
        attune_nb.connect(bad)
    hidden(everything_about(info.value))
    hidden(info.value.url)
    hidden(all_logged(logs))


def test_sql_errors_and_their_tracebacks_never_show_the_password(
    secret_url: str, sdb: attune_nb.Database, logs: pytest.LogCaptureFixture
) -> None:
    # A plain SQL error (not one the driver table knows), on both paths.
    with pytest.raises(DBAPIError) as raw:
        sdb.scalar("SELECT * FROM attune.no_such_table")
    hidden(everything_about(raw.value))
    with pytest.raises(Exception) as streamed:  # noqa: PT011 - whatever ADBC raises
        sdb.read("SELECT * FROM attune.no_such_table", [Column("id", "id")])
    hidden(everything_about(streamed.value))
    # A translated one: a statement timeout set in the URL.
    timed = attune_nb.connect(secret_url + "&options=-c%20statement_timeout%3D50")
    try:
        with pytest.raises(QueryCancelled) as cancelled:
            timed.scalar("SELECT pg_sleep(5)")
        hidden(everything_about(cancelled.value))
    finally:
        timed.close()
    hidden(all_logged(logs))


def test_the_bulk_reader_losing_its_database_never_shows_the_password(
    pg: ThrowawayServer, secret_url: str, logs: pytest.LogCaptureFixture
) -> None:
    # The ADBC path opens its own connection with the libpq URI, password included.
    db = attune_nb.connect(secret_url)
    try:
        db.close()
        pg._admin(f'ALTER DATABASE "{DATABASE}" ALLOW_CONNECTIONS false')
        try:
            with pytest.raises(Exception) as info:  # noqa: PT011 - whatever it raises, shown
                db.read("SELECT 1 AS id", [Column("id", "id")])
        finally:
            pg._admin(f'ALTER DATABASE "{DATABASE}" ALLOW_CONNECTIONS true')
        hidden(everything_about(info.value))
    finally:
        db.close()
    hidden(all_logged(logs))


def test_the_listener_losing_its_connection_never_shows_the_password(
    pg: ThrowawayServer, sdb: attune_nb.Database, logs: pytest.LogCaptureFixture
) -> None:
    states: list[str] = []
    listener = sdb.listen(on_state=states.append, backoff=(0.05, 0.2))
    try:
        # Every session of the database is dropped, the listener's among them.
        pg._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()"
        )
        deadline = time.monotonic() + 30
        while listener.reconnects < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listener.reconnects >= 1, states
        assert "reconnecting" in states
        sdb.executions.create("core.echo")
        assert listener.get(timeout=15).channel == "execution_created"
        hidden(repr(listener))
        hidden(str(listener.last_error))
        hidden(" ".join(states))
    finally:
        listener.stop()
    hidden(all_logged(logs))


def test_logs_at_debug_never_show_the_password(
    secret_url: str, logs: pytest.LogCaptureFixture
) -> None:
    db = attune_nb.connect(secret_url)
    try:
        inquiry = ask(db)
        db.executions.frame()
        db.executions.count()
        db.inquiries.frame()
        db.inquiries.respond(inquiry, option="approve")
        db.summary()
    finally:
        db.close()
    hidden(all_logged(logs))


def test_the_command_line_never_shows_the_password(secret_url: str) -> None:
    script = Path(sys.executable).parent / "attune-nb"
    bad = secret_url.replace(f"/{DATABASE}?", "/no_such_database?")
    runs = []
    for url, argv in [
        (bad, ["-v", "migrate"]),
        (bad, ["-v", "db", "status"]),
        (bad, ["db", "url"]),
        (secret_url, ["-v", "db", "status"]),
        (secret_url, ["db", "url"]),
    ]:
        env = {**os.environ, "ATTUNE_DB_URL": url}
        done = subprocess.run(
            [str(script), *argv], capture_output=True, text=True, env=env, check=False, timeout=120
        )
        runs.append((argv, url is bad, done))
        hidden(done.stdout + done.stderr)
    failed = {tuple(argv): done for argv, is_bad, done in runs if is_bad}
    assert failed[("-v", "migrate")].returncode == 1
    assert "attune-nb: error:" in failed[("-v", "migrate")].stderr
    assert "no_such_database" in failed[("-v", "migrate")].stderr
    assert "***" in runs[-1][2].stdout  # `db url` prints the masked URL


def test_an_executed_notebook_never_shows_the_password_or_a_secret(
    secret_url: str, sdb: attune_nb.Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inquiry = ask(sdb)
    sdb.inquiries.respond(inquiry, {"approved": True, "pin": SECRET})
    monkeypatch.setenv("ATTUNE_DB_URL", secret_url)
    cells = [
        "import logging, os\nimport attune_nb\nlogging.basicConfig(level=logging.DEBUG)",
        "db = attune_nb.connect()\ndb",
        "print(db, db.executions, db.inquiries, db.reader)\ndb.engine",
        "db.inquiries.frame()",
        f"inquiry = db.inquiries.get({inquiry})\nprint(inquiry, inquiry.masked_response)",
        "from attune_nb.widgets import ExecutionBrowser, InquiryInbox\nExecutionBrowser(db)",
        "InquiryInbox(db)",
        # The last cell fails: its traceback is in the outputs.
        "bad = os.environ['ATTUNE_DB_URL'].replace('/" + DATABASE + "?', '/no_such_database?')\n"
        "attune_nb.connect(bad)",
    ]
    path = tmp_path / "secrets.ipynb"
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path
    )
    run = run_notebook(path, output=tmp_path / "out", timeout=120)
    assert run.error is not None and run.error.ename == "DatabaseUnavailable", run.error
    assert run.executed is not None and run.html is not None
    executed = run.executed.read_text()
    assert "no_such_database" in executed  # the error's output is there
    assert "***" in executed  # the masked URL and the masked secret are shown
    for text in (executed, run.html.read_text(), str(run.error), repr(run.error)):
        hidden(text)
        hidden(text, what=SECRET)


# -- secret inquiry fields ---------------------------------------------------------------------


def test_a_secret_answered_through_the_repository_shows_nowhere(
    sdb: attune_nb.Database, logs: pytest.LogCaptureFixture
) -> None:
    inquiry = ask(sdb)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answered = sdb.inquiries.respond(inquiry, {"approved": True, "pin": SECRET})
    assert answered.response["pin"] == SECRET  # stored and returned as given...
    assert sdb.inquiries.get(inquiry).response["pin"] == SECRET
    assert answered.masked_response == {"approved": True, "pin": "***"}  # ...shown masked
    frame = sdb.inquiries.frame(include=["response_schema"])
    assert frame.loc[frame["id"] == inquiry, "response"].item() == {
        "approved": True,
        "pin": "***",
    }
    for text in (
        repr(answered),
        str(answered),
        repr(answered.fields),
        repr(answered.options),
        repr(frame),
        frame.to_string(),
        frame.to_html(),
        repr(sdb.inquiries.frame(status="responded")),
        *(str(c.message) for c in caught),
    ):
        hidden(text, what=SECRET)
    hidden(all_logged(logs), what=SECRET)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        pytest.param({"approved": True, "pin": "pin-"}, "pin: *** is too short", id="too-short"),
        pytest.param(
            {"approved": True, "pin": SECRET.replace("pin-", "nip-")},
            "pin: *** does not match '^pin-'",
            id="pattern",
        ),
        pytest.param({"pin": SECRET}, "approved: required but missing", id="other-field-missing"),
        pytest.param(
            {"approved": True, "pin": SECRET, "reason": "far too long"},
            "reason: 'far too long' is too long",
            id="other-field-wrong",
        ),
        pytest.param({"approved": "yes", "pin": SECRET}, "approved: 'yes'", id="wrong-type"),
    ],
)
def test_a_refused_response_never_quotes_the_secret(
    sdb: attune_nb.Database, response: dict[str, Any], expected: str
) -> None:
    inquiry = ask(sdb)
    with pytest.raises(InvalidResponse) as info:
        sdb.inquiries.respond(inquiry, response)
    assert any(m.startswith(expected) for m in info.value.messages), info.value.messages
    hidden(everything_about(info.value), what=SECRET)
    assert sdb.inquiries.get(inquiry).status == "pending"


def test_a_refused_response_in_an_older_json_schema_never_quotes_the_secret(
    sdb: attune_nb.Database,
) -> None:
    # Older rows hold a plain JSON Schema; whole-object errors quote the whole response.
    schema = {
        "type": "object",
        "properties": {"pin": {"type": "string", "secret": True}, "ok": {"type": "boolean"}},
        "required": ["ok"],
        "maxProperties": 1,
    }
    inquiry = ask(sdb, schema=schema, options=[{"ref": "ok", "response": {"ok": True}}])
    with pytest.raises(InvalidResponse) as info:
        sdb.inquiries.respond(inquiry, {"pin": SECRET, "extra": 1})
    assert "ok: required but missing" in info.value.messages
    assert any("too many properties" in m for m in info.value.messages), info.value.messages
    hidden(everything_about(info.value), what=SECRET)


def test_a_response_the_database_refuses_never_quotes_the_secret(
    sdb: attune_nb.Database,
) -> None:
    # A real Attune database may hold constraints or triggers of its own: a refusal there
    # quotes the failing row (DETAIL) and the statement's parameters.
    inquiry = ask(sdb)
    sql(
        sdb,
        "ALTER TABLE attune.inquiry ADD CONSTRAINT h3_responder_needed "
        "CHECK (status <> 'responded' OR responded_by IS NOT NULL) NOT VALID",
    )
    try:
        with pytest.raises(InvalidResponse) as info:
            sdb.inquiries.respond(inquiry, {"approved": True, "pin": SECRET})
        assert "h3_responder_needed" in str(info.value)
        hidden(everything_about(info.value), what=SECRET)
    finally:
        sql(sdb, "ALTER TABLE attune.inquiry DROP CONSTRAINT h3_responder_needed")
    assert sdb.inquiries.get(inquiry).status == "pending"


def test_a_secret_answered_in_the_inbox_shows_nowhere(
    sdb: attune_nb.Database, logs: pytest.LogCaptureFixture
) -> None:
    inquiry = ask(sdb)
    inbox = InquiryInbox(sdb)
    inbox.select(inquiry)
    password = inbox.inputs["pin"].control
    assert isinstance(password, w.Password)
    inbox.inputs["approved"].control.value = True
    inbox.inputs["pin"].control.value = SECRET
    inbox.inputs["reason"].control.value = "far too long"  # refused first
    inbox.submit_button.click()
    assert isinstance(inbox.last_error, InvalidResponse)
    states = [
        json.dumps(widget.get_state(), default=str)
        for widget in list(widget_registry._instances.values())
        if widget is not password
    ]
    for text in (*states, repr(inbox), inbox.status_text, everything_about(inbox.last_error)):
        hidden(text, what=SECRET)
    inbox.inputs["reason"].control.value = "ok"
    inbox.submit_button.click()
    assert inbox.last_error is None, inbox.status_text
    assert sdb.inquiries.get(inquiry).response["pin"] == SECRET
    assert password.value == ""
    hidden(widget_states(), what=SECRET)
    hidden(repr(inbox), what=SECRET)
    hidden(all_logged(logs), what=SECRET)


def test_a_secret_answer_is_not_in_the_notifications(sdb: attune_nb.Database) -> None:
    inquiry = ask(sdb)
    with sdb.listen(channels=INQUIRY_CHANNELS) as listener:
        sdb.inquiries.respond(inquiry, {"approved": True, "pin": SECRET})
        change = listener.get(timeout=15)
    assert change is not None and change.channel == "inquiry_responded"
    hidden(repr(change), what=SECRET)
    hidden(json.dumps(change.payload, default=str), what=SECRET)


def test_a_secret_answer_on_a_real_attune_database_warns_without_it(
    pg: ThrowawayServer,
) -> None:
    url = pg.create_database(name="secrets_unmanaged")
    try:
        setup = attune_nb.connect(url)
        inquiry = ask(setup)
        with setup.transaction() as conn:
            conn.execute(sa.text("DROP SCHEMA attune_nb CASCADE"))
        setup.close()
        db = attune_nb.connect(url, allow_writes=True)
        try:
            with pytest.warns(DatabaseOnlyWarning) as caught:
                db.inquiries.respond(inquiry, {"approved": True, "pin": SECRET})
        finally:
            db.close()
        for record in caught:
            hidden(str(record.message), what=SECRET)
    finally:
        pg.drop_database("secrets_unmanaged")


def test_tracing_a_response_never_shows_the_secret(sdb: attune_nb.Database) -> None:
    inquiry = ask(sdb)
    traced: list[str] = []
    with sdb.tracer(lambda statement, parameters: traced.append(f"{statement} {parameters}")):
        sdb.inquiries.respond(inquiry, {"approved": True, "pin": SECRET})
    assert any("UPDATE attune.inquiry" in t for t in traced)
    hidden("\n".join(traced), what=SECRET)


def test_sqlalchemy_statement_logs_never_show_the_secret(
    sdb: attune_nb.Database, logs: pytest.LogCaptureFixture
) -> None:
    logs.set_level(logging.INFO, logger="sqlalchemy.engine")
    inquiry = ask(sdb)
    sdb.inquiries.respond(inquiry, {"approved": True, "pin": SECRET})
    assert "UPDATE attune.inquiry" in logs.text
    hidden(all_logged(logs), what=SECRET)


# -- read-only ---------------------------------------------------------------------------------


def _fingerprint(db: attune_nb.Database) -> tuple[Any, ...]:
    """Everything the writes below could change."""
    return tuple(
        db.scalar(q)
        for q in (
            "SELECT count(*) FROM attune.execution",
            "SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM attune.execution",
            "SELECT max(updated) FROM attune.execution",
            "SELECT count(*) FROM attune.execution_history",
            "SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM attune.inquiry",
            "SELECT count(*) FROM attune.identity",
        )
    )


def test_readonly_refuses_every_write_in_the_database_itself(
    db: attune_nb.Database, db_url: str
) -> None:
    running = db.executions.create("core.echo", status="running").id
    requested = db.executions.create("core.echo").id
    inquiry = ask(db)
    before = _fingerprint(db)
    ro = attune_nb.connect(db_url, readonly=True)
    try:
        assert ro.scalar("SHOW default_transaction_read_only") == "on"
        preview = ro.executions.bulk_transition("cancelled", ids=[requested])  # a read: fine
        cancel = ro.executions.cancel_preview(ids=[requested])
        writes = {
            "transition": lambda: ro.executions.transition(running, "failed"),
            "update": lambda: ro.executions.update(running, result={"x": 1}),
            "bulk apply": lambda: ro.executions.apply(preview),
            "cancel": lambda: ro.executions.cancel(cancel),
            "create": lambda: ro.executions.create("core.echo"),
            "delete": lambda: ro.executions.delete(requested),
            "respond": lambda: ro.inquiries.respond(inquiry, option="approve"),
            "scalar": lambda: ro.scalar("DELETE FROM attune.execution RETURNING id"),
            "ddl": lambda: ro.scalar("CREATE TABLE attune.h3_intruder (id int)"),
        }
        refused = {}
        for name, write in writes.items():
            with pytest.raises(ReadOnlyError) as info:
                write()
            refused[name] = info.value
        with pytest.raises(ReadOnlyError), ro.transaction() as conn:
            conn.execute(sa.text("INSERT INTO attune.identity (login) VALUES ('intruder')"))
        # The bulk reader (ADBC) is read-only too: a data-modifying statement through it.
        for statement in (
            "INSERT INTO attune.identity (login) VALUES ('intruder') RETURNING id",
            "WITH gone AS (DELETE FROM attune.execution RETURNING id) SELECT id FROM gone",
        ):
            with pytest.raises(ReadOnlyError):
                ro.read(statement, [Column("id", "id")])
        # Raw SQL on the engine itself, past every attune_nb check: the server refuses it.
        with ro.engine.connect() as conn, pytest.raises(DBAPIError) as raw:
            conn.exec_driver_sql("UPDATE attune.execution SET status = 'failed'")
        assert getattr(raw.value.orig, "pgcode", None) == "25006"  # read_only_sql_transaction
        assert "read-only transaction" in str(raw.value.orig)
        assert refused["transition"].statement.startswith("UPDATE attune.execution")
        assert ro.executions.count() == before[0]  # reads work
    finally:
        ro.close()
    assert _fingerprint(db) == before


def test_readonly_cannot_be_switched_off_from_inside(db: attune_nb.Database, db_url: str) -> None:
    ro = attune_nb.connect(db_url, readonly=True)
    refused = []
    try:
        try:
            with ro.transaction() as conn:
                conn.execute(sa.text("SET TRANSACTION READ WRITE"))
                conn.execute(sa.text("INSERT INTO attune.identity (login) VALUES ('intruder_1')"))
        except (ReadOnlyError, DBAPIError) as exc:
            refused.append(exc)
        with ro.transaction() as conn:
            conn.execute(sa.text("SET default_transaction_read_only = off"))
        try:
            ro.scalar("INSERT INTO attune.identity (login) VALUES ('intruder_2') RETURNING id")
        except ReadOnlyError as exc:
            refused.append(exc)
    finally:
        ro.close()
    assert db.scalar("SELECT count(*) FROM attune.identity WHERE login LIKE 'intruder%'") == 0
    assert len(refused) == 2


# -- permissions of the embedded server --------------------------------------------------------


def _others(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode) & 0o007


def test_the_data_directory_is_private(pg: ThrowawayServer) -> None:
    server = pg.server
    assert server.pgdata.is_dir()
    assert _others(server.pgdata) == 0, oct(server.pgdata.stat().st_mode)
    assert _others(server.socket_dir) & 0o002 == 0
    # Others cannot reach the socket through its folder (no o+x on the data directory).
    assert server.socket_dir == server.pgdata


def test_the_socket_is_not_writable_by_others(pg: ThrowawayServer) -> None:
    socket = pg.server.socket_dir / ".s.PGSQL.5432"
    assert socket.is_socket()
    assert _others(socket) & 0o002 == 0, oct(socket.stat().st_mode)


def test_a_socket_outside_the_data_directory_is_private(tmp_path: Path) -> None:
    home = tmp_path / ("long_" + "x" * 100)
    server = EmbeddedServer(home, throwaway=True)
    try:
        server.start()
        assert server.socket_dir != server.pgdata
        socket = server.socket_dir / ".s.PGSQL.5432"
        assert _others(server.pgdata) == 0
        assert _others(server.socket_dir) == 0, oct(server.socket_dir.stat().st_mode)
        assert _others(socket) & 0o002 == 0, oct(socket.stat().st_mode)
    finally:
        server.destroy()
