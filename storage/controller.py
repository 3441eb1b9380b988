"""The storage controller: follows claims, volumes, storage classes and the pods that use
claims through the store's watch, and carries out storage/plan.py for each claim and volume
(binding, the local-path provisioner, phases, reclaim, protection finalizers). A Delete reclaim
removes the volume's directory on its node (through `remove`, the runtime's) before the
PersistentVolume goes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from engine.clock import Clock, utcnow
from engine.controllers.loop import KeyedLoop, backoff
from engine.errors import AlreadyExistsError, ConflictError, NotFoundError
from engine.events import EventRecorder
from storage.claims import Claims, claim_names
from storage.plan import Plan, plan_claim, plan_volume, reclaim_target

log = logging.getLogger("tugboat.storage")

COMPONENT = "persistentvolume-controller"
Obj = dict[str, Any]
Remove = Callable[[str, str, str], Awaitable[bool]]  # (node, directory, base) -> it was there


class StorageController(KeyedLoop):
    name = COMPONENT

    def __init__(self, store: Any, *, base: str, remove: Remove | None, clock: Clock = utcnow) -> None:
        super().__init__(store)
        self.base = base  # where local-path volumes are made, on each node
        self.remove = remove  # None without a Ray cluster: no node holds a directory then
        self.clock = clock
        self.events = EventRecorder(store, component=COMPONENT, clock=clock)
        self._pvcs: dict[tuple[str, str], Obj] = {}
        self._pvs: dict[str, Obj] = {}
        self._classes: dict[str, Obj] = {}
        self._pods: dict[str, Obj] = {}  # uid -> pod, only those that name claims
        self._reclaiming: dict[str, asyncio.Task[None]] = {}  # volume name -> its Delete reclaim
        self._reclaim_failures: dict[str, int] = {}

    async def start(self) -> None:
        self.start_following(("storageclasses", self._on_class), ("persistentvolumes", self._on_volume),
                             ("persistentvolumeclaims", self._on_claim), ("pods", self._on_pod))

    async def close(self) -> None:
        for task in self._reclaiming.values():
            task.cancel()
        await asyncio.gather(*self._reclaiming.values(), return_exceptions=True)
        await super().close()

    # ----- the caches ---------------------------------------------------------------------------
    def _on_class(self, kind: str, sc: Obj) -> None:
        if kind == "RELIST":
            self._classes = {}
            return
        if kind == "DELETED":
            self._classes.pop(sc["metadata"]["name"], None)
        else:
            self._classes[sc["metadata"]["name"]] = sc
        for key, pvc in self._pvcs.items():  # a class can unblock a waiting claim
            if not (pvc.get("spec") or {}).get("volumeName"):
                self.enqueue(_claim_key(*key))

    def _on_volume(self, kind: str, pv: Obj) -> None:
        if kind == "RELIST":
            self._pvs = {}
            return
        name = pv["metadata"]["name"]
        if kind == "DELETED":
            self._pvs.pop(name, None)
            self.forget(f"v/{name}")
        else:
            self._pvs[name] = pv
            self.enqueue(f"v/{name}")
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("name"):
            self.enqueue(_claim_key(str(ref.get("namespace") or ""), str(ref["name"])))
        for key, pvc in self._pvcs.items():  # a new free volume can serve a waiting claim
            if kind != "DELETED" and not (pvc.get("spec") or {}).get("volumeName"):
                self.enqueue(_claim_key(*key))

    def _on_claim(self, kind: str, pvc: Obj) -> None:
        if kind == "RELIST":
            self._pvcs = {}
            return
        key = (pvc["metadata"].get("namespace") or "", pvc["metadata"]["name"])
        if kind == "DELETED":
            self._pvcs.pop(key, None)
            self.forget(_claim_key(*key))
        else:
            self._pvcs[key] = pvc
            self.enqueue(_claim_key(*key))
        volume = (pvc.get("spec") or {}).get("volumeName")
        if volume:
            self.enqueue(f"v/{volume}")

    def _on_pod(self, kind: str, pod: Obj) -> None:
        if kind == "RELIST":
            self._pods = {}
            return
        names = claim_names(pod)
        uid = pod["metadata"]["uid"]
        before = self._pods.pop(uid, None)
        if names and kind != "DELETED":
            self._pods[uid] = pod
        ns = pod["metadata"].get("namespace") or ""
        for name in {*names, *(claim_names(before) if before else [])}:
            self.enqueue(_claim_key(ns, name))  # placed, ended or gone: its claims may move

    # ----- syncing ------------------------------------------------------------------------------
    def sync_keys(self, keys: list[str]) -> None:
        if not self.whole:
            for key in keys:
                self.after(key, 0.5)  # a partial cache would look like claims nobody uses
            return
        claims = Claims.of(list(self._pvcs.values()), list(self._pvs.values()), list(self._classes.values()),
                           pods=self._pods.values())
        self.sync_each(keys, lambda key: self._sync(key, claims))

    def _sync(self, key: str, claims: Claims) -> None:
        kind, _, rest = key.partition("/")
        if kind == "c":
            ns, _, name = rest.partition("/")
            pvc = self._pvcs.get((ns, name))
            if pvc is not None:
                self._carry_out(key, plan_claim(pvc, claims, self.base), pvc=pvc)
        else:
            pv = self._pvs.get(rest)
            if pv is not None:
                self._carry_out(key, plan_volume(pv, claims), pv=pv)

    def _carry_out(self, key: str, plan: Plan, *, pvc: Obj | None = None, pv: Obj | None = None) -> None:
        try:
            if plan.create is not None:
                with contextlib.suppress(AlreadyExistsError):  # made before a crash: bind to it
                    made = self.store.create("persistentvolumes", plan.create, namespaced=False)
                    self._pvs[made["metadata"]["name"]] = made
                pv = self._pvs.get(plan.create["metadata"]["name"]) or \
                    self.store.get("persistentvolumes", None, plan.create["metadata"]["name"])
            if plan.volume is not None:
                pv = self._pvs[plan.volume["metadata"]["name"]] = self.store.update("persistentvolumes",
                                                                                    plan.volume)
            if plan.volume_status is not None and _live(pv):
                assert pv is not None
                pv = self._pvs[pv["metadata"]["name"]] = self.store.update_status(
                    "persistentvolumes", {**pv, "status": plan.volume_status})
            if plan.claim is not None:
                pvc = self.store.update("persistentvolumeclaims", plan.claim)
            if plan.claim_status is not None and _live(pvc):
                assert pvc is not None
                self.store.update_status("persistentvolumeclaims", {**pvc, "status": plan.claim_status})
        except (ConflictError, NotFoundError):
            self.after(key, 0.2)  # changed meanwhile: its event brings the newer one
        self.events.record_all(plan.events)
        if plan.reclaim is not None:
            self._start_reclaim(plan.reclaim)

    # ----- Delete reclaim -----------------------------------------------------------------------
    def _start_reclaim(self, pv: Obj) -> None:
        name = pv["metadata"]["name"]
        if name not in self._reclaiming:
            self._reclaiming[name] = asyncio.create_task(self._reclaim(pv), name=f"reclaim-{name}")

    async def _reclaim(self, pv: Obj) -> None:
        """Remove the volume's directory on its node, then the PersistentVolume."""
        name = pv["metadata"]["name"]
        try:
            target = reclaim_target(pv)
            if target is not None and self.remove is not None:
                await self.remove(target[0], target[1], self.base)
            with contextlib.suppress(NotFoundError):
                self.store.delete("persistentvolumes", None, name)
            self._reclaim_failures.pop(name, None)
        except Exception as exc:  # noqa: BLE001 - said on the volume, tried again later
            tries = self._reclaim_failures[name] = self._reclaim_failures.get(name, 0) + 1
            log.warning("volume %s: removing its directory failed (%d in a row): %s", name, tries, exc)
            self.events.record(pv, "Warning", "VolumeFailedDelete", f"{exc}")
            self.after(f"v/{name}", backoff(tries))
        finally:
            self._reclaiming.pop(name, None)


def _live(obj: Obj | None) -> bool:
    return obj is not None and not obj["metadata"].get("deletionTimestamp")


def _claim_key(namespace: str, name: str) -> str:
    return f"c/{namespace}/{name}"
