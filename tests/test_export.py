"""Tests for attune_nb/repository/export.py: executions and history to Parquet or CSV.

Every export is read back and compared with the frame the same filters give
(``frame(limit=None)``, ``history(id)``), on a seeded database of 300 executions
shared by the module (the export only reads; the connection is read-only).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import attune_nb
from attune_nb.errors import ConfigurationError, InvalidFilter, InvalidStatus
from attune_nb.frames import STATUS_DTYPE, Column, execution_layout
from attune_nb.repository import ExportReport
from attune_nb.repository.export import HISTORY_EXPORT_COLUMNS
from attune_nb.testing import ThrowawayServer

SELECTIONS: dict[str, dict[str, Any]] = {
    "everything": {},
    "failed-deploys": {"status": ["failed", "timeout"], "action_ref": "deploy.*"},
    "window": {"since": "2026-01-05", "until": "2026-01-10T12:00:00Z"},
    "top-level-with-json": {"top_level_only": True, "include": ["result", "config"]},
}
FEW_DOZEN: dict[str, Any] = {"status": ["failed", "timeout"]}  # 30 of the 300


@pytest.fixture(scope="module")
def seeded(pg: ThrowawayServer) -> Iterator[attune_nb.Database]:
    """A read-only connection to 300 seeded executions (seed 42), for the whole module."""
    url = pg.create_seeded_database(executions=300, seed=42, name="export_seeded")
    db = attune_nb.connect(url, readonly=True)
    db.schema_features  # noqa: B018  (probed now, so that no test traces it)
    yield db
    db.close()
    pg.drop_database("export_seeded")


def _split(selection: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    filters = dict(selection)
    return list(filters.pop("include", [])), filters


def _parse_json(frame: pd.DataFrame, layout: Sequence[Column]) -> pd.DataFrame:
    """What Parquet keeps as JSON text or arrays, back as the frame's Python objects."""
    out = frame.copy()
    for c in layout:
        if c.kind == "json":
            out[c.name] = out[c.name].map(lambda v: None if v is None else json.loads(v))
        elif c.kind == "strs":
            out[c.name] = out[c.name].map(lambda v: None if v is None else list(v))
    return out


def _read_csv(path: Path, layout: Sequence[Column]) -> pd.DataFrame:
    """A CSV export read back into the layout by the documented rules, and nothing else."""
    kinds = {"id": pa.int64(), "int": pa.int64(), "delta": pa.float64()}
    options = pcsv.ConvertOptions(
        column_types={c.name: kinds.get(c.kind, pa.large_string()) for c in layout},
        strings_can_be_null=True,  # an empty field is a missing value...
        quoted_strings_can_be_null=False,  # ...and "" an empty text
    )
    table = pcsv.read_csv(path, convert_options=options)
    assert table.schema.names == [c.name for c in layout]
    out: dict[str, Any] = {}
    for c in layout:
        values = table.column(c.name).to_pandas()
        if c.kind in ("id", "int"):
            out[c.name] = pd.array(table.column(c.name).to_pylist(), dtype="Int64")
        elif c.kind == "str":
            out[c.name] = values.astype("string")
        elif c.kind == "status":
            out[c.name] = pd.Categorical(values, dtype=STATUS_DTYPE)
        elif c.kind == "time":
            times = pd.to_datetime(values, utc=True, format="%Y-%m-%dT%H:%M:%S.%fZ")
            out[c.name] = times.astype("datetime64[ns, UTC]")
        elif c.kind == "delta":
            out[c.name] = pd.to_timedelta(values, unit="s").dt.round("us")
        else:
            texts = table.column(c.name).to_pylist()
            out[c.name] = pd.Series(
                [None if v is None else json.loads(v) for v in texts], dtype=object
            )
    return pd.DataFrame(out)


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("selection", SELECTIONS.values(), ids=SELECTIONS.keys())
def test_parquet_gives_back_the_frame_dtypes_included(
    seeded: attune_nb.Database, tmp_path: Path, selection: dict[str, Any]
) -> None:
    include, filters = _split(selection)
    report = seeded.executions.export(tmp_path / "x.parquet", include=include, **filters)
    expected = seeded.executions.frame(limit=None, include=include, **filters)
    back = _parse_json(pd.read_parquet(tmp_path / "x.parquet"), execution_layout(include))
    assert report.rows == len(expected) > 0
    assert back.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(back, expected)


