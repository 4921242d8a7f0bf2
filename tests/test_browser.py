"""The widgets in a real browser: headless JupyterLab, Debian's Chromium driven by Playwright.

The pytest process owns the database (a copy of the demo, this module's own); JupyterLab
and its kernel get its URL through ``ATTUNE_DB_URL``. The module writes one notebook
with a cell per widget, opens it and runs all cells once (one kernel, one page load);
each test then clicks its widget's buttons (found by their text) and checks the rows
in the database. Screenshots go to each test's tmp_path and, when
``ATTUNE_NB_SCREENSHOTS`` names a folder (``docs/widgets``), there too, for the README.

Without Chromium the tests are skipped, except under ``CI=true``, where that fails.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from _jupyter import CHROMIUM_ARGS, Lab, find_chromium, jupyter_lab, write_notebook
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import attune_nb
from attune_nb.demo import DEMO_EXECUTIONS, DEMO_SEED
from attune_nb.testing import ThrowawayServer

pytestmark = pytest.mark.timeout(180)

SCREENSHOTS = os.environ.get("ATTUNE_NB_SCREENSHOTS")
STEP_MS = 30_000  # a single browser step: load, run, render, click
MARGIN = 12  # pixels around a widget in its screenshot


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        message = (
            "browser tests need Chromium: none at /usr/bin/chromium, chromium-browser or "
            "google-chrome (install it: `apt-get install -y chromium`)"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: {message}")
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser_url(pg: ThrowawayServer) -> Iterator[str]:
    """The module's database, a copy of the demo: the notebooks' kernels and the tests use it.

    The demo's rows make the browser's screenshot read like a real one; each test
    changes only rows it makes itself.
    """
    url = pg.create_seeded_database(executions=DEMO_EXECUTIONS, seed=DEMO_SEED, name="browser")
    yield url
    pg.drop_database("browser")


@pytest.fixture(scope="module")
def bdb(browser_url: str) -> Iterator[attune_nb.Database]:
    database = attune_nb.connect(browser_url)
    yield database
    database.close()


@pytest.fixture(scope="module")
def lab(chromium: str, browser_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("home")
    with jupyter_lab(root, env={"ATTUNE_DB_URL": browser_url, "ATTUNE_NB_HOME": str(home)}) as lab:
        yield lab


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True, timeout=STEP_MS
        )
        try:
            yield browser
        finally:
            browser.close()


SCHEMA: dict[str, Any] = {  # Attune's own flat response_schema (as in tests/test_inquiries.py)
    "approved": {"type": "boolean", "required": True, "position": 0},
    "env": {
        "type": "string",
        "enum": ["staging", "prod"],
        "required": True,
        "position": 1,
        "description": "where the release goes",
    },
    "reason": {"type": "string", "maxLength": 80, "position": 2},
    "pin": {"type": "string", "secret": True, "position": 3, "description": "never shown"},
}
OPTIONS: list[dict[str, Any]] = [
    {
        "ref": "approve",
        "label": "Approve",
        "style": "positive",
        "response": {"approved": True, "env": "prod"},
    },
    {
        "ref": "reject",
        "label": "Reject",
        "style": "destructive",
        "response": {"approved": False, "env": "prod"},
    },
    {
        "ref": "staging",
        "label": "Staging only",
        "style": "default",
        "response": {"approved": True, "env": "staging"},
    },
]
BULK_STATUSES = ["scheduled", "scheduled", "requested", "completed"]
# The notebook's cells, in order; each widget's output is found by its cell's index.
STATUS, INBOX, BULK, BROWSER, MONITOR = 1, 2, 3, 4, 5


def sql(db: attune_nb.Database, statement: str, **params: Any) -> Any:
    """One statement in its own committed transaction; the first column of the first row."""
    with db.transaction() as conn:
        result = conn.execute(sa.text(statement), params)
        return result.scalar() if result.returns_rows else None


@pytest.fixture(scope="module")
def rows(bdb: attune_nb.Database) -> dict[str, Any]:
    """What the tests change, made before the notebook runs (plain SQL for the inquiry)."""
    ex = bdb.executions
    running = ex.create("deploy.rollout", config={"release": "2.4", "hosts": 12}).id
    for status in ("scheduling", "scheduled", "running"):
        ex.transition(running, status)
    alice = sql(bdb, "INSERT INTO attune.identity (login) VALUES ('alice.browser') RETURNING id")
    asking = ex.create("deploy.approve", status="running").id
    inquiry = sql(
        bdb,
        """
        INSERT INTO attune.inquiry (created_by_execution, prompt, response_schema,
                                    response_options, assigned_to, status, timeout_at)
        VALUES (:execution, 'Deploy release 2.4 to prod?', CAST(:schema AS jsonb),
                CAST(:options AS jsonb), :alice, 'pending', now() + interval '2 hours')
        RETURNING id""",
        execution=asking,
        schema=json.dumps(SCHEMA),
        options=json.dumps(OPTIONS),
        alice=alice,
    )
    bulk = [ex.create("ops.drain_queue", status=status).id for status in BULK_STATUSES]
    return {"running": running, "alice": alice, "inquiry": inquiry, "bulk": bulk}


@pytest.fixture(scope="module")
def notebook(
    browser: Any, lab: Lab, rows: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The page, on the notebook of all the widgets, run: each test uses its cell."""
    cells = [
        "import attune_nb\ndb = attune_nb.connect()\n",
        "from attune_nb.widgets.status import StatusUpdater\n"
        f"StatusUpdater(db, execution_id={rows['running']})\n",
        "from attune_nb.widgets.inbox import InquiryInbox\n"
        f"inbox = InquiryInbox(db, responder={rows['alice']})\n"
        f"inbox.select({rows['inquiry']})\n"
        "inbox\n",
        "from attune_nb.widgets.bulk import BulkUpdater\nBulkUpdater(db)\n",
        "from attune_nb.widgets.browser import ExecutionBrowser\n"
        "ExecutionBrowser(db, page_size=10)\n",
        "from attune_nb.widgets.monitor import LiveMonitor\nLiveMonitor(db, limit=12)\n",
    ]
    write_notebook(lab.root / "widgets.ipynb", cells)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    try:
        page.goto(lab.url("widgets.ipynb"))
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
        run_all_cells(page)
        for cell, button in (
            (STATUS, "Apply"),
            (INBOX, "Approve"),
            (BULK, "Preview"),
            (BROWSER, "Change status"),
            (MONITOR, "Stop"),
        ):
            # A cell far below is not rendered (JupyterLab) until it is scrolled to.
            page.locator(".jp-Notebook .jp-Cell").nth(cell).scroll_into_view_if_needed()
            try:
                # Not exact: an icon's glyph is part of a button's accessible name.
                output(page, cell).get_by_role("button", name=button).first.wait_for()
            except PlaywrightTimeout as error:
                said = errors_shown(page)
                shown = page.locator(".jp-Notebook .jp-Cell").nth(cell).inner_text()[:2000]
                raise AssertionError(
                    f"cell {cell} shows no {button!r}; it said:\n{said}\nit shows:\n{shown}"
                ) from error
        yield page
    finally:
        try:
            folder = tmp_path_factory.mktemp("notebook")
            page.screenshot(path=str(folder / "last.png"), timeout=5_000)
        finally:
            context.close()


