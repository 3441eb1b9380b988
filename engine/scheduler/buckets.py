"""Placement at scale: nodes that look the same to a pod (same labels, taints, readiness,
allocatable and the same requests bound) are kept in one bucket, so a decision costs one filter
and score per bucket instead of per node, with exactly the naive full scan's result."""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.objects import is_ready
from engine.scheduler.filters import (
    GPU_MEMORY_LABEL,
    STATIC_FILTERS,
    fit_requests,
    resource_reason,
    run_filters,
)
from engine.scheduler.placement import Decision, NodeState, Usage, no_fit, place, usage_of
from engine.scheduler.scores import (
    ResourceWeights,
    combine,
    fit_scorer,
    prefer_no_schedule_count,
    preferred_affinity_raw,
    strategy_of,
)

BucketKey = tuple[int, tuple[tuple[str, float], ...], int]
_MAX_SHAPES = 4096  # pod shapes remembered (pods of one Job or template share one)
_MAX_VERDICTS = 65536  # verdicts remembered per shape


@dataclass
class _Bucket:
    node_class: int
    names: list[str] = field(default_factory=list)  # sorted: names[-1] wins a tie, as in place()


def _node_class(node: dict[str, Any], keys: frozenset[str]) -> str:
    """Everything the static filters and the pod-independent scores read from a node: its labels
    only under `keys` (those some pod asks about; hostname labels would make every node unique)."""
    meta, spec = node.get("metadata") or {}, node.get("spec") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k in keys}
    return json.dumps([labels, spec.get("taints") or [], bool(spec.get("unschedulable")),
                       is_ready(node), (node.get("status") or {}).get("allocatable") or {}],
                      sort_keys=True)


