"""The Deployment planner: from a Deployment, the ReplicaSets it controls, whether pods of old
ReplicaSets still run, and the time, what the controller must do next (reference §3: fenceposts,
the rolling step, Recreate, proportional scaling, revisions, history cleanup, paused, progress
and conditions). Pure: no store, no clock but `now`. ReplicaSets are planned on copies; the
plan names the ones to create, update and delete."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.api.apps import REVISION
from engine.clock import format_time, time_or_none

HASH_LABEL = "pod-template-hash"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
NOT_COPIED = {REVISION, REVISION_HISTORY, DESIRED, MAX_REPLICAS, LAST_APPLIED}
MAX_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1
SAFE = "bcdfghjklmnpqrstvwxz2456789"  # rand.SafeEncodeString's alphabet

Obj = dict[str, Any]


class FencepostError(ValueError):
    """maxSurge or maxUnavailable is neither an integer nor "N%"."""


@dataclass
class DeploymentPlan:
    status: Obj  # the Deployment's status after this sync
    create: Obj | None = None  # a new ReplicaSet to make
    update: list[Obj] = field(default_factory=list)  # ReplicaSets whose spec or annotations changed
    delete: list[Obj] = field(default_factory=list)  # old ReplicaSets past the history limit
    revision: str | None = None  # the Deployment's revision annotation, when it must change
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue_after: float | None = None  # seconds until the progress deadline is due


# ----- fenceposts ------------------------------------------------------------------------------

def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise FencepostError(f"invalid value {value!r}: an integer or a percentage")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    raise FencepostError(f"invalid value {value!r}: an integer or a percentage")


def fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """(surge, unavailable): surge rounds up, unavailable down; both 0 makes unavailable 1."""
    surge = _scaled(max_surge, desired, round_up=True)
    unavailable = _scaled(max_unavailable, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _strategy(d: Obj) -> tuple[str, Any, Any]:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    kind = strategy.get("type") or "RollingUpdate"
    rolling = strategy.get("rollingUpdate") or {}
    return kind, rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")


def replicas_of(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 1


def max_surge(d: Obj) -> int:
    kind, surge, unavailable = _strategy(d)
    return 0 if kind != "RollingUpdate" else fenceposts(surge, unavailable, replicas_of(d))[0]


def max_unavailable(d: Obj) -> int:
    kind, surge, unavailable = _strategy(d)
    want = replicas_of(d)
    if kind != "RollingUpdate" or want == 0:
        return 0
    return min(fenceposts(surge, unavailable, want)[1], want)


# ----- ReplicaSet facts ------------------------------------------------------------------------

def _spec(rs: Obj) -> int:
    return replicas_of(rs)


def _st(rs: Obj, key: str) -> int:
    value = (rs.get("status") or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _annotation_int(rs: Obj, key: str) -> int | None:
    text = (rs["metadata"].get("annotations") or {}).get(key)
    try:
        return int(text) if isinstance(text, str) else None
    except ValueError:
        return None


def revision(obj: Obj) -> int:
    return _annotation_int(obj, REVISION) or 0


def _created(rs: Obj) -> tuple[str, str]:
    return rs["metadata"].get("creationTimestamp") or "", rs["metadata"].get("name") or ""


def without_hash(template: Any) -> Any:
    """A pod template with the pod-template-hash label taken out, for comparing."""
    out = copy.deepcopy(template) if isinstance(template, dict) else {}
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
        if not labels:
            out["metadata"].pop("labels")
    if isinstance(out.get("metadata"), dict) and not out["metadata"]:
        out.pop("metadata")
    return out


def template_hash(template: Any, collisions: int) -> str:
    """FNV-32a of the template (canonical JSON) and the collision count, safely encoded."""
    h = 0x811C9DC5
    data = json.dumps(without_hash(template), sort_keys=True, separators=(",", ":")).encode()
    if collisions:
        data += str(collisions).encode()
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE[ord(ch) % len(SAFE)] for ch in str(h))


def find_new(d: Obj, sets: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's (the hash label aside)."""
    want = without_hash((d.get("spec") or {}).get("template"))
    for rs in sorted(sets, key=_created):
        if without_hash((rs.get("spec") or {}).get("template")) == want:
            return rs
    return None


# ----- the planner -----------------------------------------------------------------------------

