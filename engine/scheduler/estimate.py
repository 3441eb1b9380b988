"""When a waiting workload should start: running work ends at its deadline (activeDeadlineSeconds)
or after the median run time of the same program seen before; the start is the first of those
ends after which the workload fits. No basis, no number: an estimate is never made up. Pure."""

from __future__ import annotations

import json
import statistics
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.clock import format_time, parse_time
from engine.objects import queue_of, queued
from engine.scheduler.queues import BEHIND, QUOTA, Placement, QueueState, Verdict, Workload, quota_problem

HISTORY = 20  # run times remembered per program
MAX_COUNTED = 100_000  # pod uids remembered as counted
UNKNOWN = "no running workload it waits for has a deadline or a history of similar runs"


def program_key(pod: Mapping[str, Any]) -> str:
    """Pods that run the same program: namespace, then each container's image, command and args."""
    spec = pod.get("spec") or {}
    programs = [[c.get("image"), c.get("command"), c.get("args")] for c in spec.get("containers") or []]
    return json.dumps([(pod.get("metadata") or {}).get("namespace"), programs])


def _time(text: Any) -> datetime | None:
    try:
        return parse_time(text) if isinstance(text, str) and text else None
    except ValueError:
        return None


def run_time(pod: Mapping[str, Any]) -> float | None:
    """Seconds from a Succeeded pod's start to its last container's finish."""
    status = pod.get("status") or {}
    if status.get("phase") != "Succeeded":
        return None
    start = _time(status.get("startTime"))
    ends = [_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
            for cs in status.get("containerStatuses") or []]
    known = [e for e in ends if e is not None]
    if start is None or not known:
        return None
    return max(0.0, (max(known) - start).total_seconds())


class Durations:
    """Observed run times of succeeded pods, the last HISTORY per program (memory only)."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}
        self._counted: set[str] = set()

    def observe(self, pod: Mapping[str, Any]) -> None:
        uid = str((pod.get("metadata") or {}).get("uid"))
        seconds = run_time(pod)
        if seconds is None or uid in self._counted:
            return
        if len(self._counted) > MAX_COUNTED:
            self._counted.clear()  # an old pod seen again may count twice: a small error in a median
        self._counted.add(uid)
        self._seen.setdefault(program_key(pod), deque(maxlen=HISTORY)).append(seconds)

    def median(self, pod: Mapping[str, Any]) -> tuple[float, int] | None:
        runs = self._seen.get(program_key(pod))
        return (statistics.median(runs), len(runs)) if runs else None


@dataclass(frozen=True)
class Ending:
    """A running pod (on `node`) and when it should be done; `at` None when nothing says."""

    pod: dict[str, Any]
    node: str
    at: datetime | None
    basis: str = ""


def ending(pod: dict[str, Any], durations: Durations, now: datetime) -> Ending:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    start = _time(status.get("startTime"))
    node = str(spec.get("nodeName") or "")
    if start is None:
        return Ending(pod, node, None)
    if spec.get("activeDeadlineSeconds") is not None:
        at = start + timedelta(seconds=int(spec["activeDeadlineSeconds"]))
        return Ending(pod, node, max(at, now), "activeDeadlineSeconds")
    seen = durations.median(pod)
    if seen is None:
        return Ending(pod, node, None)
    return Ending(pod, node, max(start + timedelta(seconds=seen[0]), now),
                  f"the median of {seen[1]} earlier run(s) of the same program")


def _in_time_order(endings: Sequence[Ending]) -> list[Ending]:
    return sorted((e for e in endings if e.at is not None), key=lambda e: e.at or datetime.min)


def _fits_after(known: Sequence[Ending], k: int, fits: Callable[[], bool], placer: Placement) -> bool:
    for e in known[:k]:
        placer.release(e.pod, e.node)
    try:
        return fits()
    finally:
        for e in known[:k]:
            placer.assume(e.pod, e.node)


def capacity_start(w: Workload, endings: Sequence[Ending], placer: Placement) -> Ending | None:
    """The first ending after which every pod of `w` fits (fit only grows as pods end, so a
    binary search over the endings in time order finds it), or None."""
    known = _in_time_order(endings)

    def fits() -> bool:
        placed = []
        try:
            for pod in w.trial():
                decision = placer.place(pod)
                if decision.node is None:
                    return False
                placer.assume(pod, decision.node)
                placed.append((pod, decision.node))
            return True
        finally:
            for pod, node in reversed(placed):
                placer.release(pod, node)

    if not known or not _fits_after(known, len(known), fits, placer):
        return None
    lo, hi = 1, len(known)
    while lo < hi:
        mid = (lo + hi) // 2
        if _fits_after(known, mid, fits, placer):
            hi = mid
        else:
            lo = mid + 1
    return known[lo - 1]


def quota_start(w: Workload, q: QueueState, endings: Sequence[Ending]) -> Ending | None:
    """The first ending of the queue's own running pods after which `w` is within the quota."""
    used = dict(q.used)
    need = w.requests()
    for e in _in_time_order(endings):
        for res, value in Workload("Pod", "", "", q.name, 0, "", [e.pod]).requests().items():
            used[res] = used.get(res, 0.0) - value
        if quota_problem(QueueState(q.name, q.quota, q.strict, used), need) is None:
            return e
    return None


def estimate_all(verdicts: Sequence[Verdict], queues: Mapping[str, QueueState],
                 running: Sequence[dict[str, Any]], placer: Placement, durations: Durations,
                 now: datetime, *, per_queue: int = 10) -> dict[str, dict[str, Any]]:
    """{workload key: {"estimatedStart": RFC 3339 or None, "estimateBasis": why}} for the first
    `per_queue` waiting workloads of each queue."""
    # a pod on a node that is gone frees nothing here
    endings = [e for p in running if (e := ending(p, durations, now)).node in placer.states]
    out: dict[str, dict[str, Any]] = {}
    heads: dict[str, dict[str, Any]] = {}
    for v in sorted((v for v in verdicts if not v.admitted and v.position), key=lambda v: v.position):
        w = v.workload
        q = queues.get(w.queue)
        if q is None or v.position > per_queue:
            continue
        if v.reason == BEHIND:
            head = heads.get(w.queue) or {"estimatedStart": None, "estimateBasis": UNKNOWN}
            found = {"estimatedStart": head["estimatedStart"],
                     "estimateBasis": "not before the workload it waits behind" if head["estimatedStart"]
                     else head["estimateBasis"]}
        else:
            if v.reason == QUOTA:
                mine = [e for e in endings if queued(e.pod) and queue_of(e.pod) == w.queue]
                end = quota_start(w, q, mine)
            else:
                end = capacity_start(w, endings, placer)
            found = ({"estimatedStart": format_time(end.at), "estimateBasis": end.basis}
                     if end is not None and end.at is not None
                     else {"estimatedStart": None, "estimateBasis": UNKNOWN})
            heads.setdefault(w.queue, found)
        out[w.key] = found
    return out
