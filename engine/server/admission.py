"""Admission on create and update, after validation: what Kubernetes' Priority plugin and
Kueue's webhook do. A pod's priorityClassName becomes spec.priority; a queue label must name a
Queue; a Job waits suspended in its queue until the scheduler admits it; a pod's GPUs are the
scheduler's to name; a controller owner reference (which exempts a pod from its queue) must
name a live owner with that uid; PodRecords are the control plane's alone; a Service gets its
clusterIP and nodePorts; an Ingress without a class, the default IngressClass; a claim without
a class, the default StorageClass, and claims and volumes their protection finalizers."""

from __future__ import annotations

from typing import Any, Protocol

from engine.api.checks_other import SYSTEM_PRIORITY_CLASSES
from engine.errors import ForbiddenError, InvalidError, NotFoundError
from engine.net.allocate import Taken, allocate
from engine.net.ingress import CLASS_ANNOTATION, DEFAULT_CLASS
from engine.objects import (
    ADMISSION,
    ADMITTED,
    DEFAULT_QUEUE,
    GPUS_ANNOTATION,
    PENDING,
    QUEUE_LABEL,
    queue_of,
    queued,
)
from engine.store.objects import clone
from storage.claims import PV_PROTECTION, PVC_PROTECTION, default_class


class _Store(Protocol):
    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]: ...
    def list(self, resource: str, namespace: str | None = None) -> tuple[list[dict[str, Any]], str]: ...


def admit(store: _Store, plural: str, obj: dict[str, Any], current: dict[str, Any] | None,
          *, new_queues: frozenset[str] = frozenset(), reserved: Taken | None = None) -> dict[str, Any]:
    """The object to store (a copy when changed), or ForbiddenError / InvalidError.
    `new_queues` are Queues created in the same apply, `reserved` the addresses its Services
    took so far."""
    if plural == "podrecords":
        raise ForbiddenError("podrecords are written by the control plane only (a Job's pod "
                             "leaves one when it is deleted)")
    if plural == "services":
        return _addresses(store, obj, current, reserved)
    if plural == "ingresses" and current is None:
        return _default_class(store, obj)
    if plural in ("persistentvolumeclaims", "persistentvolumes") and current is None:
        return _storage(store, plural, obj)
    if plural not in ("pods", "jobs"):
        return obj
    if plural == "pods":
        _check_controller(store, obj, current)
    out = clone(obj)
    if queued(out):
        _check_queue(store, out, new_queues)
    if plural == "pods" and current is None:
        _resolve_priority(store, out)
    if plural == "pods":
        _keep_gpus(out, current)
    if plural == "jobs":
        _hold_job(out, current)
    return out


def _addresses(store: _Store, svc: dict[str, Any], current: dict[str, Any] | None,
               reserved: Taken | None) -> dict[str, Any]:
    """A Service's clusterIP and nodePorts (engine/net/allocate.py), free of those of every
    other stored Service and of those taken earlier in the same apply."""
    pool = Taken.of(store.list("services")[0], besides=current)
    if reserved is not None:
        pool.ips |= reserved.ips
        pool.node_ports |= reserved.node_ports
    before = Taken(set(pool.ips), set(pool.node_ports))
    out = allocate(clone(svc), current, pool)
    if reserved is not None:
        reserved.ips |= pool.ips - before.ips
        reserved.node_ports |= pool.node_ports - before.node_ports
    return out


def _default_class(store: _Store, ingress: dict[str, Any]) -> dict[str, Any]:
    """DefaultIngressClass, on create only: an Ingress that names no class (field or legacy
    annotation) gets the default IngressClass's name (the newest, if several say so)."""
    spec = ingress.get("spec") if isinstance(ingress.get("spec"), dict) else {}
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if spec.get("ingressClassName") or annotations.get(CLASS_ANNOTATION):
        return ingress
    defaults = [c for c in store.list("ingressclasses")[0]
                if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS) == "true"]
    if not defaults:
        return ingress
    newest = max(defaults, key=lambda c: (str(c["metadata"].get("creationTimestamp")), c["metadata"]["name"]))
    out = clone(ingress)
    out.setdefault("spec", {})["ingressClassName"] = newest["metadata"]["name"]
    return out


