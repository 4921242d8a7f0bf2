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

import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any

import pandas as pd

from attune_nb.driver import translate, translate_errors
from attune_nb.errors import DatabaseUnavailable
from attune_nb.frames import Column, FrameBuilder

__all__ = ["BATCH_ROWS", "PROGRESS_ROWS", "ArrowReader", "Total"]

log = logging.getLogger("attune_nb")

PROGRESS_ROWS = 100_000
"""A progress bar is shown when a read is known to return more rows than this."""

BATCH_ROWS = 100_000
"""How many rows :meth:`ArrowReader.batches` converts at a time unless told otherwise."""


Total = int | Callable[[], int] | None
"""The row count a read expects: known, to be counted (beside the read), or unknown."""


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
        total: Total = None,
        desc: str = "reading rows",
    ) -> pd.DataFrame:
        """Run ``sql`` (literal, no parameters) and return its rows in ``layout``.

        ``total`` (the expected row count) lets the frame be allocated once and turns
        on a progress bar above :data:`PROGRESS_ROWS` rows. It may be a function that
        counts them (on another connection): it then runs in a thread while the
        server prepares the first batch (a sort, for a whole table), so that the count
        costs no time of its own; the first batch waits for it. A cached
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

    def _read(self, sql: str, layout: Sequence[Column], *, total: Total, desc: str) -> pd.DataFrame:
        with contextlib.ExitStack() as stack:
            counted: concurrent.futures.Future[int] | None = None
            if callable(total):
                pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(1))
                counted = pool.submit(total)
                stack.callback(counted.cancel)
            builder: FrameBuilder | None = None
            bar: Any = None
            cur = stack.enter_context(self._connection().cursor())
            cur.execute(sql)
            for batch in stack.enter_context(_prefetched(cur.fetch_record_batch())):
                if builder is None:  # the first batch: the count is needed now
                    expected = counted.result() if counted is not None else total
                    assert not callable(expected)
                    builder = FrameBuilder(layout, expected_rows=expected)
                    bar = _progress(expected, desc)
                    if bar is not None:
                        stack.callback(bar.close)
                builder.add(batch)
                if bar is not None:
                    bar.update(batch.num_rows)
            if builder is None:
                if counted is not None:
                    counted.result()  # a count that failed fails the read, as before
                builder = FrameBuilder(layout)
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


_DONE = object()


@contextlib.contextmanager
def _prefetched(reader: Any, *, ahead: int = 2) -> Iterator[Iterator[Any]]:
    """The batches of ``reader`` (a pyarrow RecordBatchReader), read by a thread.

    Reading a batch (the driver decoding COPY data) releases the GIL, so the thread
    reads the next batches (at most ``ahead`` of them waiting) while the caller
    converts the current one: the conversion no longer holds up the server. An error
    of the reader is raised where its batch would have come; leaving the block early
    stops the thread after the batch it is reading.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in reader:
                if not put(batch):
                    return
        except BaseException as exc:  # handed to the caller's thread
            put(exc)
            return
        put(_DONE)

    def batches() -> Iterator[Any]:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item

    thread = threading.Thread(target=read, name="attune_nb-reader", daemon=True)
    thread.start()
    try:
        yield batches()
    finally:
        stop.set()
        thread.join()


def _progress(total: int | None, desc: str) -> Any:
    if total is None or total <= PROGRESS_ROWS:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="rows", desc=desc)


def _connection_lost(exc: BaseException, url: str) -> bool:
    return isinstance(translate(exc, url), DatabaseUnavailable)
