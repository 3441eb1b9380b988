"""Row cells of `kubectl get` for workloads, events, namespaces, config and the generic fallback."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from engine.objects import ADMISSION, DEFAULT_QUEUE, HOLD, PENDING, QUEUE_LABEL
from engine.printers.fmt import (
    NONE,
    QUEUE_PLACE,
    Obj,
    age_of,
    aware,
    container_cells,
    dig,
    estimated,
    format_age,
    format_selector,
    has_condition,
    scalar,
    since,
    to_time,
)

_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"),
                 ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))
_EPOCH = datetime.min.replace(tzinfo=UTC)


def name_of(obj: Obj) -> str:
    return str(dig(obj, "metadata", "name", default=""))


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _wide_template(spec: Obj | None, selector: Obj | None) -> list[str]:
    names, images = container_cells(dig(spec, "template", "spec", "containers", default=[]))
    return [names, images, format_selector(selector)]


def deployment_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME READY UP-TO-DATE AVAILABLE AGE [CONTAINERS IMAGES SELECTOR]."""
    spec: Obj = obj.get("spec") or {}
    status: Obj = obj.get("status") or {}
    row = [name_of(obj),
           f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'), 1)}",
           str(_int(status.get("updatedReplicas"))), str(_int(status.get("availableReplicas"))),
           age_of(obj, now)]
    return row + (_wide_template(spec, spec.get("selector")) if wide else [])


