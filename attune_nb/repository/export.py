"""Exporting executions, or their history, to Parquet or CSV, streamed batch by batch.

The rows come through the reader's batches (ADBC, converted to the frame's layout a
slice at a time) and each slice is written as it arrives, into a temporary file in
the target's folder that is renamed at the end: memory stays flat however many rows
there are, and a failure leaves no half-written file behind.

>>> report = db.executions.export("failed.parquet", status="failed", action_ref="deploy.*")
>>> report
<ExportReport failed.parquet: ... executions as parquet, ... in ... s>
>>> pd.read_parquet("failed.parquet").equals(
...     db.executions.frame(status="failed", action_ref="deploy.*", limit=None))
True
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Unpack

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from attune_nb import frames
from attune_nb import schema as t
from attune_nb._reader import BATCH_ROWS
from attune_nb.errors import ConfigurationError, InvalidFilter
from attune_nb.filters import ExecutionFilters, execution_where
from attune_nb.frames import Column, execution_layout
from attune_nb.repository._common import (
    _FROM,
    RepositoryPart,
    _check_include,
    _e,
    _lifecycle_order,
)

__all__ = [
    "FORMATS",
    "HISTORY_EXPORT_COLUMNS",
    "WHAT",
    "ExecutionExport",
    "ExportReport",
]

log = logging.getLogger("attune_nb")

FORMATS: dict[str, str] = {".parquet": "parquet", ".csv": "csv"}
"""The formats :meth:`~ExecutionExport.export` writes, by the file suffix that implies each."""

WHAT: tuple[str, ...] = ("executions", "history")
"""What :meth:`~ExecutionExport.export` writes: execution rows, or their audit history."""

HISTORY_EXPORT_COLUMNS: tuple[Column, ...] = (Column("execution_id", "id"), *frames.HISTORY_COLUMNS)
"""``export(what="history")``: the layout of ``executions.history(id)``, after the id of
the execution each row belongs to."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Arrow's %S carries the fraction: ...T12:00:00.123456Z


@dataclass(frozen=True, repr=False)
class ExportReport:
    """What :meth:`ExecutionExport.export` wrote.

    ``path`` is the file (absolute), ``format`` ``"parquet"`` or ``"csv"``, ``what``
    ``"executions"`` or ``"history"``, ``rows`` the data rows written, ``bytes`` the
    file's size, ``seconds`` the time it took; ``filters`` and ``include`` are the
    selection, as given.

    >>> db.executions.export("one.csv", id=42).rows
    1
    """

    path: Path
    format: str
    what: str
    rows: int
    bytes: int
    seconds: float
    filters: dict[str, Any]
    include: tuple[str, ...] = ()

    def __repr__(self) -> str:
        noun = "executions" if self.what == "executions" else "history rows"
        return (
            f"<ExportReport {self.path.name}: {self.rows:,} {noun} as {self.format}, "
            f"{_size(self.bytes)} in {self.seconds:.1f} s>"
        )


