"""The Endpoints controller: follows Services, pods, Endpoints, EndpointSlices and nodes (for
their zones) through the store's watch and keeps, per Service that selects pods, one Endpoints
object (engine/net/endpoints.py says what it holds) and its EndpointSlices (planned by
engine/net/endpointslices.py), writing only what changes; it removes the Endpoints and slices
it made once their Service is gone or stops selecting, and leaves alone those a user writes
(Endpoints of a Service with no selector, slices without its managed-by label)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from engine.api.checks import d
from engine.clock import Clock, utcnow
from engine.controllers.loop import MAX_BACKOFF_S, KeyedLoop
from engine.errors import AlreadyExistsError, ConflictError, NotFoundError
from engine.events import EventRecorder
from engine.net import endpointslices as slices
from engine.net.endpoints import (
    CONTROLLER,
    MANAGED_BY,
    Member,
    endpoints_of,
    managed,
    members,
    node_name,
    selects,
)

log = logging.getLogger("tugboat.endpoints")

COMPONENT = "endpoint-controller"
RETRY_S = 0.5  # after a write that lost a race: the newer object's event syncs it too

Obj = dict[str, Any]


def _key(obj: Obj) -> str:
    return f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"


def _newer(obj: Obj, than: Obj) -> bool:
    """Whether `obj` is a later version than `than` (resourceVersions count up); True where
    either cannot be read."""
    try:
        return int(obj["metadata"]["resourceVersion"]) > int(than["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return True


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
        self._slices: dict[str, dict[str, Obj]] = {}  # ns/service -> uid -> a slice it manages
        self._slice_keys: dict[str, str] = {}  # slice uid -> ns/service
        self._zones: dict[str, str] = {}  # node name -> its topology.kubernetes.io/zone

    async def start(self) -> None:
        self.start_following(("services", self._on_service), ("pods", self._on_pod),
                             ("endpoints", self._on_endpoints), ("endpointslices", self._on_slice),
                             ("nodes", self._on_node))

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
        held = self._endpoints.get(key)
        if kind == "DELETED":
            self._endpoints.pop(key, None)
        elif held is not None and held["metadata"].get("uid") == ep["metadata"].get("uid") \
                and not _newer(ep, held):
            return  # the echo of this controller's own write, or an event from before it
        else:
            self._endpoints[key] = ep
        if key in self._services or kind != "DELETED":
            self.enqueue(key)  # someone else wrote it: put back what the pods say

    def _on_slice(self, kind: str, eps: Obj) -> None:
        if kind == "RELIST":
            self._slices, self._slice_keys = {}, {}
            return
        meta = eps["metadata"]
        uid = str(meta["uid"])
        before = self._slice_keys.get(uid)
        held = self._slices.get(before, {}).get(uid) if before is not None else None
        if held is not None and kind != "DELETED" and not _newer(eps, held):
            return  # the echo of this controller's own write, or an event from before it
        service = slices.service_of(eps)
        key = f"{meta.get('namespace')}/{service}" if service is not None else None
        if before is not None:
            self._forget_slice(uid)
            self.enqueue(before)
        if kind != "DELETED" and key is not None and slices.ours(eps):
            self._remember_slice(key, eps)
            self.enqueue(key)  # someone else may have written it: put back what the pods say

    def _remember_slice(self, key: str, eps: Obj) -> None:
        uid = str(eps["metadata"]["uid"])
        self._slices.setdefault(key, {})[uid] = eps
        self._slice_keys[uid] = key

    def _forget_slice(self, uid: str) -> None:
        key = self._slice_keys.pop(uid, None)
        if key is not None:
            held = self._slices.get(key, {})
            held.pop(uid, None)
            if not held:
                self._slices.pop(key, None)

    def _on_node(self, kind: str, node: Obj) -> None:
        if kind == "RELIST":
            self._zones = {}
            return
        name = str(node["metadata"]["name"])
        zone = d(node["metadata"].get("labels")).get(slices.ZONE)
        zone = zone if isinstance(zone, str) and zone and kind != "DELETED" else None
        if self._zones.get(name) == zone:
            return
        if zone is None:
            self._zones.pop(name, None)
        else:
            self._zones[name] = zone
        for pod in self._pods.values():  # a zone changes rarely: look at every pod
            if node_name(pod) == name:
                self._enqueue_selecting(pod)

    def _enqueue_selecting(self, pod: Obj, before: Obj | None = None) -> None:
        ns = pod["metadata"].get("namespace")
        for key, svc in self._services.items():
            if svc["metadata"].get("namespace") == ns and (
                    selects(svc, pod) or (before is not None and selects(svc, before))):
                self.enqueue(key)

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
        self._enqueue_selecting(pod, before)

    # ----- one sync ----------------------------------------------------------------------------

    def sync_keys(self, keys: list[str]) -> None:
        self.sync_each(keys, self.sync)

    def on_failure(self, key: str, exc: Exception, retry_in: float) -> None:
        svc = self._services.get(key)
        if svc is not None:
            self.events.record(svc, "Warning", "FailedToUpdateEndpoint",
                               f"the endpoint controller cannot write this Service's Endpoints "
                               f"or EndpointSlices ({type(exc).__name__}: {exc}); it tries again, "
                               f"less often each time (at most every {MAX_BACKOFF_S:g}s)")

    def sync(self, key: str) -> Obj | None:
        """Write the Service's Endpoints and EndpointSlices where they changed; the Endpoints
        object now stored (None: none)."""
        svc = self._services.get(key)
        found = [] if svc is None else members(
            svc, [self._pods[uid] for uid in self._by_ns.get(str(svc["metadata"].get("namespace")), ())])
        stored = self._sync_endpoints(key, svc, found)
        self._sync_slices(key, svc, found)
        return stored

    def _sync_endpoints(self, key: str, svc: Obj | None, found: list[Member]) -> Obj | None:
        current = self._endpoints.get(key)
        if svc is None or not managed(svc):
            ours = current is not None and d(current["metadata"].get("labels")).get(MANAGED_BY)
            if current is not None and ours == CONTROLLER:
                ns, name = key.split("/", 1)
                try:
                    self.store.delete("endpoints", ns, name, uid=current["metadata"]["uid"])
                except (NotFoundError, ConflictError):
                    pass
                return None
            return current
        desired = endpoints_of(svc, found)
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

    def _sync_slices(self, key: str, svc: Obj | None, found: list[Member]) -> None:
        """Apply the slice plan; a write that lost a race stops the pass and tries again soon
        (the newer object's event brings the cache up to date)."""
        held = list(self._slices.get(key, {}).values())
        ns = key.split("/", 1)[0]
        for action in slices.plan_of(svc, found, held, zones=self._zones):
            if isinstance(action, slices.Delete):
                self._forget_slice(action.uid)
                with contextlib.suppress(NotFoundError, ConflictError):  # gone, or not that one
                    self.store.delete("endpointslices", ns, action.name, uid=action.uid)
                continue
            try:
                write = self.store.create if isinstance(action, slices.Create) else self.store.update
                stored = write("endpointslices", action.slice)
            except (AlreadyExistsError, ConflictError, NotFoundError):
                self.after(key, RETRY_S)
                return
            self._remember_slice(key, stored)
