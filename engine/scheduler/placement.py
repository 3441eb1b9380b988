"""Node placement for one pod over a snapshot of node usage: the filters (scheduler/filters.py)
say why each node is rejected, the scores (scheduler/scores.py) rank the rest, and when
nothing fits the reasons are counted into one plain sentence with numbers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine.api import parse_quantity
from engine.objects import amount, finished, pod_requests
from engine.scheduler.filters import run_filters
from engine.scheduler.scores import score_nodes


@dataclass
class NodeState:
    """A node and what the pods bound to it already request."""

    node: dict[str, Any]
    requested: dict[str, float] = field(default_factory=dict)
    pods: int = 0

    @property
    def name(self) -> str:
        return str(self.node["metadata"]["name"])

    def allocatable(self, resource: str) -> float:
        raw = ((self.node.get("status") or {}).get("allocatable") or {}).get(resource)
        if raw is None:
            return 0.0
        return amount(parse_quantity(raw), resource)

    def add(self, pod: dict[str, Any]) -> None:
        for key, q in pod_requests(pod).items():
            self.requested[key] = self.requested.get(key, 0.0) + amount(q, key)
        self.pods += 1


@dataclass(frozen=True)
class Decision:
    node: str | None
    message: str  # why nothing fits, when node is None


def snapshot(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> dict[str, NodeState]:
    """Per-node usage from the pods that are bound and not finished."""
    states = {n["metadata"]["name"]: NodeState(n) for n in nodes}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node in states and not finished(pod):
            states[node].add(pod)
    return states


def place(pod: dict[str, Any], states: dict[str, NodeState], *,
          strategy: str = "LeastAllocated",
          resources: list[tuple[str, int]] | None = None) -> Decision:
    """Filter → score → choose for `pod`, or explain in one sentence why no node fits."""
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
    total = len(states)
    if total == 0:
        return Decision(None, "0/0 nodes are available: no nodes are registered yet.")
    detail = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
    return Decision(None, f"0/{total} nodes are available: {detail}.")
