"""Score plugins: least/most allocated, preferred affinity, PreferNoSchedule taints, the sum (§5.2-5.4)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.scheduler.placement import NodeState
from engine.scheduler.scores import (
    least_allocated,
    most_allocated,
    normalize_affinity,
    normalize_taint,
    prefer_no_schedule_count,
    preferred_affinity_raw,
    score_nodes,
    scoring_requests,
)

GPU_RESOURCES = [("nvidia.com/gpu", 5), ("cpu", 1), ("memory", 1)]


def node(name: str = "n", *, cpu: str = "4", memory: str = "10000", gpu: int = 0,
         labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": "110"}
    if gpu:
        alloc["nvidia.com/gpu"] = str(gpu)
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []},
            "status": {"allocatable": alloc, "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(*requests: dict[str, str] | None, init: list[dict[str, str]] | None = None,
        **spec: Any) -> dict[str, Any]:
    def c(req: dict[str, str] | None) -> dict[str, Any]:
        return {"name": "c", "resources": {"requests": req}} if req is not None else {"name": "c"}
    body: dict[str, Any] = {"containers": [c(r) for r in requests] or [c(None)], **spec}
    if init:
        body["initContainers"] = [c(r) for r in init]
    return {"metadata": {"name": "p"}, "spec": body}


# -- 5.2 resource fit --------------------------------------------------------------------------


@pytest.mark.parametrize("fn,want", [(least_allocated, 37), (most_allocated, 62)])
def test_fit_vector(fn: Any, want: int) -> None:
    # node 4000m / 10000, 2000m / 3000 already requested, the pod adds 1000m / 2000 → 3000m / 5000
    state = NodeState(node(), {"cpu": 2.0, "memory": 3000.0})
    assert fn(pod({"cpu": "1", "memory": "2000"}), state) == want


@pytest.mark.parametrize("used,want", [(6, 87), (0, 12)])
def test_gpu_most_allocated(used: int, want: int) -> None:
    state = NodeState(node(gpu=8), {"nvidia.com/gpu": float(used)})
    p = pod({"nvidia.com/gpu": "1"})
    assert most_allocated(p, state, resources=[("nvidia.com/gpu", 1)]) == want


def test_gpu_bin_packing_picks_the_fuller_node() -> None:
    a = NodeState(node("a", gpu=8), {"nvidia.com/gpu": 6.0})
    b = NodeState(node("b", gpu=8))
    scores = score_nodes(pod({"nvidia.com/gpu": "1"}), [a, b], strategy="MostAllocated",
                         resources=[("nvidia.com/gpu", 1)])
    assert scores == {"a": 87 + 300, "b": 12 + 300}  # affinity 0·2, no PreferNoSchedule taints 100·3


def test_non_zero_defaults_apply_to_missing_requests() -> None:
    assert scoring_requests(pod(None), ["cpu", "memory", "nvidia.com/gpu"]) == \
        {"cpu": 100, "memory": 200 * 2**20, "nvidia.com/gpu": 0}
    assert scoring_requests(pod({"cpu": "0"}), ["cpu", "memory"]) == {"cpu": 0, "memory": 200 * 2**20}
    assert scoring_requests(pod({"cpu": "1"}, {"cpu": "500m"}, init=[{"cpu": "2"}]), ["cpu"]) == {"cpu": 2000}
    # a pod with no requests counts as 100m of 1000m (→ 90) and 200Mi of 1000Mi (→ 80): (90 + 80) / 2
    state = NodeState(node(cpu="1", memory="1000Mi"))
    assert least_allocated(pod(None), state) == 85


@pytest.mark.parametrize("resources,want", [
    ([("cpu", 1), ("memory", 1)], 37),
    ([("cpu", 3), ("memory", 1)], (25 * 3 + 50) // 4),
    ([{"name": "cpu", "weight": 1}, {"name": "memory"}], 37),  # the config's form, weight defaults to 1
    ([("cpu", 1), ("ephemeral-storage", 1)], 25),  # allocatable 0 → skipped
    ([], 0),  # no weight at all
])
def test_weights(resources: Any, want: int) -> None:
    state = NodeState(node(), {"cpu": 2.0, "memory": 3000.0})
    assert least_allocated(pod({"cpu": "1", "memory": "2000"}), state, resources=resources) == want


def test_overcommitted_and_unrequested_extended_resources() -> None:
    full = NodeState(node(cpu="1", memory="1000"), {"cpu": 2.0, "memory": 2000.0})
    p = pod({"cpu": "1", "memory": "1"})
    assert least_allocated(p, full) == 0
    assert most_allocated(p, full) == 100
    # a CPU-only pod is not scored on GPUs it does not ask for
    gpu_node = NodeState(node(gpu=8), {"nvidia.com/gpu": 8.0, "cpu": 2.0, "memory": 3000.0})
    assert most_allocated(pod({"cpu": "1", "memory": "2000"}), gpu_node, resources=GPU_RESOURCES) == 62


def test_gpu_weighted_most_allocated() -> None:
    state = NodeState(node(gpu=8), {"nvidia.com/gpu": 6.0, "cpu": 2.0, "memory": 3000.0})
    p = pod({"nvidia.com/gpu": "1", "cpu": "1", "memory": "2000"})
    assert most_allocated(p, state, resources=GPU_RESOURCES) == (87 * 5 + 75 + 50) // 7


# -- 5.3 preferred node affinity ---------------------------------------------------------------


def preferred(*terms: tuple[int, str, str]) -> dict[str, Any]:
    return pod(None, affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "preference": {"matchExpressions": [{"key": k, "operator": "In", "values": [v]}]}}
        for w, k, v in terms]}})


def test_preferred_affinity_vector() -> None:
    p = preferred((2, "zone", "a"), (8, "gpu", "true"))
    nodes = {"both": node(labels={"zone": "a", "gpu": "true"}), "gpu": node(labels={"gpu": "true"}),
             "neither": node(labels={"zone": "b"})}
    raws = {name: preferred_affinity_raw(p, n) for name, n in nodes.items()}
    assert raws == {"both": 10, "gpu": 8, "neither": 0}
    assert normalize_affinity(raws) == {"both": 100, "gpu": 80, "neither": 0}


def test_preferred_affinity_edges() -> None:
    assert preferred_affinity_raw(pod(None), node()) == 0
    empty_term = pod(None, affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 5, "preference": {}}]}})
    assert preferred_affinity_raw(empty_term, node()) == 0  # an empty term matches nothing
    assert normalize_affinity({"a": 0, "b": 0}) == {"a": 0, "b": 0}
    assert normalize_affinity({}) == {}


# -- 5.4 PreferNoSchedule ----------------------------------------------------------------------

SOFT = [{"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "value": "x", "effect": "PreferNoSchedule"}]


@pytest.mark.parametrize("counts,want", [
    ({"n0": 0, "n1": 1, "n2": 2}, {"n0": 100, "n1": 50, "n2": 0}),
    ({"n0": 0, "n1": 0}, {"n0": 100, "n1": 100}),
    ({"n0": 1, "n1": 3}, {"n0": 67, "n1": 0}),  # 100 − 100·1/3 = 100 − 33
])
def test_normalize_taint(counts: dict[str, int], want: dict[str, int]) -> None:
    assert normalize_taint(counts) == want


@pytest.mark.parametrize("taints,tolerations,want", [
    ([], [], 0),
    (SOFT[:1], [], 1),
    (SOFT, [], 2),
    (SOFT, [{"key": "a", "operator": "Exists"}], 1),
    (SOFT, [{"key": "a", "operator": "Exists", "effect": "NoSchedule"}], 2),  # other effects don't count
    (SOFT, [{"operator": "Exists", "effect": "PreferNoSchedule"}], 0),
    ([{"key": "hard", "effect": "NoSchedule"}], [], 0),
])
def test_prefer_no_schedule_count(taints: list[dict[str, str]], tolerations: list[dict[str, str]],
                                  want: int) -> None:
    assert prefer_no_schedule_count(pod(None, tolerations=tolerations), node(taints=taints)) == want


# -- the weighted sum --------------------------------------------------------------------------


def test_score_nodes_weights_plugins() -> None:
    p = preferred((2, "zone", "a"), (8, "gpu", "true"))
    states = [NodeState(node("n0", labels={"zone": "a", "gpu": "true"}, taints=SOFT)),
              NodeState(node("n1", labels={"gpu": "true"}, taints=SOFT[:1])),
              NodeState(node("n2"))]
    fit = {s.name: least_allocated(p, s) for s in states}
    assert score_nodes(p, states) == {"n0": fit["n0"] + 2 * 100 + 3 * 0, "n1": fit["n1"] + 2 * 80 + 3 * 50,
                                      "n2": fit["n2"] + 2 * 0 + 3 * 100}


def test_score_nodes_strategy() -> None:
    states = [NodeState(node("busy"), {"cpu": 3.0}), NodeState(node("idle"))]
    p = pod({"cpu": "500m", "memory": "1000"})
    least = score_nodes(p, states)
    most = score_nodes(p, states, strategy="MostAllocated")
    assert least["idle"] > least["busy"]
    assert most["busy"] > most["idle"]
    assert score_nodes(p, []) == {}
    with pytest.raises(ValueError, match="RequestedToCapacityRatio"):
        score_nodes(p, states, strategy="RequestedToCapacityRatio")


def test_bound_pods_without_requests_count_the_non_zero_defaults() -> None:
    # §5.2: each bound container with no request counts as 100m / 200Mi in the score, so pods that
    # ask for nothing still spread over nodes instead of piling onto the first one.
    empty, idle = NodeState(node("empty", memory="8Gi")), NodeState(node("idle", memory="8Gi"))
    for _ in range(3):
        empty.add(pod(None))
    assert empty.requested == {} and empty.non_zero == {"cpu": 300, "memory": 600 * 2**20}
    p = pod(None)
    assert least_allocated(p, idle) > least_allocated(p, empty)
    # requests given alone stand for themselves
    assert NodeState(node(), {"cpu": 2.0, "memory": 3000.0}).non_zero == {"cpu": 2000, "memory": 3000}
