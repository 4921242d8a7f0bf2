"""Tests for attune_nb/_reader.py: the ADBC bulk read path every frame goes through."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

import attune_nb
from attune_nb import _reader
from attune_nb.frames import EXECUTION_COLUMNS, Column, FrameBuilder, execution_layout


def _insert(db: attune_nb.Database, n: int) -> None:
    with db.transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO attune.execution (action_ref, status, parent, started_at) "
                "SELECT 'bulk.n' || g, "
                "(CASE WHEN g % 3 = 0 THEN 'failed' ELSE 'completed' END)"
                "::attune.execution_status_enum, "
                "NULLIF(g % 2, 1), now() FROM generate_series(1, :n) g"
            ),
            {"n": n},
        )


def test_the_connection_is_opened_once_and_reused(db: attune_nb.Database) -> None:
    db.executions.frame(limit=1)
    first = db.reader._conn
    db.executions.frame(limit=1)
    db.inquiries.frame()
    assert first is not None and db.reader._conn is first


def test_the_reader_has_the_session_settings(db_url: str) -> None:
    ro = attune_nb.connect(db_url, readonly=True)
    try:
        settings = ro.read(
            "SELECT current_setting('search_path') AS search_path, "
            "current_setting('TimeZone') AS tz, "
            "current_setting('default_transaction_read_only') AS ro",
            [Column("search_path", "str"), Column("tz", "str"), Column("ro", "str")],
        )
        assert settings.iloc[0].tolist() == ["attune, public", "UTC", "on"]
    finally:
        ro.close()


def test_a_lost_connection_is_replaced_once(db: attune_nb.Database) -> None:
    _insert(db, 10)
    db.executions.frame(limit=1)
    pid = db.read("SELECT pg_backend_pid() AS id", [Column("id", "int")])["id"].iloc[0]
    # Another session kills the reader's backend, as a server restart would.
    db.scalar("SELECT pg_terminate_backend(:pid)", pid=int(pid))
    frame = db.executions.frame(limit=None)
    assert len(frame) == 10
    assert db.read("SELECT pg_backend_pid() AS id", [Column("id", "int")])["id"].iloc[0] != pid


def test_a_query_error_is_raised_and_the_connection_recovers(db: attune_nb.Database) -> None:
    import adbc_driver_manager

    # 42P01 (undefined table) is not in the table: the driver's error comes as it is.
    with pytest.raises(adbc_driver_manager.Error) as info:
        db.read("SELECT id FROM attune.no_such_table", [Column("id", "id")])
    assert info.value.sqlstate == "42P01"
    assert len(db.executions.frame()) == 0  # the next read works


def test_progress_bar_counts_the_batches(
    db: attune_nb.Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _insert(db, 3000)
    monkeypatch.setattr(_reader, "PROGRESS_ROWS", 1000)
    db.read(
        "SELECT id FROM attune.execution", [Column("id", "id")], total=3000, desc="counting ids"
    )
    err = capsys.readouterr().err
    assert "counting ids" in err and "3000/3000" in err
    db.read("SELECT id FROM attune.execution", [Column("id", "id")], total=999)
    assert "rows" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "expected",
    [None, 0, 10, 2999, 3000, 5000],
    ids=["unknown", "zero", "far-too-few", "one-short", "exact", "too-many"],
)
def test_a_wrong_expected_count_gives_the_same_frame(
    db: attune_nb.Database, expected: int | None
) -> None:
    # Rows inserted or deleted between the count and the read must not matter.
    _insert(db, 3000)
    stmt = db.executions._select(execution_layout(), {}).order_by(sa.text("id"))
    sql = db.render(stmt)
    truth = db.reader.read(sql, execution_layout())
    got = db.reader.read(sql, execution_layout(), total=expected)
    pd.testing.assert_frame_equal(got, truth)
    assert len(got) == 3000
    assert got["parent"].isna().sum() == 1500 and got["status"].eq("failed").sum() == 1000


def test_frame_builder_with_many_small_batches_and_overflow() -> None:
    import pyarrow as pa

    layout = [
        Column("id", "id"),
        Column("status", "status"),
        Column("created", "time"),
        Column("ok", "bool"),
        Column("name", "str"),
    ]
    builder = FrameBuilder(layout, expected_rows=3)
    for start in range(0, 5):
        builder.add(
            pa.record_batch(
                {
                    "id": pa.array([start, None], pa.int64()),
                    "status": pa.array(["running", "no-such-status"]),
                    "created": pa.array([start * 1_000_000, None], pa.timestamp("us", tz="UTC")),
                    "ok": pa.array([True, None]),
                    "name": pa.array([f"n{start}", None]),
                }
            )
        )
    frame = builder.frame()
    assert len(frame) == 10
    assert frame["id"].tolist()[:4] == [0, pd.NA, 1, pd.NA]
    assert frame["status"].isna().tolist() == [False, True] * 5
    assert frame["created"].iloc[2] == pd.Timestamp(1, unit="s", tz="UTC")
    assert frame["ok"].tolist()[:2] == [True, pd.NA]
    assert frame["name"].tolist()[8:] == ["n4", pd.NA]
    assert [str(frame[c.name].dtype) for c in layout] == [
        "Int64",
        "category",
        "datetime64[ns, UTC]",
        "boolean",
        "string",
    ]


def test_every_execution_column_is_converted(db: attune_nb.Database) -> None:
    _insert(db, 5)
    frame = db.executions.frame(include=["result", "config"])
    assert list(frame.columns) == [c.name for c in EXECUTION_COLUMNS] + ["result", "config"]


def test_the_password_never_shows_on_the_reader_path(db_url: str) -> None:
    import adbc_driver_manager

    # The embedded server trusts its socket, so any password connects: a real one here.
    url = db_url.replace("postgres@", "postgres:sekrit-pw@")
    assert "sekrit-pw" in url
    database = attune_nb.connect(url)
    try:
        assert "sekrit-pw" not in repr(database.reader) and "sekrit-pw" not in repr(database)
        seen: list[str] = []
        with database.tracer(lambda sql, _params: seen.append(sql)):
            database.executions.frame(limit=1)
        assert seen and not any("sekrit-pw" in sql for sql in seen)
        with pytest.raises(adbc_driver_manager.Error) as info:
            database.read("SELECT id FROM attune.no_such_table", [Column("id", "id")])
        assert "sekrit-pw" not in str(info.value)
    finally:
        database.close()


def test_prefetched_batches_arrive_in_order_and_an_error_where_it_happened() -> None:
    def failing() -> Iterator[int]:
        yield from range(5)
        raise RuntimeError("the stream broke after 5 batches")

    seen: list[int] = []
    with (
        pytest.raises(RuntimeError, match="after 5 batches"),
        _reader._prefetched(failing(), ahead=2) as batches,
    ):
        seen.extend(batches)
    assert seen == [0, 1, 2, 3, 4]


def test_leaving_prefetched_batches_early_stops_the_thread() -> None:
    before = {t.ident for t in threading.enumerate()}
    with _reader._prefetched(iter(range(1000)), ahead=2) as batches:
        assert next(batches) == 0
        readers = [t for t in threading.enumerate() if t.ident not in before]
        assert [t.name for t in readers] == ["attune_nb-reader"]
    assert not readers[0].is_alive()


def test_a_whole_read_counts_beside_the_query(db: attune_nb.Database) -> None:
    _insert(db, 30)
    threads: set[str] = set()
    with db.tracer(lambda sql, _: threads.add(threading.current_thread().name)):
        frame = db.executions.frame(limit=None)
    assert len(frame) == 30
    # The count ran in a thread of its own, the read in this one.
    assert threading.current_thread().name in threads and len(threads) == 2
