"""Queues in tables and `describe`, and where each waiting workload stands in its queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engine.printers.fmt import NONE, Obj, dig, estimated
from engine.printers.writer import PrefixWriter, clean, write_events, write_metadata


def _quota_cell(queue: Obj) -> str:
    quota = dig(queue, "spec", "quota", default={}) or {}
    used = dig(queue, "status", "used", default={}) or {}
    if not quota:
        return NONE
    return ", ".join(f"{res} {used.get(res, '0')}/{limit}" for res, limit in sorted(quota.items()))


def queue_row(queue: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME STRATEGY PENDING ADMITTED RUNNING QUOTA(used/limit) AGE."""
    from engine.printers.columns import age_of, name_of

    status = queue.get("status") or {}
    return [name_of(queue), str(dig(queue, "spec", "strategy", default="BestEffortFIFO") or "BestEffortFIFO"),
            str(status.get("pendingWorkloads", 0)), str(status.get("admittedWorkloads", 0)),
            str(status.get("runningWorkloads", 0)), _quota_cell(queue), age_of(queue, now)]


def places(queues: Sequence[Obj]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(kind, namespace, name) -> {queue, position, reason, message} of every listed waiting workload."""
    out = {}
    for q in queues:
        for w in dig(q, "status", "pending", default=[]) or []:
            out[(w.get("kind"), w.get("namespace"), w.get("name"))] = {**w, "queue": q["metadata"]["name"]}
    return out


def describe_queue(queue: Obj, events: Sequence[Obj], now: datetime) -> str:
    w = PrefixWriter()
    write_metadata(w, queue, now)
    status = queue.get("status") or {}
    w.field(0, "Strategy", dig(queue, "spec", "strategy", default="BestEffortFIFO") or "BestEffortFIFO")
    quota = dig(queue, "spec", "quota", default={}) or {}
    used = status.get("used") or {}
    if quota or used:
        w.write(0, "Quota:\n")
        w.write(1, "Resource\tUsed\tLimit\n")
        for res in sorted(set(quota) | set(used)):
            w.write(1, f"{clean(res)}\t{clean(used.get(res, '0'))}\t{clean(quota.get(res, NONE))}\n")
    else:
        w.field(0, "Quota", f"{NONE} (no limit)")
    w.field(0, "Admitted Workloads", status.get("admittedWorkloads", 0))
    w.field(0, "Running Workloads", status.get("runningWorkloads", 0))
    pending = status.get("pending") or []
    w.field(0, "Pending Workloads", status.get("pendingWorkloads", 0))
    if pending:
        w.write(1, "Position\tKind\tName\tPriority\tStart\tReason\tMessage\n")
        for p in pending:
            w.write(1, f"{clean(p.get('position'))}\t{clean(p.get('kind'))}\t"
                       f"{clean(p.get('namespace'))}/{clean(p.get('name'))}\t{clean(p.get('priority', 0))}\t"
                       f"{clean(estimated(p, now))}\t{clean(p.get('reason'))}\t{clean(p.get('message'))}\n")
    write_events(w, events, now)
    return w.render()
