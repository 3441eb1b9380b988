"""The ReplicaSet planner: from a ReplicaSet, the pods of its namespace that it owns or could
adopt, and the time, what the controller must do next (reference k8s-semantics-2 §1: which
pods count, adoption and release, surplus deleted in Kubernetes' order, status with
minReadySeconds). Pure: no store, no clock but `now`."""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.clock import time_or_none
from engine.errors import TugError
from engine.labels import selector_from_label_selector

BURST = 500  # pods created or deleted in one sync (BurstReplicas)
KEEP_ENDED = 5  # ended pods kept per ReplicaSet for their status and logs; older ones are deleted
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
INT32 = (-(2**31), 2**31 - 1)

Obj = dict[str, Any]


@dataclass
class ReplicaSetPlan:
    status: Obj  # the ReplicaSet's status after this sync
    create: int = 0  # pods to make from the template
    delete: list[Obj] = field(default_factory=list)  # surplus pods, first to go first
    adopt: list[Obj] = field(default_factory=list)  # orphans that match: take them over
    release: list[Obj] = field(default_factory=list)  # owned pods that stopped matching
    forget: list[Obj] = field(default_factory=list)  # ended pods past KEEP_ENDED, oldest first
    requeue_after: float | None = None  # seconds until a pod becomes available by time alone


def controller_ref(obj: Obj) -> Obj | None:
    return next((r for r in (obj.get("metadata") or {}).get("ownerReferences") or []
                 if isinstance(r, dict) and r.get("controller")), None)


