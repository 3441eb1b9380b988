"""The Job controller: follows Jobs and their pods through the store's watch, runs the pure
planner (jobs/job.py) for each Job that changed or whose timer came due, and writes the
result: counted pods and status in one transaction, then deletions, creations and events."""

from __future__ import annotations

import contextlib
import copy
import logging
from typing import Any

from engine.api.batch import CONTROLLER_UID_LABEL, JOB_NAME_LABEL
from engine.clock import Clock, parse_time, utcnow
from engine.controllers.loop import MAX_BACKOFF_S, RETRY_S, KeyedLoop
from engine.errors import ConflictError, NotFoundError, TugError
from engine.events import EventRecorder
from engine.objects import job_owner
from engine.server.admission import admit
from jobs.job import (
    INDEX_FAILURES,
    INDEX_KEY,
    TRACKING_FINALIZER,
    JobPlan,
    condition,
    failure_of,
    finished,
    plan,
)
from jobs.metrics import JobMetrics

log = logging.getLogger("tugboat.jobs")

COMPONENT = "job-controller"
CREATE_RETRY_S = 1.0  # after a pod was refused
REQUEUE_SLACK_S = 0.1  # a timer fires this long after the planned moment, so the moment has come

Obj = dict[str, Any]


def new_pod(job: Obj, index: int | None, failures: int = 0) -> Obj:
    """A pod from the Job's template: owned by it, tracked by its finalizer, and in Indexed mode
    with its completion index (annotation, label, hostname, JOB_COMPLETION_INDEX)."""
    meta, template = job["metadata"], copy.deepcopy((job.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    labels = {**(tmeta.get("labels") or {}), JOB_NAME_LABEL: meta["name"], CONTROLLER_UID_LABEL: meta["uid"],
              "job-name": meta["name"], "controller-uid": meta["uid"]}
    annotations = dict(tmeta.get("annotations") or {})
    spec = template.get("spec") or {}
    prefix = f"{meta['name']}-"
    if index is not None:
        labels[INDEX_KEY] = annotations[INDEX_KEY] = str(index)
        if (job.get("spec") or {}).get("backoffLimitPerIndex") is not None:
            annotations[INDEX_FAILURES] = str(failures)
        prefix = f"{meta['name']}-{index}-"
        spec["hostname"] = f"{meta['name']}-{index}"
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            env = c.setdefault("env", [])
            if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in env):
                env.append({"name": "JOB_COMPLETION_INDEX", "value": str(index)})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": prefix[:58], "namespace": meta["namespace"], "labels": labels,
                         **({"annotations": annotations} if annotations else {}),
                         "finalizers": [TRACKING_FINALIZER],
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"],
                                              "uid": meta["uid"], "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": spec}


