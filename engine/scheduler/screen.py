"""Whether the scheduler can read one object: each object is put through the readers a pass
uses on it when it enters the cache, so one malformed object (however it got into the store)
is left out with the reason instead of failing every pass for the whole cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.objects import finished, job_owner, queued
from engine.scheduler.gpus import held, units
from engine.scheduler.placement import NodeState, usage_of
from engine.scheduler.preemption import priority_of
from engine.scheduler.queues import queue_states
from engine.scheduler.workloads import from_job, from_pod, job_pod_count


def _text(value: Any, where: str) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{where} must be a string, got {type(value).__name__}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} must be an object, got {type(value).__name__}")
    return value


def _common(obj: Mapping[str, Any]) -> None:
    meta = _mapping(obj.get("metadata"), "metadata")
    for key in ("uid", "name"):
        if not isinstance(meta.get(key), str):
            raise TypeError(f"metadata.{key} must be a string")
    _text(meta.get("creationTimestamp"), "metadata.creationTimestamp")
    _text(meta.get("namespace"), "metadata.namespace")
    _mapping(meta.get("labels"), "metadata.labels")
    _mapping(meta.get("annotations"), "metadata.annotations")
    _mapping(obj.get("spec"), "spec")
    status = _mapping(obj.get("status"), "status")
    for key in ("conditions",):
        conditions = status.get(key)
        if conditions is not None and (not isinstance(conditions, list)
                                       or not all(isinstance(c, Mapping) for c in conditions)):
            raise TypeError(f"status.{key} must be a list of objects")


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"{where} must be a list, got {type(value).__name__}")
    return value


def _containers(spec: Mapping[str, Any]) -> None:
    for field in ("initContainers", "containers"):
        for i, container in enumerate(_list(spec.get(field), f"spec.{field}")):
            where = f"spec.{field}[{i}]"
            resources = _mapping(_mapping(container, where).get("resources"), f"{where}.resources")
            for part in ("requests", "limits"):
                _mapping(resources.get(part), f"{where}.resources.{part}")


def _pod(pod: dict[str, Any]) -> None:
    _containers(_mapping(pod.get("spec"), "spec"))
    status = _mapping(pod.get("status"), "status")
    _text(status.get("phase"), "status.phase")
    _text(status.get("startTime"), "status.startTime")
    _text(status.get("nominatedNodeName"), "status.nominatedNodeName")
    _text((pod.get("spec") or {}).get("nodeName"), "spec.nodeName")
    usage_of(pod)
    priority_of(pod)
    finished(pod)
    job_owner(pod)
    held(pod)
    if queued(pod):
        from_pod(pod, pending=True)


def _node(node: dict[str, Any]) -> None:
    NodeState(node)
    units(node)


def _job(job: dict[str, Any]) -> None:
    job_pod_count(job)
    from_job(job, {})


def _queue(queue: dict[str, Any]) -> None:
    queue_states([queue])


def _class(pc: dict[str, Any]) -> None:
    int(pc.get("value") or 0)


_READERS = {"pods": _pod, "nodes": _node, "jobs": _job, "queues": _queue, "priorityclasses": _class}


def unreadable(resource: str, obj: dict[str, Any]) -> str | None:
    """Why a pass could not read `obj` ("TypeError: ..."), or None when it can."""
    try:
        _common(obj)
        reader = _READERS.get(resource)
        if reader is not None:
            reader(obj)
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return f"{type(exc).__name__}: {exc}"
    return None
