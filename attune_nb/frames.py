"""The fixed layouts of the DataFrames attune_nb returns, and turning query output into them.

Every frame has documented columns in a fixed order and fixed dtypes, also when
empty: ids ``Int64``; ``status`` an ordered categorical in lifecycle order;
timestamps ``datetime64[ns, UTC]``; durations ``timedelta64[ns]``; text ``string``;
JSON columns as Python objects. The pure modules (analysis, charts) name their
input columns from here, without importing a database driver.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from attune_nb.lifecycle import TERMINAL, ExecutionStatus

__all__ = [
    "BULK_COLUMNS",
    "EXECUTION_COLUMNS",
    "HIERARCHY_COLUMNS",
    "HISTORY_COLUMNS",
    "INQUIRY_COLUMNS",
    "INQUIRY_JSON_COLUMNS",
    "INQUIRY_STATUSES",
    "INQUIRY_STATUS_DTYPE",
    "INTERVAL_COLUMNS",
    "JSON_COLUMNS",
    "STATUS_DTYPE",
    "SUMMARY_COLUMNS",
    "TRACE_COLUMNS",
    "Column",
    "FrameBuilder",
    "empty_frame",
    "execution_layout",
    "inquiry_layout",
    "records_frame",
]

STATUS_DTYPE = pd.CategoricalDtype([s.value for s in ExecutionStatus], ordered=True)
INQUIRY_STATUSES: tuple[str, ...] = ("pending", "responded", "timeout", "cancelled")
INQUIRY_STATUS_DTYPE = pd.CategoricalDtype(list(INQUIRY_STATUSES), ordered=True)
TIME_DTYPE: Any = "datetime64[ns, UTC]"

_DTYPES: dict[str, Any] = {
    "id": "Int64",
    "int": "Int64",
    "str": "string",
    "status": STATUS_DTYPE,
    "inquiry_status": INQUIRY_STATUS_DTYPE,
    "time": TIME_DTYPE,
    "delta": "timedelta64[ns]",
    "json": object,
    "bool": "boolean",
    "flag": bool,
    "ids": object,
    "strs": object,
}


@dataclass(frozen=True)
class Column:
    """One column of a layout: its name and kind (id, int, str, status, time, delta, json,
    bool (nullable), flag (never null), ids, strs, inquiry_status).

    ``derived`` columns are computed here, not queried."""

    name: str
    kind: str
    derived: bool = False

    @property
    def dtype(self) -> Any:
        return _DTYPES[self.kind]


Layout = Sequence[Column]

EXECUTION_COLUMNS: tuple[Column, ...] = (
    Column("id", "id"),
    Column("action_ref", "str"),
    Column("status", "status"),
    Column("parent", "id"),
    Column("enforcement", "id"),
    Column("rule_ref", "str"),
    Column("trigger_ref", "str"),
    Column("executor", "id"),
    Column("worker", "id"),
    Column("action", "id"),
    Column("workflow_def", "id"),
    Column("created", "time"),
    Column("started_at", "time"),
    Column("updated", "time"),
    Column("queue_wait", "delta", derived=True),
    Column("run_time", "delta", derived=True),
    Column("timeout_seconds", "int"),
    Column("retry_count", "int"),
    Column("max_retries", "int"),
    Column("retry_reason", "str"),
    Column("original_execution", "id"),
    Column("trace_tag", "str"),
)
"""The columns of every execution frame, in order (JSON columns follow when included)."""

JSON_COLUMNS: tuple[str, ...] = ("config", "result", "env_vars", "workflow_task")
"""Left out of frames unless named in ``include=``: they are what makes listings slow."""

HIERARCHY_COLUMNS: tuple[Column, ...] = (
    Column("depth", "int"),
    Column("path", "ids"),
    Column("root", "id"),
    Column("orphan", "bool"),
    Column("cycle", "bool"),
)
"""Appended by ``descendants`` and ``ancestors``: distance, id path from the root, the
root's id, whether the row's parent is set but missing, and whether a loop was cut here."""

HISTORY_COLUMNS: tuple[Column, ...] = (
    Column("time", "time"),
    Column("operation", "str"),
    Column("changed_fields", "strs"),
    Column("old_status", "status"),
    Column("new_status", "status"),
    Column("old_values", "json"),
    Column("new_values", "json"),
)
"""``executions.history(id)``: one row per audit row, in time order."""

INTERVAL_COLUMNS: tuple[Column, ...] = (
    Column("execution_id", "id"),
    Column("action_ref", "str"),
    Column("status", "status"),
    Column("seq", "int"),
    Column("entered", "time"),
    Column("left", "time"),
    Column("duration", "delta", derived=True),
    Column("current", "bool"),
)
"""``executions.intervals(...)``: one row per (execution, status it was in)."""

BULK_COLUMNS: tuple[Column, ...] = (
    Column("id", "id"),
    Column("action_ref", "str"),
    Column("current", "status"),
    Column("to", "status"),
    Column("allowed", "bool"),
    Column("reason", "str"),
    Column("applied", "bool"),
)
"""``executions.bulk_transition(...)``: the preview, and after applying what happened."""

INQUIRY_COLUMNS: tuple[Column, ...] = (
    Column("id", "id"),
    Column("execution", "id"),
    Column("status", "inquiry_status"),
    Column("prompt", "str"),
    Column("assigned_to", "id"),
    Column("created", "time"),
    Column("timeout_at", "time"),
    Column("responded_at", "time"),
    Column("responded_by", "id"),
    Column("updated", "time"),
    Column("response_options", "json"),
    Column("response", "json"),
)
"""``inquiries.frame(...)``; ``execution`` is ``created_by_execution`` (older: ``execution``).

