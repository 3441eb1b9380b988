"""Node objects from Ray's node table (pure: no Ray)."""

from __future__ import annotations

from engine.objects import is_ready
from engine.runtime.actors import ray_options
from engine.runtime.nodes import NODE_ID_LABEL, gone_node, node_name, node_object

ENTRY = {"NodeID": "abcdef0123456789", "Alive": True, "NodeManagerAddress": "10.1.2.3",
         "NodeManagerHostname": "gpu-box.example.com",
         "Resources": {"CPU": 8.0, "memory": 1073741824.0, "GPU": 2.0,
                       "node:__internal_head__": 1.0}}


def test_node_object_from_a_ray_node() -> None:
    node = node_object(ENTRY, info={"architecture": "amd64"}, now="T0", previous=None)
    assert node["metadata"]["name"] == node_name(ENTRY) == "gpu-box-abcdef01"
    labels = node["metadata"]["labels"]
    assert labels[NODE_ID_LABEL] == "abcdef0123456789"
    assert labels["kubernetes.io/hostname"] == "gpu-box-abcdef01"
    assert "node-role.kubernetes.io/control-plane" in labels
    assert node["status"]["allocatable"] == {"cpu": "8", "memory": "1073741824", "pods": "110",
                                             "nvidia.com/gpu": "2"}
    assert is_ready(node)
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "10.1.2.3"}


def test_dead_node_keeps_labels_users_added_and_times_transitions() -> None:
    first = node_object(ENTRY, info=None, now="T0", previous=None)
    first["metadata"]["labels"]["team"] = "vision"
    dead = node_object({**ENTRY, "Alive": False, "DeathReasonMessage": "killed"}, info=None,
                       now="T1", previous=first)
    ready = dead["status"]["conditions"][0]
    assert (ready["status"], ready["reason"], ready["lastTransitionTime"]) == ("False",
                                                                              "RayNodeDead", "T1")
    assert "killed" in ready["message"] and dead["metadata"]["labels"]["team"] == "vision"
    again = node_object({**ENTRY, "Alive": False}, info=None, now="T2", previous=dead)
    assert again["status"]["conditions"][0]["lastTransitionTime"] == "T1"


def test_a_node_missing_from_ray_becomes_not_ready_once() -> None:
    node = node_object(ENTRY, info=None, now="T0", previous=None)
    gone = gone_node(node, now="T5")
    assert gone is not None and not is_ready(gone)
    assert gone["status"]["conditions"][0]["reason"] == "RayNodeGone"
    assert gone_node(gone, now="T6") is None


def test_ray_options_from_requests() -> None:
    pod = {"spec": {"containers": [
        {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
        {"name": "b", "resources": {"requests": {"cpu": "250m", "nvidia.com/gpu": "1"},
                                    "limits": {"nvidia.com/gpu": "1"}}}],
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}]}}
    assert ray_options(pod) == {"num_cpus": 2.0, "memory": 1073741824, "num_gpus": 1.0}
    assert ray_options({"spec": {"containers": [{"name": "a"}]}}) == {"num_cpus": 0.0}


def test_a_dead_or_gone_node_is_tainted_unreachable_until_it_is_back() -> None:
    first = node_object(ENTRY, info=None, now="T0", previous=None)
    first["spec"]["taints"] = [{"key": "gpu", "value": "a100", "effect": "NoSchedule"}]  # a user's
    dead = node_object({**ENTRY, "Alive": False}, info=None, now="T1", previous=first)
    unreachable = [t for t in dead["spec"]["taints"] if t["key"] == "node.kubernetes.io/unreachable"]
    assert sorted(t["effect"] for t in unreachable) == ["NoExecute", "NoSchedule"]
    assert {t["timeAdded"] for t in unreachable} == {"T1"}
    still = node_object({**ENTRY, "Alive": False}, info=None, now="T2", previous=dead)
    assert still["spec"]["taints"] == dead["spec"]["taints"]  # the time it was added stays
    back = node_object(ENTRY, info=None, now="T3", previous=still)
    assert back["spec"]["taints"] == [{"key": "gpu", "value": "a100", "effect": "NoSchedule"}]
    gone = gone_node(back, now="T4")
    assert gone is not None
    assert {t["effect"] for t in gone["spec"]["taints"] if t["key"] == "node.kubernetes.io/unreachable"} \
        == {"NoExecute", "NoSchedule"}


def test_a_node_started_again_under_its_name_is_its_alive_entry() -> None:
    from engine.clusterconfig import NAME_PREFIX
    from engine.runtime.nodes import current_entries

    named = {**ENTRY["Resources"], f"{NAME_PREFIX}node-1": 1.0}
    old = {**ENTRY, "NodeID": "0ld", "Alive": False, "Resources": named}
    new = {**ENTRY, "NodeID": "n3w", "Alive": True, "Resources": named}
    other = {**ENTRY, "NodeID": "0ther", "Alive": False}
    for order in ([old, new, other], [new, old, other]):
        picked = {node_name(e): e["NodeID"] for e in current_entries(order)}
        assert picked == {"node-1": "n3w", node_name(other): "0ther"}
