"""What the analysis modules share: output columns (with a ``float`` kind) and helpers.

Private: each layout lives in the module that returns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from attune_nb.frames import STATUS_DTYPE, Column, empty_frame
from attune_nb.lifecycle import ExecutionStatus

__all__ = [
    "LIFECYCLE",
    "PERCENTILES",
    "OutColumn",
    "build",
    "percentiles_ns",
    "to_ns",
]

LIFECYCLE: tuple[str, ...] = tuple(str(s) for s in STATUS_DTYPE.categories)
"""The ten statuses in lifecycle (enum) order."""
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 0.5),
    ("p90", 0.9),
    ("p95", 0.95),
    ("p99", 0.99),
)
TERMINAL_VALUES: tuple[str, ...] = tuple(s.value for s in ExecutionStatus if s.is_terminal)


@dataclass(frozen=True)
class OutColumn(Column):
    """A :class:`~attune_nb.frames.Column` that also knows ``float`` (float64, NaN for none)."""

    @property
    def dtype(self) -> Any:
        return "float64" if self.kind == "float" else super().dtype


def build(layout: Sequence[Column], data: Mapping[str, Any]) -> pd.DataFrame:
    """A frame of ``layout`` from column values (each column cast to its dtype)."""
    if not data or all(len(v) == 0 for v in data.values()):
        return empty_frame(layout)
    columns: dict[str, Any] = {}
    for c in layout:
        values = data[c.name]
        if c.kind == "time":
            columns[c.name] = pd.to_datetime(pd.Series(values), utc=True).astype(c.dtype)
        elif c.kind in ("ids", "strs", "json"):
            columns[c.name] = pd.Series(list(values), dtype=object)
        else:
            columns[c.name] = pd.Series(values).astype(c.dtype)
        columns[c.name] = columns[c.name].reset_index(drop=True)
    return pd.DataFrame(columns)


def to_ns(deltas: pd.Series) -> pd.Series:
    """Durations as float64 nanoseconds (NaT -> NaN), for exact percentiles."""
    values = deltas.astype("timedelta64[ns]")
    out = values.to_numpy().view("int64").astype("float64")
    out[values.isna().to_numpy()] = np.nan
    return pd.Series(out, index=deltas.index)


def percentiles_ns(ns: pd.Series, keys: pd.Series, order: Sequence[Any]) -> dict[str, pd.Series]:
    """Per key (in ``order``): p50/p90/p95/p99/max of ``ns`` as ``timedelta64[ns]``.

    Linear interpolation on float nanoseconds, rounded to the nearest nanosecond:
    what PostgreSQL's ``percentile_cont`` gives (pandas' own timedelta quantile
    truncates instead).
    """
    grouped = ns.groupby(keys.to_numpy(), sort=False)
    quantiles = grouped.quantile(np.array([q for _, q in PERCENTILES])).unstack()
    out: dict[str, pd.Series] = {}
    index = pd.Index(order)
    for name, q in PERCENTILES:
        column = quantiles[q] if q in quantiles else pd.Series(dtype="float64")
        out[name] = _as_delta(column.reindex(index))
    out["max"] = _as_delta(grouped.max().reindex(index))
    return out


def _as_delta(values: pd.Series) -> pd.Series:
    floats = values.to_numpy(dtype="float64")
    missing = np.isnan(floats)
    ints = np.where(missing, 0, np.round(floats)).astype("int64")
    deltas = pd.Series(ints.view("timedelta64[ns]"), index=values.index)
    deltas[missing] = pd.NaT
    return deltas.reset_index(drop=True)
