"""Watch streams: every change after a resourceVersion, in order, read from the events table.

Each watcher reads the events table from its own position, so a slow watcher costs the
writers nothing and no queue grows; writers only bump a counter and wake the waiters.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import BadRequestError, GoneError
from engine.labels import FieldSelector, Selector
from engine.store.objects import Obj, loads, metadata
from engine.store.txn import EventType

Change = tuple[str, EventType, Obj]  # (resource, type, object)
Snapshot = Callable[["WatchFilter"], list[tuple[str, Obj]]]

BATCH = 500  # events read per query; bounds what a watcher holds in memory


@dataclass(frozen=True)
class WatchFilter:
    """Which changes a watcher sees: a resource (None: all), a namespace, selectors."""

    resource: str | None = None
    namespace: str | None = None
    labels: Selector | None = None
    fields: FieldSelector | None = None

    def selects(self, obj: Obj) -> bool:
        if self.labels is not None and not self.labels.matches(metadata(obj).get("labels")):
            return False
        return self.fields is None or self.fields.matches(obj)

    def by_selector(self) -> bool:
        return not ((self.labels is None or self.labels.empty())
                    and (self.fields is None or self.fields.empty()))

    def translate(self, kind: EventType, obj: Obj, prev: Obj | None) -> EventType | None:
        """The event this watcher sees: objects entering or leaving the selection are
        ADDED or DELETED, as Kubernetes reports them; None when it sees nothing."""
        if not self.by_selector():
            return kind
        now = self.selects(obj)
        if kind is not EventType.MODIFIED:
            return kind if now else None
        before = prev is not None and self.selects(prev)
        if now:
            return EventType.MODIFIED if before else EventType.ADDED
        return EventType.DELETED if before else None


def parse_since(since: str | None) -> int | None:
    """None for "list first" (None or "0"), else the revision to continue after."""
    if since is None or since in ("", "0"):
        return None
    try:
        value = int(since)
    except ValueError:
        raise BadRequestError(f'resourceVersion: invalid value "{since}": '
                              "expected a number") from None
    if value < 0:
        raise BadRequestError(f'resourceVersion: invalid value "{since}": must not be negative')
    return value


class EventLog:
    """The read side of the events table and the signal that wakes watchers after a write."""

    def __init__(self, conn: sqlite3.Connection, *, rv: int, compacted: int) -> None:
        self._conn = conn
        self.rv = rv
        self.compacted = compacted
        self.closed = False
        self._version = 0
        self._waiters: set[asyncio.Future[None]] = set()

    def committed(self, *, rv: int, compacted: int) -> None:
        """Record a commit and wake every waiting watcher (safe with no loop running)."""
        self.rv = rv
        self.compacted = compacted
        self._notify()

    def close(self) -> None:
        self.closed = True
        self._notify()

    def check(self, since: int) -> None:
        if since < self.compacted:
            raise GoneError(f"too old resource version: {since} ({self.compacted})")

    def read(self, flt: WatchFilter, after: int
             ) -> list[tuple[int, str, str, str, str | None]]:
        """Committed events after `after` (up to `rv`, so never a transaction in flight)."""
        sql = "SELECT rv, resource, type, data, prev FROM events WHERE rv > ? AND rv <= ?"
        args: list[Any] = [after, self.rv]
        if flt.resource is not None:
            sql += " AND resource = ?"
            args.append(flt.resource)
        if flt.namespace is not None:
            sql += " AND namespace = ?"
            args.append(flt.namespace)
        args.append(BATCH)
        return self._conn.execute(sql + " ORDER BY rv LIMIT ?", args).fetchall()

    @property
    def version(self) -> int:
        """Bumped by every commit; a waiter compares it with what it saw before reading."""
        return self._version

    async def wait(self, seen: int) -> None:
        """Return once a commit happened after `version` was `seen` (or the store closed)."""
        if self._version != seen or self.closed:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            await fut
        finally:
            self._waiters.discard(fut)

    def _notify(self) -> None:
        self._version += 1
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            _wake(fut)


class WatchStream:
    """An async iterator of changes from one position; it keeps its place if a wait for the
    next change is cancelled (e.g. by a timeout), so a caller may poll it with `wait_for`."""

    def __init__(self, log: EventLog, flt: WatchFilter, since: int | None,
                 snapshot: Snapshot) -> None:
        self._log = log
        self._flt = flt
        self._pending: deque[Change] = deque()
        if since is None:
            self._position = log.rv
            self._pending.extend((r, EventType.ADDED, obj) for r, obj in snapshot(flt))
        else:
            log.check(since)
            self._position = since
        self._closed = False

    def __aiter__(self) -> WatchStream:
        return self

    async def __anext__(self) -> Change:
        while not self._pending:
            if self._closed or self._log.closed:
                raise StopAsyncIteration
            seen = self._log.version
            if not self._fill():
                await self._log.wait(seen)
        return self._pending.popleft()

    async def aclose(self) -> None:
        self._closed = True
        self._pending.clear()

    def _fill(self) -> bool:
        """Read the next batch of events; False when there was none to read."""
        self._log.check(self._position)
        head = self._log.rv
        rows = self._log.read(self._flt, self._position)
        for rv, resource, kind, data, prev in rows:
            self._position = rv
            change = self._change(resource, EventType(kind), data, prev)
            if change is not None:
                self._pending.append(change)
        if len(rows) < BATCH:
            self._position = max(self._position, head)  # every event up to head was read
        return bool(rows)

    def _change(self, resource: str, kind: EventType, data: str,
                prev: str | None) -> Change | None:
        obj = loads(data)
        before = loads(prev) if prev is not None and self._flt.by_selector() else None
        seen_as = self._flt.translate(kind, obj, before)
        return (resource, seen_as, obj) if seen_as is not None else None


class ResourceWatch:
    """A WatchStream of one resource, yielding (type, object)."""

    def __init__(self, stream: WatchStream) -> None:
        self._stream = stream

    def __aiter__(self) -> ResourceWatch:
        return self

    async def __anext__(self) -> tuple[EventType, Obj]:
        _, kind, obj = await self._stream.__anext__()
        return kind, obj

    async def aclose(self) -> None:
        await self._stream.aclose()


def _wake(fut: asyncio.Future[None]) -> None:
    loop = fut.get_loop()
    if loop.is_closed():
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _resolve(fut)
    else:
        loop.call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
