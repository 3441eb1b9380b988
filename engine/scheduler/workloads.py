"""Workloads from store objects: which bare Pods and Jobs wait in which Queue, which already hold
quota, and a Queue's status (counts, quota used, the waiting workloads in order)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from engine.objects import ADMISSION, ADMITTED, HOLD, PENDING, finished, queue_of, queued
from engine.scheduler.filters import NOT_RESOURCES, fmt_amount
from engine.scheduler.gang import is_gang
from engine.scheduler.placement import Usage, usage_of
from engine.scheduler.queues import QueueState, Verdict, Workload

MAX_LISTED = 50  # waiting workloads a Queue's status lists


def job_finished(job: Mapping[str, Any]) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def job_pod_count(job: Mapping[str, Any]) -> int:
    """Pods a Job runs at once: parallelism (default 1), at most completions when set."""
    spec = job.get("spec") or {}
    parallelism = spec.get("parallelism")
    count = 1 if parallelism is None else int(parallelism)
    if spec.get("completions") is not None:
        count = min(count, int(spec["completions"]))
    return max(count, 0)


def priority_value(spec: Mapping[str, Any], classes: Mapping[str, Mapping[str, Any]]) -> int:
    """A pod spec's priority: its resolved spec.priority, else its class's value, else the
    global default class's, else 0."""
    if spec.get("priority") is not None:
        return int(spec["priority"])
    name = spec.get("priorityClassName")
    if name and name in classes:
        return int(classes[name].get("value") or 0)
    default = next((c for c in classes.values() if c.get("globalDefault")), None)
    return int(default.get("value") or 0) if default else 0


def from_pod(pod: dict[str, Any], *, pending: bool,
             usage: Callable[[dict[str, Any]], Usage] = usage_of) -> Workload | None:
    """A bare pod as a workload: waiting (`pending`) or holding quota (bound, not finished)."""
    if not queued(pod):
        return None
    meta, spec = pod["metadata"], pod.get("spec") or {}
    if not pending and (not spec.get("nodeName") or finished(pod)):
        return None
    charge = {k: v for k, v in usage(pod)[0].items() if k not in NOT_RESOURCES}
    return Workload("Pod", meta.get("namespace", "default"), meta["name"], queue_of(pod),
                    int(spec.get("priority") or 0), meta.get("creationTimestamp", ""), [pod],
                    admitted=not pending, obj=pod, charge=charge)


def template_pod(job: Mapping[str, Any]) -> dict[str, Any]:
    """A pod as the Job's template makes it (for placement trials and reservations)."""
    template = (job.get("spec") or {}).get("template") or {}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {**(template.get("metadata") or {}),
                         "namespace": (job.get("metadata") or {}).get("namespace")},
            "spec": template.get("spec") or {}}


def from_job(job: dict[str, Any], classes: Mapping[str, Mapping[str, Any]]) -> Workload | None:
    """A Job waiting in its queue (suspended by it) or admitted and not finished; None otherwise."""
    meta, spec = job["metadata"], job.get("spec") or {}
    state = (meta.get("annotations") or {}).get(ADMISSION)
    held = str((meta.get("annotations") or {}).get(HOLD, "")).lower() == "true"
    if meta.get("deletionTimestamp") or job_finished(job) or (held and state != ADMITTED):
        return None
    if state == PENDING and spec.get("suspend"):
        admitted = False
    elif state == ADMITTED and not spec.get("suspend"):
        admitted = True
    else:
        return None
    pod = template_pod(job)
    return Workload("Job", meta.get("namespace", "default"), meta["name"], queue_of(job),
                    priority_value(pod["spec"], classes), meta.get("creationTimestamp", ""),
                    [pod], admitted=admitted, gang=is_gang(job), obj=job, count=job_pod_count(job))


def collect(pods: Iterable[dict[str, Any]], jobs: Iterable[dict[str, Any]],
            classes: Mapping[str, Mapping[str, Any]], pending: set[str],
            usage: Callable[[dict[str, Any]], Usage] = usage_of) -> list[Workload]:
    """Every workload; `pending` holds the uids of pods that wait for a node."""
    out = [w for p in pods
           if (w := from_pod(p, pending=p["metadata"]["uid"] in pending, usage=usage)) is not None]
    out += [w for j in jobs if (w := from_job(j, classes)) is not None]
    return out


def running(w: Workload) -> bool:
    if w.kind == "Pod":
        return (w.obj.get("status") or {}).get("phase") == "Running"
    return int((w.obj.get("status") or {}).get("active") or 0) > 0


def queue_status(q: QueueState, workloads: Iterable[Workload], verdicts: Iterable[Verdict],
                 estimates: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """status of a Queue after a pass: what waits (in order, with why and when it should start),
    what is admitted and runs, and the quota used against each limit."""
    mine = [w for w in workloads if w.queue == q.name]
    waiting = sorted((v for v in verdicts if v.workload.queue == q.name and not v.admitted),
                     key=lambda v: v.position)
    admitted_now = {v.workload.key for v in verdicts if v.admitted}
    return {
        "pendingWorkloads": len(waiting),
        "admittedWorkloads": sum(1 for w in mine if w.admitted or w.key in admitted_now),
        "runningWorkloads": sum(1 for w in mine if w.admitted and running(w)),
        "used": {res: fmt_amount(res, value) for res, value in sorted(q.used.items()) if value > 0},
        "pending": [{"kind": v.workload.kind, "namespace": v.workload.namespace, "name": v.workload.name,
                     "position": v.position, "priority": v.workload.priority, "reason": v.reason,
                     "message": v.message, **estimates.get(v.workload.key, {})}
                    for v in waiting[:MAX_LISTED]],
    }