class _Sync:
    """One sync's working state: copies of the ReplicaSets, scaled and annotated in place."""

    def __init__(self, d: Obj, sets: list[Obj], now: datetime) -> None:
        self.d, self.now = d, now
        self.want = replicas_of(d)
        self.original = {rs["metadata"]["uid"]: rs for rs in sets}
        self.sets = [copy.deepcopy(rs) for rs in sets]
        self.events: list[tuple[str, str, str]] = []
        self.new: Obj | None = find_new(d, self.sets)
        self.created: Obj | None = None
        self.conditions: list[Obj] = copy.deepcopy((d.get("status") or {}).get("conditions") or [])
        self.revision: str | None = None

    @property
    def old(self) -> list[Obj]:
        return [rs for rs in self.sets if rs is not self.new]

    @property
    def all(self) -> list[Obj]:
        return self.old + ([self.new] if self.new is not None else [])

    def scale(self, rs: Obj, to: int, *, annotate: bool = False) -> bool:
        """Set a ReplicaSet's size and its replicas annotations (those only when the size
        changes, unless `annotate`); True when the size changed."""
        before = _spec(rs)
        if to == before and not annotate:
            return False
        rs.setdefault("spec", {})["replicas"] = to
        notes = rs["metadata"].setdefault("annotations", {})
        notes[DESIRED] = str(self.want)
        notes[MAX_REPLICAS] = str(self.want + max_surge(self.d))
        if to != before:
            verb = "up" if to > before else "down"
            self.events.append(("Normal", "ScalingReplicaSet",
                                f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {to}"))
        return to != before

    # --- the new ReplicaSet ---

    def _annotate_new(self, rs: Obj, new_revision: int, *, exists: bool) -> None:
        notes = rs["metadata"].setdefault("annotations", {})
        for key, value in (self.d["metadata"].get("annotations") or {}).items():
            if key not in NOT_COPIED:
                notes[key] = value
        old = notes.get(REVISION)
        old_n = _annotation_int(rs, REVISION) or 0
        if old_n < new_revision:
            notes[REVISION] = str(new_revision)
            if exists and old:
                history = [h for h in (notes.get(REVISION_HISTORY) or "").split(",") if h] + [old]
                while history and len(",".join(history)) > MAX_HISTORY_CHARS:
                    history.pop(0)
                notes[REVISION_HISTORY] = ",".join(history)

    def ensure_new(self, *, create: bool) -> None:
        """Bring the new ReplicaSet's annotations up to date, or make it (`create`)."""
        new_revision = max((revision(rs) for rs in self.old), default=0) + 1
        if self.new is not None:
            self._annotate_new(self.new, new_revision, exists=True)
            min_ready = (self.d.get("spec") or {}).get("minReadySeconds") or 0
            self.new.setdefault("spec", {})["minReadySeconds"] = min_ready
            self.revision = self.new["metadata"]["annotations"][REVISION]
            if self._progressing() is None and self._has_deadline():
                self.set_condition("Progressing", "True", "FoundNewReplicaSet",
                                   f'Found new replica set "{self.new["metadata"]["name"]}"')
            return
        if not create:
            return
        self.new = self._make_new(new_revision)
        self.sets.append(self.new)
        self.created = self.new
        self.revision = str(new_revision)
        self.scale(self.new, self.new_size(self.new), annotate=True)
        if self._has_deadline():
            self.set_condition("Progressing", "True", "NewReplicaSetCreated",
                               f'Created new replica set "{self.new["metadata"]["name"]}"')

    def _make_new(self, new_revision: int) -> Obj:
        d = self.d
        spec = d.get("spec") or {}
        collisions = (d.get("status") or {}).get("collisionCount") or 0
        digest = template_hash(spec.get("template"), collisions if isinstance(collisions, int) else 0)
        template = copy.deepcopy(spec.get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = digest
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = digest
        meta = d["metadata"]
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"{meta['name']}-{digest}", "namespace": meta.get("namespace"),
                                "uid": f"new:{meta['name']}-{digest}",  # until the store gives one
                                "labels": dict(template["metadata"]["labels"]),
                                "annotations": {},
                                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                     "name": meta["name"], "uid": meta["uid"],
                                                     "controller": True, "blockOwnerDeletion": True}]},
                   "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds") or 0,
                            "selector": selector, "template": template}}
        self._annotate_new(rs, new_revision, exists=False)
        return rs

    def new_size(self, new: Obj) -> int:
        """NewRSNewReplicas: how big the new ReplicaSet may be now."""
        if _strategy(self.d)[0] != "RollingUpdate":
            return self.want
        current = sum(_spec(rs) for rs in self.all)
        most = self.want + max_surge(self.d)
        if current >= most:
            return _spec(new)
        return _spec(new) + min(most - current, self.want - _spec(new))

    # --- rolling update ---

    def scale_up_new(self) -> bool:
        new = self.new
        assert new is not None
        if _spec(new) == self.want:
            return False
        if _spec(new) > self.want:
            return self.scale(new, self.want)
        return self.scale(new, self.new_size(new))

    def scale_down_old(self) -> bool:
        new = self.new
        assert new is not None
        active_old = [rs for rs in self.old if _spec(rs) > 0]
        if not active_old:
            return False
        all_pods = sum(_spec(rs) for rs in self.all)
        min_available = self.want - max_unavailable(self.d)
        new_unavailable = _spec(new) - _st(new, "availableReplicas")
        budget = all_pods - min_available - new_unavailable
        if budget <= 0:
            return False
        cleaned = 0
        for rs in sorted(active_old, key=_created):  # unhealthy replicas first, oldest sets first
            if cleaned >= budget:
                break
            unhealthy = _spec(rs) - _st(rs, "availableReplicas")
            if _spec(rs) == 0 or unhealthy <= 0:
                continue
            step = min(budget - cleaned, unhealthy)
            self.scale(rs, _spec(rs) - step)
            cleaned += step
        available = sum(_st(rs, "availableReplicas") for rs in self.all)
        scaled = 0
        if available > min_available:
            total = available - min_available
            for rs in sorted(active_old, key=_created):
                if scaled >= total:
                    break
                if _spec(rs) == 0:
                    continue
                step = min(_spec(rs), total - scaled)
                self.scale(rs, _spec(rs) - step)
                scaled += step
        return cleaned + scaled > 0

    # --- proportional scaling ---

    def scaling_event(self) -> bool:
        for rs in self.all:
            if _spec(rs) > 0:
                desired = _annotation_int(rs, DESIRED)
                if desired is not None and desired != self.want:
                    return True
        return False

    def proportional(self) -> None:
        active = [rs for rs in self.all if _spec(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (self.new or max(self.old, key=_created, default=None))
            if target is not None and _spec(target) != self.want:
                self.scale(target, self.want)
            return
        new = self.new
        if (new is not None and _spec(new) == self.want and _annotation_int(new, DESIRED) == self.want
                and _st(new, "availableReplicas") == self.want):
            for rs in self.old:
                if _spec(rs) > 0:
                    self.scale(rs, 0)
            return
        if _strategy(self.d)[0] != "RollingUpdate":
            return
        allowed = self.want + max_surge(self.d) if self.want > 0 else 0
        to_add = allowed - sum(_spec(rs) for rs in active)
        if to_add:  # larger first; ties: newer first when adding, older first when taking away
            active.sort(key=_created, reverse=to_add > 0)
            active.sort(key=_spec, reverse=True)  # (stable: the ties keep the order above)
        sizes: list[int] = []
        added = 0
        for rs in active:
            step = self._proportion(rs, to_add, added) if to_add else 0
            sizes.append(_spec(rs) + step)
            added += step
        if to_add and active:
            sizes[0] = max(sizes[0] + to_add - added, 0)
        for rs, size in zip(active, sizes, strict=True):
            self.scale(rs, size, annotate=True)

    def _proportion(self, rs: Obj, to_add: int, added: int) -> int:
        if _spec(rs) == 0 or to_add == 0 or to_add == added:
            return 0
        if self.want == 0:
            fraction = -_spec(rs)
        else:
            annotated = _annotation_int(rs, MAX_REPLICAS)
            if annotated is None:
                annotated = _st(self.d, "replicas")
            if annotated <= 0:
                fraction = 0
            else:
                exact = _spec(rs) * (self.want + max_surge(self.d)) / annotated
                fraction = int(math.floor(abs(exact) + 0.5)) * (1 if exact >= 0 else -1) - _spec(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    # --- history ---

    def cleanup(self) -> list[Obj]:
        limit = (self.d.get("spec") or {}).get("revisionHistoryLimit")
        if not isinstance(limit, int) or limit >= MAX_INT32:
            return []
        alive = [rs for rs in self.old if not rs["metadata"].get("deletionTimestamp")]
        extra = len(alive) - max(limit, 0)
        if extra <= 0:
            return []
        out = []
        for rs in sorted(alive, key=lambda r: (revision(r), _created(r)))[:extra]:
            if (_st(rs, "replicas") or _spec(rs)
                    or rs["metadata"].get("generation", 1) > _st(rs, "observedGeneration")):
                continue
            out.append(self.original.get(rs["metadata"]["uid"], rs))
        return out

    # --- conditions ---

    def _has_deadline(self) -> bool:
        pds = (self.d.get("spec") or {}).get("progressDeadlineSeconds")
        return isinstance(pds, int) and 0 < pds < MAX_INT32

    def _progressing(self) -> Obj | None:
        return next((c for c in self.conditions if c.get("type") == "Progressing"), None)

    def set_condition(self, ctype: str, state: str, reason: str, message: str) -> None:
        """SetDeploymentCondition: the same status and reason changes nothing; the same status
        keeps its lastTransitionTime."""
        now = format_time(self.now)
        current = next((c for c in self.conditions if c.get("type") == ctype), None)
        if current is not None and current.get("status") == state and current.get("reason") == reason:
            return
        cond = {"type": ctype, "status": state, "lastUpdateTime": now, "lastTransitionTime": now,
                "reason": reason, "message": message}
        if current is not None and current.get("status") == state:
            cond["lastTransitionTime"] = current.get("lastTransitionTime", now)
        self.conditions = [c for c in self.conditions if c.get("type") != ctype] + [cond]

    def status(self) -> Obj:
        """calculateStatus, with the Available condition."""
        sets = self.all
        total = sum(_spec(rs) for rs in sets)
        available = sum(_st(rs, "availableReplicas") for rs in sets)
        status: Obj = {
            "observedGeneration": self.d["metadata"].get("generation", 1),
            "replicas": sum(_st(rs, "replicas") for rs in sets),
            "updatedReplicas": _st(self.new, "replicas") if self.new is not None else 0,
            "readyReplicas": sum(_st(rs, "readyReplicas") for rs in sets),
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
        }
        collisions = (self.d.get("status") or {}).get("collisionCount")
        if isinstance(collisions, int) and collisions:
            status["collisionCount"] = collisions
        if available >= self.want - max_unavailable(self.d):
            self.set_condition("Available", "True", "MinimumReplicasAvailable",
                               "Deployment has minimum availability.")
        else:
            self.set_condition("Available", "False", "MinimumReplicasUnavailable",
                               "Deployment does not have minimum availability.")
        if self.conditions:
            status["conditions"] = self.conditions
        return status

    def rollout_status(self) -> tuple[Obj, float | None]:
        """syncRolloutStatus: the status with Progressing, and when to look at the deadline."""
        status = self.status()
        if not self._has_deadline():
            self.conditions = [c for c in self.conditions if c.get("type") != "Progressing"]
            status.pop("conditions", None)
            if self.conditions:
                status["conditions"] = self.conditions
            return status, None
        current = self._progressing()
        name = (self.new or {}).get("metadata", {}).get("name", "")
        complete = (status["replicas"] == status["updatedReplicas"] and current is not None
                    and current.get("reason") == "NewReplicaSetAvailable")
        if not complete:
            if completed(self.d, status):
                self.set_condition("Progressing", "True", "NewReplicaSetAvailable",
                                   f'ReplicaSet "{name}" has successfully progressed.')
            elif self._progressed(status):
                self._progress(name)
            elif self._timed_out():
                self.set_condition("Progressing", "False", "ProgressDeadlineExceeded",
                                   f'ReplicaSet "{name}" has timed out progressing.')
                self.events.append(("Warning", "ProgressDeadlineExceeded",
                                    f'ReplicaSet "{name}" has timed out progressing.'))
        status["conditions"] = self.conditions
        wait = None
        current = self._progressing()
        if current is not None and current.get("reason") not in ("NewReplicaSetAvailable",
                                                                  "ProgressDeadlineExceeded"):
            updated = time_or_none(current.get("lastUpdateTime"))
            if updated is not None:
                pds = (self.d.get("spec") or {})["progressDeadlineSeconds"]
                wait = max((updated - self.now).total_seconds() + pds + 1, 0.0)
        return status, wait

    def _progress(self, name: str) -> None:
        """Progressing True/ReplicaSetUpdated with a fresh lastUpdateTime (kept transition)."""
        now = format_time(self.now)
        current = self._progressing()
        cond = {"type": "Progressing", "status": "True", "lastUpdateTime": now, "lastTransitionTime": now,
                "reason": "ReplicaSetUpdated", "message": f'ReplicaSet "{name}" is progressing.'}
        if current is not None and current.get("status") == "True":
            cond["lastTransitionTime"] = current.get("lastTransitionTime", now)
        self.conditions = [c for c in self.conditions if c.get("type") != "Progressing"] + [cond]

    def _progressed(self, status: Obj) -> bool:
        old = self.d.get("status") or {}
        old_updated, new_updated = _st(self.d, "updatedReplicas"), status["updatedReplicas"]
        return (new_updated > old_updated
                or status["replicas"] - new_updated < _st(self.d, "replicas") - old_updated
                or status["readyReplicas"] > (old.get("readyReplicas") or 0)
                or status["availableReplicas"] > (old.get("availableReplicas") or 0))

    def _timed_out(self) -> bool:
        current = self._progressing()
        if current is None or current.get("reason") == "NewReplicaSetAvailable":
            return False
        if current.get("reason") == "ProgressDeadlineExceeded":
            return True
        updated = time_or_none(current.get("lastUpdateTime"))
        pds = (self.d.get("spec") or {})["progressDeadlineSeconds"]
        return updated is not None and (self.now - updated).total_seconds() > pds

    def paused_conditions(self) -> None:
        if not self._has_deadline():
            return
        paused = bool((self.d.get("spec") or {}).get("paused"))
        reason = (self._progressing() or {}).get("reason")
        if paused and reason != "DeploymentPaused":
            self.set_condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        elif not paused and reason == "DeploymentPaused":
            self.set_condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed")

    def changed(self) -> list[Obj]:
        out = []
        for rs in self.sets:
            if rs is self.created:
                continue
            before = self.original.get(rs["metadata"]["uid"])
            if before is None:
                continue
            notes, notes_before = rs["metadata"].get("annotations"), before["metadata"].get("annotations")
            if rs.get("spec") != before.get("spec") or notes != notes_before:
                out.append(rs)
        return out


def completed(d: Obj, status: Obj) -> bool:
    """DeploymentComplete: every replica updated and available, the generation observed."""
    want = replicas_of(d)
    return (status.get("updatedReplicas") == want and status.get("replicas") == want
            and status.get("availableReplicas") == want
            and (status.get("observedGeneration") or 0) >= d["metadata"].get("generation", 1))


def plan(d: Obj, sets: list[Obj], now: datetime, *, old_pods_running: bool = False) -> DeploymentPlan:
    """What to do for Deployment `d` whose ReplicaSets are `sets`; `old_pods_running` says
    whether a pod of a ReplicaSet other than the new one still runs (Recreate waits for none).
    The order of syncDeployment: deleted → status only; paused or a scaling event →
    proportional scaling (and history cleanup when paused); else the strategy's rollout."""
    s = _Sync(d, sets, now)
    spec = d.get("spec") or {}
    done_before = completed(d, d.get("status") or {})
    if d["metadata"].get("deletionTimestamp"):
        s.ensure_new(create=False)
        return _plan(s, s.status(), None, [])
    s.paused_conditions()
    if spec.get("paused") or s.scaling_event():
        s.ensure_new(create=False)
        s.proportional()
        delete = s.cleanup() if spec.get("paused") else []
        return _plan(s, s.status(), None, delete)
    delete = []
    if _strategy(d)[0] == "Recreate":
        s.ensure_new(create=False)
        scaled = [s.scale(rs, 0) for rs in s.old if _spec(rs) > 0]
        if not any(scaled) and not old_pods_running and not any(_st(rs, "replicas") for rs in s.old):
            s.ensure_new(create=True)  # made at full size: nothing old is left
            assert s.new is not None
            s.scale(s.new, s.want)
            delete = s.cleanup() if done_before else []
    else:
        s.ensure_new(create=True)  # a set made now is this sync's step (reference §3.3's sync 1)
        if s.created is None and not s.scale_up_new() and not s.scale_down_old() and done_before:
            delete = s.cleanup()
    status, wait = s.rollout_status()
    return _plan(s, status, wait, delete)


def _plan(s: _Sync, status: Obj, wait: float | None, delete: list[Obj]) -> DeploymentPlan:
    current = (s.d["metadata"].get("annotations") or {}).get(REVISION)
    return DeploymentPlan(status=status, create=s.created, update=s.changed(), delete=delete,
                          revision=s.revision if s.revision is not None and s.revision != current else None,
                          events=s.events, requeue_after=wait)