def _storage(store: _Store, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    """On create: a claim that names no class gets the default StorageClass (DefaultStorageClass;
    "" asks for none); claims and volumes get their protection finalizers."""
    out = clone(obj)
    meta = out.setdefault("metadata", {})
    guard = PVC_PROTECTION if plural == "persistentvolumeclaims" else PV_PROTECTION
    if guard not in (meta.get("finalizers") or []):
        meta["finalizers"] = [*(meta.get("finalizers") or []), guard]
    spec = out.get("spec") if isinstance(out.get("spec"), dict) else None
    if plural == "persistentvolumeclaims" and spec is not None and spec.get("storageClassName") is None:
        name = default_class(store.list("storageclasses")[0])
        if name is not None:
            spec["storageClassName"] = name
    return out


def _check_controller(store: _Store, pod: dict[str, Any], current: dict[str, Any] | None) -> None:
    """A controller reference takes a pod out of queue admission and quota, so it must name a
    live owner, by kind, name and uid, in the pod's namespace (one the pod had before stands)."""
    from engine.api import by_kind

    meta = pod.get("metadata") or {}
    kept = {(r.get("kind"), r.get("name"), r.get("uid"))
            for r in ((current or {}).get("metadata") or {}).get("ownerReferences") or []}
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        if not ref.get("controller") or (ref.get("kind"), ref.get("name"), ref.get("uid")) in kept:
            continue
        where = f"metadata.ownerReferences[{i}]"
        try:
            info = by_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
            owner = store.get(info.plural, meta.get("namespace") if info.namespaced else None,
                              str(ref.get("name", "")))
        except NotFoundError:
            owner = None
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            raise InvalidError(
                f'Pod "{meta.get("name") or meta.get("generateName")}" is invalid: 1 problem(s)',
                details=[f"{where}: controller {ref.get('kind')} \"{ref.get('name')}\" with uid "
                         f"{ref.get('uid')} does not exist in namespace {meta.get('namespace')}"])


def _check_queue(store: _Store, obj: dict[str, Any], new_queues: frozenset[str]) -> None:
    name = queue_of(obj)
    if name == DEFAULT_QUEUE or name in new_queues:
        return
    try:
        store.get("queues", None, name)
    except NotFoundError:
        known = sorted({q["metadata"]["name"] for q in store.list("queues")[0]} | {DEFAULT_QUEUE})
        raise InvalidError(
            f'{obj["kind"]} "{obj["metadata"].get("name") or obj["metadata"].get("generateName")}" '
            f"is invalid: 1 problem(s)",
            details=[f'metadata.labels[{QUEUE_LABEL}]: queue "{name}" not found '
                     f"(queues: {', '.join(known)})"]) from None


def _resolve_priority(store: _Store, pod: dict[str, Any]) -> None:
    spec = pod.setdefault("spec", {})
    name = spec.get("priorityClassName")
    pod_name = pod["metadata"].get("name") or pod["metadata"].get("generateName")
    if name:
        if name in SYSTEM_PRIORITY_CLASSES:
            value, policy = SYSTEM_PRIORITY_CLASSES[name], None
        else:
            try:
                pc = store.get("priorityclasses", None, name)
            except NotFoundError:
                raise ForbiddenError(f'pods "{pod_name}" is forbidden: no PriorityClass with name '
                                     f"{name} was found") from None
            value, policy = int(pc.get("value") or 0), pc.get("preemptionPolicy")
    else:
        default = next((pc for pc in store.list("priorityclasses")[0] if pc.get("globalDefault")), None)
        if default is not None:
            spec["priorityClassName"] = default["metadata"]["name"]
        value = int(default.get("value") or 0) if default else 0
        policy = default.get("preemptionPolicy") if default else None
    given = spec.get("priority")
    if given is not None and given != value:
        raise ForbiddenError(f'pods "{pod_name}" is forbidden: the integer value of priority ({given}) '
                             f"must not be provided in pod spec; priority admission controller "
                             f"computed {value} from the given PriorityClass name")
    spec["priority"] = value
    if policy and not spec.get("preemptionPolicy"):
        spec["preemptionPolicy"] = policy


def _keep_gpus(pod: dict[str, Any], current: dict[str, Any] | None) -> None:
    """Which GPUs a pod gets is the scheduler's to say (tugboat.dev/gpus, with the binding):
    input never sets or changes it (a manifest copied from a bound pod carries it)."""
    before = (((current or {}).get("metadata") or {}).get("annotations") or {}).get(GPUS_ANNOTATION)
    annotations = pod["metadata"].setdefault("annotations", {})
    annotations.pop(GPUS_ANNOTATION, None)
    if before is not None:
        annotations[GPUS_ANNOTATION] = before
    if not annotations:
        del pod["metadata"]["annotations"]


def _hold_job(job: dict[str, Any], current: dict[str, Any] | None) -> None:
    """A Job that would run waits suspended in its queue until the scheduler admits it. The
    admission annotation is the system's: input never sets it. An admitted Job that its owner
    suspends leaves its admission (and its quota); resumed, it queues again."""
    annotations = job["metadata"].setdefault("annotations", {})
    before = ((current or {}).get("metadata") or {}).get("annotations") or {}
    annotations.pop(ADMISSION, None)
    state = before.get(ADMISSION)
    spec = job.setdefault("spec", {})
    if spec.get("suspend"):
        if state == PENDING:
            annotations[ADMISSION] = PENDING  # still the queue's suspension
    elif state == ADMITTED:
        annotations[ADMISSION] = ADMITTED
    else:
        spec["suspend"] = True
        annotations[ADMISSION] = PENDING
    if not annotations:
        del job["metadata"]["annotations"]
