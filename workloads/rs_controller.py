"""The ReplicaSet controller: follows ReplicaSets and pods through the store's watch, runs the
pure planner (workloads/replicaset.py) for each ReplicaSet that changed, whose pods changed or
whose timer came due, and writes the result: adoptions and releases, deletions, creations,
then status and events."""

from __future__ import annotations

import copy
import logging
from typing import Any

from engine.clock import Clock, utcnow
from engine.controllers.loop import MAX_BACKOFF_S, KeyedLoop
from engine.errors import ConflictError, NotFoundError, TugError
from engine.events import EventRecorder
from engine.labels import selector_from_label_selector
from engine.objects import UNREACHABLE
from engine.scheduler.filters import tolerates
from engine.server.admission import admit
from jobs.job import set_condition
from workloads.replicaset import ReplicaSetPlan, active, controller_ref, owner_reference, plan

log = logging.getLogger("tugboat.replicasets")

COMPONENT = "replicaset-controller"
CREATE_RETRY_S = 1.0  # after a pod was refused
REQUEUE_SLACK_S = 0.05  # a timer fires this long after the planned moment, so the moment has come

Obj = dict[str, Any]


def new_pod(rs: Obj, *, unreachable_toleration_s: int = 0) -> Obj:
    """A pod from the ReplicaSet's template, named `{rs}-{5 random}` and controlled by it; with
    `unreachable_toleration_s`, it stays that long on a node Ray lost, unless its template says
    for itself how it tolerates that (Kubernetes' DefaultTolerationSeconds, with 300 s)."""
    meta = rs["metadata"]
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    pmeta: Obj = {"generateName": f"{meta['name']}-"[:58], "namespace": meta["namespace"],
                  "labels": dict(tmeta.get("labels") or {}),
                  "ownerReferences": [owner_reference(rs)]}
    for key in ("annotations", "finalizers"):
        if tmeta.get(key):
            pmeta[key] = copy.deepcopy(tmeta[key])
    spec = template.get("spec") or {}
    given = spec.get("tolerations") or [] if isinstance(spec, dict) else None
    if unreachable_toleration_s > 0 and isinstance(given, list) and not tolerates(
            [t for t in given if isinstance(t, dict)], {"key": UNREACHABLE, "effect": "NoExecute"}):
        spec["tolerations"] = [*given, {
            "key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": unreachable_toleration_s}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pmeta, "spec": spec}


