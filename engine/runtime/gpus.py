"""Live GPU samples per node, kept in memory with ten minutes of history (never a durable
write per sample), the health verdicts drawn from them, and which pod's processes use which
GPU. Plain data in and out; the runtime feeds it from the node agents."""

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


def container_leaders(pods: list[dict[str, Any]]) -> dict[int, str]:
    """Main pid of every running container -> "namespace/name" of its pod."""
    out: dict[int, str] = {}
    for pod in pods:
        meta = pod["metadata"]
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            cid = str(status.get("containerID") or "")
            if cid.startswith("process://") and "running" in (status.get("state") or {}):
                out[int(cid.split("://", 1)[1])] = f"{meta.get('namespace')}/{meta['name']}"
    return out


def holders(pods: list[dict[str, Any]]) -> dict[str, list[str]]:
    """GPU uuid -> the pods (namespace/name) that hold it, from the pods' status."""
    out: dict[str, list[str]] = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        meta = pod["metadata"]
        for gpu in (pod.get("status") or {}).get("gpus") or []:
            if gpu.get("uuid"):
                out.setdefault(gpu["uuid"], []).append(f"{meta.get('namespace')}/{meta['name']}")
    return out


def node_top(name: str, node: dict[str, Any], tick: dict[str, Any] | None,
             inventory: Any, held: dict[str, list[str]]) -> dict[str, Any]:
    """One row of `tug top nodes`: usage from the latest tick, each GPU with its holders."""
    usage = (tick or {}).get("usage") or {}
    by_uuid = {g["uuid"]: g for g in (tick or {}).get("gpus") or []}
    health = {g["uuid"]: g.get("health") for g in (node.get("status") or {}).get("gpus") or []}
    gpus = []
    for info in (inventory.gpus if inventory else ()):
        sample = by_uuid.get(info.uuid) or {}
        used = sample.get("memoryUsedMiB")
        gpus.append({"index": info.index, "uuid": info.uuid, "product": info.product,
                     "simulated": info.simulated, "health": health.get(info.uuid, "Healthy"),
                     "utilizationGpu": sample.get("utilizationGpu"), "memoryUsedMiB": used,
                     "memoryTotalMiB": info.memory_mib,
                     "temperatureC": sample.get("temperatureC"), "powerW": sample.get("powerW"),
                     "pods": held.get(info.uuid, [])})
    return {"name": name, "cpuCores": usage.get("cpuCores"),
            "cpuCapacity": usage.get("cpuCapacity"), "memoryBytes": usage.get("memoryBytes"),
            "memoryCapacity": usage.get("memoryCapacity"), "gpus": gpus}


def pod_gpu_top(pod: dict[str, Any], tick: dict[str, Any] | None,
                inventory: Any) -> list[dict[str, Any]]:
    """The GPUs a pod holds, with utilization and the memory its own processes use there."""
    key = f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
    owners = {int(pid): owner for pid, owner in ((tick or {}).get("owners") or {}).items()}
    samples = {g["uuid"]: g for g in (tick or {}).get("gpus") or []}
    totals = {g.uuid: g.memory_mib for g in (inventory.gpus if inventory else ())}
    out = []
    for held in (pod.get("status") or {}).get("gpus") or []:
        sample = samples.get(held.get("uuid")) or {}
        mine = [p.get("usedMemoryMiB") for p in sample.get("processes") or []
                if owners.get(int(p.get("pid", -1))) == key]
        known = [m for m in mine if m is not None]
        out.append({"index": held.get("index"), "uuid": held.get("uuid"),
                    "utilizationGpu": sample.get("utilizationGpu"),
                    "memoryUsedMiB": sum(known) if known else None,
                    "memoryTotalMiB": totals.get(held.get("uuid"))})
    return out