def replicaset_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME DESIRED CURRENT READY AGE [CONTAINERS IMAGES SELECTOR]."""
    spec: Obj = obj.get("spec") or {}
    status: Obj = obj.get("status") or {}
    row = [name_of(obj), str(_int(spec.get("replicas"), 1)), str(_int(status.get("replicas"))),
           str(_int(status.get("readyReplicas"))), age_of(obj, now)]
    return row + (_wide_template(spec, spec.get("selector")) if wide else [])


def job_status(job: Obj) -> str:
    """kubectl's job STATUS: Complete, Failed, Terminating, Suspended, FailureTarget, ..."""
    if has_condition(job, "Complete"):
        return "Complete"
    if has_condition(job, "Failed"):
        return "Failed"
    if dig(job, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    if str(dig(job, "metadata", "annotations", HOLD) or "").lower() == "true" and dig(job, "spec", "suspend"):
        return "Suspended"  # held by its owner
    if dig(job, "metadata", "annotations", ADMISSION) == PENDING and dig(job, "spec", "suspend"):
        return "Queued"  # suspended by its queue until admitted
    for ctype in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if has_condition(job, ctype):
            return ctype
    return "Running"


def job_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME STATUS COMPLETIONS DURATION AGE [CONTAINERS IMAGES SELECTOR QUEUE POSITION START REASON]."""
    spec: Obj = obj.get("spec") or {}
    succeeded = _int(dig(obj, "status", "succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec['completions'])}"
    elif _int(spec.get("parallelism")) > 1:  # a work queue: done when one pod succeeds
        completions = f"{succeeded}/1 of {_int(spec['parallelism'])}"
    else:
        completions = f"{succeeded}/1"
    start = to_time(dig(obj, "status", "startTime"))
    end = to_time(dig(obj, "status", "completionTime")) or aware(now)
    duration = "" if start is None else format_age((end - start).total_seconds())
    row = [name_of(obj), job_status(obj), completions, duration, age_of(obj, now)]
    if not wide:
        return row
    place = obj.get(QUEUE_PLACE) or {}  # attached by the CLI from the queues' status
    queue = str(dig(obj, "metadata", "labels", QUEUE_LABEL) or DEFAULT_QUEUE)
    return row + _wide_template(spec, spec.get("selector")) + [
        queue, str(place.get("position", NONE)), estimated(obj.get(QUEUE_PLACE), now),
        str(place.get("message") or NONE)]


def cronjob_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE [CONTAINERS IMAGES SELECTOR]."""
    spec: Obj = obj.get("spec") or {}
    last = dig(obj, "status", "lastScheduleTime")
    row = [name_of(obj), str(spec.get("schedule", "")), str(spec.get("timeZone") or NONE),
           "True" if spec.get("suspend") else "False",
           str(len(dig(obj, "status", "active", default=[]))),
           NONE if last is None else since(last, now), age_of(obj, now)]
    job_spec = dig(spec, "jobTemplate", "spec", default={})
    return row + (_wide_template(job_spec, job_spec.get("selector")) if wide else [])


def namespace_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME STATUS AGE."""
    return [name_of(obj), str(dig(obj, "status", "phase", default="Active")), age_of(obj, now)]


def configmap_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME DATA AGE."""
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [name_of(obj), str(count), age_of(obj, now)]


def secret_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME TYPE DATA AGE."""
    keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
    return [name_of(obj), str(obj.get("type") or "Opaque"), str(len(keys)), age_of(obj, now)]


def priorityclass_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME VALUE GLOBAL-DEFAULT AGE."""
    return [name_of(obj), str(_int(obj.get("value"))), scalar(bool(obj.get("globalDefault"))),
            age_of(obj, now)]


def ingressclass_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME CONTROLLER PARAMETERS AGE."""
    spec = obj.get("spec") or {}
    params = spec.get("parameters") or {}
    shown = f"{params.get('kind')}/{params.get('name')}" if params.get("kind") else NONE
    return [name_of(obj), str(spec.get("controller") or ""), shown, age_of(obj, now)]


SELECTED_NODE = "volume.kubernetes.io/selected-node"
DEFAULT_STORAGE_CLASS = "storageclass.kubernetes.io/is-default-class"


def access_modes(modes: list[str] | None) -> str:
    """RWO,ROX,RWX,RWOP in kubectl's fixed order."""
    present = set(modes or [])
    return ",".join(short for full, short in _ACCESS_MODES if full in present)


def pvc_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS AGE [VOLUMEMODE]."""
    spec: Obj = obj.get("spec") or {}
    phase = str(dig(obj, "status", "phase", default="Pending"))
    if dig(obj, "metadata", "deletionTimestamp") is not None:
        phase = "Terminating"
    volume = str(spec.get("volumeName") or "")
    capacity = modes = ""
    if volume:  # kubectl shows capacity and modes only once bound
        capacity = scalar(dig(obj, "status", "capacity", "storage", default=""))
        modes = access_modes(dig(obj, "status", "accessModes", default=[]))
    storage_class = spec.get("storageClassName") or dig(
        obj, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class", default="")
    row = [name_of(obj), phase, volume, capacity, modes, str(storage_class or "<unset>"),
           age_of(obj, now)]
    node = dig(obj, "metadata", "annotations", SELECTED_NODE, default="") or NONE
    return row + ([str(spec.get("volumeMode") or "<unset>"), str(node)] if wide else [])


def pv_node(pv: Obj) -> str:
    """The node a PersistentVolume's nodeAffinity pins it to (kubernetes.io/hostname In [n])."""
    terms = dig(pv, "spec", "nodeAffinity", "required", "nodeSelectorTerms", default=[]) or []
    for term in terms:
        for expr in (term or {}).get("matchExpressions") or []:
            if expr.get("key") == "kubernetes.io/hostname" and expr.get("operator") == "In":
                return ",".join(str(v) for v in expr.get("values") or [])
    return ""


def pv_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS
    VOLUMEATTRIBUTESCLASS REASON AGE [VOLUMEMODE NODE]."""
    spec: Obj = obj.get("spec") or {}
    ref: Obj = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace')}/{ref.get('name')}" if ref.get("name") else ""
    phase = str(dig(obj, "status", "phase", default="Pending"))
    if dig(obj, "metadata", "deletionTimestamp") is not None:
        phase = "Terminating"
    row = [name_of(obj), scalar(dig(obj, "spec", "capacity", "storage", default="")),
           access_modes(spec.get("accessModes")), str(spec.get("persistentVolumeReclaimPolicy") or ""),
           phase, claim, str(spec.get("storageClassName") or ""), "<unset>",
           str(dig(obj, "status", "reason", default="")), age_of(obj, now)]
    return row + ([str(spec.get("volumeMode") or "<unset>"), pv_node(obj) or NONE] if wide else [])


def storageclass_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE; the default
    class's name says "(default)"."""
    name = name_of(obj)
    if dig(obj, "metadata", "annotations", DEFAULT_STORAGE_CLASS, default="") == "true":
        name += " (default)"
    return [name, str(obj.get("provisioner") or ""), str(obj.get("reclaimPolicy") or "Delete"),
            str(obj.get("volumeBindingMode") or "Immediate"), scalar(bool(obj.get("allowVolumeExpansion"))),
            age_of(obj, now)]


def event_time(event: Obj) -> datetime:
    """When an event was last seen, for sorting: lastTimestamp, series, eventTime, creation."""
    for path in (("lastTimestamp",), ("series", "lastObservedTime"), ("eventTime",),
                 ("firstTimestamp",), ("metadata", "creationTimestamp")):
        t = to_time(dig(event, *path))
        if t is not None:
            return t
    return _EPOCH


def event_ages(event: Obj, now: datetime) -> tuple[str, str, int]:
    """(last seen, first seen, count) as kubectl's printEvent computes them."""
    first = dig(event, "firstTimestamp") or dig(event, "eventTime")
    first_seen = since(first, now)
    last_seen = since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first_seen
    count = _int(event.get("count"))
    if event.get("series"):
        last_seen = since(dig(event, "series", "lastObservedTime"), now)
        count = _int(dig(event, "series", "count"))
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    return last_seen, first_seen, count


def event_source(event: Obj) -> str:
    component = dig(event, "source", "component") or event.get("reportingController") or ""
    host = dig(event, "source", "host") or event.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


def event_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """LAST SEEN TYPE REASON OBJECT MESSAGE (wide: SUBOBJECT SOURCE ... FIRST SEEN COUNT NAME)."""
    last_seen, first_seen, count = event_ages(obj, now)
    involved: Obj = obj.get("involvedObject") or obj.get("regarding") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    message = str(obj.get("message") or obj.get("note") or "").strip()
    etype, reason = str(obj.get("type", "")), str(obj.get("reason", ""))
    if not wide:
        return [last_seen, etype, reason, target, message]
    return [last_seen, etype, reason, target, str(involved.get("fieldPath", "")),
            event_source(obj), message, first_seen, str(count), name_of(obj)]


def generic_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME AGE, for resources without their own columns."""
    return [name_of(obj), age_of(obj, now)]


def spec_header(key: str) -> str:
    """A spec field as a column header: maxGpus -> MAX-GPUS."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", key).upper()


def spec_cell(value: Any) -> str:
    """A spec value squeezed into one cell: maps as k=v, lists comma-joined."""
    if value is None or value == "" or value == [] or value == {}:
        return NONE
    if isinstance(value, dict):
        return ",".join(f"{k}={spec_cell(v) if isinstance(v, (dict, list)) else scalar(v)}"
                        for k, v in value.items())
    if isinstance(value, list):
        return ",".join(json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list))
                        else scalar(v) for v in value)
    return scalar(value)


def spec_table(items: Sequence[Obj], now: datetime, wide: bool
               ) -> tuple[list[str], list[list[str]]]:
    """NAME, one column per top-level spec field seen in any item, AGE (queues)."""
    keys: list[str] = []
    for item in items:
        for key in dig(item, "spec", default={}):
            if key not in keys:
                keys.append(key)
    headers = ["NAME", *(spec_header(k) for k in keys), "AGE"]
    rows = [[name_of(item), *(spec_cell(dig(item, "spec", k)) for k in keys), age_of(item, now)]
            for item in items]
    return headers, rows
