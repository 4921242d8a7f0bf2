"""The fixed layouts of the DataFrames attune_nb returns, and turning query output into them.

Every frame has documented columns in a fixed order and fixed dtypes, also when
empty: ids ``Int64``; ``status`` an ordered categorical in lifecycle order;
timestamps ``datetime64[ns, UTC]``; durations ``timedelta64[ns]``; text ``string``;
JSON columns as Python objects.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from attune_nb.lifecycle import TERMINAL, ExecutionStatus

__all__ = [
    "EXECUTION_COLUMNS",
    "HIERARCHY_COLUMNS",
    "INQUIRY_STATUS_DTYPE",
    "JSON_COLUMNS",
    "STATUS_DTYPE",
    "Column",
    "empty_frame",
    "execution_layout",
    "read_csv",
]

STATUS_DTYPE = pd.CategoricalDtype([s.value for s in ExecutionStatus], ordered=True)
INQUIRY_STATUS_DTYPE = pd.CategoricalDtype(["pending", "responded", "timeout", "cancelled"],
                                           ordered=True)
TIME_DTYPE: Any = "datetime64[ns, UTC]"

_DTYPES: dict[str, Any] = {
    "id": "Int64", "int": "Int64", "str": "string", "status": STATUS_DTYPE,
    "inquiry_status": INQUIRY_STATUS_DTYPE, "time": TIME_DTYPE, "delta": "timedelta64[ns]",
    "json": object, "bool": "boolean", "ids": object, "strs": object,
}


@dataclass(frozen=True)
class Column:
    """One column of a layout: its name and kind (id, int, str, status, time, delta, json,
    bool, ids, strs, inquiry_status). ``derived`` columns are computed here, not queried."""

    name: str
    kind: str
    derived: bool = False

    @property
    def dtype(self) -> Any:
        return _DTYPES[self.kind]


EXECUTION_COLUMNS: tuple[Column, ...] = (
    Column("id", "id"), Column("action_ref", "str"), Column("status", "status"),
    Column("parent", "id"), Column("enforcement", "id"), Column("rule_ref", "str"),
    Column("trigger_ref", "str"), Column("executor", "id"), Column("worker", "id"),
    Column("action", "id"), Column("created", "time"), Column("started_at", "time"),
    Column("updated", "time"), Column("queue_wait", "delta", derived=True),
    Column("run_time", "delta", derived=True), Column("timeout_seconds", "int"),
    Column("retry_count", "int"), Column("max_retries", "int"), Column("retry_reason", "str"),
    Column("original_execution", "id"), Column("trace_tag", "str"),
)
"""The columns of every execution frame, in order (JSON columns follow when included)."""

JSON_COLUMNS: tuple[str, ...] = ("config", "result", "env_vars", "workflow_task")
"""Left out of frames unless named in ``include=``: they are what makes listings slow."""

HIERARCHY_COLUMNS: tuple[Column, ...] = (
    Column("depth", "int"), Column("path", "ids"), Column("root", "id"),
    Column("orphan", "bool"), Column("cycle", "bool"),
)
"""Appended by ``descendants`` and ``ancestors``: distance, id path from the root, the
root's id, whether the row's parent is set but missing, and whether a loop was cut here."""


def execution_layout(include: Iterable[str] = (), extra: Sequence[Column] = ()) -> list[Column]:
    """The execution columns, then the named JSON columns, then ``extra``."""
    return [*EXECUTION_COLUMNS, *(Column(name, "json") for name in include), *extra]


def empty_frame(layout: Sequence[Column]) -> pd.DataFrame:
    """A frame with no rows and exactly the layout's columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in layout})


# COPY writes NULL as this control character (RS), so that an empty string stays an
# empty string: in CSV, pandas cannot tell a quoted "" from an unquoted empty field.
CSV_NULL = "\x1e"
CSV_NULL_SQL = "\\x1e"


def _json(text: str) -> Any:
    return None if text == CSV_NULL else json.loads(text)


def _from_micros(micros: pd.Series) -> pd.Series:
    """Integer microseconds since the epoch (nullable) as UTC timestamps, exactly."""
    # numpy's NaT is the smallest int64: nulls become NaT through the view.
    raw = micros.to_numpy(dtype="int64", na_value=np.iinfo(np.int64).min)
    stamps = pd.Series(raw.view("datetime64[us]"), index=micros.index)
    return stamps.dt.tz_localize("UTC").astype(TIME_DTYPE)


