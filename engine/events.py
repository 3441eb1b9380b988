"""Event objects: what the scheduler, runtime and controllers record about an object.

Repeats of the same reason and message for the same object are folded into one Event
whose `count` and `lastTimestamp` grow, as Kubernetes' event recorder does.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from engine.clock import Clock, format_time, utcnow
from engine.errors import NotFoundError


class _Store(Protocol):
    def create(self, resource: str, obj: dict[str, Any], *, namespaced: bool = True) -> dict[str, Any]: ...
    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]: ...
    def update(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]: ...


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
        namespace = meta.get("namespace") or "default"
        now = when or format_time(self._clock())
        key = (str(meta.get("uid")), kind, reason, message)
        if key in self._seen:
            ns, name = self._seen[key]
            try:
                event = self._store.get("events", ns, name)
            except NotFoundError:
                del self._seen[key]
            else:
                event["count"] = int(event.get("count", 1)) + 1
                event["lastTimestamp"] = now
                event["metadata"].pop("resourceVersion", None)
                self._store.update("events", event)
                return
        name = f"{meta.get('name', 'unknown')}.{uuid.uuid4().hex[:16]}"
        self._store.create("events", {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
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
        })
        if len(self._seen) > 10000:
            self._seen.clear()
        self._seen[key] = (namespace, name)
