"""Placement at scale: nodes that look the same to a pod (same labels, taints, readiness,
allocatable, kinds of GPU, requests bound and free GPUs of each kind) are kept in one bucket, so
a decision costs one filter and score per bucket instead of per node, with exactly the naive
full scan's result."""

from __future__ import annotations

import bisect
import heapq
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.objects import GPU, is_ready
from engine.scheduler.filters import (
    GPU_MEMORY_LABEL,
    STATIC_FILTERS,
    fit_requests,
    gpu_devices,
    gpu_match,
    gpu_memory_request,
    resource_reason,
    run_filters,
)
from engine.scheduler.gpus import Unit, held
from engine.scheduler.gpus import units as gpu_units
from engine.scheduler.placement import Decision, NodeState, Usage, no_fit, place, usage_of
from engine.scheduler.scores import (
    ResourceWeights,
    combine,
    fit_scorer,
    prefer_no_schedule_count,
    preferred_affinity_raw,
    strategy_of,
)
from storage.claims import HOSTNAME, VOLUME_BLOCKED, VOLUME_NODES, VOLUME_STORAGE

BucketKey = int  # a bucket's id: one per distinct (node class, requests bound, pods, free GPU kinds)
_MAX_SHAPES = 4096  # pod shapes remembered (pods of one Job or template share one)
_MAX_VERDICTS = 65536  # verdicts remembered per shape
_MAX_LOG = 65536  # bucket changes remembered for the shapes' views


@dataclass
class _Bucket:
    node_class: int
    names: list[str] = field(default_factory=list)  # sorted: names[-1] wins a tie, as in place()


def _node_class(node: dict[str, Any], keys: frozenset[str]) -> str:
    """Everything the static filters and the pod-independent scores read from a node: its labels
    only under `keys` (those some pod asks about; hostname labels would make every node unique)."""
    meta, spec = node.get("metadata") or {}, node.get("spec") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k in keys}
    gpus = sorted((u.product, u.memory_mib or 0, u.healthy) for u in gpu_units(node) or ())  # not uuids
    return json.dumps([labels, spec.get("taints") or [], bool(spec.get("unschedulable")),
                       is_ready(node), (node.get("status") or {}).get("allocatable") or {}, gpus],
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
    for volume_terms, _ in spec.get(VOLUME_NODES) or []:  # its claims' volumes' nodes
        terms += list(volume_terms)
    if spec.get(VOLUME_STORAGE):  # room for a volume is each node's own
        keys.add(HOSTNAME)
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
                       [c.get("resources") for c in spec.get("initContainers") or []],
                       [spec.get(k) for k in (VOLUME_BLOCKED, VOLUME_NODES, VOLUME_STORAGE)]], sort_keys=True)
    return None if "matchFields" in text else text


@dataclass
class _Shape:
    """One pod shape's requests, read once, and its verdict on each bucket seen so far."""

    req: dict[str, float]
    fit: Callable[[NodeState], int]
    usage: Usage
    label_keys: frozenset[str]
    gpus: int  # whole GPUs asked for
    gpu_bytes: int  # memory wanted on each
    # bucket key -> (why it does not fit, fit score, preferred-affinity raw, untolerated soft taints)
    verdicts: dict[BucketKey, tuple[str | None, int, int, int]] = field(default_factory=dict)
    # the live buckets it fits, by fit score, kept up to date from the Placer's change log
    view: _View | None = None