def _label_keys(pod: dict[str, Any]) -> frozenset[str]:
    """The node label keys that the pod's selector and node affinity read."""
    spec = pod.get("spec") or {}
    keys = set(spec.get("nodeSelector") or {})
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    terms = list(((affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
                  .get("nodeSelectorTerms")) or [])
    terms += [t.get("preference") or {}
              for t in affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
    for term in terms:
        keys.update(str(e.get("key")) for e in term.get("matchExpressions") or [])
    return frozenset(keys)


def _pod_signature(pod: dict[str, Any]) -> str | None:
    """What placement reads from a pod (requests, selector, affinity, tolerations); None when
    the filters also read the node's name (matchFields), which no bucket can stand for."""
    spec = pod.get("spec") or {}
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    text = json.dumps([spec.get("nodeSelector") or {}, affinity, spec.get("tolerations") or [],
                       [c.get("resources") for c in spec.get("containers") or []],
                       [c.get("resources") for c in spec.get("initContainers") or []]], sort_keys=True)
    return None if "matchFields" in text else text


@dataclass
class _Shape:
    """One pod shape's requests, read once, and its verdict on each bucket seen so far."""

    req: dict[str, float]
    fit: Callable[[NodeState], int]
    usage: Usage
    label_keys: frozenset[str]
    # bucket key -> (why it does not fit, fit score, preferred-affinity raw, untolerated soft taints)
    verdicts: dict[BucketKey, tuple[str | None, int, int, int]] = field(default_factory=dict)


class Placer:
    """Places pods one after another over `states`, remembering each placement (`assume`)."""

    def __init__(self, states: dict[str, NodeState], *, strategy: str = "LeastAllocated",
                 resources: ResourceWeights | None = None) -> None:
        self.states = states
        self.strategy = strategy_of(strategy).value
        self.resources = list(resources) if resources is not None else None
        self._keys = frozenset({GPU_MEMORY_LABEL})  # the label keys that classes tell apart
        self._static: dict[tuple[str, int], str | None] = {}
        self._shapes: dict[str, _Shape] = {}
        self._last: tuple[dict[str, Any], str | None] | None = None  # the pod placed last, its signature
        self._build()

    def _build(self) -> None:
        """Sort the nodes into classes and buckets (again, when a pod reads a new label key)."""
        self._class_ids: dict[str, int] = {}
        self._class_rep: dict[int, NodeState] = {}
        self._node_class: dict[str, int] = {}
        self._buckets: dict[BucketKey, _Bucket] = {}
        self._node_bucket: dict[str, BucketKey] = {}
        self._static.clear()
        for shape in self._shapes.values():
            shape.verdicts.clear()
        for name in sorted(self.states):
            text = _node_class(self.states[name].node, self._keys)
            cls = self._class_ids.setdefault(text, len(self._class_ids))
            self._class_rep.setdefault(cls, self.states[name])
            self._node_class[name] = cls
            self._enter(name)

    @property
    def bucket_count(self) -> int:
        return len(self._buckets)

    def place(self, pod: dict[str, Any]) -> Decision:
        """Filter → score → choose, as engine.scheduler.placement.place decides over all nodes."""
        sig = _pod_signature(pod)
        self._last = (pod, sig)
        if sig is None:
            return place(pod, self.states, strategy=self.strategy, resources=self.resources)
        shape = self._shape(pod, sig)
        if not shape.label_keys <= self._keys:
            self._keys |= shape.label_keys
            self._build()
        verdicts = shape.verdicts
        best: tuple[int, str] | None = None  # (fit score, name) of the best without preferences
        preferences = False
        for key, bucket in self._buckets.items():
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = verdicts[key] = self._verdict(pod, sig, shape, bucket)
            if verdict[0] is None:
                preferences = preferences or bool(verdict[2] or verdict[3])
                candidate = (verdict[1], bucket.names[-1])
                if best is None or candidate > best:
                    best = candidate
        if best is None:
            reasons: Counter[str] = Counter()
            for key, bucket in self._buckets.items():
                reasons[str(verdicts[key][0])] += len(bucket.names)
            return no_fit(len(self.states), reasons)
        if not preferences:  # then only the fit score differs between nodes
            return Decision(best[1], "")
        feasible = [(b.names[-1], *verdicts[k][1:]) for k, b in self._buckets.items()
                    if verdicts[k][0] is None]
        scores = combine({f[0]: f[1] for f in feasible}, {f[0]: f[2] for f in feasible},
                         {f[0]: f[3] for f in feasible})
        return Decision(max(scores, key=lambda name: (scores[name], name)), "")

    def assume(self, pod: dict[str, Any], node: str) -> None:
        """Count `pod` as bound to `node` for the decisions that follow."""
        sig = self._last[1] if self._last is not None and self._last[0] is pod else _pod_signature(pod)
        usage = self._shape(pod, sig).usage if sig is not None else None
        self._leave(node)
        self.states[node].add(pod, usage)
        self._enter(node)

    def release(self, pod: dict[str, Any], node: str) -> None:
        """Undo `assume` (a trial placement of a gang that did not fit whole)."""
        sig = _pod_signature(pod)
        usage = self._shape(pod, sig).usage if sig is not None else None
        self._leave(node)
        self.states[node].remove(pod, usage)
        self._enter(node)

    def place_all(self, pods: Sequence[dict[str, Any]]) -> list[Decision]:
        """Place in order, each decision seeing the ones before it."""
        out = []
        for pod in pods:
            decision = self.place(pod)
            if decision.node is not None:
                self.assume(pod, decision.node)
            out.append(decision)
        return out

    # internals

    def _key(self, name: str) -> BucketKey:
        state = self.states[name]
        used = tuple(sorted([*((k, round(v, 6)) for k, v in state.requested.items() if v),
                             *((f"non-zero {k}", float(v)) for k, v in state.non_zero.items())]))
        return (self._node_class[name], used, state.pods)

    def _enter(self, name: str) -> None:
        key = self._key(name)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(key[0])
        bisect.insort(bucket.names, name)
        self._node_bucket[name] = key

    def _leave(self, name: str) -> None:
        key = self._node_bucket.pop(name)
        bucket = self._buckets[key]
        del bucket.names[bisect.bisect_left(bucket.names, name)]
        if not bucket.names:
            del self._buckets[key]

    def _shape(self, pod: dict[str, Any], sig: str) -> _Shape:
        shape = self._shapes.get(sig)
        if shape is None:
            if len(self._shapes) >= _MAX_SHAPES:
                self._shapes.clear()
            fit = fit_scorer(pod, self.strategy, self.resources)
            shape = self._shapes[sig] = _Shape(fit_requests(pod), fit, usage_of(pod), _label_keys(pod))
        elif len(shape.verdicts) >= _MAX_VERDICTS:
            shape.verdicts.clear()
        return shape

    def _verdict(self, pod: dict[str, Any], sig: str, shape: _Shape,
                 bucket: _Bucket) -> tuple[str | None, int, int, int]:
        rep = self.states[bucket.names[0]]
        static = (sig, bucket.node_class)
        if static not in self._static:
            self._static[static] = run_filters(pod, rep.node, rep, filters=STATIC_FILTERS)
        why = self._static[static] or resource_reason(shape.req, rep.node, rep)
        if why is not None:
            return (why, 0, 0, 0)
        return (None, shape.fit(rep), preferred_affinity_raw(pod, rep.node),
                prefer_no_schedule_count(pod, rep.node))
