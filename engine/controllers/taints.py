"""NoExecute taints evict running pods (the taint-eviction controller, reference §5.4): a pod
that does not tolerate one goes at once; one that tolerates them all goes after the smallest
tolerationSeconds, counted from when the taint was seen; with no tolerationSeconds, never."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.clock import Clock, format_time, parse_time, utcnow
from engine.controllers.loop import run_every
from engine.disruption import disrupt
from engine.events import EventRecorder
from engine.objects import finished
from engine.scheduler.filters import tolerates

Obj = dict[str, Any]
PERIOD_S = 1.0


def taint_key(taint: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(taint.get("key") or ""), str(taint.get("value") or ""), str(taint.get("effect") or ""))


def eviction_time(pod: Mapping[str, Any], taints: Sequence[tuple[Mapping[str, Any], datetime]],
                  now: datetime) -> datetime | None:
    """When `pod` must go because of the NoExecute `taints` (each with the time it was seen):
    now for an untolerated one, else the latest sighting plus the smallest tolerationSeconds
    of the matching tolerations (≤ 0 is now); None when nothing limits it."""
    tolerations = list((pod.get("spec") or {}).get("tolerations") or [])
    seconds: list[float] = []
    latest: datetime | None = None
    for taint, seen in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates([t], taint)]
        if not matching:
            return now
        seconds += [float(t["tolerationSeconds"]) for t in matching
                    if t.get("tolerationSeconds") is not None]
        latest = seen if latest is None else max(latest, seen)
    if not seconds or latest is None:
        return None
    least = min(seconds)
    return now if least <= 0 else latest + timedelta(seconds=least)


class TaintEviction:
    """Looks at the nodes every PERIOD_S and evicts the pods whose time has come."""

    def __init__(self, store: Any, *, clock: Clock = utcnow) -> None:
        self.store, self.clock = store, clock
        self.events = EventRecorder(store, component="taint-eviction-controller", clock=clock)
        self._seen: dict[tuple[str, tuple[str, str, str]], datetime] = {}  # (node, taint) -> first seen

    def sweep(self) -> int:
        now = self.clock()
        evicted = 0
        current: set[tuple[str, tuple[str, str, str]]] = set()
        for node in self.store.list("nodes")[0]:
            name = node["metadata"]["name"]
            taints = []
            for taint in (node.get("spec") or {}).get("taints") or []:
                if taint.get("effect") != "NoExecute":
                    continue
                key = (name, taint_key(taint))
                current.add(key)
                added = taint.get("timeAdded")
                seen = self._seen.setdefault(key, parse_time(added) if added else now)
                taints.append((taint, seen))
            if not taints:
                continue
            for pod in self.store.list("pods", field_selector=f"spec.nodeName={name}")[0]:
                if finished(pod) or pod["metadata"].get("deletionTimestamp"):
                    continue
                when = eviction_time(pod, taints, now)
                if when is not None and when <= now:
                    evicted += self._evict(pod, name)
        self._seen = {k: v for k, v in self._seen.items() if k in current}
        return evicted

    def _evict(self, pod: Obj, node: str) -> int:
        meta = pod["metadata"]
        cur = disrupt(self.store, pod, reason="DeletionByTaintManager",
                      message="Taint manager: deleting due to NoExecute taint", now=format_time(self.clock()))
        if cur is None:
            return 0
        self.events.record(cur, "Normal", "TaintManagerEviction",
                           f"Marking for deletion Pod {meta['namespace']}/{meta['name']} (node {node})")
        return 1

    async def run(self) -> None:
        await run_every(PERIOD_S, self.sweep, who="taint eviction sweep")