``response`` shows secret fields as ``"***"``."""

INQUIRY_JSON_COLUMNS: tuple[str, ...] = ("response_schema",)
"""What ``inquiries.frame(include=...)`` may add after :data:`INQUIRY_COLUMNS`."""

SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("table", "str"),
    Column("rows", "int"),
    Column("oldest", "time"),
    Column("newest", "time"),
)
"""``db.summary()``: rows and time span per Attune table."""

TRACE_COLUMNS: tuple[Column, ...] = (
    Column("kind", "str"),
    Column("id", "id"),
    Column("ref", "str"),
    Column("status", "str"),
    Column("created", "time"),
    Column("missing", "flag"),
    Column("cycle", "flag"),
)
"""``trace.to_frame()``: one row per link, event first, the execution last."""


def execution_layout(include: Iterable[str] = (), extra: Sequence[Column] = ()) -> list[Column]:
    """The execution columns, then the named JSON columns, then ``extra``."""
    return [*EXECUTION_COLUMNS, *(Column(name, "json") for name in include), *extra]


def inquiry_layout(include: Iterable[str] = ()) -> list[Column]:
    """The inquiry columns, then the named JSON columns (:data:`INQUIRY_JSON_COLUMNS`)."""
    return [*INQUIRY_COLUMNS, *(Column(name, "json") for name in include)]


def empty_frame(layout: Layout) -> pd.DataFrame:
    """A frame with no rows and exactly the layout's columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in layout})


# -- Arrow record batches -> the layout ------------------------------------------------------


_NAT = np.iinfo(np.int64).min
_NS_PER = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def _view(chunk: pa.Array, dtype: str) -> np.ndarray:
    """A zero-copy view of a fixed-width Arrow array's values (null slots: arbitrary)."""
    if pa.types.is_boolean(chunk.type):
        values: np.ndarray = chunk.fill_null(False).to_numpy(zero_copy_only=False)
        return values
    width = chunk.type.bit_width // 8
    raw = np.frombuffer(
        chunk.buffers()[1],
        dtype=f"<i{width}" if width > 1 else "i1",
        count=chunk.offset + len(chunk),
    )
    return raw[chunk.offset :]


def _nulls(chunk: pa.Array) -> np.ndarray | bool:
    return chunk.is_null().to_numpy(zero_copy_only=False) if chunk.null_count else False


class _Sink:
    """Where one column's values land: allocated once, filled batch by batch, finished."""

    def __init__(self, n: int) -> None:
        self.n = n

    def fill(self, at: int, chunk: pa.Array) -> None:
        raise NotImplementedError

    def finish(self, rows: int) -> Any:
        raise NotImplementedError


class _Masked(_Sink):
    def __init__(self, n: int, dtype: str, kind: str) -> None:
        super().__init__(n)
        self.values = np.empty(n, dtype=dtype)
        self.mask = np.zeros(n, dtype=bool)
        self.kind = kind

    def fill(self, at: int, chunk: pa.Array) -> None:
        self.values[at : at + len(chunk)] = _view(chunk, str(self.values.dtype))
        self.mask[at : at + len(chunk)] = _nulls(chunk)

    def finish(self, rows: int) -> Any:
        values, mask = self.values[:rows], self.mask[:rows]
        if self.kind == "flag":
            return values
        if self.kind == "bool":
            return pd.arrays.BooleanArray(values, mask)
        return pd.arrays.IntegerArray(values, mask)


class _Time(_Sink):
    # Arrow's integer ticks scaled to nanoseconds straight into one array; nulls -> NaT.
    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.values = np.empty(n, dtype=np.int64)

    def fill(self, at: int, chunk: pa.Array) -> None:
        if not pa.types.is_timestamp(chunk.type):
            raise TypeError(f"expected a timestamp column, got {chunk.type}")
        part = self.values[at : at + len(chunk)]
        np.multiply(_view(chunk, "int64"), _NS_PER[chunk.type.unit], out=part)
        part[_nulls(chunk)] = _NAT

    def finish(self, rows: int) -> Any:
        # A naive timestamp column is the database's UTC clock, like an aware one.
        stamps = self.values[:rows].view("datetime64[ns]")
        return pd.array(stamps, dtype="datetime64[ns]").tz_localize("UTC")


