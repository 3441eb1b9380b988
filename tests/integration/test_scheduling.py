"""Placement rules on the real cluster: taints and tolerations, required node affinity."""

from __future__ import annotations

from typing import Any

import pytest

from engine.client import Client

from .conftest import pod_phase, unschedulable_message, wait_for
from .test_pods import pod

pytestmark = pytest.mark.integration


def test_taints_keep_pods_off_unless_tolerated(client: Client) -> None:
    head = next(n for n in client.list("nodes", namespace=None)["items"]
                if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"])
    name = head["metadata"]["name"]
    client.patch("nodes", name, {"spec": {"taints": [
        {"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]}})
    try:
        client.create(pod("s-plain", "echo plain"))
        tolerant: dict[str, Any] = pod("s-tolerant", "echo tolerant")
        tolerant["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Equal",
                                            "value": "ml", "effect": "NoSchedule"}]
        client.create(tolerant)
        assert wait_for(pod_phase(client, "s-tolerant", "Succeeded"),
                        what="the tolerant pod")["spec"]["nodeName"] == name
        assert "untolerated taint {dedicated: ml}" in unschedulable_message(client, "s-plain")
    finally:
        client.patch("nodes", name, {"spec": {"taints": None}})
    wait_for(pod_phase(client, "s-plain", "Succeeded"), what="the plain pod once untainted")
    for n in ("s-plain", "s-tolerant"):
        client.delete("pods", n)


def test_required_node_affinity(client: Client) -> None:
    picky: dict[str, Any] = pod("s-picky", "echo picky")
    picky["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "nvidia.com/gpu.count", "operator": "Gt", "values": ["8"]}]}]}}}
    client.create(picky)
    assert "didn't match Pod's node affinity/selector" in unschedulable_message(client, "s-picky")
    client.delete("pods", "s-picky")
    fine: dict[str, Any] = pod("s-fine", "echo fine")
    fine["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "nvidia.com/gpu.count", "operator": "Gt", "values": ["2"]},
            {"key": "tugboat.dev/gpu-simulated", "operator": "Exists"}]}]}}}
    client.create(fine)
    wait_for(pod_phase(client, "s-fine", "Succeeded"), what="s-fine on the simulated-GPU node")
    client.delete("pods", "s-fine")
