"""`tug describe job`: kubectl's fields, then every pod the Job ran (deleted ones from their
PodRecords) with phase, exit code, reason and node, then the Job's events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.printers.fmt import NONE, Obj, dig, format_age, rfc1123z, to_time
from engine.printers.writer import PrefixWriter, clean, write_annotations, write_events, write_map

DELETED = "tugboat.dev/deleted"  # set by the CLI on pods that only their PodRecord still shows


def _exit(pod: Obj) -> tuple[str, str]:
    """(exit code, reason) of the pod's last container to end, or of the pod itself."""
    codes = []
    for cs in dig(pod, "status", "containerStatuses", default=[]) or []:
        term = dig(cs, "state", "terminated") or dig(cs, "lastState", "terminated")
        if term:
            codes.append((str(term.get("exitCode", "")), str(term.get("reason") or "")))
    reason = dig(pod, "status", "reason") or ""
    if codes:
        code, creason = codes[-1]
        return code, str(reason or creason)
    return "", str(reason)


def describe_job(job: Obj, events: Sequence[Obj], now: datetime, pods: Sequence[Obj] = ()) -> str:
    meta, spec, status = job.get("metadata") or {}, job.get("spec") or {}, job.get("status") or {}
    w = PrefixWriter()
    w.field(0, "Name", meta.get("name", ""))
    w.field(0, "Namespace", meta.get("namespace", ""))
    write_map(w, "Labels", meta.get("labels"))
    write_annotations(w, meta.get("annotations"))
    w.field(0, "Parallelism", spec.get("parallelism", 1))
    w.field(0, "Completions", spec.get("completions") if spec.get("completions") is not None else NONE)
    w.field(0, "Completion Mode", spec.get("completionMode", "NonIndexed"))
    w.field(0, "Suspend", bool(spec.get("suspend")))
    w.field(0, "Backoff Limit", spec.get("backoffLimit", 6))
    if spec.get("activeDeadlineSeconds") is not None:
        w.field(0, "Active Deadline Seconds", f"{spec['activeDeadlineSeconds']}s")
    start, end = to_time(status.get("startTime")), to_time(status.get("completionTime"))
    if start is not None:
        w.field(0, "Start Time", rfc1123z(status["startTime"], now))
    if end is not None:
        w.field(0, "Completed At", rfc1123z(status["completionTime"], now))
    if start is not None:
        w.field(0, "Duration", format_age(((end or now) - start).total_seconds()))
    w.field(0, "Pods Statuses", f"{status.get('active', 0)} Active ({status.get('ready', 0)} Ready) / "
                                f"{status.get('succeeded', 0)} Succeeded / {status.get('failed', 0)} Failed")
    if status.get("completedIndexes"):
        w.field(0, "Completed Indexes", status["completedIndexes"])
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\tMessage\n")
        w.write(1, "----\t------\t------\t-------\n")
        for c in conditions:
            w.write(1, f"{clean(c.get('type'))}\t{clean(c.get('status'))}\t{clean(c.get('reason') or NONE)}\t"
                       f"{clean(c.get('message') or '')}\n")
    if pods:
        w.write(0, "Pods:\n  Name\tPhase\tExit Code\tReason\tNode\tDeleted\n")
        w.write(1, "----\t-----\t---------\t------\t----\t-------\n")
        for pod in sorted(pods, key=lambda p: (dig(p, "metadata", "creationTimestamp") or "",
                                               dig(p, "metadata", "name") or "")):
            code, reason = _exit(pod)
            phase = dig(pod, "status", "phase") or "Pending"
            w.write(1, f"{clean(dig(pod, 'metadata', 'name'))}\t{clean(phase)}\t"
                       f"{clean(code or NONE)}\t{clean(reason or NONE)}\t"
                       f"{clean(dig(pod, 'spec', 'nodeName') or NONE)}\t"
                       f"{'yes' if dig(pod, 'metadata', 'annotations', DELETED) else 'no'}\n")
    else:
        w.field(0, "Pods", NONE)
    write_events(w, events, now)
    return w.render()