class ExecutionExport(RepositoryPart):
    """Export: ``export`` (executions or their history, to Parquet or CSV)."""

    def export(
        self,
        path: str | os.PathLike[str],
        /,
        *,
        what: str = "executions",
        format: str | None = None,
        include: Iterable[str] = (),
        batch_rows: int = BATCH_ROWS,
        progress: bool | None = None,
        overwrite: bool = False,
        **filters: Unpack[ExecutionFilters],
    ) -> ExportReport:
        """Write the executions matching ``filters`` (or their history) to a file, streamed.

        ``what="executions"`` writes the rows of ``frame(limit=None, include=...,
        **filters)``, in its order and layout; ``what="history"`` writes the audit rows
        of those executions (the filters select executions, as for :meth:`intervals`):
        the layout of :meth:`history` after an ``execution_id`` column
        (:data:`HISTORY_EXPORT_COLUMNS`), in time order, each execution's rows from its
        creation on.

        ``format`` is ``"parquet"`` or ``"csv"``, by default from the suffix
        (``.parquet``, ``.csv``). Parquet keeps the dtypes: ``pd.read_parquet`` gives
        back the frame's, JSON columns as JSON text and lists as arrays (in a file
        without rows ``status`` lacks its categories: Parquet keeps them with rows).
        CSV has one header line, times in ISO 8601 UTC to the microsecond
        (``2026-01-13T12:00:00.123456Z``), durations (``queue_wait``, ``run_time``) in
        seconds as a decimal number (``12.345678``), JSON and list columns as JSON
        text, and an empty field for a missing value (an empty text is ``""``).

        Rows are read and written ``batch_rows`` at a time (a Parquet row group
        each): memory stays flat however large the export. The file is written
        under a temporary name in the same folder and renamed when complete; an
        existing ``path`` is refused unless ``overwrite=True``. ``progress`` shows a
        bar (tqdm): by default when stderr is a terminal or in Jupyter.

        >>> report = db.executions.export("deploys.csv", action_ref="deploy.*", since="2026-01-13")
        >>> report.rows == db.executions.count(action_ref="deploy.*", since="2026-01-13")
        True
        >>> db.executions.export("deploys.csv", action_ref="deploy.*")
        Traceback (most recent call last):
        attune_nb.errors.ConfigurationError: path='deploys.csv' is not valid: ...overwrite=True...
        """
        started = time.perf_counter()
        if what not in WHAT:
            raise ConfigurationError("what", what, "one of " + ", ".join(map(repr, WHAT)))
        fmt = _format(path, format)
        batch_rows = _check_batch_rows(batch_rows)
        for name, value in (("progress", progress), ("overwrite", overwrite)):
            if value is not None and not isinstance(value, bool):
                raise ConfigurationError(name, value, "True or False")
        target = _target(path, overwrite=bool(overwrite))
        selection = dict(filters)
        if what == "executions":
            include = _check_include(include)
            layout: Sequence[Column] = execution_layout(include)
            stmt, count = self._executions_statement(layout, selection)
        else:
            if isinstance(include, str) or tuple(include):
                raise InvalidFilter(
                    "include", include, "nothing for what='history': its columns are fixed"
                )
            include, layout = (), HISTORY_EXPORT_COLUMNS
            stmt, count = self._history_statement(selection)
        show = _interactive() if progress is None else progress
        total = self._count(count) if show else None
        sql = self.db.render(stmt)

        def write(tmp: Path) -> int:
            self.db.emit_sql(sql)
            batches = self.db.reader.batches(sql, layout, rows=batch_rows)
            bar = _progress(show, total, f"exporting {what}")
            return _SINKS[fmt](tmp, layout).write(batches, bar)

        rows = _write_atomically(target, write, overwrite=bool(overwrite))
        report = ExportReport(
            path=target,
            format=fmt,
            what=what,
            rows=rows,
            bytes=target.stat().st_size,
            seconds=time.perf_counter() - started,
            filters=selection,
            include=tuple(include),
        )
        log.info("exported %s", report)
        return report

    def _executions_statement(
        self, layout: Sequence[Column], selection: dict[str, Any]
    ) -> tuple[Any, Any]:
        # The statement of frame(limit=None): the same columns, filters and order.
        where = execution_where(selection, present=self.db.schema_features)
        stmt = self._select(layout, selection).order_by(_e.c.created.desc(), _e.c.id.desc())
        return stmt, sa.select(sa.func.count()).select_from(_FROM).where(*where)

    def _history_statement(self, selection: dict[str, Any]) -> tuple[Any, Any]:
        # The statement of history(id), for every selected execution at once.
        sel = (
            sa.select(_e.c.id, _e.c.created)
            .select_from(_FROM)
            .where(*execution_where(selection, present=self.db.schema_features))
            .subquery("sel")
        )
        with self.db.transaction() as conn:
            lo = conn.execute(sa.select(sa.func.min(sel.c.created))).scalar()
        h = t.execution_history
        new_status = h.c.new_values["status"].astext
        source = h.join(sel, sel.c.id == h.c.entity_id)
        # The history is partitioned by time: a literal lower bound lets PostgreSQL skip
        # partitions; the per-row bound is history(id)'s own (from the creation on).
        where = [h.c.time >= sel.c.created, h.c.time >= lo if lo is not None else sa.false()]
        stmt = (
            sa.select(
                h.c.entity_id.label("execution_id"),
                h.c.time,
                h.c.operation,
                h.c.changed_fields,
                h.c.old_values["status"].astext.label("old_status"),
                new_status.label("new_status"),
                h.c.old_values,
                h.c.new_values,
            )
            .select_from(source)
            .where(*where)
            .order_by(
                h.c.time,
                h.c.entity_id,
                sa.case((h.c.operation == "INSERT", 0), (h.c.operation == "UPDATE", 1), else_=2),
                _lifecycle_order(new_status),
            )
        )
        return stmt, sa.select(sa.func.count()).select_from(source).where(*where)

    def _count(self, stmt: Any) -> int:
        with self.db.transaction() as conn:
            return int(conn.execute(stmt).scalar_one())


