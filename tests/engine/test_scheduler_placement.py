"""Placement: filters with reasons, least-allocated scoring, and the one-sentence verdict."""

from __future__ import annotations

from typing import Any

import pytest

from engine.scheduler import place, snapshot


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", gpu: int = 0, ready: bool = True,
         labels: dict[str, str] | None = None, unschedulable: bool = False) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": "110"}
    if gpu:
        alloc["nvidia.com/gpu"] = str(gpu)
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"unschedulable": unschedulable} if unschedulable else {},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pod(name: str, *, cpu: str | None = None, gpu: int = 0, node_name: str | None = None,
        selector: dict[str, str] | None = None, phase: str = "Running") -> dict[str, Any]:
    req: dict[str, str] = {}
    if cpu:
        req["cpu"] = cpu
    res: dict[str, Any] = {"requests": req} if req else {}
    if gpu:
        res = {"requests": {**req, "nvidia.com/gpu": str(gpu)}, "limits": {"nvidia.com/gpu": str(gpu)}}
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": res}]}
    if node_name:
        spec["nodeName"] = node_name
    if selector:
        spec["nodeSelector"] = selector
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": phase}}


def test_insufficient_cpu_names_free_and_needed() -> None:
    states = snapshot([node("a", cpu="4")], [pod("x", cpu="3500m", node_name="a")])
    d = place(pod("p", cpu="600m"), states)
    assert d.node is None
    assert d.message == "0/1 nodes are available: 1 Insufficient cpu (free 0.5, need 0.6)."
    assert place(pod("p", cpu="500m"), states).node == "a"  # 500m > 500m is false


def test_finished_pods_free_their_requests() -> None:
    states = snapshot([node("a", cpu="1")], [pod("done", cpu="1", node_name="a", phase="Succeeded")])
    assert place(pod("p", cpu="1"), states).node == "a"


def test_reasons_are_aggregated_with_counts() -> None:
    nodes = [node("a", ready=False), node("b", labels={"zone": "x"}), node("c", labels={"zone": "x"}),
             node("d", gpu=1)]
    d = place(pod("p", gpu=2, selector={"zone": "x"}), snapshot(nodes, []))
    assert d.node is None
    assert d.message == ("0/4 nodes are available: 2 Insufficient nvidia.com/gpu (free 0, need 2), "
                         "1 node(s) didn't match Pod's node affinity/selector, "
                         "1 node(s) were not ready.")


def test_gpu_fit() -> None:
    states = snapshot([node("g", gpu=8)], [pod("x", gpu=6, node_name="g")])
    assert place(pod("p", gpu=2), states).node == "g"
    d = place(pod("p", gpu=3), states)
    assert d.message == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu (free 2, need 3)."


def test_least_allocated_prefers_the_emptier_node() -> None:
    states = snapshot([node("busy"), node("idle")], [pod("x", cpu="3", node_name="busy")])
    assert place(pod("p", cpu="1"), states).node == "idle"


def test_unschedulable_and_no_nodes() -> None:
    assert place(pod("p"), {}).message.startswith("0/0 nodes are available")
    d = place(pod("p"), snapshot([node("a", unschedulable=True)], []))
    assert d.message == "0/1 nodes are available: 1 node(s) were unschedulable."


@pytest.mark.parametrize("requested,fits", [("110", False), ("109", True)])
def test_too_many_pods(requested: str, fits: bool) -> None:
    pods = [pod(f"x{i}", node_name="a") for i in range(int(requested))]
    d = place(pod("p"), snapshot([node("a")], pods))
    assert (d.node == "a") is fits


def test_most_allocated_bin_packs_gpus_and_least_allocated_spreads() -> None:
    nodes = [node("a", gpu=8), node("b", gpu=8)]
    states = snapshot(nodes, [pod("x", gpu=6, node_name="a")])
    gpu_first = [("nvidia.com/gpu", 5), ("cpu", 1), ("memory", 1)]
    assert place(pod("p", gpu=1), states, strategy="MostAllocated", resources=gpu_first).node == "a"
    assert place(pod("p", gpu=1), states, strategy="LeastAllocated", resources=gpu_first).node == "b"


def test_taints_and_affinity_reach_the_sentence() -> None:
    tainted = node("t", labels={"zone": "a"})
    tainted["spec"]["taints"] = [{"key": "gpu", "value": "maintenance", "effect": "NoSchedule"}]
    other = node("o", labels={"zone": "b"})
    p = pod("p")
    p["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["a"]}]}]}}}
    d = place(p, snapshot([tainted, other], []))
    assert d.node is None
    assert d.message == ("0/2 nodes are available: 1 node(s) didn't match Pod's node "
                         "affinity/selector, 1 node(s) had untolerated taint {gpu: maintenance}.")
