"""One live cache per kind for the TUI: list, then watch from the list's resourceVersion
through engine/client.py; a 410 Gone or a lost connection relists, after a capped backoff.
Screens read frozen snapshots. No textual here: the app runs `Feed.run` in a thread worker
and is told of each batch of changes and of the connection's state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.client import Client
from engine.errors import GoneError, TugError

Obj = dict[str, Any]

FIRST_PAGE = 500  # objects listed first, drawn while the rest come (a screen shows some 60)
WATCH_SECONDS = 30  # the server ends each watch after this; the next starts from the last event
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0


def backoff(failures: int) -> float:
    """Seconds to wait before reconnecting after `failures` failures in a row (1, 2, ...)."""
    return min(FIRST_BACKOFF_S * 2 ** min(max(failures - 1, 0), 16), MAX_BACKOFF_S)


@dataclass(frozen=True)
class Snapshot:
    """What a feed holds at one moment: objects by uid, and whether it is live."""

    resource: str
    items: dict[str, Obj] = field(default_factory=dict)
    connected: bool = False
    error: str | None = None
    version: int = 0  # bumps with every change, so a screen can skip a redraw
    ordered: bool = False  # items are already in namespace, name order

    def sorted(self) -> list[Obj]:
        """The objects ordered as `kubectl get` orders them: namespace, then name."""
        if self.ordered:
            return list(self.items.values())
        return sorted(self.items.values(), key=_order)


def _order(obj: Obj) -> tuple[str, str]:
    return (obj["metadata"].get("namespace") or "", obj["metadata"].get("name") or "")


class Feed:
    """The live cache of one resource (all namespaces). `changed()` is called from the feed's
    thread after each event and whenever the connection's state changes; it should only mark
    the screen dirty (a redraw takes `snapshot()`, which copies, at most a few times a second)."""

    def __init__(self, client: Client, resource: str, *,
                 changed: Callable[[], None] | None = None) -> None:
        self.client, self.resource = client, resource
        self._changed = changed
        self._lock = threading.Lock()
        self._items: dict[str, Obj] = {}
        self._connected = False
        self._error: str | None = None
        self._version = 0
        self._ordered = False  # _items is in namespace, name order (a list is; an add breaks it)
        self._snap: Snapshot | None = None  # the last snapshot, while nothing changed
        self._end_watch: Callable[[], None] | None = None
        self._stop = threading.Event()

    def close(self) -> None:
        """End the watch under way now (its thread then sees the stop it was given)."""
        end = self._end_watch
        if end is not None:
            end()

    def _opened(self, end: Callable[[], None]) -> None:
        self._end_watch = end
        if self._stop.is_set():  # closed while this watch was connecting
            end()

    def snapshot(self) -> Snapshot:
        """What the feed holds now: copied once per change, however often it is asked for;
        sorted in place once after objects were added, so a redraw does not sort them again."""
        with self._lock:
            if self._snap is None or self._snap.version != self._version:
                if not self._ordered:
                    self._items = dict(sorted(self._items.items(), key=lambda kv: _order(kv[1])))
                    self._ordered = True
                self._snap = Snapshot(self.resource, dict(self._items), self._connected, self._error,
                                      self._version, ordered=True)
            return self._snap

    @property
    def version(self) -> int:
        return self._version

    @property
    def connected(self) -> bool:
        """Listed whole and watching."""
        return self._connected

    def _update(self, *, items: dict[str, Obj] | None = None, connected: bool = True,
                error: str | None = None, event: tuple[str, Obj] | None = None) -> None:
        """A relist's `items` (in namespace, name order), an event, or the connection's state."""
        with self._lock:
            if items is not None:
                self._items, self._ordered = items, True
            if event is not None:
                kind, obj = event
                uid = (obj.get("metadata") or {}).get("uid")
                if kind == "DELETED":
                    self._items.pop(uid, None)
                elif kind in ("ADDED", "MODIFIED"):
                    if uid not in self._items:
                        self._ordered = False
                    self._items[uid] = obj
            self._connected, self._error = connected, error
            self._version += 1
        if self._changed is not None:
            self._changed()

    def run(self, stop: threading.Event) -> None:
        """List and watch until `stop` is set; never raises."""
        self._stop = stop
        failures = 0
        while not stop.is_set():
            try:
                listed = self._list()
                ordered = sorted(listed["items"], key=_order)  # here, not on the UI's thread
                items = {o["metadata"]["uid"]: o for o in ordered}
                rv = listed["metadata"].get("resourceVersion")
                self._update(items=items)
                failures = 0
                while not stop.is_set():
                    rv = self._watch(rv, stop)
            except GoneError:
                continue  # compacted: relist at once
            except (TugError, OSError, ValueError) as exc:
                if stop.is_set():
                    return
                failures += 1  # the last data stays on screen
                self._update(connected=False, error=str(exc) or type(exc).__name__)
                stop.wait(backoff(failures))

    def _list(self) -> Obj:
        """The whole list, in two pages: the first FIRST_PAGE objects are shown at once (the
        feed not yet connected), then the rest of the same snapshot comes in one answer."""
        first = self.client.list(self.resource, namespace=None, limit=FIRST_PAGE)
        token = (first.get("metadata") or {}).get("continue")
        if not token:
            return first
        self._update(items={o["metadata"]["uid"]: o for o in sorted(first["items"], key=_order)},
                     connected=False)
        rest = self.client.list(self.resource, namespace=None, continue_token=token)
        rest["items"] = first["items"] + rest["items"]
        return rest

    def _watch(self, rv: str | None, stop: threading.Event) -> str | None:
        """One watch from `rv` until the server ends it; the last resourceVersion seen."""
        for kind, obj in self.client.watch(self.resource, namespace=None, resource_version=rv,
                                           timeout_seconds=WATCH_SECONDS, timeout=WATCH_SECONDS + 30,
                                           on_open=self._opened):
            rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
            self._update(event=(kind, obj))
            if stop.is_set():
                break
        return rv
