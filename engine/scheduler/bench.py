"""`tug bench scheduler`: the real placement code over a simulated cluster (no Ray), and the real
scheduler loop binding through a real SQLite store, each beside the naive full scan measured in
the same run as the baseline."""

from __future__ import annotations

import asyncio
import copy
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.scheduler.buckets import Placer
from engine.scheduler.placement import FullScan, snapshot
from engine.scheduler.scheduler import Scheduler
from engine.stats import percentile
from engine.store import Store

PRODUCTS = (("NVIDIA-H100-80GB-HBM3", 81559), ("NVIDIA-A100-SXM4-40GB", 40960))
CREATE_BATCH = 500  # pods per store transaction while the scheduler runs


def sim_nodes(count: int, gpus_per_node: int, *, mixed_every: int = 0) -> list[dict[str, Any]]:
    """Ready nodes with 64 CPUs, 512Gi and `gpus_per_node` GPUs, each listed in status.gpus (so the
    scheduler chooses which GPU a pod gets); half H100 80GB, half A100 40GB, and one in
    `mixed_every` (0: none) with half of each; one in twenty tainted gpu=maintenance:NoSchedule."""
    nodes = []
    for i in range(count):
        product, memory = PRODUCTS[i % 2]
        kinds = [PRODUCTS[i % 2]] * gpus_per_node
        if mixed_every and i % mixed_every == mixed_every - 1:
            half = gpus_per_node // 2
            kinds = [PRODUCTS[1]] * half + [PRODUCTS[0]] * (gpus_per_node - half)
            product, memory = kinds[0]
        gpus = [{"index": k, "uuid": f"GPU-sim-{i:05d}-{k}", "product": kind[0], "memoryMiB": kind[1],
                 "health": "Healthy"} for k, kind in enumerate(kinds)]
        alloc = {"cpu": "64", "memory": "512Gi", "pods": "110", "nvidia.com/gpu": str(gpus_per_node)}
        spec: dict[str, Any] = {}
        if i % 20 == 19:
            spec["taints"] = [{"key": "gpu", "value": "maintenance", "effect": "NoSchedule"}]
        nodes.append({"apiVersion": "v1", "kind": "Node",
                      "metadata": {"name": f"sim-{i:05d}",
                                   "labels": {"kubernetes.io/hostname": f"sim-{i:05d}",
                                              "nvidia.com/gpu.product": product,
                                              "nvidia.com/gpu.memory": str(memory)}},
                      "spec": spec,
                      "status": {"capacity": alloc, "allocatable": alloc, "gpus": gpus,
                                 "conditions": [{"type": "Ready", "status": "True"}]}})
    return nodes


def workload(count: int, *, run: str = "bench") -> list[dict[str, Any]]:
    """A mix of pod shapes: CPU-only, 1, 2 and 8 GPUs, some pinned to H100s, some that need
    60Gi per GPU, a few that tolerate the maintenance taint."""
    pods = []
    for i in range(count):
        req: dict[str, str] = {"cpu": "1", "memory": "4Gi"}
        slot = i % 100
        if slot < 25:
            req["nvidia.com/gpu"] = "1"
        elif slot < 35:
            req["nvidia.com/gpu"] = "2"
        elif slot < 38:
            req.update({"nvidia.com/gpu": "8", "cpu": "16", "memory": "64Gi"})
        elif slot < 43:
            req.update({"nvidia.com/gpu": "1", "tugboat.dev/gpu-memory": "60Gi"})
        spec: dict[str, Any] = {"restartPolicy": "Never",
                                "containers": [{"name": "c", "image": "busybox", "command": ["true"],
                                                "resources": {"requests": req}}]}
        if slot % 10 == 5:
            spec["nodeSelector"] = {"nvidia.com/gpu.product": PRODUCTS[0][0]}
        if slot == 99:
            spec["tolerations"] = [{"key": "gpu", "operator": "Exists"}]
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"{run}-{i:06d}", "namespace": "default"}, "spec": spec})
    return pods


def decide(placer_cls: type[Placer | FullScan], nodes: list[dict[str, Any]],
           pods: list[dict[str, Any]]) -> tuple[list[str | None], list[float]]:
    """Place `pods` in order over fresh `nodes`; (chosen node per pod, seconds per decision)."""
    placer = placer_cls(snapshot(copy.deepcopy(nodes), []))
    chosen: list[str | None] = []
    latencies: list[float] = []
    clock = time.perf_counter
    for pod in pods:
        start = clock()
        decision = placer.place(pod)
        if decision.node is not None:
            placer.assume(pod, decision.node)
        latencies.append(clock() - start)
        chosen.append(decision.node)
    return chosen, latencies


