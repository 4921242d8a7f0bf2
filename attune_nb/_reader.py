"""The bulk read path: a query through ADBC (binary COPY into Arrow), batch by batch into a frame.

Every DataFrame the repositories return comes through :class:`ArrowReader`. It
keeps one ADBC connection per database (opening one costs ~50 ms: the driver reads
the type catalogue), with the same session settings as the SQLAlchemy engine
(``search_path``, UTC, read-only). Record batches are converted to the frame's
layout as they arrive (:class:`~attune_nb.frames.FrameBuilder`); a progress bar
counts them when the result is large. :meth:`ArrowReader.batches` hands out the
same conversion a slice of rows at a time, for results that must never be whole in
memory (an export). Driver errors are translated like any other.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any

import pandas as pd

from attune_nb.driver import translate, translate_errors
from attune_nb.errors import DatabaseUnavailable
from attune_nb.frames import Column, FrameBuilder

__all__ = ["BATCH_ROWS", "PROGRESS_ROWS", "ArrowReader"]

log = logging.getLogger("attune_nb")

PROGRESS_ROWS = 100_000
"""A progress bar is shown when a read is known to return more rows than this."""

BATCH_ROWS = 100_000
"""How many rows :meth:`ArrowReader.batches` converts at a time unless told otherwise."""


class ArrowReader:
    """Reads SQL into frames of a layout over one cached ADBC connection (thread-safe)."""

    def __init__(self, uri: str, *, url: str, settings: Sequence[str]) -> None:
        self._uri = uri  # libpq form, with the password: never shown
        self.url = url  # masked, for messages
        self._settings = tuple(settings)
        self._lock = threading.Lock()
        self._conn: Any = None

    def __repr__(self) -> str:
        return f"<ArrowReader {self.url}>"

    def _connection(self) -> Any:
        if self._conn is None:
            import adbc_driver_postgresql.dbapi as adbc

            conn = adbc.connect(self._uri, autocommit=True)
            try:
                with conn.cursor() as cur:
                    for statement in self._settings:
                        cur.execute(statement)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection may not close cleanly; it is gone either way.
            with contextlib.suppress(Exception):
                conn.close()

    def read(
        self,
        sql: str,
        layout: Sequence[Column],
        *,
        total: int | None = None,
        desc: str = "reading rows",
    ) -> pd.DataFrame:
        """Run ``sql`` (literal, no parameters) and return its rows in ``layout``.

        ``total`` (the expected row count, when known) lets the frame be allocated
        once and turns on a progress bar above :data:`PROGRESS_ROWS` rows. A cached
        connection that the server dropped meanwhile (a restart, an idle timeout) is
        replaced once, transparently; a second failure is raised.
        """
        with translate_errors(self.url, statement=sql), self._lock:
            reused = self._conn is not None
            try:
                return self._read(sql, layout, total=total, desc=desc)
            except Exception as exc:
                self._discard()  # mid-COPY or broken: never reuse it
                if not (reused and _connection_lost(exc, self.url)):
                    raise
            log.info("the reader's connection to %s was lost; reconnecting once", self.url)
            try:
                return self._read(sql, layout, total=total, desc=desc)
            except BaseException:
                self._discard()
                raise

    def _read(
        self, sql: str, layout: Sequence[Column], *, total: int | None, desc: str
    ) -> pd.DataFrame:
        builder = FrameBuilder(layout, expected_rows=total)
        with self._connection().cursor() as cur:
            cur.execute(sql)
            bar = _progress(total, desc)
            try:
                for batch in cur.fetch_record_batch():
                    builder.add(batch)
                    if bar is not None:
                        bar.update(batch.num_rows)
            finally:
                if bar is not None:
                    bar.close()
        return builder.frame()

    def batches(
        self, sql: str, layout: Sequence[Column], *, rows: int = BATCH_ROWS
    ) -> Generator[pd.DataFrame, None, None]:
        """Run ``sql`` (literal) and yield its rows in ``layout``, ``rows`` at a time.

        Each frame has exactly ``rows`` rows (the last one fewer; none at all for an
        empty result) and is converted as :meth:`read` converts, so the frames
        concatenated equal what :meth:`read` returns. Only one frame and the driver's
        current record batch are in memory at a time. The reader is held (its lock)
        until the iterator is exhausted or closed: do not read through it meanwhile.
        A lost cached connection is replaced once, as in :meth:`read`, if no frame
        was handed out yet.
        """
        with translate_errors(self.url, statement=sql), self._lock:
            for attempt in (1, 2):
                reused, started, done = self._conn is not None, False, False
                try:
                    cur = self._connection().cursor()
                    try:
                        cur.execute(sql)
                        for frame in _slices(cur.fetch_record_batch(), layout, rows):
                            started = True
                            yield frame
                    finally:
                        with contextlib.suppress(Exception):  # mid-COPY, it may not close
                            cur.close()
                    done = True
                    return
                except Exception as exc:
                    lost = reused and _connection_lost(exc, self.url)
                    if started or attempt == 2 or not lost:
                        raise
                    log.info("the reader's connection to %s was lost; reconnecting once", self.url)
                finally:
                    if not done:
                        self._discard()  # failed, closed early or mid-COPY: never reuse it

    def close(self) -> None:
        """Close the ADBC connection (a later read opens a new one)."""
        with self._lock:
            self._discard()


def _slices(batches: Iterable[Any], layout: Sequence[Column], rows: int) -> Iterator[pd.DataFrame]:
    """The record batches re-cut into frames of ``rows`` rows each (the last one fewer)."""
    builder = FrameBuilder(layout, expected_rows=rows)
    for batch in batches:
        at = 0
        while at < batch.num_rows:
            take = min(rows - builder.rows, batch.num_rows - at)
            builder.add(batch.slice(at, take))  # zero-copy; the builder copies into its columns
            at += take
            if builder.rows == rows:
                yield builder.frame()
                builder = FrameBuilder(layout, expected_rows=rows)
    if builder.rows:
        yield builder.frame()


def _progress(total: int | None, desc: str) -> Any:
    if total is None or total <= PROGRESS_ROWS:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="rows", desc=desc)


def _connection_lost(exc: BaseException, url: str) -> bool:
    return isinstance(translate(exc, url), DatabaseUnavailable)
