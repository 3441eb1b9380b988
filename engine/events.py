"""Event objects: what the scheduler, runtime and controllers record about an object.

Repeats of the same reason and message for the same object are folded into one Event
whose `count` and `lastTimestamp` grow, as Kubernetes' event recorder does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol

from engine.clock import Clock, format_time, utcnow
from engine.errors import NotFoundError


class _Store(Protocol):
    def create(self, resource: str, obj: dict[str, Any], *, namespaced: bool = True) -> dict[str, Any]: ...
    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]: ...
    def update(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]: ...
    def apply_all(self, ops: Any) -> Any: ...


class EventRecorder:
    def __init__(self, store: _Store, *, component: str, clock: Clock = utcnow) -> None:
        self._store = store
        self._component = component
        self._clock = clock
        self._seen: dict[tuple[str, str, str, str], tuple[str, str]] = {}

    def record(self, obj: dict[str, Any], kind: str, reason: str, message: str, *,
               host: str | None = None, component: str | None = None,
               when: str | None = None) -> None:
        """Record `reason`/`message` (type `kind`: Normal or Warning) about `obj`."""
        meta = obj.get("metadata") or {}
        now = when or format_time(self._clock())
        key = (str(meta.get("uid")), kind, reason, message)
        again = self._again(key, now)
        if again is not None:
            self._store.update("events", again)
            return
        event = self._new(obj, kind, reason, message, now, host=host, component=component)
        self._store.create("events", event)
        self._remember(key, event)

    def _again(self, key: tuple[str, str, str, str], now: str) -> dict[str, Any] | None:
        """The stored event recorded before under `key`, counted once more at `now` (to be
        written back); None when there is none (any more)."""
        if key not in self._seen:
            return None
        ns, name = self._seen[key]
        try:
            event = self._store.get("events", ns, name)
        except NotFoundError:
            del self._seen[key]
            return None
        event["count"] = int(event.get("count", 1)) + 1
        event["lastTimestamp"] = now
        event["metadata"].pop("resourceVersion", None)
        return event

    def record_all(self, items: list[tuple[dict[str, Any], str, str, str]]) -> None:
        """Record many (obj, type, reason, message) at once: new events in one store transaction."""
        now = format_time(self._clock())
        new: list[tuple[tuple[str, str, str, str], dict[str, Any]]] = []
        for obj, kind, reason, message in items:
            key = (str((obj.get("metadata") or {}).get("uid")), kind, reason, message)
            if key in self._seen:
                self.record(obj, kind, reason, message, when=now)
            else:
                new.append((key, self._new(obj, kind, reason, message, now)))
        if new:
            self._store.apply_all([("create", "events", event) for _, event in new])
        for key, event in new:
            self._remember(key, event)

    def ops(self, obj: dict[str, Any], items: list[tuple[str, str, str, str | None]], *,
            host: str | None = None) -> tuple[list[tuple[str, str, dict[str, Any]]], Callable[[], None]]:
        """The store ops that record (type, reason, message, time) items about `obj`, for a caller
        to commit with its own writes in one transaction (Store.apply_all), and what to call once
        they are committed."""
        ops: list[tuple[str, str, dict[str, Any]]] = []
        made: list[tuple[tuple[str, str, str, str], dict[str, Any]]] = []
        for kind, reason, message, when in items:
            now = when or format_time(self._clock())
            key = (str((obj.get("metadata") or {}).get("uid")), kind, reason, message)
            stored = self._again(key, now)
            if stored is not None:
                ops.append(("update", "events", stored))
                continue
            again = next((e for k, e in made if k == key), None)
            if again is not None:  # twice in this batch: one event, counted twice
                again["count"] = int(again.get("count", 1)) + 1
                again["lastTimestamp"] = now
                continue
            event = self._new(obj, kind, reason, message, now, host=host)
            ops.append(("create", "events", event))
            made.append((key, event))

        def committed() -> None:
            for key, event in made:
                self._remember(key, event)
        return ops, committed

    def _new(self, obj: dict[str, Any], kind: str, reason: str, message: str, now: str, *,
             host: str | None = None, component: str | None = None) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta.get('name', 'unknown')}.{uuid.uuid4().hex[:16]}",
                         "namespace": meta.get("namespace") or "default"},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "namespace": meta.get("namespace"),
                "name": meta.get("name"),
                "uid": meta.get("uid"),
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": component or self._component,
                       **({"host": host} if host else {})},
            "reportingComponent": component or self._component,
        }

    def _remember(self, key: tuple[str, str, str, str], event: dict[str, Any]) -> None:
        if len(self._seen) > 10000:
            self._seen.clear()
        self._seen[key] = (event["metadata"]["namespace"], event["metadata"]["name"])
