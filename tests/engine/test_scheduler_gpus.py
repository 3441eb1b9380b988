"""Which GPU a pod gets on a node that lists its GPUs: memory, product, health, holdings, and the
choice staying right through snapshots, preemption and the bucketed placer."""

from __future__ import annotations

from typing import Any

import pytest

from engine.scheduler import place, snapshot
from engine.scheduler.buckets import Placer
from engine.scheduler.gpus import Unit, choose, units
from engine.scheduler.preemption import choose as preempt_choose
from gpu import node_gpu_fields, simulated_inventory

A100 = ("NVIDIA A100-SXM4-40GB", 40960)
H100 = ("NVIDIA H100 80GB HBM3", 81920)


def node(name: str = "mixed", kinds: list[tuple[str, int]] | None = None, *,
         unhealthy: frozenset[int] = frozenset(), mig: bool = False) -> dict[str, Any]:
    """A node as the runtime writes it: GPU labels, capacity and status.gpus from its inventory."""
    kinds = kinds if kinds is not None else [A100, A100, H100, H100]
    inv = simulated_inventory(len(kinds), models=kinds, node=name)
    fields = node_gpu_fields(inv, {f"GPU-sim-{name}-{i}": "ECC" for i in unhealthy})
    gpus = fields["gpus"]
    if mig:
        gpus = [{**g, "parentUuid": "GPU-parent", "migIndex": 0} for g in gpus]
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **fields["labels"]}},
            "spec": {},
            "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110",
                                       "nvidia.com/gpu": str(fields["allocatable"])},
                       "gpus": gpus, "conditions": [{"type": "Ready", "status": "True"}]}}


def gpu_pod(name: str, count: int = 1, *, memory: str | None = None, product: str | None = None,
            uid: str | None = None, **meta: Any) -> dict[str, Any]:
    req = {"nvidia.com/gpu": str(count)}
    if memory:
        req["tugboat.dev/gpu-memory"] = memory
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"requests": req}}]}
    if product:
        spec["nodeSelector"] = {"nvidia.com/gpu.product": product}
    return {"metadata": {"name": name, "uid": uid or f"uid-{name}", **meta}, "spec": spec,
            "status": {"phase": "Pending"}}