@pytest.mark.parametrize("selection", SELECTIONS.values(), ids=SELECTIONS.keys())
def test_csv_gives_back_the_frame_values(
    seeded: attune_nb.Database, tmp_path: Path, selection: dict[str, Any]
) -> None:
    include, filters = _split(selection)
    report = seeded.executions.export(tmp_path / "x.csv", include=include, **filters)
    expected = seeded.executions.frame(limit=None, include=include, **filters)
    back = _read_csv(tmp_path / "x.csv", execution_layout(include))
    assert report.rows == len(expected) > 0
    pd.testing.assert_frame_equal(back, expected)


def test_csv_has_one_header_iso_utc_times_and_durations_in_seconds(
    seeded: attune_nb.Database, tmp_path: Path
) -> None:
    seeded.executions.export(tmp_path / "x.csv", batch_rows=7, **FEW_DOZEN)
    lines = (tmp_path / "x.csv").read_text().splitlines()
    names = [c.name for c in execution_layout()]
    assert lines[0] == ",".join(f'"{n}"' for n in names)
    assert len(lines) == 31 and lines.count(lines[0]) == 1
    table = pcsv.read_csv(
        tmp_path / "x.csv",
        convert_options=pcsv.ConvertOptions(column_types={"created": pa.string()}),
    )
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
    assert all(stamp.fullmatch(v) for v in table.column("created").to_pylist())
    frame = seeded.executions.frame(limit=None, **FEW_DOZEN)
    seconds = table.column("run_time").to_pylist()
    assert seconds == [None if pd.isna(v) else v.total_seconds() for v in frame["run_time"]]


def test_history_gives_back_the_history_of_each_execution(
    seeded: attune_nb.Database, tmp_path: Path
) -> None:
    report = seeded.executions.export(
        tmp_path / "h.parquet", what="history", batch_rows=50, action_ref="deploy.*"
    )
    back = _parse_json(pd.read_parquet(tmp_path / "h.parquet"), HISTORY_EXPORT_COLUMNS)
    ids = seeded.executions.frame(limit=None, action_ref="deploy.*")["id"]
    assert list(back.columns) == [c.name for c in HISTORY_EXPORT_COLUMNS]
    assert set(back["execution_id"]) == set(ids)
    assert back["time"].is_monotonic_increasing
    histories = [seeded.executions.history(int(i)) for i in ids]
    assert report.rows == len(back) == sum(len(h) for h in histories)
    for i, history in zip(ids, histories, strict=True):
        mine = back[back["execution_id"] == i].drop(columns="execution_id")
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), history)


def test_history_csv_gives_back_the_parquet(seeded: attune_nb.Database, tmp_path: Path) -> None:
    seeded.executions.export(tmp_path / "h.csv", what="history", **FEW_DOZEN)
    seeded.executions.export(tmp_path / "h.parquet", what="history", **FEW_DOZEN)
    parquet = _parse_json(pd.read_parquet(tmp_path / "h.parquet"), HISTORY_EXPORT_COLUMNS)
    pd.testing.assert_frame_equal(_read_csv(tmp_path / "h.csv", HISTORY_EXPORT_COLUMNS), parquet)


@pytest.mark.parametrize("what", ["executions", "history"])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_an_empty_export_has_the_layout(
    seeded: attune_nb.Database, tmp_path: Path, what: str, suffix: str
) -> None:
    path = tmp_path / f"none{suffix}"
    report = seeded.executions.export(path, what=what, since="2027-01-01")
    layout = HISTORY_EXPORT_COLUMNS if what == "history" else execution_layout()
    assert report.rows == 0
    if suffix == ".csv":
        assert path.read_text().splitlines() == [",".join(f'"{c.name}"' for c in layout)]
    else:
        # Parquet stores a dictionary only with rows: the statuses are an ordered
        # category still, without its categories (astype(STATUS_DTYPE) restores them).
        back = pd.read_parquet(path)
        assert back.empty and [c.name for c in layout] == list(back.columns)
        statuses = [c.name for c in layout if c.kind == "status"]
        dtypes = [back[name].dtype for name in statuses]
        assert all(isinstance(d, pd.CategoricalDtype) and d.ordered for d in dtypes)
        back = back.astype(dict.fromkeys(statuses, STATUS_DTYPE))
        assert {c.name: c.dtype for c in layout} == back.dtypes.to_dict()


