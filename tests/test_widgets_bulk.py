"""BulkUpdater against a real database: preview, confirm applies exactly it, a stale preview."""

from __future__ import annotations

import sqlalchemy as sa

import attune_nb
from attune_nb.errors import InvalidFilter
from attune_nb.repository.writes import CANCEL_RESULT
from attune_nb.widgets.bulk import CANCEL, BulkUpdater


def statuses(db: attune_nb.Database, ids: list[int]) -> list[str]:
    return [db.executions.get(i).status.value for i in ids]


def build(db: attune_nb.Database) -> dict[str, list[int]]:
    made: dict[str, list[int]] = {"deploy": [], "other": []}
    for status in ("scheduled", "scheduled", "running", "completed"):
        made["deploy"].append(db.executions.create("deploy.build", status=status).id)
    made["other"].append(db.executions.create("core.echo", status="scheduled").id)
    return made


def test_preview_writes_nothing_and_shows_the_rows(db: attune_nb.Database) -> None:
    made = build(db)
    bulk = BulkUpdater(db)
    assert bulk.apply_button.disabled
    bulk.filters.action_ref.value = "deploy.*"
    bulk.target.value = "abandoned"
    bulk.preview_button.click()
    assert bulk.preview is not None
    assert list(bulk.preview["id"]) == made["deploy"]
    assert list(bulk.preview["allowed"]) == [True, True, True, False]
    assert "4 executions selected: 3 may move to abandoned, 1 may not" in bulk.summary.value
    assert "completed is terminal" in bulk.table.value
    assert statuses(db, made["deploy"]) == ["scheduled", "scheduled", "running", "completed"]
    assert not bulk.apply_button.disabled

    bulk.apply_button.click()
    assert bulk.confirming
    assert [b.description for b in bulk.buttons.children] == ["Confirm", "Back"]
    assert "Will apply exactly this preview" in bulk.summary.value
    assert statuses(db, made["deploy"]) == ["scheduled", "scheduled", "running", "completed"]
    bulk.back_button.click()
    assert not bulk.confirming and bulk.preview is not None
    assert statuses(db, made["deploy"]) == ["scheduled", "scheduled", "running", "completed"]


def test_filters_combine_and_a_changed_filter_drops_the_preview(db: attune_nb.Database) -> None:
    made = build(db)
    bulk = BulkUpdater(db)
    assert list(bulk.filters.status.options)[:4] == [
        "requested",
        "scheduling",
        "scheduled",
        "running",
    ]
    bulk.filters.status.value = ("scheduled",)
    bulk.filters.top_level_only.value = True
    bulk.preview_button.click()
    assert bulk.preview is not None
    assert list(bulk.preview["id"]) == [*made["deploy"][:2], *made["other"]]
    bulk.filters.pack.value = "deploy"
    assert bulk.preview is None and bulk.apply_button.disabled
    assert "Preview again" in bulk.status_text
    bulk.preview_button.click()
    assert list(bulk.preview["id"]) == made["deploy"][:2]


def test_confirm_applies_exactly_the_preview(db: attune_nb.Database) -> None:
    made = build(db)
    bulk = BulkUpdater(db)
    bulk.filters.status.value = ("scheduled",)
    bulk.target.value = "abandoned"
    bulk.reason.value = "cleanup after the outage"
    bulk.preview_button.click()
    late = db.executions.create("deploy.build", status="scheduled").id  # after the preview
    bulk.apply_button.click()
    bulk.confirm_button.click()

    assert bulk.outcome is not None
    assert list(bulk.outcome["id"]) == [*made["deploy"][:2], *made["other"]]
    assert bulk.outcome["applied"].all()
    assert statuses(db, [*made["deploy"][:2], *made["other"]]) == ["abandoned"] * 3
    assert db.executions.get(made["other"][0]).result == {"reason": "cleanup after the outage"}
    assert statuses(db, [late]) == ["scheduled"]  # not in the preview: untouched
    assert "Applied 3 of 3; skipped 0" in bulk.status_text
    assert "Applied (3)" in bulk.applied_view.value
    assert bulk.preview is None and bulk.apply_button.disabled  # a preview applies once


