"""Declared local nodes: config files, dev clusters, and the marker resources they ride on."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.clusterconfig import (
    NAME_PREFIX,
    NodeSpec,
    declared,
    dev_cluster,
    load_config,
)
from engine.errors import InvalidError
from engine.runtime.nodes import node_name, node_object

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "clusters").glob("*.yaml")))
def test_every_cluster_config_in_configs_loads(path: Path) -> None:
    nodes = load_config(path).nodes
    assert nodes and all(isinstance(n, NodeSpec) for n in nodes)


def test_config_round_trips_through_ray_resources() -> None:
    config = load_config(REPO / "configs" / "clusters" / "two-gpu-nodes.yaml")
    a, b = config.nodes
    assert config.scheduler.strategy == "MostAllocated"
    assert config.scheduler.resources == (("nvidia.com/gpu", 5), ("cpu", 1), ("memory", 1))
    args = a.ray_args()
    assert "--num-cpus=2" in args and "--num-gpus=4" in args
    import json
    resources = json.loads(next(x for x in args if x.startswith("--resources="))[12:])
    entry = {"NodeID": "ff00", "Alive": True, "NodeManagerHostname": "box",
             "Resources": {"CPU": 2.0, "GPU": 4.0, **resources}}
    assert declared(resources) == {"name": "gpu-a", "labels": {"zone": "a"},
                                   "gpu_product": "NVIDIA H100 80GB HBM3", "gpu_models": []}
    assert node_name(entry) == "gpu-a"
    node = node_object(entry, info=None, now="T", previous=None)
    assert node["metadata"]["labels"]["zone"] == "a"
    assert b.gpus == 2 and b.gpu_memory_mib == 40960


def test_a_mixed_gpu_node_declares_each_gpu_and_lists_them() -> None:
    import json

    from engine.runtime.nodes import node_object
    from gpu import node_gpu_fields, simulated_inventory

    [node] = load_config(REPO / "configs" / "clusters" / "mixed-gpu-node.yaml").nodes
    a100, h100 = "NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3"
    assert node.gpus == 4 and node.gpu_models == ((a100, 40960),) * 2 + ((h100, 81920),) * 2
    resources = json.loads(next(x for x in node.ray_args() if x.startswith("--resources="))[12:])
    said = declared(resources)
    assert said["gpu_models"] == [(a100, 40960), (a100, 40960), (h100, 81920), (h100, 81920)]
    inv = simulated_inventory(4, product=said["gpu_product"], node="mixed", models=said["gpu_models"])
    entry = {"NodeID": "ff01", "Alive": True, "NodeManagerHostname": "box",
             "Resources": {"CPU": 4.0, "GPU": 4.0, **resources}}
    obj = node_object(entry, info=None, now="T", previous=None, gpu=node_gpu_fields(inv, {}))
    assert [(g["index"], g["memoryMiB"]) for g in obj["status"]["gpus"]] == [
        (0, 40960), (1, 40960), (2, 81920), (3, 81920)]
    assert obj["status"]["allocatable"]["nvidia.com/gpu"] == "4"


def test_bad_gpu_lists_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: ClusterConfig\nnodes:\n- gpus: [{product: A, memoryMiB: 0}, 3, "
                   "{product: B, memoryMiB: 10, count: 2, color: red, 1: x}]\n  gpuProduct: X\n- gpus: []\n"
                   "- gpus: [{product: C, memoryMiB: 10, count: 1000}]\n")
    with pytest.raises(InvalidError) as err:
        load_config(bad)
    assert sorted(err.value.details) == sorted([
        "nodes[0].gpuProduct: not allowed with a list of gpus (give each entry its own)",
        "nodes[0].gpus[0].memoryMiB: expected an integer from 1 to 2147483648, got 0",
        "nodes[0].gpus[1]: expected a mapping with product, memoryMiB and count",
        "nodes[0].gpus[2].1: unknown field",
        "nodes[0].gpus[2].color: unknown field",
        "nodes[2].gpus[0].count: expected an integer from 1 to 256, got 1000",
        "nodes[1].gpus: expected at least one GPU in the list",
    ])


def test_bad_config_names_every_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: ClusterConfig\nnodes:\n- name: Bad_Name\n  gpus: -1\n  cpu: 2\n"
                   "  labels: {a: 1}\n- name: ok\n  gpus: two\n")
    with pytest.raises(InvalidError) as err:
        load_config(bad)
    assert sorted(err.value.details) == sorted([
        "nodes[0].cpu: unknown field",
        "nodes[0].name: expected a lowercase DNS label, got 'Bad_Name'",
        "nodes[0].gpus: expected an integer >= 0, got -1",
        "nodes[0].labels: expected a map of strings to strings",
        "nodes[1].gpus: expected an integer >= 0, got 'two'",
    ])
    (tmp_path / "nope.yaml").write_text("kind: Pod\n")
    with pytest.raises(InvalidError, match="ClusterConfig"):
        load_config(tmp_path / "nope.yaml")


def test_dev_cluster_nodes() -> None:
    nodes = dev_cluster(3, 4, cpus_per_node=1)
    assert [n.name for n in nodes] == ["node-0", "node-1", "node-2"]
    assert all(n.gpus == 4 and n.cpus == 1 for n in nodes)
    assert any(a.startswith("--resources=") and NAME_PREFIX + "node-2" in a
               for a in nodes[2].ray_args())
    with pytest.raises(InvalidError):
        dev_cluster(0, 1)


def test_bad_scheduler_settings_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: ClusterConfig\nnodes: [{gpus: 1}]\nscheduler:\n  scoringStrategy:\n"
                   "    type: Random\n    resources: [{name: cpu, weight: 0}]\n")
    with pytest.raises(InvalidError) as err:
        load_config(bad)
    assert err.value.details == [
        'scheduler.scoringStrategy.type: Unsupported value "Random": supported values '
        '"LeastAllocated", "MostAllocated"',
        "scheduler.scoringStrategy.resources[0].weight: expected an integer from 1 to 100, got 0"]


@pytest.mark.parametrize(("text", "problem"), [
    ("workloads: 3", "workloads: expected a mapping"),
    ("workloads: {unreachableTolerationSeconds: -1}",
     "workloads.unreachableTolerationSeconds: expected an integer from 0 to 2147483647, got -1"),
    ("workloads: {unreachableTolerationSeconds: true}",
     "workloads.unreachableTolerationSeconds: expected an integer from 0 to 2147483647, got True"),
    ("workloads: {unreachableTolerationSeconds: '30'}",
     "workloads.unreachableTolerationSeconds: expected an integer from 0 to 2147483647, got '30'"),
    ("workloads: {tolerationSeconds: 30}", "workloads.tolerationSeconds: unknown field"),
])
def test_bad_workload_settings_are_named(tmp_path: Path, text: str, problem: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"kind: ClusterConfig\nnodes: [{{gpus: 1}}]\n{text}\n")
    with pytest.raises(InvalidError) as err:
        load_config(bad)
    assert err.value.details == [problem]


def test_workload_settings_default_to_no_toleration(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kind: ClusterConfig\nnodes: [{gpus: 1}]\n")
    assert load_config(path).workloads.unreachable_toleration_s == 0
    path.write_text("kind: ClusterConfig\nnodes: [{gpus: 1}]\n"
                    "workloads: {unreachableTolerationSeconds: 300}\n")
    assert load_config(path).workloads.unreachable_toleration_s == 300
