"""The loop that store-watching controllers share: follow resources (list, then watch; relist
after any failure, discarding what a failed list had cached), keep a set of keys to look at,
wake on changes and on per-key timers, hand the keys over in one batch once every cache is
whole, and retry a key whose sync failed on its own, with capped exponential backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("tugboat.controllers")

RETRY_S = 0.5  # before a relist, and before a key whose sync failed is first tried again
MAX_BACKOFF_S = 60.0  # a key that keeps failing is tried again at most this far apart

# (event type, object) for each change; ("LISTED", obj) for each object of a (re)list, after a
# ("RELIST", {}) that says the cache starts over.
Handler = Callable[[str, dict[str, Any]], None]
# Told False when a resource's cache stops being whole (a failed list or watch), True when a
# list was handed over completely.
Synced = Callable[[bool], None]


def backoff(failures: int) -> float:
    """Seconds before the next try after `failures` failures in a row (1, 2, ...)."""
    return min(RETRY_S * 2 ** min(max(failures - 1, 0), 32), MAX_BACKOFF_S)


class KeyedLoop:
    """Subclasses call `follow` for each resource in `start` and implement `sync_keys`."""

    name = "controller"

    def __init__(self, store: Any) -> None:
        self.store = store
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._failures: dict[str, int] = {}  # key -> syncs failed in a row
        self._whole: dict[str, bool] = {}  # resource -> its cache holds a complete list

    def sync_keys(self, keys: list[str]) -> None:
        """Sync every key. Raising fails the batch: each key is then synced on its own, so a
        key that fails does not hold back the others."""
        raise NotImplementedError

    def on_failure(self, key: str, exc: Exception, retry_in: float) -> None:
        """A key's sync failed (already logged); subclasses may say so on the object."""

    def start_following(self, *handlers: tuple[str, Handler]) -> None:
        self._whole = {resource: False for resource, _ in handlers}
        self._tasks = [asyncio.create_task(self._follow(resource, handle)) for resource, handle in handlers]
        self._tasks.append(asyncio.create_task(self._loop()))

    @property
    def whole(self) -> bool:
        """Whether every followed resource's cache holds a complete list."""
        return all(self._whole.values())

    def failed(self, key: str, exc: Exception) -> float:
        """Count a failed sync of `key` and look at it again after its backoff (returned)."""
        tries = self._failures[key] = self._failures.get(key, 0) + 1
        wait = backoff(tries)
        log.error("%s: syncing %s failed (%d in a row; next try in %.1f s)", self.name, key, tries,
                  wait, exc_info=exc)
        self.after(key, wait)
        try:
            self.on_failure(key, exc, wait)
        except Exception:  # noqa: BLE001 - saying so must not fail the loop
            log.exception("%s: reporting the failure of %s failed", self.name, key)
        return wait

    def succeeded(self, key: str) -> None:
        """A sync of `key` went through: its backoff starts over."""
        self._failures.pop(key, None)

    def sync_each(self, keys: list[str], sync: Callable[[str], Any]) -> None:
        """`sync(key)` for every key, each failure isolated to its key (with its backoff)."""
        for key in keys:
            try:
                sync(key)
            except Exception as exc:  # noqa: BLE001 - one key never stops the others
                self.failed(key, exc)
            else:
                self.succeeded(key)

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
        def synced(whole: bool) -> None:
            self._whole[resource] = whole
            if whole:
                self._wake.set()

        await follow(self.store, resource, handle, who=self.name, synced=synced)

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)  # let the watches deliver what is already there
            if not self.whole:
                continue  # keys stay dirty: a partial cache would look like deleted objects
            keys, self._dirty = sorted(self._dirty), set()
            try:
                self.sync_keys(keys)
            except Exception as exc:  # noqa: BLE001 - the loop never dies
                if len(keys) == 1:
                    self.failed(keys[0], exc)
                    continue
                log.warning("%s: a batch of %d keys failed (%s); syncing each on its own",
                            self.name, len(keys), exc)
                self.sync_each(keys, lambda key: self.sync_keys([key]))
            else:
                for key in keys:
                    self.succeeded(key)


async def follow(store: Any, resource: str, handle: Handler, *, who: str,
                 synced: Synced | None = None) -> None:
    """Hand every object of `resource` to `handle`, then every change, for ever; after a
    failure (a compacted watch, a handler that threw) tell `synced(False)`, discard what was
    cached (a RELIST) and start over with a list, backing off while it keeps failing."""
    failures = 0
    while True:
        try:
            items, rv = store.list(resource)
            handle("RELIST", {})
            for obj in items:
                handle("LISTED", obj)
            if synced is not None:
                synced(True)
            async for kind, obj in store.watch(resource, since=rv):
                failures = 0
                handle(kind, obj)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - relist and go on
            failures += 1
            log.exception("%s: %s watch failed; relisting", who, resource)
            if synced is not None:
                synced(False)
            try:
                handle("RELIST", {})  # no half-filled cache stays behind
            except Exception:  # noqa: BLE001 - the next list starts over anyway
                log.exception("%s: clearing the %s cache failed", who, resource)
            await asyncio.sleep(backoff(failures))


async def run_every(period: float, step: Callable[[], Any], *, who: str) -> None:
    """Call `step` every `period` seconds for ever; a failing step is logged, the loop goes on."""
    while True:
        try:
            step()
        except Exception:  # noqa: BLE001 - the loop never dies
            log.exception("%s failed", who)
        await asyncio.sleep(period)