# -- checks -------------------------------------------------------------------------------


def _format(path: object, format: object) -> str:
    if format is not None:
        if format not in FORMATS.values():
            raise ConfigurationError("format", format, "'parquet' or 'csv' (or None: by suffix)")
        return str(format)
    suffix = Path(path).suffix.lower() if isinstance(path, (str, os.PathLike)) else ""
    if suffix not in FORMATS:
        raise ConfigurationError(
            "path",
            path,
            "a file name ending in .parquet or .csv, or name the format: format='parquet'",
        )
    return FORMATS[suffix]


def _check_batch_rows(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError("batch_rows", value, "a whole number >= 1")
    return value


def _target(path: object, *, overwrite: bool) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigurationError("path", path, "a file path (a str or a pathlib.Path)")
    target = Path(os.fspath(path)).expanduser().absolute()
    if target.is_dir():
        raise ConfigurationError("path", path, "a file, not a folder")
    if not target.parent.is_dir():
        raise ConfigurationError("path", path, f"a file in an existing folder ({target.parent})")
    if target.exists() and not overwrite:
        raise ConfigurationError(
            "path", path, "a file that does not exist yet; pass overwrite=True to replace it"
        )
    return target


# -- writing ------------------------------------------------------------------------------


def _write_atomically(target: Path, write: Callable[[Path], int], *, overwrite: bool) -> int:
    """Run ``write(tmp)`` on a new file beside ``target``, then move it into place.

    On any failure the temporary file is removed and ``target`` is left as it was.
    Without ``overwrite`` the move is a hard link, which fails rather than replace a
    file created meanwhile (where links are not supported: a check, then a rename).
    """
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    tmp.open("xb").close()  # reserved, with the umask's permissions
    try:
        rows = write(tmp)
        with tmp.open("rb") as written:
            os.fsync(written.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise ConfigurationError(
                    "path",
                    str(target),
                    "a file that does not exist yet (it appeared during the export); "
                    "pass overwrite=True to replace it",
                ) from None
            except OSError:
                if target.exists():
                    raise ConfigurationError(
                        "path", str(target), "a file that does not exist yet; pass overwrite=True"
                    ) from None
                os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return rows


class _Bar(Protocol):
    def update(self, n: int) -> Any: ...
    def close(self) -> None: ...


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _interactive() -> bool:
    """Whether a person is watching: stderr is a terminal, or this is a Jupyter kernel."""
    stream = sys.stderr
    if stream is not None and getattr(stream, "isatty", lambda: False)():
        return True
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _progress(show: bool, total: int | None, desc: str) -> _Bar:
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    bar: _Bar = tqdm(total=total, unit="rows", desc=desc)
    return bar


class _Sink:
    """One file being written: the fixed Arrow schema, then each frame as it comes."""

    def __init__(self, path: Path, layout: Sequence[Column]) -> None:
        self.path = path
        self.layout = list(layout)
        self.schema = _arrow_schema(self.layout)

    def write(self, batches: Generator[pd.DataFrame, None, None], bar: _Bar) -> int:
        """Write every frame of ``batches``; the number of rows written."""
        rows = 0
        with contextlib.closing(batches):
            try:
                self.open()
                try:
                    for frame in batches:
                        self.add(_to_arrow(frame, self.layout, self.schema))
                        rows += len(frame)
                        bar.update(len(frame))
                finally:
                    self.close()
            finally:
                bar.close()
        return rows

    def open(self) -> None:
        raise NotImplementedError

    def add(self, table: pa.Table) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _ParquetSink(_Sink):
    def open(self) -> None:
        import pyarrow.parquet as pq

        self.writer = pq.ParquetWriter(self.path, self.schema)

    def add(self, table: pa.Table) -> None:
        self.writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def close(self) -> None:
        self.writer.close()


class _CsvSink(_Sink):
    def open(self) -> None:
        import pyarrow.csv as csv

        empty = _to_arrow(frames.empty_frame(self.layout), self.layout, self.schema)
        self.csv_schema = _csv_table(empty).schema
        options = csv.WriteOptions(include_header=True, quoting_style="needed")
        self.writer = csv.CSVWriter(self.path, self.csv_schema, write_options=options)

    def add(self, table: pa.Table) -> None:
        self.writer.write_table(_csv_table(table).cast(self.csv_schema))

    def close(self) -> None:
        self.writer.close()


_SINKS: dict[str, type[_Sink]] = {"parquet": _ParquetSink, "csv": _CsvSink}


# -- the layout in Arrow ------------------------------------------------------------------

_JSON_KINDS = ("json", "ids", "strs")


def _arrow_schema(layout: Sequence[Column]) -> pa.Schema:
    """The layout's Arrow schema, with pandas metadata that restores its dtypes on reading.

    pandas derives every type but those of object columns, which an empty frame cannot
    show: JSON is JSON text (Arrow's ``json`` type), lists are lists.
    """
    schema = pa.Schema.from_pandas(frames.empty_frame(layout), preserve_index=False)
    meta = json.loads(schema.metadata[b"pandas"])
    by_name = {c["name"]: c for c in meta["columns"]}
    for c in layout:
        if c.kind not in _JSON_KINDS:
            continue
        arrow_type, pandas_type = {
            "json": (pa.json_(), "unicode"),
            "strs": (pa.list_(pa.large_string()), "list[unicode]"),
            "ids": (pa.list_(pa.int64()), "list[int64]"),
        }[c.kind]
        schema = schema.set(schema.get_field_index(c.name), pa.field(c.name, arrow_type))
        by_name[c.name].update(pandas_type=pandas_type, numpy_type="object")
    return schema.with_metadata({b"pandas": json.dumps(meta).encode()})


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _to_arrow(frame: pd.DataFrame, layout: Sequence[Column], schema: pa.Schema) -> pa.Table:
    """One frame of the layout as an Arrow table of ``schema`` (JSON columns as text)."""
    json_columns = [c.name for c in layout if c.kind == "json"]
    if json_columns:
        frame = frame.assign(
            **{name: frame[name].map(_json_text).astype(object) for name in json_columns}
        )
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def _csv_table(table: pa.Table) -> pa.Table:
    """An Arrow table of the layout in CSV's terms: text times, seconds, JSON text."""
    import pyarrow.compute as pc

    columns: list[Any] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_dictionary(kind):
            column = column.cast(pa.large_string())
        elif pa.types.is_timestamp(kind):
            # PostgreSQL keeps microseconds: nothing is lost at this precision.
            micros = pc.cast(column, pa.timestamp("us", tz="UTC"), safe=False)
            column = pc.strftime(micros, format=_TIME_FORMAT)
        elif pa.types.is_duration(kind):
            ns = pc.cast(pc.cast(column, pa.int64()), pa.float64())
            column = pc.divide(ns, pa.scalar(1e9))
        elif isinstance(kind, pa.BaseExtensionType):
            column = pa.chunked_array(
                [chunk.storage for chunk in column.chunks], type=kind.storage_type
            )
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            column = pa.array([_json_text(v) for v in column.to_pylist()], pa.large_string())
        columns.append(column)
    return pa.table(columns, names=table.schema.names)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    for unit, scale in (("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30)):
        if n < scale * 1024 or unit == "GiB":
            size = f"{n / scale:,.1f} {unit}"
            break
    return size
