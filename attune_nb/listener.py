"""Live changes from Attune's notifications: :class:`Listener` and the :class:`Change` it delivers.

A listener LISTENs on Attune's channels (``execution_created``,
``execution_status_changed``, ``inquiry_created``, ``inquiry_responded``,
``inquiry_timeout``) on a psycopg2 connection of its own, in a background thread.
It re-reads the row when a payload is compact (``auth_mode: 'deferred'``) and, after
a lost connection, reconnects with a bounded backoff and backfills from
``execution_history`` by time, so that no change is missed or delivered twice.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import heapq
import itertools
import json
import logging
import queue
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Self

import psycopg2
import psycopg2.extensions

from attune_nb.driver import translate, translate_errors
from attune_nb.engine import Engine, application_name
from attune_nb.errors import AttuneNbError, ConfigurationError

__all__ = [
    "CHANNELS",
    "EXECUTION_CHANNELS",
    "INQUIRY_CHANNELS",
    "Change",
    "Listener",
]

log = logging.getLogger("attune_nb")

EXECUTION_CHANNELS = ("execution_created", "execution_status_changed")
INQUIRY_CHANNELS = ("inquiry_created", "inquiry_responded", "inquiry_timeout")
CHANNELS = EXECUTION_CHANNELS + INQUIRY_CHANNELS
"""Every channel Attune's triggers notify on, executions first."""

# What a change's payload may hold (the keys of Attune's full payloads); anything else
# a payload or a re-read row carries (a response, env_vars) is dropped: it may be secret.
_EXECUTION_KEYS = frozenset(
    {
        "entity_type",
        "entity_id",
        "id",
        "action_id",
        "action_ref",
        "status",
        "old_status",
        "trace_tag",
        "enforcement",
        "rule_ref",
        "trigger_ref",
        "parent",
        "started_at",
        "workflow_task",
        "created",
        "updated",
    }
)
_INQUIRY_KEYS = frozenset(
    {
        "entity_type",
        "entity_id",
        "id",
        "created_by_execution",
        "status",
        "timeout_at",
        "updated",
        "created",
    }
)
_INQUIRY_CHANNEL_OF_STATUS = {"responded": "inquiry_responded", "timeout": "inquiry_timeout"}

# The row as Attune's trigger would send it (not the trigger's helper function: a real
# Attune database has its own).
_EXECUTION_ROWS = """
SELECT e.id, jsonb_build_object(
    'entity_type', 'execution', 'entity_id', e.id, 'id', e.id,
    'action_id', e.action, 'action_ref', e.action_ref, 'status', e.status,
    'trace_tag', e.trace_tag, 'enforcement', e.enforcement,
    'rule_ref', enf.rule_ref, 'trigger_ref', enf.trigger_ref,
    'parent', e.parent, 'started_at', e.started_at,
    'workflow_task', e.workflow_task, 'created', e.created, 'updated', e.updated)
FROM attune.execution AS e
LEFT JOIN attune.enforcement AS enf ON enf.id = e.enforcement
WHERE e.id = ANY(%(ids)s)
"""
# to_jsonb: older schemas name created_by_execution "execution"; the response may be secret.
_INQUIRY_ROW = "SELECT to_jsonb(i) - 'response' FROM attune.inquiry AS i WHERE i.id = %(id)s"

