"""Live GPU samples per node, kept in memory with ten minutes of history (never a durable
write per sample), and the health verdicts drawn from them. Plain data in and out; the
runtime's telemetry feeds it from the node agents."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gpu import GpuSample, HealthTracker

HISTORY_S = 600.0
MIN_PERIOD_S = 1.0


@dataclass
class _NodeGpus:
    samples: deque[dict[str, Any]]
    health: HealthTracker = field(default_factory=HealthTracker)
    unhealthy: dict[str, str] = field(default_factory=dict)


class GpuMonitor:
    def __init__(self, *, period: float = 2.0) -> None:
        self.period = max(float(period), MIN_PERIOD_S)
        self._nodes: dict[str, _NodeGpus] = {}

    def _node(self, node: str) -> _NodeGpus:
        if node not in self._nodes:
            keep = int(HISTORY_S / self.period) + 1
            self._nodes[node] = _NodeGpus(samples=deque(maxlen=keep))
        return self._nodes[node]

    def record(self, node: str, samples: list[GpuSample], *, now: float,
               usage: dict[str, Any] | None = None, owners: dict[int, str] | None = None) -> bool:
        """Keep one tick of `node` (GPU samples, node usage, GPU process pid -> pod); True
        when the set of unhealthy GPUs changed."""
        state = self._node(node)
        state.samples.append({"time": now, "gpus": [s.to_dict() for s in samples],
                              "usage": usage or {}, "owners": dict(owners or {})})
        verdict = state.health.update(samples, now)
        changed = verdict != state.unhealthy
        state.unhealthy = dict(verdict)
        return changed

    def unhealthy(self, node: str) -> dict[str, str]:
        return dict(self._nodes[node].unhealthy) if node in self._nodes else {}

    def history(self, node: str, *, since: float = 0.0) -> list[dict[str, Any]]:
        """Every tick of `node` after `since` (oldest first), at most ten minutes of them."""
        state = self._nodes.get(node)
        return [t for t in state.samples if t["time"] > since] if state else []

    def latest(self, node: str) -> dict[str, Any] | None:
        state = self._nodes.get(node)
        return state.samples[-1] if state and state.samples else None

    def forget(self, node: str) -> None:
        self._nodes.pop(node, None)