def owner_reference(obj: Obj) -> Obj:
    """The controller reference that makes `obj` (a ReplicaSet, a Deployment) own something."""
    meta = obj["metadata"]
    return {"apiVersion": obj.get("apiVersion") or "apps/v1", "kind": obj["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


def active(pod: Obj) -> bool:
    """Counts as a replica: not finished and not being deleted (its replacement starts at once)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _ready_since(pod: Obj) -> datetime | None:
    """When the pod last became Ready, if it is Ready (a Ready with no time: the epoch's)."""
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            if c.get("status") != "True":
                return None
            return time_or_none(c.get("lastTransitionTime")) or datetime.fromtimestamp(0, UTC)
    return None


def available_in(pod: Obj, min_ready: int, now: datetime) -> float | None:
    """Seconds until the Ready pod counts as available (0: it does); None when not Ready.
    Available means Ready for more than minReadySeconds (strictly, as the ReplicaSet counts)."""
    since = _ready_since(pod)
    if since is None:
        return None
    if min_ready <= 0:
        return 0.0
    left = (since - now).total_seconds() + min_ready
    return 0.0 if left < 0 else left + 0.001


def claim(rs: Obj, pods: Iterable[Obj]) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """(owned, adopt, release): the pods this ReplicaSet controls and still selects, the orphans
    it may take over, and the pods it controls that its selector no longer selects."""
    meta = rs["metadata"]
    uid, deleting = meta["uid"], bool(meta.get("deletionTimestamp"))
    try:
        selector = selector_from_label_selector((rs.get("spec") or {}).get("selector"))
    except TugError:  # a selector that got into the store unchecked selects nothing
        selector = selector_from_label_selector(None)
    owned: list[Obj] = []
    adopt: list[Obj] = []
    release: list[Obj] = []
    for pod in pods:
        pmeta = pod["metadata"]
        if pmeta.get("namespace") != meta.get("namespace"):
            continue
        match = selector.matches(pmeta.get("labels"))
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if match:
                owned.append(pod)
            elif not deleting:
                release.append(pod)
        elif match and not deleting and not pmeta.get("deletionTimestamp"):
            adopt.append(pod)
    return owned, adopt, release


def _phase_rank(pod: Obj) -> int:
    return {"Pending": 0, "Unknown": 1, "Running": 2}.get((pod.get("status") or {}).get("phase") or "", 0)


def _cost(pod: Obj) -> int:
    text = ((pod["metadata"].get("annotations") or {}).get(DELETION_COST))
    try:
        value = int(text) if isinstance(text, str) else 0
    except ValueError:
        return 0
    return value if INT32[0] <= value <= INT32[1] else 0


def _restarts(pod: Obj) -> int:
    counts = [c.get("restartCount") for c in (pod.get("status") or {}).get("containerStatuses") or []
              if isinstance(c, dict)]
    return max((c for c in counts if isinstance(c, int)), default=0)


def _bucket(t: datetime | None, now: datetime) -> float:
    """LogarithmicScaleDown's bucket of a time: int(log2(age in ns)); no time counts as newest."""
    if t is None:
        return -math.inf
    ns = (now - t).total_seconds() * 1e9
    return float(int(math.log2(ns))) if ns >= 1 else 0.0


def _newer_first(a: tuple[datetime | None, str], b: tuple[datetime | None, str], now: datetime) -> int:
    """Rule 6/8 of the order: the newer (smaller bucket) first; equal buckets, the smaller uid."""
    ba, bb = _bucket(a[0], now), _bucket(b[0], now)
    if ba != bb:
        return -1 if ba < bb else 1
    if a[0] == b[0]:
        return 0
    return -1 if a[1] < b[1] else (1 if a[1] > b[1] else 0)


def deletion_order(pods: list[Obj], ranks: dict[str, int], now: datetime) -> list[Obj]:
    """The pods in the order a ReplicaSet deletes them (reference §1.5): unassigned, Pending,
    not ready, lower deletion cost, more related pods on its node, more recently ready, more
    restarts, newer. `ranks` is node name -> active related pods on it."""

    def ready(p: Obj) -> bool:
        return _ready_since(p) is not None

    def compare(a: Obj, b: Obj) -> int:
        na, nb = (a.get("spec") or {}).get("nodeName") or "", (b.get("spec") or {}).get("nodeName") or ""
        if (na == "") != (nb == ""):
            return -1 if na == "" else 1
        if _phase_rank(a) != _phase_rank(b):
            return -1 if _phase_rank(a) < _phase_rank(b) else 1
        if ready(a) != ready(b):
            return -1 if not ready(a) else 1
        if _cost(a) != _cost(b):
            return -1 if _cost(a) < _cost(b) else 1
        ra, rb = ranks.get(na, 0), ranks.get(nb, 0)
        if ra != rb:
            return -1 if ra > rb else 1
        if ready(a) and ready(b) and _ready_since(a) != _ready_since(b):
            order = _newer_first((_ready_since(a), a["metadata"]["uid"]),
                                 (_ready_since(b), b["metadata"]["uid"]), now)
            if order:
                return order
        if _restarts(a) != _restarts(b):
            return -1 if _restarts(a) > _restarts(b) else 1
        ca = time_or_none(a["metadata"].get("creationTimestamp"))
        cb = time_or_none(b["metadata"].get("creationTimestamp"))
        if ca != cb:
            return _newer_first((ca, a["metadata"]["uid"]), (cb, b["metadata"]["uid"]), now)
        return 0

    return sorted(pods, key=functools.cmp_to_key(compare))


def plan(rs: Obj, pods: Iterable[Obj], now: datetime, *, related: Iterable[Obj] = ()) -> ReplicaSetPlan:
    """What to do for `rs` given the pods of its namespace that it owns or could adopt, and
    `related`: the active pods of the ReplicaSets with the same owner (one Deployment's), for
    the node ranks of the deletion order."""
    spec = rs.get("spec") or {}
    want = spec.get("replicas")
    want = want if isinstance(want, int) and want >= 0 else 1
    min_ready = spec.get("minReadySeconds")
    min_ready = min_ready if isinstance(min_ready, int) and min_ready > 0 else 0
    owned, adopt, release = claim(rs, pods)
    owned_active = [p for p in owned + adopt if active(p)]
    out = ReplicaSetPlan(status={}, adopt=adopt, release=release)
    if not rs["metadata"].get("deletionTimestamp"):
        diff = len(owned_active) - want
        if diff < 0:  # no more while BURST of its pods wait for a node: what it costs follows
            # what the cluster can place, not `replicas` (2**31 - 1 must not flood the store)
            waiting = sum(1 for p in owned_active if not (p.get("spec") or {}).get("nodeName"))
            out.create = max(0, min(-diff, BURST - waiting))
        elif diff > 0:
            if diff >= len(owned_active):
                out.delete = owned_active[:BURST]
            else:
                ranks: dict[str, int] = {}
                for p in [*owned_active, *related]:
                    if active(p):
                        node = (p.get("spec") or {}).get("nodeName") or ""
                        ranks[node] = ranks.get(node, 0) + 1
                out.delete = deletion_order(owned_active, ranks, now)[:min(diff, BURST)]
    ended = [p for p in owned if not active(p) and not p["metadata"].get("deletionTimestamp")]
    if len(ended) > KEEP_ENDED:  # a replica failing at once, again and again, costs a bounded store
        ended.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
        out.forget = ended[:len(ended) - KEEP_ENDED]
    out.status = status_of(rs, owned_active, min_ready, now)
    waits = [w for p in owned_active if (w := available_in(p, min_ready, now))]
    out.requeue_after = min(waits) if waits else None
    return out


def status_of(rs: Obj, pods: list[Obj], min_ready: int, now: datetime) -> Obj:
    """calculateStatus: counts of the active owned pods, the generation observed, and the
    conditions already there (ReplicaFailure is the controller's, on a failed create)."""
    labels = ((rs.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    old = rs.get("status") or {}
    status: Obj = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(1 for p in pods if all(
            (p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())),
        "readyReplicas": sum(1 for p in pods if _ready_since(p) is not None),
        "availableReplicas": sum(1 for p in pods if available_in(p, min_ready, now) == 0.0),
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    return status