# The status transitions (and creations) since a time, ties in lifecycle order.
_HISTORY = """
SELECT h.time, h.operation, h.entity_id,
       h.old_values ->> 'status' AS old_status, h.new_values ->> 'status' AS status
FROM attune.execution_history AS h
WHERE h.time >= %(since)s
  AND (h.operation = 'INSERT' OR (h.operation = 'UPDATE' AND 'status' = ANY(h.changed_fields)))
ORDER BY h.time, CASE h.operation WHEN 'INSERT' THEN 0 ELSE 1 END,
         array_position(enum_range(NULL::attune.execution_status_enum)::text[],
                        h.new_values ->> 'status'),
         h.entity_id
"""
# The times of one execution's transitions old -> new, for a compact payload.
_TRANSITION_TIMES = """
SELECT h.time FROM attune.execution_history AS h
WHERE h.entity_id = %(id)s AND h.time >= %(since)s AND h.operation = 'UPDATE'
  AND 'status' = ANY(h.changed_fields)
  AND h.new_values ->> 'status' = %(status)s
  AND h.old_values ->> 'status' IS NOT DISTINCT FROM %(old)s
ORDER BY h.time
"""
_INQUIRIES_SINCE = """
SELECT to_jsonb(i) - 'response' FROM attune.inquiry AS i
WHERE i.created >= %(since)s
   OR (i.updated >= %(since)s AND i.status::text IN ('responded', 'timeout'))
ORDER BY i.created, i.id
"""

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Change:
    """One change a :class:`Listener` saw: an execution created or moved, an inquiry event.

    ``time`` is the transaction time Attune records (the history's ``time``: the row's
    ``updated``, or ``created`` for a creation). ``source`` says how it came:
    ``"notify"`` (the payload), ``"reread"`` (a compact payload, the row re-read) or
    ``"backfill"`` (found in ``execution_history`` or the inquiry table after a
    reconnect). ``payload`` holds the keys of Attune's full payload, nothing else.

    >>> import datetime as dt
    >>> Change("execution_status_changed", "execution", 42, "scheduling", "requested",
    ...        dt.datetime(2026, 1, 14, 9, 0, 1, tzinfo=dt.UTC), action_ref="core.echo")
    <Change execution 42 core.echo requested -> scheduling at 2026-01-14 09:00:01+00:00 (notify)>
    """

    channel: str
    entity: str  # "execution" or "inquiry"
    id: int
    status: str | None
    old_status: str | None
    time: dt.datetime
    action_ref: str | None = None
    source: str = "notify"
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> Key:
        """What identifies the change, whichever way it came (the dedupe key).

        An execution is created once; a transition is its execution, time, old and new
        status (two moves in one transaction share the time, not the statuses); an
        inquiry is created, answered or timed out once. The same move made twice in
        one transaction (a -> b -> a -> b) is one change: PostgreSQL, too, sends
        identical notifications of one transaction once.
        """
        if self.entity == "inquiry":
            return ("inquiry", self.id, self.channel)
        if self.channel == "execution_created":
            return ("execution", self.id, "created")
        return ("execution", self.id, self.time, self.old_status, self.status)

    def __repr__(self) -> str:
        what = self.action_ref or ""
        move = f"{self.old_status} -> {self.status}" if self.old_status else f"{self.status}"
        if self.channel == "execution_created":
            move = f"created {self.status}"
        elif self.entity == "inquiry":
            move = self.channel.removeprefix("inquiry_")
        return (
            f"<Change {self.entity} {self.id} {what + ' ' if what else ''}{move} "
            f"at {self.time} ({self.source})>"
        )


