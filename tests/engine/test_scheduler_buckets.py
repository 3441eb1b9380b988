"""The bucketed Placer decides exactly as the naive full scan does, on random clusters and pods."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from engine.scheduler import place, snapshot
from engine.scheduler.buckets import Placer

PRODUCTS = ("NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-40GB")


def _node(rng: random.Random, i: int) -> dict[str, Any]:
    product = rng.choice(PRODUCTS)
    gpus = rng.choice([0, 4, 8])
    alloc = {"cpu": str(rng.choice([8, 16])), "memory": rng.choice(["32Gi", "64Gi"]),
             "pods": str(rng.choice([4, 110]))}
    if gpus:
        alloc["nvidia.com/gpu"] = str(gpus)
    labels = {"zone": rng.choice("ab"), "nvidia.com/gpu.product": product,
              "kubernetes.io/hostname": f"node-{i:03d}",
              "nvidia.com/gpu.memory": "81559" if "80GB" in product else "40960"}
    spec: dict[str, Any] = {}
    roll = rng.random()
    if roll < 0.1:
        spec["taints"] = [{"key": "gpu", "value": "maintenance", "effect": "NoSchedule"}]
    elif roll < 0.2:
        spec["taints"] = [{"key": "spot", "effect": "PreferNoSchedule"}]
    elif roll < 0.25:
        spec["unschedulable"] = True
    ready = rng.random() > 0.05
    status: dict[str, Any] = {"allocatable": alloc,
                              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if gpus and rng.random() < 0.6:  # a node that lists its GPUs: some mixed, some unhealthy
        kinds = [(product, int(labels["nvidia.com/gpu.memory"]))] * gpus
        if rng.random() < 0.5:
            kinds[gpus // 2:] = [("NVIDIA A100-SXM4-40GB", 40960)] * (gpus - gpus // 2)
            kinds[:gpus // 2] = [("NVIDIA H100 80GB HBM3", 81559)] * (gpus // 2)
        status["gpus"] = [{"index": k, "uuid": f"GPU-{i}-{k}", "product": prod, "memoryMiB": mem,
                           "health": "Unhealthy" if rng.random() < 0.05 else "Healthy"}
                          for k, (prod, mem) in enumerate(kinds)]
    return {"metadata": {"name": f"node-{i:03d}", "labels": labels}, "spec": spec, "status": status}


def _pod(rng: random.Random, i: int) -> dict[str, Any]:
    req: dict[str, str] = {"cpu": rng.choice(["500m", "1", "2", "4"]), "memory": rng.choice(["1Gi", "8Gi"])}
    gpus = rng.choice([0, 0, 1, 1, 2, 4, 8])
    if gpus:
        req["nvidia.com/gpu"] = str(gpus)
    if rng.random() < 0.1:
        req["tugboat.dev/gpu-memory"] = "60Gi"
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"requests": req}}]}
    roll = rng.random()
    if roll < 0.1:
        spec["nodeSelector"] = {"zone": rng.choice("ab")}
    elif roll < 0.15:  # a product: on a mixed node, only its GPUs of that product count
        spec["nodeSelector"] = {"nvidia.com/gpu.product": rng.choice(PRODUCTS)}
    elif roll < 0.17:  # a label every node has its own value of: classes must split again
        spec["nodeSelector"] = {"kubernetes.io/hostname": f"node-{rng.randrange(30):03d}"}
    elif roll < 0.25:
        spec["affinity"] = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": rng.choice([1, 50]),
             "preference": {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In",
                                                  "values": [rng.choice(PRODUCTS)]}]}}]}}
    elif roll < 0.3:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                    "values": [f"node-{rng.randrange(30):03d}"]}]}]}}}
    if rng.random() < 0.2:
        spec["tolerations"] = [{"key": rng.choice(["gpu", "spot"]), "operator": "Exists"}]
    return {"metadata": {"name": f"pod-{i}"}, "spec": spec, "status": {"phase": "Pending"}}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("strategy", ["LeastAllocated", "MostAllocated"])
def test_placer_matches_the_full_scan(seed: int, strategy: str) -> None:
    rng = random.Random(seed)
    nodes = [_node(rng, i) for i in range(rng.choice([1, 5, 30]))]
    pods = [_pod(rng, i) for i in range(120)]
    naive_states = snapshot(copy.deepcopy(nodes), [])
    placer = Placer(snapshot(nodes, []), strategy=strategy)
    bound = 0
    for p in pods:
        want = place(p, naive_states, strategy=strategy)
        got = placer.place(p)
        assert got == want, p["spec"]
        if want.node is not None:
            naive_states[want.node].add(p)
            placer.assume(p, want.node)
            assert placer.states[want.node].gpus_of(p) == naive_states[want.node].gpus_of(p)
            bound += 1
    assert bound > 0


def test_identical_nodes_share_one_bucket_and_spread() -> None:
    nodes = [{"metadata": {"name": f"n{i}", "labels": {}}, "spec": {},
              "status": {"allocatable": {"cpu": "8", "memory": "8Gi", "nvidia.com/gpu": "8"},
                         "conditions": [{"type": "Ready", "status": "True"}]}} for i in range(100)]
    placer = Placer(snapshot(nodes, []))
    assert placer.bucket_count == 1
    gpu_pod = {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]}}
    decisions = placer.place_all([gpu_pod] * 150)
    assert [d.node for d in decisions[:3]] == ["n99", "n98", "n97"]  # highest name wins ties
    assert len({d.node for d in decisions[:100]}) == 100  # LeastAllocated spreads
    assert placer.bucket_count == 2  # 50 nodes hold 2 GPUs, 50 hold 1