class ReplicaSetController(KeyedLoop):
    name = COMPONENT

    def __init__(self, store: Any, *, clock: Clock = utcnow, unreachable_toleration_s: int = 0) -> None:
        super().__init__(store)
        self.clock = clock
        self.unreachable_toleration_s = unreachable_toleration_s
        self.events = EventRecorder(store, component=COMPONENT, clock=clock)
        self._sets: dict[str, Obj] = {}  # uid -> ReplicaSet
        self._pods: dict[str, Obj] = {}  # uid -> pod (every pod: orphans may be adopted)

    async def start(self) -> None:
        self.start_following(("replicasets", self._on_set), ("pods", self._on_pod))

    # ----- the caches --------------------------------------------------------------------------

    def _on_set(self, kind: str, rs: Obj) -> None:
        if kind == "RELIST":
            self._sets = {}
            return
        uid = rs["metadata"]["uid"]
        if kind == "DELETED":
            self._sets.pop(uid, None)
            self.forget(uid)
            return
        self._sets[uid] = rs
        self.enqueue(uid)

    def _on_pod(self, kind: str, pod: Obj) -> None:
        if kind == "RELIST":
            self._pods = {}
            return
        uid = pod["metadata"]["uid"]
        before = self._pods.get(uid)
        if kind == "DELETED":
            self._pods.pop(uid, None)
        else:
            self._pods[uid] = pod
        for key in self._interested(pod) | (self._interested(before) if before else set()):
            self.enqueue(key)

    def _interested(self, pod: Obj) -> set[str]:
        """The ReplicaSets a pod's change may concern: its controller, or (an orphan) those of
        its namespace that select it."""
        ref = controller_ref(pod)
        if ref is not None:
            mine = ref.get("kind") == "ReplicaSet" and ref.get("uid") in self._sets
            return {str(ref.get("uid"))} if mine else set()
        meta = pod["metadata"]
        out = set()
        for uid, rs in self._sets.items():
            if rs["metadata"].get("namespace") != meta.get("namespace"):
                continue
            try:
                selector = selector_from_label_selector((rs.get("spec") or {}).get("selector"))
            except TugError:
                continue
            if selector.matches(meta.get("labels")):
                out.add(uid)
        return out

    # ----- one sync ----------------------------------------------------------------------------

    def sync_keys(self, keys: list[str]) -> None:
        self.sync_each(keys, self.sync)

    def on_failure(self, key: str, exc: Exception, retry_in: float) -> None:
        rs = self._sets.get(key)
        if rs is not None:
            self.events.record(rs, "Warning", "SyncFailed",
                               f"the replicaset controller cannot sync this ReplicaSet "
                               f"({type(exc).__name__}: {exc}); it tries again, less often each "
                               f"time (at most every {MAX_BACKOFF_S:g}s)")

    def _candidates(self, rs: Obj) -> list[Obj]:
        ns, uid = rs["metadata"].get("namespace"), rs["metadata"]["uid"]
        out = []
        for pod in self._pods.values():
            if pod["metadata"].get("namespace") != ns:
                continue
            ref = controller_ref(pod)
            if ref is None or ref.get("uid") == uid:
                out.append(pod)
        return out

    def _related(self, rs: Obj) -> list[Obj]:
        """The active pods of the other ReplicaSets with the same controller (a Deployment)."""
        owner = controller_ref(rs)
        if owner is None:
            return []
        siblings = {uid for uid, other in self._sets.items() if uid != rs["metadata"]["uid"]
                    and (controller_ref(other) or {}).get("uid") == owner.get("uid")}
        return [p for p in self._pods.values()
                if active(p) and (controller_ref(p) or {}).get("uid") in siblings]

    def sync(self, uid: str) -> ReplicaSetPlan | None:
        rs = self._sets.get(uid)
        if rs is None:
            return None
        result = plan(rs, self._candidates(rs), self.clock(), related=self._related(rs))
        for pod in result.adopt:
            self._set_owner(rs, pod, adopt=True)
        for pod in result.release:
            self._set_owner(rs, pod, adopt=False)
        self._delete(rs, result.delete)
        self._delete(rs, result.forget, grace=0, say=False)
        error = self._create(rs, result.create)
        status = result.status
        if error is not None:
            set_condition(status, "ReplicaFailure", "True", "FailedCreate", error, self.clock())
        elif any(c.get("type") == "ReplicaFailure" for c in status.get("conditions") or []):
            status["conditions"] = [c for c in status["conditions"] if c.get("type") != "ReplicaFailure"]
            if not status["conditions"]:
                del status["conditions"]
        if status != (rs.get("status") or {}):
            try:
                self._sets[uid] = self.store.update_status("replicasets", {**rs, "status": status})
            except (ConflictError, NotFoundError):
                self.after(uid, CREATE_RETRY_S)  # the newer object's event syncs it again
        waits = [w for w in (result.requeue_after, CREATE_RETRY_S if error else None) if w is not None]
        if waits:
            self.after(uid, min(waits) + REQUEUE_SLACK_S)
        return result

    def _set_owner(self, rs: Obj, pod: Obj, *, adopt: bool) -> None:
        """Adopt an orphan (add the controller reference) or release a pod (remove it); a pod
        that changed meanwhile is looked at again on its event."""
        cur = copy.deepcopy(pod)
        refs = [r for r in cur["metadata"].get("ownerReferences") or []
                if not (isinstance(r, dict) and r.get("uid") == rs["metadata"]["uid"])]
        cur["metadata"]["ownerReferences"] = [*refs, owner_reference(rs)] if adopt else refs
        try:
            self._pods[pod["metadata"]["uid"]] = self.store.update("pods", cur)
        except (ConflictError, NotFoundError):
            return

    def _delete(self, rs: Obj, pods: list[Obj], *, grace: int | None = None, say: bool = True) -> None:
        done = []
        for pod in pods:
            meta = pod["metadata"]
            own = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            seconds = grace if grace is not None else (own if isinstance(own, int) else 30)
            try:
                after = self.store.delete("pods", meta["namespace"], meta["name"], grace_seconds=seconds,
                                          uid=meta["uid"])
            except (NotFoundError, ConflictError):
                continue
            if after is not None:
                self._pods[meta["uid"]] = after
            else:
                self._pods.pop(meta["uid"], None)
            if say:
                done.append((rs, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}"))
        self.events.record_all(done)

    def _create(self, rs: Obj, count: int) -> str | None:
        """Create `count` pods, stopping at the first refused (the error, said as an event)."""
        created = []
        error = None
        for _ in range(count):
            try:
                pod = self.store.create("pods", admit(self.store, "pods", new_pod(
                    rs, unreachable_toleration_s=self.unreachable_toleration_s), None))
            except TugError as exc:
                error = f"Error creating: {exc}"
                self.events.record(rs, "Warning", "FailedCreate", error)
                break
            self._pods[pod["metadata"]["uid"]] = pod
            created.append((rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"))
        self.events.record_all(created)
        return error