@dataclass
class _View:
    """The live buckets a shape fits, grouped by fit score; in each group a heap by the rank of
    the bucket's highest node name (the tie-break), whose stale entries are dropped when read."""

    seen: int  # the Placer's change count this view has taken in
    score: dict[BucketKey, int] = field(default_factory=dict)  # feasible live bucket -> fit score
    heaps: dict[int, list[tuple[int, int, BucketKey]]] = field(default_factory=dict)
    scores: list[int] = field(default_factory=list)  # the distinct scores held, sorted
    preferences: int = 0  # feasible live buckets with a preferred-affinity or soft-taint term
    pushed: int = 0

    def add(self, key: BucketKey, verdict: tuple[str | None, int, int, int], top: int) -> None:
        """Take in a live bucket (again, when its highest node changed; `top` is that node's rank)."""
        if verdict[0] is not None:
            return
        if key not in self.score:
            self.score[key] = verdict[1]
            if verdict[1] not in self.heaps:
                self.heaps[verdict[1]] = []
                bisect.insort(self.scores, verdict[1])
            self.preferences += bool(verdict[2] or verdict[3])
        self.pushed += 1
        heapq.heappush(self.heaps[verdict[1]], (-top, self.pushed, key))

    def discard(self, key: BucketKey, verdict: tuple[str | None, int, int, int]) -> None:
        score = self.score.pop(key, None)
        if score is None:
            return
        self.preferences -= bool(verdict[2] or verdict[3])
        heap = self.heaps[score]
        while heap and self.score.get(heap[0][2]) != score:
            heapq.heappop(heap)
        if not heap:
            del self.heaps[score]
            del self.scores[bisect.bisect_left(self.scores, score)]

    def best(self, top_of: Callable[[BucketKey], int]) -> int:
        """The rank of the highest node among the best-scoring buckets."""
        score = self.scores[-1]
        heap = self.heaps[score]
        while True:
            rank, _, key = heap[0]
            if self.score.get(key) == score and top_of(key) == -rank:
                return -rank
            heapq.heappop(heap)


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
        self._ids: dict[tuple[Any, ...], BucketKey] = {}
        self._node_bucket: dict[str, BucketKey] = {}
        self._static.clear()
        self._matches: dict[tuple[str, int], Callable[[Unit], bool] | None] = {}
        self._changed, self._log = 0, []
        self._names = sorted(self.states)
        self._rank = {name: i for i, name in enumerate(self._names)}
        for shape in self._shapes.values():
            shape.verdicts.clear()
            shape.view = None
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
        view = self._view(pod, sig, shape)
        if not view.scores:
            reasons: Counter[str] = Counter()
            for key, bucket in self._buckets.items():
                reasons[str(verdicts[key][0])] += len(bucket.names)
            return no_fit(len(self.states), reasons)
        if not view.preferences:  # then only the fit score differs: the best score, highest name
            return Decision(self._names[view.best(self._top)], "")
        feasible = [(self._buckets[k].names[-1], *verdicts[k][1:]) for k in view.score]
        scores = combine({f[0]: f[1] for f in feasible}, {f[0]: f[2] for f in feasible},
                         {f[0]: f[3] for f in feasible})
        return Decision(max(scores, key=lambda name: (scores[name], name)), "")

    def assume(self, pod: dict[str, Any], node: str) -> None:
        """Count `pod` as bound to `node` for the decisions that follow."""
        sig = self._last[1] if self._last is not None and self._last[0] is pod else _pod_signature(pod)
        state = self.states[node]
        usage, gpus = None, None
        if sig is not None:
            shape = self._shape(pod, sig)
            usage = shape.usage
            if shape.gpus and state.gpu_units is not None and held(pod) is None:
                gpus = state.pick_gpus(shape.gpus, shape.gpu_bytes, self._gpu_match(pod, sig, state))
        self._leave(node)
        state.add(pod, usage, gpus)
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

    def _view(self, pod: dict[str, Any], sig: str, shape: _Shape) -> _View:
        """The shape's view of the live buckets, brought up to date with the buckets made and
        emptied since it last looked (each new bucket judged once), or built anew."""
        view = shape.view
        if view is None or view.seen < self._changed - len(self._log):
            view = shape.view = _View(self._changed)
            for key, bucket in self._buckets.items():
                verdict = shape.verdicts.get(key)
                if verdict is None:
                    verdict = shape.verdicts[key] = self._verdict(pod, sig, shape, bucket)
                view.add(key, verdict, self._rank[bucket.names[-1]])
            return view
        for key in set(self._log[len(self._log) - (self._changed - view.seen):]):
            bucket = self._buckets.get(key)
            if bucket is None:
                view.discard(key, shape.verdicts.get(key) or (None, 0, 0, 0))
                continue
            verdict = shape.verdicts.get(key)
            if verdict is None:
                verdict = shape.verdicts[key] = self._verdict(pod, sig, shape, bucket)
            view.add(key, verdict, self._rank[bucket.names[-1]])
        view.seen = self._changed
        return view

    def _gpu_match(self, pod: dict[str, Any], sig: str, state: NodeState) -> Callable[[Unit], bool] | None:
        """Which GPUs of the node's kinds the pod's selector accepts (filters.gpu_match), once per
        pod shape and node class."""
        if len(state.gpu_kinds) < 2:
            return None
        key = (sig, self._node_class[state.name])
        if key not in self._matches:
            self._matches[key] = gpu_match(pod, state.node, state.gpu_kinds)
        return self._matches[key]

    def _top(self, key: BucketKey) -> int:
        """The rank of the bucket's highest node name; -1 for a bucket that is gone."""
        bucket = self._buckets.get(key)
        return self._rank[bucket.names[-1]] if bucket is not None else -1

    def _note(self, key: BucketKey) -> None:
        """A bucket was made or emptied, or its highest node changed: the views take it in when
        they next look."""
        self._changed += 1
        self._log.append(key)
        if len(self._log) > _MAX_LOG:
            del self._log[:len(self._log) // 2]  # views older than what is kept are built anew

    def _key(self, name: str) -> BucketKey:
        """The id of what tells the node's bucket: its class and what is bound to it (a small
        int, so the views' many lookups do not hash the whole description each time)."""
        state = self.states[name]
        used = tuple(sorted([*((k, round(v, 6)) for k, v in state.requested.items() if v),
                             *((f"non-zero {k}", float(v)) for k, v in state.non_zero.items())]))
        return self._ids.setdefault((self._node_class[name], used, state.pods, state.free_gpu_kinds()),
                                    len(self._ids))

    def _enter(self, name: str) -> None:
        key = self._key(name)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._node_class[name])
        bisect.insort(bucket.names, name)
        if bucket.names[-1] == name:  # made, or a new highest node
            self._note(key)
        self._node_bucket[name] = key

    def _leave(self, name: str) -> None:
        key = self._node_bucket.pop(name)
        bucket = self._buckets[key]
        at = bisect.bisect_left(bucket.names, name)
        del bucket.names[at]
        if not bucket.names:
            del self._buckets[key]
        if at == len(bucket.names):  # emptied, or its highest node left
            self._note(key)

    def _shape(self, pod: dict[str, Any], sig: str) -> _Shape:
        shape = self._shapes.get(sig)
        if shape is None:
            if len(self._shapes) >= _MAX_SHAPES:
                self._shapes.clear()
            fit = fit_scorer(pod, self.strategy, self.resources)
            req = fit_requests(pod)
            shape = self._shapes[sig] = _Shape(req, fit, usage_of(pod), _label_keys(pod),
                                               int(req.get(GPU, 0.0)), gpu_memory_request(pod))
        elif len(shape.verdicts) >= _MAX_VERDICTS:
            shape.verdicts.clear()
            shape.view = None
        return shape

    def _verdict(self, pod: dict[str, Any], sig: str, shape: _Shape,
                 bucket: _Bucket) -> tuple[str | None, int, int, int]:
        rep = self.states[bucket.names[0]]
        static = (sig, bucket.node_class)
        if static not in self._static:
            self._static[static] = run_filters(pod, rep.node, rep, filters=STATIC_FILTERS)
        why = self._static[static] or resource_reason(shape.req, rep.node, rep)
        if why is None and shape.gpus and rep.gpu_units is not None \
                and rep.pick_gpus(shape.gpus, shape.gpu_bytes, self._gpu_match(pod, sig, rep)) is None:
            why = gpu_devices(pod, rep.node, rep)
        if why is not None:
            return (why, 0, 0, 0)
        return (None, shape.fit(rep), preferred_affinity_raw(pod, rep.node),
                prefer_no_schedule_count(pod, rep.node))
