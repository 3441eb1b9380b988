"""Reading pod and node objects: a pod's effective requests, a node's readiness and address,
the queue a workload waits in."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine.api import Quantity, parse_quantity

GPU = "nvidia.com/gpu"
QUEUE_LABEL = "tugboat.dev/queue"
DEFAULT_QUEUE = "default"
ADMISSION = "tugboat.dev/admission"  # on a Job: "Pending" (suspended by its queue) or "Admitted"
PENDING, ADMITTED = "Pending", "Admitted"
HOLD = "tugboat.dev/hold"  # "true" on a Job its owner holds back: its queue does not admit it
GANG = "tugboat.dev/gang"  # "true" on a Job whose pods start together or not at all
UNREACHABLE = "node.kubernetes.io/unreachable"  # the taint of a node Ray lost (engine/runtime/nodes.py)
GPUS_ANNOTATION = "tugboat.dev/gpus"  # on a bound pod: the node's GPU indexes it gets ("0,2")
OWN_ACTOR_ANNOTATION = "tugboat.dev/own-actor"  # "true": the pod starts in a Ray actor of its own


def pod_requests(pod: dict[str, Any]) -> dict[str, Quantity]:
    """max(sum over containers, max over init containers) per resource (missing counts as 0)."""
    spec = pod.get("spec") or {}
    totals: dict[str, Quantity] = {}
    for c in spec.get("containers") or []:
        for key, value in container_requests(c).items():
            totals[key] = totals[key] + value if key in totals else value
    for c in spec.get("initContainers") or []:
        for key, value in container_requests(c).items():
            if key not in totals or value > totals[key]:
                totals[key] = value
    return totals


def container_requests(container: dict[str, Any]) -> dict[str, Quantity]:
    """A container's requests, a limit standing in for a request it lacks (as the API defaults)."""
    res = container.get("resources") or {}
    merged = {**(res.get("limits") or {}), **(res.get("requests") or {})}
    return {k: parse_quantity(v) for k, v in merged.items()}


def amount(q: Quantity | None, resource: str) -> float:
    """A quantity as a float in the resource's natural unit (cores for cpu, bytes, devices)."""
    if q is None:
        return 0.0
    if resource == "cpu":
        return q.milli_value() / 1000.0
    return float(q.value())


MAX_PODS = 110  # kubelet's default maxPods
TERMINAL_PHASES = ("Succeeded", "Failed")


def finished(pod: dict[str, Any]) -> bool:
    """The pod ended for good: Succeeded or Failed."""
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def is_ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def internal_ip(node: dict[str, Any]) -> str:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP":
            return str(addr.get("address"))
    return ""


def queued(obj: dict[str, Any]) -> bool:
    """Whether queue admission governs `obj`: a Job, a Pod that no controller owns, or a
    ReplicaSet's Pod whose labels name a queue (GPU services sharing a quota with batch)."""
    if obj.get("kind") == "Job":
        return True
    if obj.get("kind") != "Pod":
        return False
    meta = obj.get("metadata") or {}
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is None:
        return True
    return owner.get("kind") == "ReplicaSet" and bool((meta.get("labels") or {}).get(QUEUE_LABEL))


def queue_of(obj: dict[str, Any]) -> str:
    return str(((obj.get("metadata") or {}).get("labels") or {}).get(QUEUE_LABEL) or DEFAULT_QUEUE)


def job_owner(pod: dict[str, Any]) -> str | None:
    """The uid of the Job that controls `pod`, if one does."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            return str(ref.get("uid"))
    return None


def bound_gpus(pod: dict[str, Any]) -> tuple[int, ...] | None:
    """The node GPU indexes the scheduler bound the pod to (`tugboat.dev/gpus: "0,2"`); None
    when it names none (or is malformed)."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(GPUS_ANNOTATION)
    return _gpu_indexes(text) if isinstance(text, str) else None


@lru_cache(maxsize=4096)
def _gpu_indexes(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in text.split(",")) if text.strip() else None
    except ValueError:
        return None
