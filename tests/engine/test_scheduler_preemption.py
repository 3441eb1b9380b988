"""Preemption victim choice (reference §5.5): fewest and lowest-priority victims, reprieve,
the latest-started among equals, and preemptionPolicy Never."""

from __future__ import annotations

from typing import Any

from engine.scheduler import snapshot
from engine.scheduler.preemption import choose, victims_on


def node(name: str, gpus: int = 4) -> dict[str, Any]:
    alloc = {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": str(gpus)}
    return {"metadata": {"name": name, "labels": {}}, "spec": {},
            "status": {"allocatable": alloc, "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, gpus: int, priority: int, *, on: str | None = None, started: str = "2026-01-01T00:00:00Z",
        policy: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"priority": priority, "containers": [
        {"name": "c", "resources": {"requests": {"nvidia.com/gpu": str(gpus)}}}]}
    if on:
        spec["nodeName"] = on
    if policy:
        spec["preemptionPolicy"] = policy
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec,
            "status": {"phase": "Running" if on else "Pending", "startTime": started}}


def cluster(*bound: dict[str, Any], nodes: tuple[str, ...] = ("a", "b")) -> tuple[Any, dict[str, list[Any]]]:
    states = snapshot([node(n) for n in nodes], list(bound))
    by_node: dict[str, list[Any]] = {}
    for p in bound:
        by_node.setdefault(p["spec"]["nodeName"], []).append(p)
    return states, by_node


def names(c: Any) -> list[str]:
    return sorted(v["metadata"]["name"] for v in c.victims)


def test_the_node_whose_highest_victim_is_lowest_wins() -> None:
    # vector: node A's victims have priorities [100], node B's [50, 50] → B
    states, bound = cluster(pod("a1", 4, 100, on="a"), pod("b1", 2, 50, on="b"), pod("b2", 2, 50, on="b"))
    c = choose(pod("hi", 4, 1000), states, bound)
    assert c is not None and c.node == "b" and names(c) == ["b1", "b2"]


def test_fewer_victims_win_at_equal_priority() -> None:
    # vector: victims [50] vs [50, 10] → the node with one victim
    states, bound = cluster(pod("a1", 4, 50, on="a"), pod("b1", 2, 50, on="b"), pod("b2", 2, 10, on="b"))
    c = choose(pod("hi", 4, 1000), states, bound)
    assert c is not None and c.node == "a" and names(c) == ["a1"]


def test_reprieve_keeps_the_pods_that_still_leave_room() -> None:
    states, bound = cluster(pod("keep", 2, 40, on="a"), pod("go", 2, 30, on="a"), nodes=("a",))
    c = victims_on(pod("hi", 2, 100), states["a"], bound["a"])
    assert c is not None and names(c) == ["go"]  # the higher of the two is reprieved


def test_equal_pods_the_latest_started_goes() -> None:
    states, bound = cluster(pod("old", 4, 10, on="a", started="2026-01-01T00:00:00Z"),
                            pod("new", 4, 10, on="b", started="2026-01-02T00:00:00Z"))
    c = choose(pod("hi", 4, 100), states, bound)
    assert c is not None and names(c) == ["new"]


def test_no_preemption_when_it_cannot_help_or_is_refused() -> None:
    states, bound = cluster(pod("peer", 4, 100, on="a"), pod("hier", 4, 500, on="b"))
    assert choose(pod("same", 4, 100), states, bound) is None  # equal priority is not lower
    assert choose(pod("never", 1, 1000, policy="Never"), states, bound) is None
    assert choose(pod("huge", 8, 1000), states, bound) is None  # no node has 8 GPUs at all
    c = choose(pod("hi", 4, 1000), states, bound, skip=frozenset({"a"}))
    assert c is not None and c.node == "b"
