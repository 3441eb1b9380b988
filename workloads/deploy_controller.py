"""The Deployment controller: follows Deployments, ReplicaSets and pods through the store's
watch, runs the pure planner (workloads/deployment.py) for each Deployment that changed, whose
ReplicaSets changed or whose timer came due, and writes the result: the new ReplicaSet, the
resized ones, the deleted ones, the revision, then status and events. The ReplicaSet
controller (workloads/rs_controller.py) makes and deletes the pods."""

from __future__ import annotations

import copy
import logging
from typing import Any

from engine.clock import Clock, utcnow
from engine.controllers.loop import MAX_BACKOFF_S, KeyedLoop
from engine.errors import AlreadyExistsError, ConflictError, NotFoundError, TugError
from engine.events import EventRecorder
from engine.labels import selector_from_label_selector
from workloads.deployment import REVISION, DeploymentPlan, find_new, plan, without_hash
from workloads.replicaset import active, controller_ref, owner_reference

log = logging.getLogger("tugboat.deployments")

COMPONENT = "deployment-controller"
RETRY_S = 1.0  # after a write that lost a race (the newer object's event comes too)
REQUEUE_SLACK_S = 0.05

Obj = dict[str, Any]


class DeploymentController(KeyedLoop):
    name = COMPONENT

    def __init__(self, store: Any, *, clock: Clock = utcnow) -> None:
        super().__init__(store)
        self.clock = clock
        self.events = EventRecorder(store, component=COMPONENT, clock=clock)
        self._deploys: dict[str, Obj] = {}  # uid -> Deployment
        self._sets: dict[str, Obj] = {}  # uid -> ReplicaSet (every one: orphans may be adopted)
        self._pods: dict[str, dict[str, Obj]] = {}  # ReplicaSet uid -> pod uid -> pod

    async def start(self) -> None:
        self.start_following(("deployments", self._on_deploy), ("replicasets", self._on_set),
                             ("pods", self._on_pod))

    # ----- the caches --------------------------------------------------------------------------

    def _on_deploy(self, kind: str, d: Obj) -> None:
        if kind == "RELIST":
            self._deploys = {}
            return
        uid = d["metadata"]["uid"]
        if kind == "DELETED":
            self._deploys.pop(uid, None)
            self.forget(uid)
            return
        self._deploys[uid] = d
        self.enqueue(uid)

    def _on_set(self, kind: str, rs: Obj) -> None:
        if kind == "RELIST":
            self._sets = {}
            return
        uid = rs["metadata"]["uid"]
        before = self._sets.get(uid)
        if kind == "DELETED":
            self._sets.pop(uid, None)
        else:
            self._sets[uid] = rs
        for key in self._owners(rs) | (self._owners(before) if before else set()):
            self.enqueue(key)

    def _owners(self, rs: Obj) -> set[str]:
        """The Deployments a ReplicaSet's change concerns: its controller, or (an orphan) those
        of its namespace that select it."""
        ref = controller_ref(rs)
        if ref is not None:
            mine = ref.get("kind") == "Deployment" and ref.get("uid") in self._deploys
            return {str(ref["uid"])} if mine else set()
        return {uid for uid, d in self._deploys.items() if _selects(d, rs)}

    def _on_pod(self, kind: str, pod: Obj) -> None:
        """Pods matter only to Recreate (no new pod before every old one is gone)."""
        if kind == "RELIST":
            self._pods = {}
            return
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        owner, uid = str(ref.get("uid")), pod["metadata"]["uid"]
        if kind == "DELETED" or not active(pod):
            self._pods.get(owner, {}).pop(uid, None)
        else:
            self._pods.setdefault(owner, {})[uid] = pod
        rs = self._sets.get(owner)
        if rs is not None and kind != "LISTED":
            for key in self._owners(rs):
                if _recreate(self._deploys[key]):
                    self.enqueue(key)

    # ----- one sync ----------------------------------------------------------------------------

    def sync_keys(self, keys: list[str]) -> None:
        self.sync_each(keys, self.sync)

    def on_failure(self, key: str, exc: Exception, retry_in: float) -> None:
        d = self._deploys.get(key)
        if d is not None:
            self.events.record(d, "Warning", "SyncFailed",
                               f"the deployment controller cannot sync this Deployment "
                               f"({type(exc).__name__}: {exc}); it tries again, less often each time "
                               f"(at most every {MAX_BACKOFF_S:g}s)")

    def _claim(self, d: Obj) -> list[Obj]:
        """The ReplicaSets `d` controls, orphans it selects adopted first."""
        uid, ns = d["metadata"]["uid"], d["metadata"].get("namespace")
        out = []
        for rs in list(self._sets.values()):
            if rs["metadata"].get("namespace") != ns:
                continue
            ref = controller_ref(rs)
            if ref is not None:
                if ref.get("uid") == uid:
                    out.append(rs)
                continue
            if d["metadata"].get("deletionTimestamp") or rs["metadata"].get("deletionTimestamp"):
                continue
            if _selects(d, rs):
                adopted = self._adopt(d, rs)
                if adopted is not None:
                    out.append(adopted)
        return out

    def _adopt(self, d: Obj, rs: Obj) -> Obj | None:
        cur = copy.deepcopy(rs)
        refs = cur["metadata"].get("ownerReferences") or []
        cur["metadata"]["ownerReferences"] = [*refs, owner_reference(d)]
        try:
            out: Obj = self.store.update("replicasets", cur)
        except (ConflictError, NotFoundError):
            return None
        self._sets[out["metadata"]["uid"]] = out
        return out

    def sync(self, uid: str) -> DeploymentPlan | None:
        d = self._deploys.get(uid)
        if d is None:
            return None
        sets = self._claim(d)
        new = find_new(d, sets)
        new_uid = new["metadata"]["uid"] if new is not None else None
        running = any(pods for rs_uid, pods in self._pods.items()
                      if rs_uid != new_uid and any(s["metadata"]["uid"] == rs_uid for s in sets))
        result = plan(d, sets, self.clock(), old_pods_running=running)
        retry = False
        if result.create is not None:
            retry |= not self._create(d, result.create)
        for rs in result.update:
            try:
                self._sets[rs["metadata"]["uid"]] = self.store.update("replicasets", rs)
            except (ConflictError, NotFoundError):
                retry = True
        for rs in result.delete:
            meta = rs["metadata"]
            try:
                self.store.delete("replicasets", meta["namespace"], meta["name"], uid=meta["uid"])
            except (ConflictError, NotFoundError):
                continue
        if result.revision is not None:
            retry |= not self._set_revision(uid, result.revision)
        d = self._deploys.get(uid, d)
        if not retry and result.status != (d.get("status") or {}):
            try:
                self._deploys[uid] = self.store.update_status("deployments", {**d, "status": result.status})
            except (ConflictError, NotFoundError):
                retry = True
        self.events.record_all([(d, kind, reason, message) for kind, reason, message in result.events])
        waits = [w for w in (result.requeue_after, RETRY_S if retry else None) if w is not None]
        if waits:
            self.after(uid, min(waits) + REQUEUE_SLACK_S)
        return result

    def _create(self, d: Obj, rs: Obj) -> bool:
        """Make the new ReplicaSet; a name taken by another template counts a collision (the
        next sync hashes anew). False when nothing was made."""
        rs = copy.deepcopy(rs)
        rs["metadata"].pop("uid", None)
        try:
            made = self.store.create("replicasets", rs)
        except AlreadyExistsError:
            self._collided(d, rs)
            return False
        except TugError as exc:
            self.events.record(d, "Warning", "FailedCreate", f"Failed to create new replica set "
                                                              f"{rs['metadata']['name']!r}: {exc}")
            return False
        self._sets[made["metadata"]["uid"]] = made
        return True

    def _collided(self, d: Obj, rs: Obj) -> None:
        meta = rs["metadata"]
        try:
            there = self.store.get("replicasets", meta["namespace"], meta["name"])
        except NotFoundError:
            return
        ref = controller_ref(there)
        if (ref or {}).get("uid") == d["metadata"]["uid"] and \
                without_hash(there["spec"].get("template")) == without_hash(rs["spec"].get("template")):
            self._sets[there["metadata"]["uid"]] = there
            return
        status = dict(d.get("status") or {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        try:
            updated = self.store.update_status("deployments", {**d, "status": status})
        except (ConflictError, NotFoundError):
            return
        self._deploys[d["metadata"]["uid"]] = updated

    def _set_revision(self, uid: str, revision: str) -> bool:
        d = copy.deepcopy(self._deploys[uid])
        d["metadata"].setdefault("annotations", {})[REVISION] = revision
        try:
            self._deploys[uid] = self.store.update("deployments", d)
        except (ConflictError, NotFoundError):
            return False
        return True


def _selects(d: Obj, rs: Obj) -> bool:
    if d["metadata"].get("namespace") != rs["metadata"].get("namespace"):
        return False
    try:
        selector = selector_from_label_selector((d.get("spec") or {}).get("selector"))
    except TugError:
        return False
    return not selector.empty() and selector.matches(rs["metadata"].get("labels"))


def _recreate(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate"