class _Category(_Sink):
    # Dictionary-encode in Arrow (C), then map the few distinct values to our codes;
    # a value the database has but the layout lacks becomes NaN, as astype would.
    def __init__(self, n: int, dtype: pd.CategoricalDtype) -> None:
        super().__init__(n)
        self.dtype = dtype
        self.positions = {v: i for i, v in enumerate(dtype.categories)}
        self.codes = np.empty(n, dtype=np.int8)

    def fill(self, at: int, chunk: pa.Array) -> None:
        encoded = (
            chunk
            if pa.types.is_dictionary(chunk.type)
            else chunk.cast(pa.string()).dictionary_encode()
        )
        lookup = np.array(
            [self.positions.get(v, -1) for v in encoded.dictionary.to_pylist()] + [-1],
            dtype=np.int8,
        )
        indices = encoded.indices.fill_null(len(lookup) - 1).to_numpy(zero_copy_only=False)
        self.codes[at : at + len(chunk)] = lookup[indices]

    def finish(self, rows: int) -> Any:
        return pd.Categorical.from_codes(self.codes[:rows], dtype=self.dtype)


_NO_STRINGS = pa.array([], pa.large_string())


class _Strings(_Sink):
    # pandas keeps its strings in Arrow (large_string): the chunks become the column.
    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.chunks: list[pa.Array] = []

    def fill(self, at: int, chunk: pa.Array) -> None:
        # A copy, not the cast's view: an array imported from ADBC keeps its whole record
        # batch alive while any of its buffers is referenced.
        self.chunks.append(pa.concat_arrays([chunk.cast(pa.large_string()), _NO_STRINGS]))

    def finish(self, rows: int) -> Any:
        chunked = pa.chunked_array(self.chunks, type=pa.large_string()).slice(0, rows)
        return pd.array(chunked, dtype="string")


class _Objects(_Sink):
    def __init__(self, n: int, parse: bool) -> None:
        super().__init__(n)
        self.values = np.empty(n, dtype=object)
        self.parse = parse

    def fill(self, at: int, chunk: pa.Array) -> None:
        if self.parse:  # JSON text (jsonb arrives as arrow.json over strings)
            storage = chunk.storage if isinstance(chunk, pa.ExtensionArray) else chunk
            values: list[Any] = [
                None if text is None else json.loads(text) for text in storage.to_pylist()
            ]
        else:  # arrays: Python lists
            values = chunk.to_pylist()
        self.values[at : at + len(chunk)] = values

    def finish(self, rows: int) -> Any:
        return self.values[:rows]


def _sink(kind: str, n: int) -> _Sink:
    if kind in ("id", "int"):
        return _Masked(n, "int64", kind)
    if kind in ("bool", "flag"):
        return _Masked(n, "bool", kind)
    if kind == "time":
        return _Time(n)
    if kind == "status":
        return _Category(n, STATUS_DTYPE)
    if kind == "inquiry_status":
        return _Category(n, INQUIRY_STATUS_DTYPE)
    if kind == "str":
        return _Strings(n)
    if kind in ("json", "ids", "strs"):
        return _Objects(n, parse=kind == "json")
    raise ValueError(f"no conversion for a column of kind {kind!r}")


