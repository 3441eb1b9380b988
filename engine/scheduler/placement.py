"""Node placement for one pod: filters (readiness, nodeSelector, resource fit) that say why a
node is rejected, a least-allocated score, and one plain sentence when nothing fits."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine.api import parse_quantity
from engine.objects import MAX_PODS, amount, is_ready, pod_requests


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
        phase = (pod.get("status") or {}).get("phase")
        if node in states and phase not in ("Succeeded", "Failed"):
            states[node].add(pod)
    return states


def _fmt(resource: str, value: float) -> str:
    if resource == "memory":
        return f"{value / 2**20:.0f}Mi"
    return f"{value:g}"


def _reject(state: NodeState, pod: dict[str, Any], req: dict[str, float]) -> str | None:
    """Why `pod` cannot go to this node, or None when it fits."""
    node = state.node
    if not is_ready(node):
        return "node(s) were not ready"
    if (node.get("spec") or {}).get("unschedulable"):
        return "node(s) were unschedulable"
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return "node(s) didn't match Pod's node affinity/selector"
    if state.pods + 1 > MAX_PODS:
        return "Too many pods"
    for resource, need in sorted(req.items()):
        if need <= 0:
            continue
        free = state.allocatable(resource) - state.requested.get(resource, 0.0)
        if need > free + 1e-9:
            return (f"Insufficient {resource} (free {_fmt(resource, max(free, 0.0))}, "
                    f"need {_fmt(resource, need)})")
    return None


def _score(state: NodeState, req: dict[str, float]) -> float:
    """LeastAllocated over cpu and memory, as kube-scheduler's default (0..100)."""
    scores = []
    for resource in ("cpu", "memory"):
        cap = state.allocatable(resource)
        if cap <= 0:
            continue
        used = state.requested.get(resource, 0.0) + req.get(resource, 0.0)
        scores.append(0.0 if used > cap else (cap - used) * 100.0 / cap)
    return sum(scores) / len(scores) if scores else 0.0


def place(pod: dict[str, Any], states: dict[str, NodeState]) -> Decision:
    """Choose a node for `pod`, or explain in one sentence why none fits."""
    req = {k: amount(q, k) for k, q in pod_requests(pod).items()}
    fits: list[NodeState] = []
    reasons: Counter[str] = Counter()
    for state in states.values():
        why = _reject(state, pod, req)
        if why is None:
            fits.append(state)
        else:
            reasons[why] += 1
    if fits:
        best = max(fits, key=lambda s: (_score(s, req), s.name))
        return Decision(best.name, "")
    total = len(states)
    if total == 0:
        return Decision(None, "0/0 nodes are available: no nodes are registered yet.")
    detail = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
    return Decision(None, f"0/{total} nodes are available: {detail}.")
