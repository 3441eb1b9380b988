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


def _node_class(node: dict[str, Any]) -> str:
    """Everything the static filters and the pod-independent scores read from a node."""
    meta, spec = node.get("metadata") or {}, node.get("spec") or {}
    return json.dumps([meta.get("labels") or {}, spec.get("taints") or [], bool(spec.get("unschedulable")),
                       is_ready(node), (node.get("status") or {}).get("allocatable") or {}],
                      sort_keys=True)


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
    # bucket key -> (why it does not fit, fit score, preferred-affinity raw, untolerated soft taints)
    verdicts: dict[BucketKey, tuple[str | None, int, int, int]] = field(default_factory=dict)


class Placer:
    """Places pods one after another over `states`, remembering each placement (`assume`)."""

    def __init__(self, states: dict[str, NodeState], *, strategy: str = "LeastAllocated",
                 resources: ResourceWeights | None = None) -> None:
        self.states = states
        self.strategy = strategy_of(strategy).value
        self.resources = list(resources) if resources is not None else None
        self._class_ids: dict[str, int] = {}
        self._class_rep: dict[int, NodeState] = {}
        self._node_class: dict[str, int] = {}
        self._buckets: dict[BucketKey, _Bucket] = {}
        self._node_bucket: dict[str, BucketKey] = {}
        self._static: dict[tuple[str, int], str | None] = {}
        self._shapes: dict[str, _Shape] = {}
        self._last: tuple[dict[str, Any], str | None] | None = None  # the pod placed last, its signature
        for name in sorted(states):
            text = _node_class(states[name].node)
            cls = self._class_ids.setdefault(text, len(self._class_ids))
            self._class_rep.setdefault(cls, states[name])
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
        feasible: list[tuple[str, int, int, int]] = []  # (winning name, fit, affinity, taints)
        reasons: Counter[str] = Counter()
        for key, bucket in self._buckets.items():
            verdict = shape.verdicts.get(key)
            if verdict is None:
                verdict = shape.verdicts[key] = self._verdict(pod, sig, shape, bucket)
            if verdict[0] is None:
                feasible.append((bucket.names[-1], *verdict[1:]))
            else:
                reasons[verdict[0]] += len(bucket.names)
        if not feasible:
            return no_fit(len(self.states), reasons)
        if not any(f[2] or f[3] for f in feasible):  # no preferences: only the fit score differs
            return Decision(max(feasible, key=lambda f: (f[1], f[0]))[0], "")
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
            shape = self._shapes[sig] = _Shape(fit_requests(pod), fit, usage_of(pod))
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