@pytest.fixture
def page(notebook: Any, tmp_path: Path) -> Iterator[Any]:
    """The notebook's page; what it showed at the end of the test goes to tmp_path."""
    yield notebook
    with suppress(Exception):  # a page that died says so in the test's own error
        notebook.screenshot(path=str(tmp_path / "last.png"), timeout=5_000)


# -- helpers ---------------------------------------------------------------------------------


def shot(page: Any, tmp_path: Path, name: str, *, element: Any = None, docs: bool = False) -> None:
    """Screenshot the page, or one cell output, into tmp_path (and the docs folder).

    An output taller than the window gets a taller window for the shot, so that all of
    it shows, and a white margin around it.
    """
    paths = [tmp_path / name]
    if docs and SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        paths.append(Path(SCREENSHOTS) / name)
    if element is None:
        for path in paths:
            page.screenshot(path=str(path))
        return
    viewport = page.viewport_size
    element.evaluate(f"e => {{ e.style.padding = '{MARGIN}px'; e.style.background = 'white'; }}")
    box = element.bounding_box()
    if box["height"] + 200 > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": int(box["height"]) + 200})
        page.wait_for_timeout(300)  # JupyterLab lays the panel out again
    try:
        for path in paths:
            element.screenshot(path=str(path))
    finally:
        element.evaluate("e => { e.style.padding = ''; e.style.background = ''; }")
        page.set_viewport_size(viewport)