class FrameBuilder:
    """Turns Arrow record batches into a frame of the layout, batch by batch.

    With ``expected_rows`` (a count made beside the read) every column is allocated
    once in its final dtype and each batch is converted into its slice as it
    arrives, then dropped: one copy per value, and the peak stays near the size of
    the final frame. Without it (small reads), or for rows beyond the count
    (inserted meanwhile), batches are kept and converted at the end.
    """

    def __init__(self, layout: Layout, *, expected_rows: int | None = None) -> None:
        self.layout = list(layout)
        self._queried = [c for c in self.layout if not c.derived]
        self._capacity = expected_rows or 0
        self._sinks: dict[str, _Sink] | None = None
        self._filled = 0
        self._pending: list[pa.RecordBatch] = []
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        """Take one record batch (its columns named as the layout's queried ones).

        An :data:`AUXILIARY` column the query returned too (the first batch decides)
        is kept for the derived columns, then dropped.
        """
        names = batch.schema.names
        missing = [c.name for c in self._queried if c.name not in names]
        if missing:
            raise KeyError(f"the query returned no column {missing[0]!r}")
        if not self.rows and self._sinks is None and not self._pending:
            layout_names = {c.name for c in self.layout}
            self._queried += [
                c for c in AUXILIARY if c.name in names and c.name not in layout_names
            ]
        self.rows += batch.num_rows
        if not self._pending and self._filled + batch.num_rows <= self._capacity:
            if self._sinks is None:
                self._sinks = {c.name: _sink(c.kind, self._capacity) for c in self._queried}
            for c in self._queried:
                self._sinks[c.name].fill(self._filled, batch.column(c.name))
            self._filled += batch.num_rows
        else:
            self._pending.append(batch)

    def _convert_pending(self) -> dict[str, Any]:
        rows = sum(b.num_rows for b in self._pending)
        sinks = {c.name: _sink(c.kind, rows) for c in self._queried}
        at = 0
        while self._pending:
            batch = self._pending.pop(0)
            for c in self._queried:
                sinks[c.name].fill(at, batch.column(c.name))
            at += batch.num_rows
        return {name: sink.finish(rows) for name, sink in sinks.items()}

    def frame(self) -> pd.DataFrame:
        """The frame of every batch added, in the layout (derived columns computed)."""
        if not self.rows:
            return empty_frame(self.layout)
        late = self._convert_pending() if self._pending else None
        columns: dict[str, Any] = {}
        for c in self._queried:
            parts = []
            if self._sinks is not None:
                parts.append(pd.Series(self._sinks[c.name].finish(self._filled), copy=False))
            if late is not None:
                parts.append(pd.Series(late.pop(c.name), copy=False))
            columns[c.name] = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        self._sinks = None
        return finish(pd.DataFrame(columns, copy=False), self.layout)


def from_arrow(table: pa.Table | pa.RecordBatch, layout: Layout) -> pd.DataFrame:
    """A frame of ``layout`` from one Arrow table (or batch) of its queried columns."""
    builder = FrameBuilder(layout)
    for batch in table.to_batches() if isinstance(table, pa.Table) else [table]:
        builder.add(batch)
    return builder.frame()


# -- derived columns ------------------------------------------------------------------------


AUXILIARY: tuple[Column, ...] = (Column("running_since", "time"),)
"""Columns a query may add for the derived ones, never part of a frame.

``running_since``: when the execution entered running, its ``started_at`` or, for
a workflow parent (which upstream leaves without one), the time its history shows.
"""


def _running_since(frame: pd.DataFrame) -> pd.Series:
    return frame["running_since"] if "running_since" in frame else frame["started_at"]


def _queue_wait(frame: pd.DataFrame) -> pd.Series:
    return (_running_since(frame) - frame["created"]).astype("timedelta64[ns]")


def _run_time(frame: pd.DataFrame) -> pd.Series:
    # Only a terminal execution has an end: its `updated` (there is no completed-at).
    started = _running_since(frame)
    ended = frame["status"].isin([s.value for s in TERMINAL]) & started.notna()
    run = (frame["updated"] - started).astype("timedelta64[ns]")
    return run.where(ended).astype("timedelta64[ns]")


def _duration(frame: pd.DataFrame) -> pd.Series:
    return (frame["left"] - frame["entered"]).astype("timedelta64[ns]")


DERIVED = {"queue_wait": _queue_wait, "run_time": _run_time, "duration": _duration}
"""How each derived column is computed from the queried ones."""


def finish(frame: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """Add the derived columns, order the columns as the layout says, fix their dtypes."""
    for c in layout:
        if c.derived:
            frame[c.name] = DERIVED[c.name](frame)
    out = frame[[c.name for c in layout]]
    for c in layout:
        if c.kind in ("json", "ids", "strs"):
            continue
        if out[c.name].dtype != c.dtype:
            out[c.name] = out[c.name].astype(c.dtype)
    return out.reset_index(drop=True)


def records_frame(rows: Sequence[Any], layout: Layout) -> pd.DataFrame:
    """A frame of ``layout`` from Python rows (tuples in queried-column order).

    For frames computed in Python (a bulk preview, a trace), not read from a query.
    """
    queried = [c.name for c in layout if not c.derived]
    if not rows:
        return empty_frame(layout)
    frame = pd.DataFrame([tuple(r) for r in rows], columns=queried)
    for c in layout:
        if c.derived:
            continue
        if c.kind == "time":
            frame[c.name] = pd.to_datetime(frame[c.name], utc=True).astype(TIME_DTYPE)
        elif c.kind in ("id", "int"):
            frame[c.name] = frame[c.name].astype("Int64")
        elif c.kind in ("bool", "flag"):
            frame[c.name] = frame[c.name].astype(c.dtype)
        elif c.kind in ("json", "ids", "strs"):
            frame[c.name] = frame[c.name].astype(object)
        else:
            frame[c.name] = frame[c.name].astype(c.dtype)
    return finish(frame, layout)