async def _end_to_end(placer_cls: type[Placer | FullScan], nodes: list[dict[str, Any]],
                      pods: list[dict[str, Any]], home: Path, timeout: float) -> dict[str, Any]:
    store = Store(home / "bench.db")
    scheduler = Scheduler(store, placer=placer_cls)
    try:
        store.apply_all([("create", "nodes", n, False) for n in nodes]
                        + [("create", "queues", {"apiVersion": "tugboat.dev/v1", "kind": "Queue",
                                                 "metadata": {"name": "default"}, "spec": {}}, False)])
        await scheduler.start()
        since = store.resource_version()
        bound: set[str] = set()
        waiting: set[str] = set()

        async def observe() -> None:
            async for _, pod in store.watch("pods", since=since):
                name = pod["metadata"]["name"]
                if (pod.get("spec") or {}).get("nodeName"):
                    bound.add(name)
                    waiting.discard(name)
                elif any(c.get("type") == "PodScheduled" and c.get("status") == "False"
                         for c in (pod.get("status") or {}).get("conditions") or []):
                    waiting.add(name)
                if len(bound) + len(waiting) >= len(pods):
                    return

        watcher = asyncio.create_task(observe())
        start = time.perf_counter()
        for i in range(0, len(pods), CREATE_BATCH):
            store.apply_all([("create", "pods", p) for p in pods[i:i + CREATE_BATCH]])
            await asyncio.sleep(0)  # let the scheduler and the watch run between batches
        await asyncio.wait_for(watcher, timeout)
        elapsed = time.perf_counter() - start
        return {"pods": len(pods), "bound": len(bound), "unschedulable": len(waiting),
                "seconds": elapsed, "bound_pods_per_s": len(bound) / elapsed}
    finally:
        await scheduler.close()
        store.close()


def end_to_end(placer_cls: type[Placer | FullScan], nodes: list[dict[str, Any]],
               pods: list[dict[str, Any]], *, timeout: float = 600.0) -> dict[str, Any]:
    """Create `pods` in a real store (in batches, while a real Scheduler runs) and time until
    every one is bound or marked unschedulable, as a watch of the store sees it."""
    with tempfile.TemporaryDirectory(prefix="tug-bench-") as home:
        return asyncio.run(_end_to_end(placer_cls, copy.deepcopy(nodes), copy.deepcopy(pods),
                                       Path(home), timeout))


def run(*, nodes: int, gpus_per_node: int, pods: int, baseline_pods: int, mixed_every: int = 0,
        progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """The whole benchmark; one dict with stable keys (see the README's performance section)."""
    cluster = sim_nodes(nodes, gpus_per_node, mixed_every=mixed_every)
    work = workload(pods)
    sample = work[:baseline_pods]
    progress(f"placing {pods} pods on {nodes} nodes")
    chosen, lat = decide(Placer, cluster, work)
    progress(f"baseline: full scan of every node for the first {len(sample)} pods")
    base_chosen, base_lat = decide(FullScan, cluster, sample)
    progress("end to end through the store")
    e2e = end_to_end(Placer, cluster, work)
    progress(f"baseline end to end: {len(sample)} pods")
    base_e2e = end_to_end(FullScan, cluster, sample)
    return {
        "nodes": nodes, "gpus_per_node": gpus_per_node, "mixed_every": mixed_every, "pods": pods,
        "decisions_per_s": len(lat) / sum(lat),
        "p50_decision_ms": percentile(lat, 50) * 1000,
        "p99_decision_ms": percentile(lat, 99) * 1000,
        "placed": sum(1 for c in chosen if c is not None),
        "baseline_pods": len(sample),
        "baseline_decisions_per_s": len(base_lat) / sum(base_lat),
        "baseline_p50_decision_ms": percentile(base_lat, 50) * 1000,
        "baseline_p99_decision_ms": percentile(base_lat, 99) * 1000,
        "baseline_agrees": chosen[:len(sample)] == base_chosen,
        "speedup": (len(lat) / sum(lat)) / (len(base_lat) / sum(base_lat)),
        "bound_pods_per_s": e2e["bound_pods_per_s"],
        "bound": e2e["bound"],
        "unschedulable": e2e["unschedulable"],
        "end_to_end_s": e2e["seconds"],
        "baseline_bound_pods_per_s": base_e2e["bound_pods_per_s"],
        "baseline_bound": base_e2e["bound"],
    }