# -- batches ------------------------------------------------------------------------------


def test_batches_give_the_same_file_as_one_batch(
    seeded: attune_nb.Database, tmp_path: Path
) -> None:
    for rows in (7, 1000):
        seeded.executions.export(tmp_path / f"{rows}.csv", batch_rows=rows, **FEW_DOZEN)
        seeded.executions.export(tmp_path / f"{rows}.parquet", batch_rows=rows, **FEW_DOZEN)
    assert (tmp_path / "7.csv").read_bytes() == (tmp_path / "1000.csv").read_bytes()
    small, big = pq.ParquetFile(tmp_path / "7.parquet"), pq.ParquetFile(tmp_path / "1000.parquet")
    assert small.metadata.num_row_groups == math.ceil(30 / 7) and big.metadata.num_row_groups == 1
    assert small.read().equals(big.read())


def test_the_reader_cuts_its_batches_exactly(seeded: attune_nb.Database) -> None:
    sql, layout = "SELECT id FROM attune.execution ORDER BY id", [Column("id", "id")]
    frames = list(seeded.reader.batches(sql, layout, rows=7))
    assert [len(f) for f in frames] == [7] * 42 + [6]
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), seeded.read(sql, layout))


def test_a_batch_iterator_closed_early_leaves_the_reader_usable(
    seeded: attune_nb.Database,
) -> None:
    batches = seeded.reader.batches("SELECT id FROM attune.execution", [Column("id", "id")], rows=7)
    assert len(next(batches)) == 7
    batches.close()
    assert len(seeded.executions.frame(limit=5)) == 5


# -- errors, files ---------------------------------------------------------------------------

BAD: dict[str, tuple[str, dict[str, Any], type[Exception], str]] = {
    "format": ("x.parquet", {"format": "xlsx"}, ConfigurationError, "format"),
    "suffix": ("x.txt", {}, ConfigurationError, "path"),
    "what": ("x.csv", {"what": "events"}, ConfigurationError, "what"),
    "batch-rows-zero": ("x.csv", {"batch_rows": 0}, ConfigurationError, "batch_rows"),
    "batch-rows-bool": ("x.csv", {"batch_rows": True}, ConfigurationError, "batch_rows"),
    "progress": ("x.csv", {"progress": "yes"}, ConfigurationError, "progress"),
    "overwrite": ("x.csv", {"overwrite": 1}, ConfigurationError, "overwrite"),
    "status": ("x.csv", {"status": "finished"}, InvalidStatus, "status"),
    "wildcard": ("x.csv", {"action_ref": "de*ploy"}, InvalidFilter, "action_ref"),
    "unknown-filter": ("x.csv", {"colour": "red"}, InvalidFilter, "colour"),
    "include": ("x.csv", {"include": ["secrets"]}, InvalidFilter, "include"),
    "history-include": (
        "x.csv",
        {"what": "history", "include": ["result"]},
        InvalidFilter,
        "include",
    ),
    "history-filter": ("x.csv", {"what": "history", "pack": "a.b"}, InvalidFilter, "pack"),
    "window": ("x.csv", {"since": "2026-01-10", "until": "2026-01-05"}, InvalidFilter, "until"),
}