class JobController(KeyedLoop):
    name = COMPONENT

    def __init__(self, store: Any, *, clock: Clock = utcnow, metrics: JobMetrics | None = None) -> None:
        super().__init__(store)
        self.clock = clock
        self.metrics = metrics
        self.events = EventRecorder(store, component=COMPONENT, clock=clock)
        self._jobs: dict[str, Obj] = {}
        self._pods: dict[str, dict[str, Obj]] = {}  # job uid -> pod uid -> pod

    async def start(self) -> None:
        self.start_following(("jobs", self._on_job), ("pods", self._on_pod))

    def _on_job(self, kind: str, job: Obj) -> None:
        if kind == "RELIST":
            self._jobs = {}
            return
        uid = job["metadata"]["uid"]
        if kind == "DELETED":
            self._jobs.pop(uid, None)
            self._pods.pop(uid, None)
            self.forget(uid)
            return
        self._jobs[uid] = job
        self.enqueue(uid)

    def _on_pod(self, kind: str, pod: Obj) -> None:
        if kind == "RELIST":
            self._pods = {}
            return
        owner = job_owner(pod)
        if owner is None:
            return
        if kind == "DELETED":
            self._pods.get(owner, {}).pop(pod["metadata"]["uid"], None)
            self._keep_record(owner, pod)
        else:
            self._remember(pod)
            if kind != "LISTED" and owner not in self._jobs:
                self._release_orphan(pod)
        self.enqueue(owner)

    def _keep_record(self, owner: str, pod: Obj) -> None:
        """A deleted pod of a live Job refreshes its PodRecord with its very last state and
        events. The record was first written when its end was counted (`_count`): this event
        only makes it fresher, so a deletion the watch missed loses nothing."""
        job = self._jobs.get(owner)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        try:
            self.store.create_or_update("podrecords", self._record(job, pod, self._events_of([pod])))
        except TugError:
            log.exception("keeping the record of pod %s", pod["metadata"]["name"])

    def _events_of(self, pods: list[Obj]) -> dict[str, list[Obj]]:
        """Pod uid -> its events, for `pods` (of one namespace), from one list."""
        uids = {p["metadata"]["uid"] for p in pods}
        out: dict[str, list[Obj]] = {uid: [] for uid in uids}
        for event in self.store.list("events", pods[0]["metadata"]["namespace"])[0]:
            uid = (event.get("involvedObject") or {}).get("uid")
            if uid in uids:
                out[uid].append(event)
        return out

    @staticmethod
    def _record(job: Obj, pod: Obj, events: dict[str, list[Obj]]) -> Obj:
        """The PodRecord of a Job's pod: its last state and its events, owned by the Job, so
        logs, exit codes and reasons stay readable after the pod is gone, until the Job goes."""
        meta = pod["metadata"]
        return {"apiVersion": "tugboat.dev/v1", "kind": "PodRecord",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                             "labels": dict(meta.get("labels") or {}),
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                                  "name": job["metadata"]["name"],
                                                  "uid": job["metadata"]["uid"]}]},
                "pod": pod, "events": events.get(meta["uid"], [])}

    def _release_orphan(self, pod: Obj) -> None:
        """A stopping pod whose Job is gone keeps no finalizer: nobody else would drop it."""
        meta = pod["metadata"]
        phase = (pod.get("status") or {}).get("phase")
        ending = meta.get("deletionTimestamp") or phase in ("Succeeded", "Failed")
        if TRACKING_FINALIZER not in (meta.get("finalizers") or []) or not ending:
            return
        ref = next(r for r in meta.get("ownerReferences") or [] if r.get("controller"))
        try:
            if self.store.get("jobs", meta["namespace"], ref["name"])["metadata"]["uid"] == ref["uid"]:
                return
        except NotFoundError:
            pass
        cur = copy.deepcopy(pod)
        cur["metadata"]["finalizers"] = [f for f in meta["finalizers"] if f != TRACKING_FINALIZER]
        with contextlib.suppress(NotFoundError, ConflictError):
            self.store.update("pods", cur)

    def _remember(self, pod: Obj) -> None:
        owner = job_owner(pod)
        if owner is not None:
            self._pods.setdefault(owner, {})[pod["metadata"]["uid"]] = pod

    def sync_keys(self, keys: list[str]) -> None:
        self.sync_each(keys, self.sync)

    def on_failure(self, key: str, exc: Exception, retry_in: float) -> None:
        job = self._jobs.get(key)
        if job is not None:
            self.events.record(job, "Warning", "SyncFailed",
                               f"the job controller cannot sync this Job ({type(exc).__name__}: {exc}); "
                               f"it tries again, less often each time (at most every {MAX_BACKOFF_S:g}s)")

    def sync(self, uid: str) -> JobPlan | None:
        job = self._jobs.get(uid)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return None
        pods = list(self._pods.get(uid, {}).values())
        result = plan(job, pods, self.clock())
        if not self._count(job, result):
            self.after(uid, RETRY_S)
            return result
        self._observe(job, result)
        self._delete(job, result.delete)
        made_all = self._create(job, result.create, result.index_failures)
        self.events.record_all([(job, kind, reason, message) for kind, reason, message in result.events])
        if result.delete_job:
            with contextlib.suppress(NotFoundError, ConflictError):
                self.store.delete("jobs", job["metadata"]["namespace"], job["metadata"]["name"],
                                  propagation="Foreground", uid=uid)
            return result
        wait = result.requeue_after + REQUEUE_SLACK_S if result.requeue_after is not None else None
        if not made_all:  # try the pods again soon (the earlier of that and the planned look)
            wait = min(CREATE_RETRY_S, wait) if wait is not None else CREATE_RETRY_S
        if wait is not None:
            self.after(uid, wait)
        return result

    def _observe(self, job: Obj, result: JobPlan) -> None:
        if self.metrics is None:
            return
        for reason in result.failures:
            self.metrics.pod_failures.labels(reason).inc()
        if finished(job) or not finished({"status": result.status}):
            return
        outcome = "Complete" if condition(result.status, "Complete") else "Failed"
        reason = "" if outcome == "Complete" else failure_of(result.status)[0]
        self.metrics.finished.labels(outcome, reason).inc()
        start = result.status.get("startTime")
        if start:
            took = (self.clock() - parse_time(start)).total_seconds()
            self.metrics.duration.labels(outcome).observe(max(0.0, took))

    def _count(self, job: Obj, result: JobPlan) -> bool:
        """The new status and the release of the pods it counts, in one transaction."""
        ops: list[tuple[str, str, Obj]] = []
        events = self._events_of(result.release) if result.release else {}
        for pod in result.release:
            cur = copy.deepcopy(pod)
            cur["metadata"]["finalizers"] = [f for f in cur["metadata"].get("finalizers") or []
                                             if f != TRACKING_FINALIZER]
            ops.append(("update", "pods", cur))
            # its end is known now: the record is written with the count, so that the pod's
            # deletion, whenever it comes and whether or not a watch sees it, loses nothing
            ops.append(("create_or_update", "podrecords", self._record(job, pod, events)))
        if result.status != (job.get("status") or {}):
            ops.append(("update_status", "jobs", {**job, "status": result.status}))
        if not ops:
            return True
        try:
            written = self.store.apply_all(ops)
        except (ConflictError, NotFoundError):
            return False
        for (_, resource, _), (_, obj) in zip(ops, written, strict=True):
            if resource == "podrecords":
                continue
            if resource == "jobs":
                self._jobs[obj["metadata"]["uid"]] = obj
            elif obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
                self._pods.get(job["metadata"]["uid"], {}).pop(obj["metadata"]["uid"], None)
            else:
                self._remember(obj)
        return True

    def _delete(self, job: Obj, pods: list[Obj]) -> None:
        for pod in pods:
            meta = pod["metadata"]
            grace = int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
            try:
                after = self.store.delete("pods", meta["namespace"], meta["name"], grace_seconds=grace,
                                          uid=meta["uid"])
            except (NotFoundError, ConflictError):
                continue
            self._remember(after)
            self.events.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")

    def _create(self, job: Obj, indexes: list[int | None], failures: dict[int, int]) -> bool:
        """Create the pods; False when one was refused (the rest wait for the retry)."""
        created = []
        ok = True
        for index in indexes:
            try:
                made = new_pod(job, index, failures.get(index, 0) if index is not None else 0)
                pod = self.store.create("pods", admit(self.store, "pods", made, None))
            except TugError as exc:
                self.events.record(job, "Warning", "FailedCreate", f"Error creating: {exc}")
                ok = False
                break
            self._remember(pod)
            created.append((job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"))
        self.events.record_all(created)
        return ok
