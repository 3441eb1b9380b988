"""Gang admission (all of a Job's pods or none): the nodes reserved for an admitted gang, the
slots its pods have not taken yet, and when a gang that did not start is given back. Pure."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from engine.clock import format_time, parse_time
from engine.objects import ADMISSION, ADMITTED, GANG, finished

GANG_NODES = "tugboat.dev/gang-nodes"  # the admitted gang's nodes, one per pod (JSON list)
ADMITTED_AT = "tugboat.dev/admitted-at"
TIMEOUT = "tugboat.dev/gang-timeout-seconds"
DEFAULT_TIMEOUT_S = 300

Obj = dict[str, Any]


def is_gang(job: Mapping[str, Any]) -> bool:
    spec = job.get("spec") or {}
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(GANG, "")).lower() == "true" and int(spec.get("parallelism") or 1) > 1


MAX_TIMEOUT_S = 366 * 24 * 3600


def timeout_s(job: Mapping[str, Any]) -> float:
    """The annotation's seconds, within 1 s and a year; the default when it is not a number."""
    raw = ((job.get("metadata") or {}).get("annotations") or {}).get(TIMEOUT)
    try:
        value = float(raw) if raw is not None else float(DEFAULT_TIMEOUT_S)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return min(max(1.0, value), MAX_TIMEOUT_S) if math.isfinite(value) else DEFAULT_TIMEOUT_S


def planned(job: Mapping[str, Any]) -> list[str]:
    """The nodes reserved at admission, while the gang has not started; [] otherwise."""
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    if annotations.get(ADMISSION) != ADMITTED or (job.get("spec") or {}).get("suspend"):
        return []
    try:
        nodes = json.loads(annotations.get(GANG_NODES) or "[]")
    except ValueError:
        return []
    return [str(n) for n in nodes] if isinstance(nodes, list) else []


def reserve(job: Mapping[str, Any], nodes: Iterable[str], now: datetime) -> None:
    """Write the reservation onto an admitted gang Job (in place)."""
    annotations = job["metadata"].setdefault("annotations", {})
    annotations[GANG_NODES] = json.dumps(list(nodes))
    annotations[ADMITTED_AT] = format_time(now)


def unreserve(job: Obj) -> None:
    annotations = job["metadata"].get("annotations") or {}
    annotations.pop(GANG_NODES, None)
    annotations.pop(ADMITTED_AT, None)


def free_slots(job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[str]:
    """Reserved nodes not yet taken by one of the gang's bound, unfinished pods."""
    slots = planned(job)
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node in slots and not finished(pod):  # type: ignore[arg-type]
            slots.remove(node)
    return slots


def started(job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> bool:
    """Every reserved pod runs (or already ended well)."""
    going = sum(1 for p in pods if (p.get("status") or {}).get("phase") in ("Running", "Succeeded"))
    return going >= len(planned(job))


def deadline(job: Mapping[str, Any]) -> datetime | None:
    raw = ((job.get("metadata") or {}).get("annotations") or {}).get(ADMITTED_AT)
    try:
        at = parse_time(raw) if raw else None
    except ValueError:
        return None
    return at + timedelta(seconds=timeout_s(job)) if at is not None else None
