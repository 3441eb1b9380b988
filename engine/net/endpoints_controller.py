"""The Endpoints controller: follows Services, pods and Endpoints through the store's watch and
keeps one Endpoints object per Service that selects pods (engine/net/endpoints.py says what it
holds), writing only when that changes; it removes the Endpoints it made once its Service is
gone or stops selecting, and leaves alone those a user writes for a Service with no selector."""

from __future__ import annotations

import logging
from typing import Any

from engine.clock import Clock, utcnow
from engine.controllers.loop import MAX_BACKOFF_S, KeyedLoop
from engine.errors import AlreadyExistsError, ConflictError, NotFoundError
from engine.events import EventRecorder
from engine.net.endpoints import CONTROLLER, MANAGED_BY, endpoints_for, managed, selects

log = logging.getLogger("tugboat.endpoints")

COMPONENT = "endpoint-controller"
RETRY_S = 0.5  # after a write that lost a race: the newer object's event syncs it too

Obj = dict[str, Any]


def _key(obj: Obj) -> str:
    return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"


def _same(current: Obj, desired: Obj) -> bool:
    meta, want = current.get("metadata") or {}, desired["metadata"]
    return current.get("subsets") == desired.get("subsets") and meta.get("labels") == want["labels"] \
        and (meta.get("annotations") or None) == want.get("annotations")


class EndpointsController(KeyedLoop):
    name = COMPONENT

    def __init__(self, store: Any, *, clock: Clock = utcnow) -> None:
        super().__init__(store)
        self.events = EventRecorder(store, component=COMPONENT, clock=clock)
        self._services: dict[str, Obj] = {}  # ns/name -> Service
        self._endpoints: dict[str, Obj] = {}  # ns/name -> Endpoints
        self._pods: dict[str, Obj] = {}  # uid -> pod
        self._by_ns: dict[str, set[str]] = {}  # namespace -> its pods' uids

    async def start(self) -> None:
        self.start_following(("services", self._on_service), ("pods", self._on_pod),
                             ("endpoints", self._on_endpoints))

    # ----- the caches --------------------------------------------------------------------------

    def _on_service(self, kind: str, svc: Obj) -> None:
        if kind == "RELIST":
            self._services = {}
            return
        key = _key(svc)
        if kind == "DELETED":
            self._services.pop(key, None)
        else:
            self._services[key] = svc
        self.enqueue(key)

    def _on_endpoints(self, kind: str, ep: Obj) -> None:
        if kind == "RELIST":
            self._endpoints = {}
            return
        key = _key(ep)
        if kind == "DELETED":
            self._endpoints.pop(key, None)
        else:
            self._endpoints[key] = ep
        if key in self._services or kind != "DELETED":
            self.enqueue(key)  # someone else wrote it: put back what the pods say

    def _on_pod(self, kind: str, pod: Obj) -> None:
        if kind == "RELIST":
            self._pods, self._by_ns = {}, {}
            return
        meta = pod["metadata"]
        uid, ns = meta["uid"], str(meta.get("namespace"))
        before = self._pods.get(uid)
        if kind == "DELETED":
            self._pods.pop(uid, None)
            self._by_ns.get(ns, set()).discard(uid)
        else:
            self._pods[uid] = pod
            self._by_ns.setdefault(ns, set()).add(uid)
        for key, svc in self._services.items():
            if svc["metadata"].get("namespace") == ns and (
                    selects(svc, pod) or (before is not None and selects(svc, before))):
                self.enqueue(key)

    # ----- one sync ----------------------------------------------------------------------------

    def sync_keys(self, keys: list[str]) -> None:
        self.sync_each(keys, self.sync)

    def on_failure(self, key: str, exc: Exception, retry_in: float) -> None:
        svc = self._services.get(key)
        if svc is not None:
            self.events.record(svc, "Warning", "FailedToUpdateEndpoint",
                               f"the endpoint controller cannot write this Service's Endpoints "
                               f"({type(exc).__name__}: {exc}); it tries again, less often each "
                               f"time (at most every {MAX_BACKOFF_S:g}s)")

    def sync(self, key: str) -> Obj | None:
        """Write the Service's Endpoints if they changed; the object now stored (None: none)."""
        svc, current = self._services.get(key), self._endpoints.get(key)
        if svc is None or not managed(svc):
            ours = current is not None and (current["metadata"].get("labels") or {}).get(MANAGED_BY)
            if current is not None and ours == CONTROLLER:
                ns, name = key.split("/", 1)
                try:
                    self.store.delete("endpoints", ns, name, uid=current["metadata"]["uid"])
                except (NotFoundError, ConflictError):
                    pass
                return None
            return current
        ns = str(svc["metadata"].get("namespace"))
        pods = [self._pods[uid] for uid in self._by_ns.get(ns, ())]
        desired = endpoints_for(svc, pods)
        try:
            if current is None:
                stored = self.store.create("endpoints", desired)
            elif _same(current, desired):
                return current
            else:
                meta = {**current["metadata"], "labels": desired["metadata"]["labels"]}
                meta.pop("annotations", None)
                if desired["metadata"].get("annotations"):
                    meta["annotations"] = desired["metadata"]["annotations"]
                obj = {**desired, "metadata": meta}
                stored = self.store.update("endpoints", obj)
        except (AlreadyExistsError, ConflictError, NotFoundError):
            self.after(key, RETRY_S)
            return current
        self._endpoints[key] = stored
        return stored
