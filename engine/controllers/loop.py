"""The loop that store-watching controllers share: follow resources (list, then watch; relist
after any failure), keep a set of keys to look at, wake on changes and on per-key timers,
and hand the keys over in one batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("tugboat.controllers")

RETRY_S = 0.5  # before a relist, and before a key whose sync failed is tried again

# (event type, object) for each change; ("LISTED", obj) for each object of a (re)list, after a
# ("RELIST", {}) that says the cache starts over.
Handler = Callable[[str, dict[str, Any]], None]


class KeyedLoop:
    """Subclasses call `follow` for each resource in `start` and implement `sync_keys`."""

    name = "controller"

    def __init__(self, store: Any) -> None:
        self.store = store
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def sync_keys(self, keys: list[str]) -> None:
        raise NotImplementedError

    def start_following(self, *handlers: tuple[str, Handler]) -> None:
        self._tasks = [asyncio.create_task(self._follow(resource, handle)) for resource, handle in handlers]
        self._tasks.append(asyncio.create_task(self._loop()))

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The loops this runs (for readiness: one that is done has stopped)."""
        return list(self._tasks)

    async def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def enqueue(self, key: str) -> None:
        self._dirty.add(key)
        self._wake.set()

    def after(self, key: str, seconds: float, *, since: float | None = None) -> None:
        """Look at `key` again `seconds` after `since` (a loop time; now when None), replacing
        any earlier timer for it."""
        loop = asyncio.get_running_loop()
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        start = loop.time() if since is None else since
        self._timers[key] = loop.call_at(max(start + seconds, loop.time()), self.enqueue, key)

    def forget(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    async def _follow(self, resource: str, handle: Handler) -> None:
        await follow(self.store, resource, handle, who=self.name)

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)  # let the watches deliver what is already there
            keys, self._dirty = sorted(self._dirty), set()
            try:
                self.sync_keys(keys)
            except Exception:  # noqa: BLE001 - the loop never dies
                log.exception("%s: sync failed", self.name)
                for key in keys:
                    self.after(key, RETRY_S)


async def follow(store: Any, resource: str, handle: Handler, *, who: str) -> None:
    """Hand every object of `resource` to `handle`, then every change, for ever; after a
    failure (a compacted watch, say) start over with a relist."""
    while True:
        try:
            items, rv = store.list(resource)
            handle("RELIST", {})
            for obj in items:
                handle("LISTED", obj)
            async for kind, obj in store.watch(resource, since=rv):
                handle(kind, obj)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - relist and go on
            log.exception("%s: %s watch failed; relisting", who, resource)
            await asyncio.sleep(RETRY_S)


async def run_every(period: float, step: Callable[[], Any], *, who: str) -> None:
    """Call `step` every `period` seconds for ever; a failing step is logged, the loop goes on."""
    while True:
        try:
            step()
        except Exception:  # noqa: BLE001 - the loop never dies
            log.exception("%s failed", who)
        await asyncio.sleep(period)