def _parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _clean(payload: Mapping[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    clean = {k: v for k, v in payload.items() if k in keys}
    # Older inquiry schemas name created_by_execution "execution".
    if (
        "created_by_execution" in keys
        and "created_by_execution" not in clean
        and "execution" in payload
    ):
        clean["created_by_execution"] = payload["execution"]
    return clean


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _closed_pair() -> tuple[socket.socket, socket.socket]:
    """Two closed sockets: what a listener holds until it starts (nothing to leak)."""
    pair = socket.socketpair()
    for sock in pair:
        sock.close()
    return pair


class Listener:
    """Attune's notifications, delivered as :class:`Change` records from a background thread.

    Changes go to ``on_change`` (called in the listener's thread: keep it short, hand
    work over to another thread) or, without it, into the thread-safe queue
    :attr:`changes` (read it with :meth:`get`). :meth:`start` connects and LISTENs
    before it returns, so every change committed after it is seen; ``since`` also
    replays the changes recorded from that time on. A lost connection is reopened
    (backoff from ``backoff[0]`` doubling to ``backoff[1]`` seconds, each attempt
    bounded by ``connect_timeout``) and the gap backfilled from ``execution_history``
    from the last change seen minus ``overlap`` seconds; duplicates are dropped.
    :meth:`stop` (also on exit, or leaving a ``with`` block) joins the thread and
    closes the connection. ``db.listen(...)`` makes and starts one.

    >>> with db.listen() as listener:
    ...     db.executions.transition(16671, "cancelled", expected="requested")
    ...     listener.get(timeout=5)
    <Execution 16671 core.local_cmd cancelled>
    <Change execution 16671 core.local_cmd requested -> cancelled at ... (notify)>
    """

    def __init__(
        self,
        db: Engine,
        /,
        *,
        on_change: Callable[[Change], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        channels: Iterable[str] = CHANNELS,
        since: dt.datetime | None = None,
        overlap: float = 30.0,
        connect_timeout: int = 5,
        backoff: tuple[float, float] = (0.1, 5.0),
        tick: float = 0.25,
        ping_every: float = 30.0,
    ) -> None:
        if isinstance(channels, str | bytes) or not isinstance(channels, Iterable):
            raise ConfigurationError("channels", channels, f"a list, some of {list(CHANNELS)}")
        channels = tuple(dict.fromkeys(channels))
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown or not channels:
            raise ConfigurationError("channels", list(channels), f"some of {list(CHANNELS)}")
        if since is not None and (not isinstance(since, dt.datetime) or since.tzinfo is None):
            raise ConfigurationError("since", since, "a timezone-aware datetime")
        if connect_timeout < 2:  # libpq's minimum
            raise ConfigurationError("connect_timeout", connect_timeout, "2 seconds or more")
        self.url = db.url
        self.channels = channels
        self.on_change = on_change
        self.on_state = on_state
        self.changes: queue.Queue[Change] = queue.Queue()
        self.overlap = dt.timedelta(seconds=overlap)
        self.connect_timeout = int(connect_timeout)
        self.backoff = backoff
        self.tick = tick
        self.ping_every = ping_every
        self.application_name = f"{application_name()} listener"
        _args, params = db.engine.dialect.create_connect_args(db.engine.url)
        self._params: dict[str, Any] = dict(params)
        self._params.update(
            connect_timeout=self.connect_timeout,
            application_name=self.application_name,
            # A dead TCP peer is noticed in about half a minute (ignored on sockets).
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
        self._since = since
        self.state = "new"
        self.backend_pid: int | None = None
        self.reconnects = 0
        self.delivered = 0
        self.last_error: BaseException | None = None
        self._conn: psycopg2.extensions.connection | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._opened = False
        # stop() writes to it to wake the thread's select() at once.
        self._wake_r, self._wake_w = _closed_pair()
        # Dedupe: the keys delivered, the keys whose notification came (or never will),
        # and both by time, so that those older than any future backfill are forgotten.
        self._delivered: set[Key] = set()
        self._notified: set[Key] = set()
        self._by_time: list[tuple[dt.datetime, int, Key]] = []
        self._seq = itertools.count()
        self._watermark: dt.datetime = since or _now()  # the latest change seen
        self._floor: dt.datetime = self._watermark  # nothing before it is delivered
        self._forgotten: dt.datetime = self._floor - self.overlap  # keys before it dropped
        self._listening_since: dt.datetime = self._watermark  # the current LISTEN

    def __repr__(self) -> str:
        if not hasattr(self, "url"):  # shown in a traceback of a refused __init__
            return "<Listener (not started: its options were refused)>"
        return (
            f"<Listener {self.url} {self.state} channels={len(self.channels)} "
            f"delivered={self.delivered} reconnects={self.reconnects}>"
        )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the listener's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- the public verbs ----------------------------------------------------------

    def start(self) -> Self:
        """Connect, LISTEN and start the thread; raises :class:`DatabaseUnavailable`.

        Changes committed after it returns are all delivered. Starting a running
        listener does nothing; a stopped one cannot start again (make a new one).
        """
        if self._thread is not None:
            if self._stopping.is_set():
                raise RuntimeError("a stopped Listener cannot start again: make a new one")
            return self
        with translate_errors(self.url):
            conn = self._open()
        if self._since is None:
            self._floor = self._watermark
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name="attune_nb-listener", daemon=True
        )
        # Registered after the engine's own exit hook (which stops an embedded server
        # that nobody else uses): exit hooks run last-in first-out, so this one first.
        atexit.register(self.stop)
        self._thread.start()
        return self

    def stop(self, *, timeout: float | None = None) -> None:
        """Stop the thread and close the connection (at most ``timeout`` seconds' wait,
        by default the connect timeout plus one). Safe to call more than once."""
        self._stopping.set()
        atexit.unregister(self.stop)
        thread = self._thread
        if thread is None:
            self._set_state("stopped")
            return
        with contextlib.suppress(OSError):  # closed: the thread has ended
            self._wake_w.send(b"x")
        if thread is threading.current_thread():
            return  # called from on_change: the loop ends after this change
        thread.join(self.connect_timeout + 1.0 if timeout is None else timeout)
        if thread.is_alive():
            log.warning("the listener's thread did not stop within the timeout")

    def get(self, *, timeout: float | None = None) -> Change:
        """The next change from :attr:`changes` (without ``on_change``); raises
        ``queue.Empty`` when none comes within ``timeout`` seconds."""
        return self.changes.get(timeout=timeout)

    def __iter__(self) -> Iterator[Change]:
        """The changes as they come, until the listener stops."""
        while True:
            try:
                yield self.changes.get(timeout=self.tick)
            except queue.Empty:
                if not self.running:
                    return

    # -- the thread ------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        if self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:
                log.exception("the listener's on_state callback failed")

    def _open(self) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(**self._params)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SET search_path TO attune, public")
                cur.execute("SET timezone TO 'UTC'")
                cur.execute("SET default_transaction_read_only TO on")
                for channel in self.channels:  # names checked against CHANNELS
                    cur.execute(f"LISTEN {channel}")
                cur.execute("SELECT now(), pg_backend_pid()")
                now, pid = cur.fetchone() or (_now(), None)
        except BaseException:
            conn.close()
            raise
        if not self._opened and self._since is None:
            self._watermark = now  # the database's clock, not ours
        self._listening_since = now
        self._opened = True
        self.backend_pid = pid
        self._conn = conn
        self._set_state("listening")
        return conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _lost(self, exc: BaseException) -> None:
        mapped = translate(exc, self.url)
        self.last_error = mapped or exc
        # Said once per outage; the attempts after it only at debug level.
        level = logging.DEBUG if self.state == "reconnecting" else logging.WARNING
        log.log(level, "the listener lost its connection (%s); reconnecting", self.last_error)
        self._close()
        self._set_state("reconnecting")

    def _run(self, conn: psycopg2.extensions.connection | None) -> None:
        delay = self.backoff[0]
        backfill = self._since is not None
        try:
            while not self._stopping.is_set():
                if conn is None:
                    try:
                        conn = self._open()
                    except Exception as exc:
                        self._lost(exc)
                        if self._stopping.wait(delay):
                            break
                        delay = min(delay * 2, self.backoff[1])
                        continue
                    self.reconnects += 1
                    backfill = True
                try:
                    if backfill:
                        self._backfill(conn)
                        backfill = False
                    delay = self.backoff[0]
                    self._serve(conn)
                except (psycopg2.Error, OSError, AttuneNbError) as exc:
                    self._lost(exc)
                except Exception as exc:  # a bug: say so, start over (and backfill)
                    log.exception("the listener failed; reconnecting")
                    self._lost(exc)
                conn = None
                if self._stopping.wait(delay):
                    break
        finally:
            self._close()
            self._wake_r.close()
            self._wake_w.close()
            self._set_state("stopped")

    def _serve(self, conn: psycopg2.extensions.connection) -> None:
        """Wait for notifications (select on the socket and the wake pipe) until stopped."""
        idle_since = time.monotonic()
        while not self._stopping.is_set():
            if not conn.notifies:
                ready, _, _ = select.select([conn, self._wake_r], [], [], self.tick)
                if self._stopping.is_set():
                    return
                if not ready:
                    if time.monotonic() - idle_since > self.ping_every:
                        with conn.cursor() as cur:  # a dead connection says so here
                            cur.execute("SELECT 1")
                        idle_since = time.monotonic()
                    continue
                conn.poll()
            idle_since = time.monotonic()
            notifies = list(conn.notifies)
            conn.notifies.clear()
            for notify in notifies:
                self._on_notify(conn, notify.channel, notify.payload)
                if self._stopping.is_set():
                    return

    # -- notifications -----------------------------------------------------------

    def _on_notify(self, conn: psycopg2.extensions.connection, channel: str, raw: str) -> None:
        try:
            payload = json.loads(raw)
            change_id = int(payload["id"])
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring a %s notification that is not Attune's: %.80r", channel, raw)
            return
        deferred = payload.get("auth_mode") == "deferred"
        if channel in INQUIRY_CHANNELS:
            change: Change | None = self._inquiry_change(
                conn, channel, change_id, payload, deferred=deferred
            )
        else:
            change = self._execution_change(conn, channel, change_id, payload, deferred=deferred)
        if change is None:  # a compact duplicate of a change the backfill delivered
            return
        key = change.key
        self._remember(self._notified, key, change.time)
        if key not in self._delivered:  # else the backfill after a reconnect delivered it
            self._deliver(change)

    def _execution_change(
        self,
        conn: psycopg2.extensions.connection,
        channel: str,
        change_id: int,
        payload: dict[str, Any],
        *,
        deferred: bool,
    ) -> Change | None:
        status, old = payload.get("status"), payload.get("old_status")
        created = channel == "execution_created"
        if deferred:
            body = self._execution_rows(conn, [change_id]).get(change_id, {"id": change_id})
            # The row as it is now, with the move this notification is about.
            body = {**body, "status": status}
            if not created:
                body["old_status"] = old
        else:
            body = _clean(payload, _EXECUTION_KEYS)
        when: dt.datetime | None
        if created:
            when = _parse_time(body.get("created"))
        elif deferred:
            found, when = self._transition_time(conn, change_id, old, status)
            if found and when is None:
                return None
        else:
            when = _parse_time(body.get("updated"))
        return Change(
            channel=channel,
            entity="execution",
            id=change_id,
            status=status,
            old_status=None if created else old,
            time=when or _now(),
            action_ref=body.get("action_ref"),
            source="reread" if deferred else "notify",
            payload=MappingProxyType(body),
        )

    def _inquiry_change(
        self,
        conn: psycopg2.extensions.connection,
        channel: str,
        change_id: int,
        payload: dict[str, Any],
        *,
        deferred: bool,
    ) -> Change:
        if deferred:
            with conn.cursor() as cur:
                cur.execute(_INQUIRY_ROW, {"id": change_id})
                row = cur.fetchone()
            body: dict[str, Any] = _clean(row[0], _INQUIRY_KEYS) if row else {"id": change_id}
            body["status"] = payload.get("status", body.get("status"))
        else:
            body = _clean(payload, _INQUIRY_KEYS)
        stamp = body.get("created") if channel == "inquiry_created" else body.get("updated")
        return Change(
            channel=channel,
            entity="inquiry",
            id=change_id,
            status=body.get("status"),
            old_status=None,
            time=_parse_time(stamp) or _now(),
            source="reread" if deferred else "notify",
            payload=MappingProxyType(body),
        )

    def _execution_rows(
        self, conn: psycopg2.extensions.connection, ids: Iterable[int]
    ) -> dict[int, dict[str, Any]]:
        with conn.cursor() as cur:
            cur.execute(_EXECUTION_ROWS, {"ids": sorted(set(ids))})
            return {int(i): _clean(body, _EXECUTION_KEYS) for i, body in cur.fetchall()}

    def _transition_time(
        self, conn: psycopg2.extensions.connection, change_id: int, old: Any, status: Any
    ) -> tuple[bool, dt.datetime | None]:
        """The history time of a compact transition (whether the history has such moves,
        and the time of the earliest whose notification has not come yet, if any).

        Notifications come in commit order, so the earliest move old -> new of this
        execution not yet notified is this one; when every such move is accounted for,
        the backfill delivered it (the history shows it before the notification came).
        """
        with conn.cursor() as cur:
            cur.execute(
                _TRANSITION_TIMES,
                {"id": change_id, "since": self._forgotten, "status": status, "old": old},
            )
            times: list[dt.datetime] = [row[0] for row in cur.fetchall()]
        for when in times:
            if ("execution", change_id, when, old, status) not in self._notified:
                return True, when
        return bool(times), None

    # -- delivery, backfill, dedupe --------------------------------------------------

    def _remember(self, keys: set[Key], key: Key, when: dt.datetime) -> None:
        if key not in keys:
            keys.add(key)
            # A creation may carry an explicit (old) time: keep it as long as its peers.
            heapq.heappush(self._by_time, (max(when, self._watermark), next(self._seq), key))

    def _deliver(self, change: Change) -> None:
        self._remember(self._delivered, change.key, change.time)
        self._watermark = max(self._watermark, change.time)
        self.delivered += 1
        if len(self._by_time) > 8192:
            self._forget()
        if self.on_change is None:
            self.changes.put(change)
            return
        try:
            self.on_change(change)
        except Exception:
            log.exception("the listener's on_change callback failed on %r", change)

    def _forget(self) -> None:
        """Drop the dedupe keys older than any backfill can reach again."""
        cutoff = self._watermark - 2 * self.overlap
        if cutoff <= self._forgotten:
            return
        self._forgotten = cutoff
        while self._by_time and self._by_time[0][0] < cutoff:
            _, _, key = heapq.heappop(self._by_time)
            self._delivered.discard(key)
            self._notified.discard(key)

    def _backfill(self, conn: psycopg2.extensions.connection) -> None:
        """Deliver what was recorded since the last change seen (minus the overlap) and
        not delivered yet: the notifications lost while the connection was down."""
        self._forget()
        since = max(self._watermark - self.overlap, self._floor)
        with conn.cursor() as cur:
            cur.execute(_HISTORY, {"since": since})
            history = cur.fetchall()
            inquiries: list[Any] = []
            if any(c in INQUIRY_CHANNELS for c in self.channels):
                cur.execute(_INQUIRIES_SINCE, {"since": since})
                inquiries = [row[0] for row in cur.fetchall()]
        rows = self._execution_rows(conn, {row[2] for row in history}) if history else {}
        found: list[Change] = []
        for when, operation, entity_id, old, status in history:
            channel = "execution_created" if operation == "INSERT" else "execution_status_changed"
            if channel not in self.channels:
                continue
            body = {**rows.get(entity_id, {"id": entity_id}), "status": status}
            if operation != "INSERT":
                body["old_status"] = old
            found.append(
                Change(
                    channel=channel,
                    entity="execution",
                    id=entity_id,
                    status=status,
                    old_status=None if operation == "INSERT" else old,
                    time=when,
                    action_ref=body.get("action_ref"),
                    source="backfill",
                    payload=MappingProxyType(body),
                )
            )
        for inquiry in inquiries:
            found.extend(self._inquiry_backfill(_clean(inquiry, _INQUIRY_KEYS), since))
        found.sort(key=lambda c: c.time)  # stable: ties keep the history's order
        for change in found:
            key = change.key
            if change.time < self._listening_since:
                # Committed before this LISTEN (but for a transaction that straddles
                # it): no notification of it will come on this connection.
                self._remember(self._notified, key, change.time)
            if key not in self._delivered:
                self._deliver(change)
        log.info("the listener backfilled from %s: %d changes recorded", since, len(found))

    def _inquiry_backfill(self, body: dict[str, Any], since: dt.datetime) -> list[Change]:
        body = {"entity_type": "inquiry", "entity_id": body.get("id"), **body}
        out: list[Change] = []
        created, updated = _parse_time(body.get("created")), _parse_time(body.get("updated"))
        channel_of_status = _INQUIRY_CHANNEL_OF_STATUS.get(str(body.get("status")))
        if created is not None and created >= since and "inquiry_created" in self.channels:
            out.append(
                Change(
                    channel="inquiry_created",
                    entity="inquiry",
                    id=int(body["id"]),
                    status="pending",
                    old_status=None,
                    time=created,
                    source="backfill",
                    payload=MappingProxyType({**body, "status": "pending"}),
                )
            )
        if (
            channel_of_status in self.channels
            and channel_of_status is not None
            and updated is not None
            and updated >= since
        ):
            out.append(
                Change(
                    channel=channel_of_status,
                    entity="inquiry",
                    id=int(body["id"]),
                    status=body.get("status"),
                    old_status=None,
                    time=updated,
                    source="backfill",
                    payload=MappingProxyType(body),
                )
            )
        return out
