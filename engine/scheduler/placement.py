"""Node placement for one pod over a snapshot of node usage: the filters (scheduler/filters.py)
say why each node is rejected, the scores (scheduler/scores.py) rank the rest, and when
nothing fits the reasons are counted into one plain sentence with numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.api import parse_quantity
from engine.objects import amount, finished, pod_requests
from engine.scheduler.filters import run_filters
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

    def __post_init__(self) -> None:
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

    def add(self, pod: dict[str, Any], usage: Usage | None = None) -> None:
        """Count `pod` as bound here; `usage` is usage_of(pod) when the caller has it already."""
        requested, non_zero = usage or usage_of(pod)
        for key, value in requested.items():
            self.requested[key] = self.requested.get(key, 0.0) + value
        for key, units in non_zero.items():
            self.non_zero[key] = self.non_zero.get(key, 0) + units
        self.pods += 1

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
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node in states and not finished(pod):
            states[node].add(pod, usage(pod))
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