def output(page: Any, cell: int) -> Any:
    """The output of the notebook's cell ``cell`` (0-based)."""
    cell_output = page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".jp-OutputArea-output")
    return cell_output.first  # the widget's own: an Output widget inside it has more


def errors_shown(page: Any) -> str:
    texts = page.locator(".jp-OutputArea-output[data-mime-type*='error']").all_inner_texts()
    return "\n".join(texts) or "(no error output)"


def run_all_cells(page: Any) -> None:
    """Run > Run All Cells, until the first cell has started (a click too early is lost)."""
    started = "() => document.querySelector('.jp-InputArea-prompt').textContent.trim() !== '[ ]:'"
    for _ in range(4):
        page.locator(".jp-Notebook .jp-InputPrompt").first.click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(started, timeout=3_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError("Run All Cells did not start the notebook")


def eventually(check: Callable[[], Any], *, timeout: float = 15, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy (the database side of a click)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.1)


def status_of(db: attune_nb.Database, execution_id: int) -> str:
    with db.transaction() as conn:
        return str(
            conn.execute(
                sa.text("SELECT status::text FROM attune.execution WHERE id = :id"),
                {"id": execution_id},
            ).scalar_one()
        )


# -- tests -----------------------------------------------------------------------------------


def test_status_updater_cancels_through_its_confirmation(
    page: Any, bdb: attune_nb.Database, rows: dict[str, Any], tmp_path: Path
) -> None:
    execution = rows["running"]
    widget = output(page, STATUS)
    widget.scroll_into_view_if_needed()
    widget.get_by_text("running", exact=True).first.wait_for()
    widget.locator("select").select_option(label="cancel → canceling")
    shot(page, tmp_path, "status_1_loaded.png")

    widget.get_by_role("button", name="Apply", exact=True).click()
    confirm = widget.get_by_role("button", name="Confirm", exact=True)
    confirm.wait_for()
    widget.get_by_role("button", name="Back", exact=True).wait_for()
    widget.get_by_text("Nothing written yet").wait_for()
    assert status_of(bdb, execution) == "running"  # the first click writes nothing
    shot(page, tmp_path, "status_2_confirm.png")
    shot(page, tmp_path, "status_updater.png", element=widget, docs=True)

    confirm.click()
    eventually(lambda: status_of(bdb, execution) == "canceling", what="the row to be canceling")
    moves = bdb.executions.history(execution)["new_status"].tolist()
    assert moves == ["requested", "scheduling", "scheduled", "running", "canceling"]
    widget.get_by_text(f"Written: execution {execution} running → canceling").wait_for()
    widget.get_by_role("button", name="Apply", exact=True).wait_for()  # ready for another
    shot(page, tmp_path, "status_3_written.png")


def test_inquiry_inbox_answers_with_an_option(
    page: Any, bdb: attune_nb.Database, rows: dict[str, Any], tmp_path: Path
) -> None:
    inquiry = rows["inquiry"]
    widget = output(page, INBOX)
    widget.scroll_into_view_if_needed()
    widget.get_by_text(f"Inquiry {inquiry}", exact=True).wait_for()
    widget.get_by_text("where the release goes").wait_for()  # the form, with its help text
    shot(page, tmp_path, "inbox_before.png")
    shot(page, tmp_path, "inquiry_inbox.png", element=widget, docs=True)

    widget.get_by_role("button", name="Approve", exact=True).click()
    answered = "SELECT count(*) FROM attune.inquiry WHERE id = :id AND status = 'responded'"
    eventually(lambda: sql(bdb, answered, id=inquiry), what="the inquiry to be responded")
    with bdb.transaction() as conn:
        row = conn.execute(
            sa.text(
                "SELECT status::text, response, responded_by FROM attune.inquiry WHERE id = :id"
            ),
            {"id": inquiry},
        ).one()
    assert tuple(row) == ("responded", {"approved": True, "env": "prod"}, rows["alice"])
    widget.get_by_text(f"Inquiry {inquiry} answered.").wait_for()
    shot(page, tmp_path, "inbox_after.png")


def test_bulk_updater_applies_its_preview_after_confirmation(
    page: Any, bdb: attune_nb.Database, rows: dict[str, Any], tmp_path: Path
) -> None:
    ids = rows["bulk"]
    widget = output(page, BULK)
    widget.scroll_into_view_if_needed()
    widget.get_by_label("Action", exact=True).fill("ops.drain_queue")
    widget.get_by_label("Move to", exact=True).select_option("abandoned")
    widget.get_by_role("button", name="Preview", exact=True).click()
    widget.get_by_text("4 executions selected: 3 may move to abandoned, 1 may not").wait_for()
    widget.get_by_role("button", name="Apply", exact=True).click()
    confirm = widget.get_by_role("button", name="Confirm", exact=True)
    confirm.wait_for()
    widget.get_by_text("Will apply exactly this preview").wait_for()
    assert [status_of(bdb, i) for i in ids] == BULK_STATUSES  # nothing written yet
    shot(page, tmp_path, "bulk_updater.png", element=widget, docs=True)

    confirm.click()
    widget.get_by_text("Applied 3 of 4; skipped 1.").wait_for()
    assert [status_of(bdb, i) for i in ids] == ["abandoned"] * 3 + ["completed"]
    shot(page, tmp_path, "bulk_applied.png")


def test_execution_browser_finds_a_row_and_opens_the_updater(
    page: Any, bdb: attune_nb.Database, tmp_path: Path
) -> None:
    failed = bdb.executions.count(status="failed", top_level_only=True)
    newest = bdb.executions.latest(status="failed", top_level_only=True)
    assert failed > 10 and newest is not None  # the demo has failures to browse
    widget = output(page, BROWSER)
    widget.scroll_into_view_if_needed()
    widget.get_by_label("Status", exact=True).select_option(["failed"])
    widget.get_by_label("Top level only", exact=True).check()
    widget.get_by_role("button", name="Search", exact=True).click()
    widget.get_by_text(f"{failed:,} executions match.").wait_for()
    widget.get_by_text(f"rows 1 to 10 of {failed:,}").wait_for()
    # The newest first, as ``latest`` finds it.
    widget.get_by_label("Execution", exact=True).select_option(index=0)
    widget.get_by_text(f"Execution {newest.id}: {newest.action_ref} failed.").wait_for()
    shot(page, tmp_path, "execution_browser.png", element=widget, docs=True)

    widget.get_by_role("button", name="Change status", exact=True).click()
    # A failed execution is terminal: the updater opens on it, says so and offers nothing.
    widget.get_by_text(f"Execution {newest.id} is failed, which is terminal").wait_for()
    assert widget.get_by_role("button", name="Apply", exact=True).is_disabled()
    shot(page, tmp_path, "browser_updater.png")


def test_live_monitor_shows_changes_from_another_connection_then_stops(
    page: Any, bdb: attune_nb.Database, tmp_path: Path
) -> None:
    widget = output(page, MONITOR)
    widget.scroll_into_view_if_needed()
    widget.get_by_text("listening").first.wait_for()
    ex = bdb.executions
    made = ex.create("ops.restart_service", config={"service": "api"}).id
    for status in ("scheduling", "scheduled", "running", "completed"):
        ex.transition(made, status)
    # Every move of the execution made here, each once, newest first.
    widget.get_by_text("running → completed").first.wait_for()
    cells = widget.locator("tr", has_text="ops.restart_service").all_inner_texts()
    changes = [c for c in cells if str(made) in c]
    assert [c.split("\t")[4] for c in changes] == [
        "running → completed",
        "scheduled → running",
        "scheduling → scheduled",
        "requested → scheduling",
        "created requested",
    ]
    shot(page, tmp_path, "live_monitor.png", element=widget, docs=True)

    stop = widget.get_by_role("button", name="Stop")  # its name has the icon's glyph too
    stop.click()
    widget.get_by_text("stopped").first.wait_for()
    assert stop.is_disabled()