def _parse_ids(text: str) -> list[int]:
    # '{1,2,3}' -> [1, 2, 3]; the JSON parser is the fastest int-list parser at hand.
    return json.loads("[" + text[1:-1] + "]") if len(text) > 2 else []


def read_csv(buffer: io.StringIO | io.BytesIO, layout: Sequence[Column]) -> pd.DataFrame:
    """Turn CSV (from ``COPY … TO STDOUT WITH CSV HEADER``) into a frame of ``layout``.

    The queried columns come in layout order without the derived ones; derived
    columns are computed here.
    """
    queried = [c for c in layout if not c.derived]
    dtypes: dict[str, Any] = {}
    converters: dict[str, Any] = {}
    for c in queried:
        if c.kind in ("id", "int", "str", "status", "inquiry_status"):
            dtypes[c.name] = c.dtype
        elif c.kind == "time":
            dtypes[c.name] = "Int64"  # microseconds since the epoch
        elif c.kind == "json":
            converters[c.name] = _json
        elif c.kind == "ids":
            converters[c.name] = lambda v: None if v == CSV_NULL else _parse_ids(v)
        elif c.kind == "strs":
            converters[c.name] = lambda v: (None if v == CSV_NULL else
                                            v.strip("{}").split(",") if v.strip("{}") else [])
        elif c.kind == "bool":
            dtypes[c.name] = "string"
        else:
            dtypes[c.name] = "string"
    buffer.seek(0)
    frame = pd.read_csv(buffer, dtype=dtypes, converters=converters, keep_default_na=False,
                        na_values={c.name: [CSV_NULL] for c in queried
                                   if c.kind not in ("json", "ids", "strs")},
                        engine="c")
    if frame.empty:
        return empty_frame(layout)
    for c in queried:
        if c.kind == "time":
            frame[c.name] = _from_micros(frame[c.name])
        elif c.kind == "bool":
            frame[c.name] = frame[c.name].map({"t": True, "f": False}).astype("boolean")
        elif c.kind == "json":
            frame[c.name] = frame[c.name].astype(object)
    return finish(frame, layout)


def _queue_wait(frame: pd.DataFrame) -> pd.Series:
    return (frame["started_at"] - frame["created"]).astype("timedelta64[ns]")


def _run_time(frame: pd.DataFrame) -> pd.Series:
    # Only a terminal execution has an end: its `updated` (there is no completed-at).
    ended = frame["status"].isin([s.value for s in TERMINAL]) & frame["started_at"].notna()
    run = (frame["updated"] - frame["started_at"]).astype("timedelta64[ns]")
    return run.where(ended).astype("timedelta64[ns]")


def _duration(frame: pd.DataFrame) -> pd.Series:
    return (frame["left"] - frame["entered"]).astype("timedelta64[ns]")


DERIVED = {"queue_wait": _queue_wait, "run_time": _run_time, "duration": _duration}
"""How each derived column is computed from the queried ones."""


def finish(frame: pd.DataFrame, layout: Sequence[Column]) -> pd.DataFrame:
    """Add the derived columns, order the columns as the layout says, fix their dtypes."""
    for c in layout:
        if c.derived:
            frame[c.name] = DERIVED[c.name](frame)
    out = frame[[c.name for c in layout]].copy()
    for c in layout:
        if c.kind in ("json", "ids", "strs"):
            continue
        if out[c.name].dtype != c.dtype:
            out[c.name] = out[c.name].astype(c.dtype)
    return out.reset_index(drop=True)


def records_frame(rows: Sequence[Any], layout: Sequence[Column]) -> pd.DataFrame:
    """A frame of ``layout`` from rows (mappings or tuples in queried-column order)."""
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
        elif c.kind == "bool":
            frame[c.name] = frame[c.name].astype("boolean")
        elif c.kind in ("json", "ids", "strs"):
            frame[c.name] = frame[c.name].astype(object)
        else:
            frame[c.name] = frame[c.name].astype(c.dtype)
    return finish(frame, layout)