def bound(p: dict[str, Any], node_name: str, gpus: str | None = None, priority: int = 0) -> dict[str, Any]:
    p["spec"]["nodeName"] = node_name
    p["spec"]["priority"] = priority
    if gpus is not None:
        p["metadata"]["annotations"] = {"tugboat.dev/gpus": gpus}
    p["status"] = {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"}
    return p


def placed(states: dict[str, Any], p: dict[str, Any]) -> tuple[str | None, tuple[int, ...] | None, str]:
    """Place and assume `p`; (node, the GPUs it gets, the message when nothing fits)."""
    d = place(p, states)
    if d.node is None:
        return None, None, d.message
    states[d.node].add(p)
    return d.node, states[d.node].gpus_of(p), ""


def test_a_memory_request_gets_the_big_gpus_and_others_get_the_small_ones_first() -> None:
    states = snapshot([node()], [])
    assert placed(states, gpu_pod("big", memory="60Gi"))[1] == (2,)
    assert placed(states, gpu_pod("small"))[1] == (0,)  # best fit: the 80 GB ones stay free
    assert placed(states, gpu_pod("big2", memory="60Gi"))[1] == (3,)
    got = placed(states, gpu_pod("big3", memory="60Gi"))
    assert got[0] is None
    assert got[2] == ("0/1 nodes are available: 1 Insufficient nvidia.com/gpu with at least 61440Mi memory "
                      "(free 0, need 1).")
    assert placed(states, gpu_pod("small2"))[1] == (1,)  # the last free one fits a plain request


def test_a_product_selector_picks_that_products_gpus_on_a_mixed_node() -> None:
    n = node()
    assert n["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-40GB"  # the first GPU's
    states = snapshot([n], [])
    assert placed(states, gpu_pod("h", 2, product="NVIDIA-H100-80GB-HBM3"))[1] == (2, 3)
    got = placed(states, gpu_pod("h2", product="NVIDIA-H100-80GB-HBM3"))
    assert got[2] == ("0/1 nodes are available: 1 Insufficient nvidia.com/gpu with the selected product "
                      "(free 0, need 1).")
    assert placed(states, gpu_pod("a", product="NVIDIA-A100-SXM4-40GB"))[1] == (0,)
    # a product no GPU of the node has is the node's affinity mismatch, as on any node
    assert "didn't match Pod's node affinity/selector" in placed(states, gpu_pod("v", product="V100"))[2]


def test_a_homogeneous_node_keeps_the_label_reason() -> None:
    states = snapshot([node("small", [A100, A100])], [])
    assert placed(states, gpu_pod("big", memory="60Gi"))[2] == (
        "0/1 nodes are available: 1 node(s) had GPUs with too little memory (40960Mi each, need 61440Mi).")
    mixed = snapshot([node("m", [A100, A100, ("NVIDIA A100-SXM4-80GB", 81920)])], [])
    assert placed(mixed, gpu_pod("huge", memory="90Gi"))[2] == (
        "0/1 nodes are available: 1 node(s) had GPUs with too little memory (81920Mi at most, need 92160Mi).")


def test_unhealthy_gpus_are_never_chosen() -> None:
    states = snapshot([node(kinds=[H100, H100, H100], unhealthy=frozenset({0}))], [])
    assert placed(states, gpu_pod("a"))[1] == (1,)
    assert placed(states, gpu_pod("b"))[1] == (2,)
    assert placed(states, gpu_pod("c"))[0] is None  # allocatable says 2


def test_held_gpus_come_from_the_binding_then_the_runner_and_unnamed_ones_never_overlap() -> None:
    n = node()
    by_annotation = bound(gpu_pod("x", memory="60Gi"), "mixed", "2")
    by_status = bound(gpu_pod("y"), "mixed")
    by_status["status"]["gpus"] = [{"index": 0}]
    unnamed = bound(gpu_pod("z", memory="60Gi"), "mixed")  # spec.nodeName set at create
    unnamed["status"] = {"phase": "Pending"}
    states = snapshot([n], [unnamed, by_annotation, by_status])  # the unnamed one comes first
    s = states["mixed"]
    assert s.gpus_of(by_annotation) == (2,) and s.gpus_of(by_status) == (0,)
    assert s.gpus_of(unnamed) == (3,)  # chosen after the held ones are counted
    assert s.gpus_taken == {0: 1, 2: 1, 3: 1}
    assert placed(states, gpu_pod("w"))[1] == (1,)
    s.remove(by_annotation)
    assert s.gpus_taken == {0: 1, 1: 1, 3: 1}


def test_a_template_assumed_twice_on_one_node_holds_two_sets() -> None:
    states = snapshot([node()], [])
    template = {"metadata": {"name": "t"}, "spec": gpu_pod("t")["spec"]}
    states["mixed"].add(template)
    states["mixed"].add(template)
    assert states["mixed"].gpus_taken == {0: 1, 1: 1}
    states["mixed"].remove(template)
    assert states["mixed"].gpus_taken == {0: 1}


def test_preemption_evicts_the_holder_of_the_gpu_the_pod_needs() -> None:
    n = node()
    small = bound(gpu_pod("on-a100"), "mixed", "0,1")
    big = bound(gpu_pod("on-h100", 2), "mixed", "2,3")
    states = snapshot([n], [small, big])
    hi = gpu_pod("hi", memory="60Gi")
    hi["spec"]["priority"] = 100
    chosen = preempt_choose(hi, states, {"mixed": [small, big]})
    assert chosen is not None and [v["metadata"]["name"] for v in chosen.victims] == ["on-h100"]


def test_mig_nodes_and_nodes_without_a_gpu_list_are_counted_not_chosen() -> None:
    assert units(node(mig=True)) is None
    plain = node()
    del plain["status"]["gpus"]
    for n in (node("m", mig=True), plain):
        states = snapshot([n], [])
        name, gpus, _ = placed(states, gpu_pod("p", 2))
        assert name == n["metadata"]["name"] and gpus is None


@pytest.mark.parametrize(("taken", "count", "min_gib", "want"), [
    (set(), 1, 0, (0,)),
    ({0}, 2, 0, (1, 2)),
    (set(), 1, 60, (2,)),
    ({2}, 1, 60, (3,)),
    ({2, 3}, 1, 60, None),
    (set(), 4, 0, (0, 1, 2, 3)),
    (set(), 5, 0, None),
])
def test_choose(taken: set[int], count: int, min_gib: int, want: tuple[int, ...] | None) -> None:
    kinds = [Unit(0, "A", 40960, True), Unit(1, "A", 40960, True), Unit(2, "H", 81920, True),
             Unit(3, "H", 81920, True)]
    assert choose(kinds, taken, count, min_bytes=min_gib * 2**30) == want


def test_the_bucketed_placer_chooses_the_same_gpus_and_shares_buckets() -> None:
    nodes = [node(f"n{i}") for i in range(20)]
    placer = Placer(snapshot(nodes, []))
    assert placer.bucket_count == 1  # GPU uuids differ, their kinds do not
    naive = snapshot([node(f"n{i}") for i in range(20)], [])
    for i in range(90):
        p = gpu_pod(f"p{i}", memory="60Gi" if i % 3 == 0 else None,
                    product="NVIDIA-H100-80GB-HBM3" if i % 5 == 0 else None)
        want, got = place(p, naive), placer.place(p)
        assert got == want
        if want.node is not None:
            naive[want.node].add(p)
            placer.assume(p, want.node)
            assert placer.states[want.node].gpus_of(p) == naive[want.node].gpus_of(p)
    taken = sorted(len(s.gpus_taken) for s in placer.states.values())
    assert taken == [4] * 20  # every GPU handed out once (80 of the 90 pods fit)


@pytest.mark.parametrize("entries", [
    [{"index": 0, "product": "A", "memoryMiB": 1024}, "not a mapping"],
    [{"index": 0, "product": "A", "memoryMiB": "1024"}],
    [{"index": 0, "product": "A"}, {"index": 0, "product": "A"}],
    [{"product": "A", "memoryMiB": 1024}],
    [{"index": True, "product": "A"}],
    "not a list",
])
def test_a_gpu_list_it_cannot_read_leaves_the_node_counted_not_chosen(entries: Any) -> None:
    n = node("odd")
    n["status"]["gpus"] = entries
    assert units(n) is None
    states, placer = snapshot([n], []), Placer(snapshot([node("odd") | {"status": n["status"]}], []))
    assert placer.place(gpu_pod("p")) == place(gpu_pod("p"), states)


def test_missing_health_or_product_reads_as_healthy_and_unnamed() -> None:
    n = node()
    for g in n["status"]["gpus"]:
        del g["health"]
    n["status"]["gpus"][0]["product"] = None
    assert [u.healthy for u in units(n) or ()] == [True] * 4
    p = gpu_pod("p")
    assert Placer(snapshot([n], [])).place(p) == place(p, snapshot([n], []))


def test_a_pending_pod_carrying_a_gpus_annotation_is_chosen_for_afresh() -> None:
    holder = bound(gpu_pod("holder"), "mixed", "0")
    copied = gpu_pod("copied", annotations={"tugboat.dev/gpus": "0"})  # a manifest copied from a bound pod
    states = snapshot([node()], [holder])
    assert placed(states, copied)[1] == (1,)
    placer = Placer(snapshot([node()], [holder]))
    d = placer.place(copied)
    placer.assume(copied, str(d.node))
    assert placer.states["mixed"].gpus_of(copied) == (1,)


def test_a_running_pod_released_and_assumed_again_keeps_its_gpus() -> None:
    running = bound(gpu_pod("running"), "mixed", "1")
    placer = Placer(snapshot([node()], [running]))
    placer.release(running, "mixed")
    placer.assume(running, "mixed")
    assert placer.states["mixed"].gpus_of(running) == (1,)
    assert placer.states["mixed"].gpus_taken == {1: 1}
