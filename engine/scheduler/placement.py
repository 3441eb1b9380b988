"""Node placement for one pod over a snapshot of node usage: the filters (scheduler/filters.py)
say why each node is rejected, the scores (scheduler/scores.py) rank the rest, and when
nothing fits the reasons are counted into one plain sentence with numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.api import parse_quantity
from engine.objects import GPU, MAX_PODS, amount, finished, pod_requests
from engine.scheduler.filters import gpu_match, gpu_memory_request, run_filters
from engine.scheduler.gpus import Kinds, Unit, by_size, choose, fitting, held, kinds
from engine.scheduler.gpus import units as node_gpus
from engine.scheduler.scores import NON_ZERO, score_nodes, scoring_requests


@dataclass
class NodeState:
    """A node and what the pods bound to it already request."""

    node: dict[str, Any]
    requested: dict[str, float] = field(default_factory=dict)
    pods: int = 0
    # cpu (millicores) and memory (bytes) requested with the scoring defaults for containers that
    # ask for none (kube-scheduler's NonZeroRequested); left out, it is `requested` itself
    non_zero: dict[str, int] = field(default=None)  # type: ignore[assignment]
    _allocatable: dict[str, float] = field(init=False, repr=False, compare=False)
    # the node's whole GPUs (None: it lists none, or MIG devices), how many pods hold each index,
    # and which indexes each pod holds (a stack per pod: a template may be assumed twice)
    gpu_units: tuple[Unit, ...] | None = field(init=False, repr=False, compare=False)
    gpu_kinds: Kinds = field(init=False, repr=False, compare=False)
    gpus_taken: dict[int, int] = field(init=False, repr=False, compare=False)
    _gpu_holds: dict[str, list[tuple[int, ...]]] = field(init=False, repr=False, compare=False)
    _handout: tuple[Unit, ...] = field(init=False, repr=False, compare=False)
    _healthy: dict[int, tuple[str, int | None]] = field(init=False, repr=False, compare=False)
    _free: Counter[tuple[str, int | None]] = field(init=False, repr=False, compare=False)
    _free_kinds: tuple[Any, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.gpu_units = node_gpus(self.node)
        self.gpu_kinds = kinds(self.gpu_units or ())
        self._handout = by_size(self.gpu_units or ())
        self.gpus_taken, self._gpu_holds = {}, {}
        self._healthy = {u.index: u.kind for u in self.gpu_units or () if u.healthy}
        self._free = Counter(self._healthy.values())  # free, healthy GPUs per kind
        self._free_kinds = None
        if self.non_zero is None:
            self.non_zero = {"cpu": round(self.requested.get("cpu", 0.0) * 1000),
                             "memory": round(self.requested.get("memory", 0.0))}
        raw = (self.node.get("status") or {}).get("allocatable") or {}
        self._allocatable = {k: amount(parse_quantity(v), k) for k, v in raw.items()}

    @property
    def name(self) -> str:
        return str(self.node["metadata"]["name"])

    def allocatable(self, resource: str) -> float:
        return self._allocatable.get(resource, 0.0)

    def max_pods(self) -> float:
        """How many pods the node takes: its allocatable pods, else the kubelet's default."""
        return self._allocatable.get("pods", MAX_PODS)

    def add(self, pod: dict[str, Any], usage: Usage | None = None,
            gpus: tuple[int, ...] | None = None) -> None:
        """Count `pod` as bound here; `usage` is usage_of(pod) and `gpus` the GPUs chosen for it,
        when the caller has them already (a bound pod keeps the ones it holds)."""
        requested, non_zero = usage or usage_of(pod)
        for key, value in requested.items():
            self.requested[key] = self.requested.get(key, 0.0) + value
        for key, units in non_zero.items():
            self.non_zero[key] = self.non_zero.get(key, 0) + units
        self.pods += 1
        count = int(requested.get(GPU, 0.0))
        if self.gpu_units is not None and count > 0:
            # what it was bound to (or reports holding), else the choice placement made for it;
            # a bound pod that nothing fits still takes free GPUs, so none is handed out twice
            indexes = (held(pod) or gpus or self.choose_gpus(pod, count)
                       or tuple(u.index for u in fitting(self.gpu_units, self.gpus_taken)[:count]))
            for i in indexes:
                held_by = self.gpus_taken.get(i, 0)
                self.gpus_taken[i] = held_by + 1
                if not held_by and i in self._healthy:
                    self._free[self._healthy[i]] -= 1
            self._gpu_holds.setdefault(_holder(pod), []).append(indexes)
            self._free_kinds = None

    def remove(self, pod: dict[str, Any], usage: Usage | None = None) -> None:
        """Undo `add` (a trial placement that did not hold)."""
        requested, non_zero = usage or usage_of(pod)
        for key, value in requested.items():
            left = self.requested.get(key, 0.0) - value
            if abs(left) < 1e-9:
                self.requested.pop(key, None)
            else:
                self.requested[key] = left
        for key, units in non_zero.items():
            self.non_zero[key] = self.non_zero.get(key, 0) - units
        self.pods -= 1
        stack = self._gpu_holds.get(_holder(pod))
        if stack:
            self._free_kinds = None
            for i in stack.pop():
                left = self.gpus_taken.get(i, 0) - 1
                if left > 0:
                    self.gpus_taken[i] = left
                elif self.gpus_taken.pop(i, None) is not None and i in self._healthy:
                    self._free[self._healthy[i]] += 1
            if not stack:
                del self._gpu_holds[_holder(pod)]

    def choose_gpus(self, pod: dict[str, Any], count: int) -> tuple[int, ...] | None:
        """The GPUs `pod` would get here now (see gpus.choose), or None when too few fit."""
        if self.gpu_units is None:
            return None
        return self.pick_gpus(count, gpu_memory_request(pod), gpu_match(pod, self.node, self.gpu_kinds))

    def pick_gpus(self, count: int, min_bytes: int,
                  match: Callable[[Unit], bool] | None) -> tuple[int, ...] | None:
        """choose_gpus with the pod's memory per GPU and GPU selector already read."""
        if self.gpu_units is None:
            return None
        return choose(self._handout, self.gpus_taken, count, min_bytes=min_bytes, match=match, ordered=True)

    def gpus_of(self, pod: dict[str, Any]) -> tuple[int, ...] | None:
        """The GPU indexes `pod` was last counted as holding here (None: not counted by index)."""
        stack = self._gpu_holds.get(_holder(pod))
        return stack[-1] if stack else None

    def free_gpu_kinds(self) -> tuple[tuple[tuple[str, int | None], int], ...]:
        """How many free, healthy GPUs of each kind: all that GPU choice reads of the holdings."""
        if self._free_kinds is None:
            self._free_kinds = tuple(sorted(((k, n) for k, n in self._free.items() if n),
                                            key=lambda kv: (kv[0][0], kv[0][1] or 0)))
        return self._free_kinds