@pytest.mark.parametrize(("name", "options", "error", "option"), BAD.values(), ids=BAD.keys())
def test_a_bad_option_raises_naming_it_and_writes_nothing(
    seeded: attune_nb.Database,
    tmp_path: Path,
    name: str,
    options: dict[str, Any],
    error: type[Exception],
    option: str,
) -> None:
    with pytest.raises(error) as info:
        seeded.executions.export(tmp_path / name, **options)
    assert isinstance(info.value, ConfigurationError) and info.value.name == option
    assert f"{option}=" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_path_is_refused(seeded: attune_nb.Database, tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    for path in (tmp_path / "missing" / "x.csv", tmp_path / "folder.csv", 42):
        with pytest.raises(ConfigurationError) as info:
            seeded.executions.export(path)  # type: ignore[arg-type]
        assert info.value.name == "path" and info.value.value == path
    assert [p.name for p in tmp_path.iterdir()] == ["folder.csv"]


def test_format_overrides_the_suffix(seeded: attune_nb.Database, tmp_path: Path) -> None:
    report = seeded.executions.export(tmp_path / "x.data", format="csv", **FEW_DOZEN)
    assert report.format == "csv" and len((tmp_path / "x.data").read_text().splitlines()) == 31


def test_an_existing_file_is_refused_without_overwrite(
    seeded: attune_nb.Database, tmp_path: Path
) -> None:
    target = tmp_path / "x.parquet"
    target.write_bytes(b"old")
    with pytest.raises(ConfigurationError) as info:
        seeded.executions.export(target, **FEW_DOZEN)
    assert info.value.name == "path" and "overwrite=True" in str(info.value)
    assert target.read_bytes() == b"old"
    report = seeded.executions.export(target, overwrite=True, **FEW_DOZEN)
    assert report.rows == 30 and len(pd.read_parquet(target)) == 30
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]


def test_a_failure_while_writing_leaves_no_file_and_the_old_one_as_it_was(
    seeded: attune_nb.Database, tmp_path: Path
) -> None:
    target = tmp_path / "x.csv"
    target.write_text("old")
    seen: list[list[str]] = []

    def fail(_sql: str, _params: Any) -> None:
        seen.append(sorted(os.listdir(tmp_path)))
        raise RuntimeError("the export failed here")

    with seeded.tracer(fail), pytest.raises(RuntimeError, match="failed here"):
        seeded.executions.export(target, overwrite=True, progress=False)
    assert len(seen) == 1 and re.fullmatch(r"\.x\.csv\.[0-9a-f]{8}\.part", seen[0][0])
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["x.csv"]


# -- report, progress, tracing -----------------------------------------------------------------


def test_the_report_says_what_was_written(seeded: attune_nb.Database, tmp_path: Path) -> None:
    report = seeded.executions.export(tmp_path / "x.parquet", include=["result"], **FEW_DOZEN)
    assert isinstance(report, ExportReport)
    assert report.path == tmp_path / "x.parquet" and report.path.is_absolute()
    assert (report.format, report.what, report.rows) == ("parquet", "executions", 30)
    assert report.bytes == (tmp_path / "x.parquet").stat().st_size
    assert report.filters == FEW_DOZEN and report.include == ("result",)
    assert report.seconds > 0
    assert re.fullmatch(
        r"<ExportReport x\.parquet: 30 executions as parquet, [\d.,]+ KiB in \d+\.\d s>",
        repr(report),
    )


@pytest.mark.parametrize(
    ("progress", "shown"), [(True, True), (False, False), (None, False)], ids=["on", "off", "auto"]
)
def test_the_progress_bar_can_be_turned_off(
    seeded: attune_nb.Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    progress: bool | None,
    shown: bool,
) -> None:
    # Under pytest stderr is no terminal: the default (None) shows no bar.
    seeded.executions.export(tmp_path / "x.csv", progress=progress, **FEW_DOZEN)
    seeded.executions.export(tmp_path / "h.csv", what="history", progress=progress, **FEW_DOZEN)
    err = capsys.readouterr().err
    if shown:
        history = seeded.executions.export(tmp_path / "h2.csv", what="history", **FEW_DOZEN).rows
        assert "exporting executions" in err and "30/30" in err
        assert "exporting history" in err and f"{history}/{history}" in err
    else:
        assert err == ""


def test_the_tracer_sees_the_export_query(seeded: attune_nb.Database, tmp_path: Path) -> None:
    seen: list[str] = []
    with seeded.tracer(lambda sql, _params: seen.append(sql)):
        seeded.executions.export(tmp_path / "x.csv", progress=False, **FEW_DOZEN)
    assert len(seen) == 1
    assert "ORDER BY attune.execution.created DESC, attune.execution.id DESC" in seen[0]
    assert "'failed'" in seen[0] and "'timeout'" in seen[0]