def test_a_stale_preview_skips_the_rows_changed_meanwhile(
    db: attune_nb.Database, db_url: str
) -> None:
    made = build(db)
    bulk = BulkUpdater(db)
    bulk.filters.action_ref.value = "deploy.build"
    bulk.filters.status.value = ("scheduled", "running")
    bulk.target.value = "failed"
    bulk.preview_button.click()
    bulk.apply_button.click()

    other = attune_nb.connect(db_url)  # another operator, between preview and confirm
    try:
        other.executions.transition(made["deploy"][0], "running", expected="scheduled")
        other.executions.delete(made["deploy"][2])
    finally:
        other.close()

    bulk.confirm_button.click()
    outcome = bulk.outcome
    assert outcome is not None
    assert list(outcome["applied"]) == [False, True, False]
    assert list(outcome["reason"]) == [
        "skipped: changed meanwhile (from scheduled to running)",
        "applied",
        "skipped: gone (deleted since the preview)",
    ]
    assert statuses(db, made["deploy"][:2]) == ["running", "failed"]  # nothing overwritten
    assert "Applied 1 of 3; skipped 2" in bulk.status_text
    assert "changed meanwhile (from scheduled to running)" in bulk.skipped_view.value
    assert "deleted since the preview" in bulk.skipped_view.value


def test_errors_show_in_the_status_line(db: attune_nb.Database) -> None:
    build(db)
    bulk = BulkUpdater(db)
    bulk.preview_button.click()  # no filter: a bulk change of everything is never meant
    assert isinstance(bulk.last_error, InvalidFilter)
    assert bulk.preview is None
    bulk.filters.since.value = "not a time"
    bulk.preview_button.click()
    assert isinstance(bulk.last_error, InvalidFilter)
    assert "since" in bulk.status_text
    bulk.confirm_button.click()
    assert "Nothing to confirm" in bulk.status_text


def test_cancel_as_attune_does_cascades_and_writes_attunes_result(
    db: attune_nb.Database,
) -> None:
    ex = db.executions
    root = ex.create("wf.release", status="running").id
    queued = ex.create("wf.build", parent=root, status="scheduled").id
    busy = ex.create("wf.test", parent=root, status="running").id
    with db.transaction() as conn:
        waiting = conn.execute(
            sa.text(
                "INSERT INTO attune.inquiry (created_by_execution, prompt, response_options, "
                "status) VALUES (:e, 'go on?', '[\"yes\"]', 'pending') RETURNING id"
            ),
            {"e": queued},
        ).scalar_one()
    bulk = BulkUpdater(db)
    assert bulk.target.options[0] == ("cancel (as Attune does)", CANCEL)
    assert bulk.cancel_children.layout.display == "none"
    bulk.target.value = CANCEL
    assert bulk.cancel_children.layout.display is None and bulk.reason.disabled
    bulk.filters.action_ref.value = "wf.release"
    bulk.preview_button.click()
    assert bulk.preview is not None
    assert dict(zip(bulk.preview["id"], bulk.preview["to"].astype(str), strict=True)) == {
        root: "canceling",
        queued: "cancelled",
        busy: "running",  # a running task is left to finish
    }
    assert "3 executions selected: 2 may be cancelled or canceling" in bulk.summary.value
    bulk.apply_button.click()
    assert "1 to cancelled with Attune's result" in bulk.summary.value
    assert statuses(db, [root, queued, busy]) == ["running", "scheduled", "running"]
    bulk.confirm_button.click()

    assert statuses(db, [root, queued, busy]) == ["canceling", "cancelled", "running"]
    assert ex.get(queued).result == CANCEL_RESULT
    assert bulk.inquiries_cancelled == (waiting,)
    assert db.scalar("SELECT status::text FROM attune.inquiry WHERE id = :i", i=waiting) == (
        "cancelled"
    )
    assert "Applied 2 of 3; skipped 1; 1 pending inquiry cancelled." in bulk.status_text


def test_cancel_with_running_tasks_ticked_stops_them_too(db: attune_nb.Database) -> None:
    ex = db.executions
    root = ex.create("wf.release", status="running").id
    busy = ex.create("wf.test", parent=root, status="running").id
    bulk = BulkUpdater(db)
    bulk.target.value = CANCEL
    bulk.cancel_children.value = True
    bulk.filters.action_ref.value = "wf.release"
    bulk.preview_button.click()
    bulk.apply_button.click()
    assert bulk.cancel_children.disabled  # fixed while confirming
    bulk.confirm_button.click()
    assert statuses(db, [root, busy]) == ["canceling", "canceling"]