def _holder(pod: dict[str, Any]) -> str:
    """A key for the pod's GPU holdings: its uid, or the object itself for a template without one."""
    return str((pod.get("metadata") or {}).get("uid") or f"object {id(pod)}")


Usage = tuple[dict[str, float], dict[str, int]]


def usage_of(pod: dict[str, Any]) -> Usage:
    """What a bound pod takes from its node: its requests, and its non-zero cpu/memory for scores."""
    return ({k: amount(q, k) for k, q in pod_requests(pod).items()}, scoring_requests(pod, NON_ZERO))


@dataclass(frozen=True)
class Decision:
    node: str | None
    message: str  # why nothing fits, when node is None


def snapshot(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], *,
             usage: Callable[[dict[str, Any]], Usage] = usage_of) -> dict[str, NodeState]:
    """Per-node usage from the pods that are bound and not finished (`usage` may remember
    each pod's, since a pod's requests do not change)."""
    states = {n["metadata"]["name"]: NodeState(n) for n in nodes}
    unknown: list[tuple[dict[str, Any], Usage]] = []  # GPU pods on nodes that list GPUs, none named
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node in states and not finished(pod):
            used = usage(pod)
            if used[0].get(GPU) and states[node].gpu_units is not None and held(pod) is None:
                unknown.append((pod, used))
            else:
                states[node].add(pod, used)
    for pod, used in unknown:  # after the held GPUs are counted, so none is handed out twice
        states[pod["spec"]["nodeName"]].add(pod, used)
    return states


def place(pod: dict[str, Any], states: dict[str, NodeState], *,
          strategy: str = "LeastAllocated",
          resources: list[tuple[str, int]] | None = None) -> Decision:
    """Filter → score → choose for `pod` over every node (the naive full scan; buckets.Placer
    decides the same faster), or explain in one sentence why no node fits."""
    fits: list[NodeState] = []
    reasons: Counter[str] = Counter()
    for state in states.values():
        why = run_filters(pod, state.node, state)
        if why is None:
            fits.append(state)
        else:
            reasons[why] += 1
    if fits:
        scores = score_nodes(pod, fits, strategy=strategy, resources=resources)
        best = max(fits, key=lambda s: (scores[s.name], s.name))
        return Decision(best.name, "")
    return no_fit(len(states), reasons)


def no_fit(total: int, reasons: Counter[str]) -> Decision:
    """One sentence for "nothing fits": how many nodes said each reason, most first."""
    if total == 0:
        return Decision(None, "0/0 nodes are available: no nodes are registered yet.")
    detail = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
    return Decision(None, f"0/{total} nodes are available: {detail}.")


class FullScan:
    """The naive placer: every decision filters and scores every node (the bench's baseline)."""

    def __init__(self, states: dict[str, NodeState], *, strategy: str = "LeastAllocated",
                 resources: list[tuple[str, int]] | None = None) -> None:
        self.states = states
        self.strategy = strategy
        self.resources = resources

    def place(self, pod: dict[str, Any]) -> Decision:
        return place(pod, self.states, strategy=self.strategy, resources=self.resources)

    def assume(self, pod: dict[str, Any], node: str) -> None:
        self.states[node].add(pod)

    def release(self, pod: dict[str, Any], node: str) -> None:
        self.states[node].remove(pod)
