"""GPU pods on simulated GPUs (the session's Ray head declares 4: two of 16 GiB, two of 80 GiB):
placement, the GPU the scheduler chose is the one the pod sees (CUDA_VISIBLE_DEVICES),
attribution, and the plain reason when a request cannot fit."""

from __future__ import annotations

from typing import Any

import pytest

from engine.client import Client

from .conftest import ControlPlaneProc, gone, pod_phase, unschedulable_message, wait_for

pytestmark = pytest.mark.integration


def gpu_pod(name: str, gpus: int, script: str = 'echo "CVD=$CUDA_VISIBLE_DEVICES"; sleep 2',
            restart: str = "Never") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "cuda", "image": "nvidia/cuda",
                                     "command": ["sh", "-c", script],
                                     "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}}


def cvd(client: Client, name: str) -> list[str]:
    text = b"".join(client.logs(name)).decode()
    line = next(line for line in text.splitlines() if line.startswith("CVD="))
    return [x for x in line[4:].split(",") if x]


def test_gpu_pods_get_their_own_gpus_and_a_full_node_says_why(
        client: Client, control_plane: ControlPlaneProc) -> None:
    client.create(gpu_pod("g-a", 2, 'echo "CVD=$CUDA_VISIBLE_DEVICES"; sleep 600', "Always"))
    client.create(gpu_pod("g-b", 2, 'echo "CVD=$CUDA_VISIBLE_DEVICES"; sleep 600', "Always"))
    a = wait_for(pod_phase(client, "g-a", "Running"), what="g-a to run")
    b = wait_for(pod_phase(client, "g-b", "Running"), what="g-b to run")
    wait_for(lambda: b"CVD=" in b"".join(client.logs("g-a")), what="g-a's output")
    wait_for(lambda: b"CVD=" in b"".join(client.logs("g-b")), what="g-b's output")
    seen_a, seen_b = cvd(client, "g-a"), cvd(client, "g-b")
    assert len(seen_a) == 2 and len(seen_b) == 2
    assert not set(seen_a) & set(seen_b), "two pods share a GPU"
    for pod, seen in ((a, seen_a), (b, seen_b)):
        held = (client.get("pods", pod["metadata"]["name"])["status"]).get("gpus") or []
        assert sorted(str(g["index"]) for g in held) == sorted(seen)
        assert all(g.get("uuid") for g in held)

    held_a = client.get("pods", "g-a")["status"]["gpus"]
    described = control_plane.tug("describe", "pod", "g-a").stdout
    assert all(g["uuid"] in described for g in held_a)
    node_text = control_plane.tug("describe", "node", a["spec"]["nodeName"]).stdout
    gpu_rows = node_text.split("GPUs:\n")[1].split("\n\n")[0]
    assert sum("default/g-a" in line for line in gpu_rows.splitlines()) == 2
    top = control_plane.tug("top", "pods").stdout
    assert any(line.split()[:1] == ["g-a"] and line.split()[3] == "2" for line in top.splitlines())

    client.create(gpu_pod("g-c", 1))
    waiting = unschedulable_message(client, "g-c")
    assert "Insufficient nvidia.com/gpu (free 0, need 1)" in waiting

    client.delete("pods", "g-a")
    done = wait_for(pod_phase(client, "g-c", "Succeeded", "Failed"), timeout=120,
                    what="g-c to run once g-a's GPUs are free")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert len(cvd(client, "g-c")) == 1
    client.delete("pods", "g-b")
    client.delete("pods", "g-c")
    wait_for(lambda: gone(client, "g-a") and gone(client, "g-b"), what="the GPU pods to go")


def test_more_gpus_than_any_node_has_stays_pending_and_says_why(client: Client) -> None:
    client.create(gpu_pod("g-five", 5))
    waiting = unschedulable_message(client, "g-five")
    assert "Insufficient nvidia.com/gpu (free 4, need 5)" in waiting
    assert client.get("pods", "g-five")["status"]["phase"] == "Pending"
    client.delete("pods", "g-five")


def test_pods_without_a_gpu_request_see_no_gpu(client: Client) -> None:
    client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "g-none"},
                   "spec": {"restartPolicy": "Never", "containers": [
                       {"name": "c", "image": "x",
                        "command": ["sh", "-c", 'echo "CVD=${CUDA_VISIBLE_DEVICES-unset}"']}]}})
    wait_for(pod_phase(client, "g-none", "Succeeded"), what="g-none to finish")
    assert cvd(client, "g-none") == []
    client.delete("pods", "g-none")


def test_the_gpu_the_scheduler_chose_is_the_one_the_pod_gets(
        client: Client, control_plane: ControlPlaneProc) -> None:
    big = gpu_pod("g-big", 1, 'echo "CVD=$CUDA_VISIBLE_DEVICES"; sleep 600', "Always")
    big["spec"]["containers"][0]["resources"]["limits"]["tugboat.dev/gpu-memory"] = "60Gi"
    client.create(big)
    xl = gpu_pod("g-xl", 1, 'echo "CVD=$CUDA_VISIBLE_DEVICES"; sleep 600', "Always")
    xl["spec"]["nodeSelector"] = {"nvidia.com/gpu.product": "Simulated-GPU-XL"}
    client.create(xl)
    for name in ("g-big", "g-xl"):
        wait_for(lambda n=name: b"CVD=" in b"".join(client.logs(n)), what=f"{name}'s output")
    seen = {name: cvd(client, name) for name in ("g-big", "g-xl")}
    assert sorted(seen["g-big"] + seen["g-xl"]) == ["2", "3"], seen  # the 80 GiB ones, each its own
    for name in ("g-big", "g-xl"):
        pod = client.get("pods", name)
        assert pod["metadata"]["annotations"]["tugboat.dev/gpus"] == seen[name][0]
        [held] = pod["status"]["gpus"]
        assert str(held["index"]) == seen[name][0] and held["product"] == "Simulated GPU XL"

    # no 80 GiB GPU is left: a third such pod waits, and says so, though two small GPUs are free
    big2 = gpu_pod("g-big2", 1)
    big2["spec"]["containers"][0]["resources"]["limits"]["tugboat.dev/gpu-memory"] = "60Gi"
    client.create(big2)
    waiting = unschedulable_message(client, "g-big2")
    assert "Insufficient nvidia.com/gpu with at least 61440Mi memory (free 0, need 1)" in waiting

    # a pod bound at create (spec.nodeName, no scheduler placement) still gets GPUs nobody holds
    node = client.get("pods", "g-big")["spec"]["nodeName"]
    preset = gpu_pod("g-preset", 2)
    preset["spec"]["nodeName"] = node
    client.create(preset)
    done = wait_for(pod_phase(client, "g-preset", "Succeeded", "Failed"), timeout=120, what="g-preset to run")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert sorted(cvd(client, "g-preset")) == ["0", "1"]
    assert done["metadata"]["annotations"]["tugboat.dev/gpus"] == "0,1"

    client.delete("pods", "g-big")
    done = wait_for(pod_phase(client, "g-big2", "Succeeded", "Failed"), timeout=120,
                    what="g-big2 to run on the GPU g-big leaves")
    assert cvd(client, "g-big2") == seen["g-big"]
    for name in ("g-xl", "g-big2", "g-preset"):
        client.delete("pods", name)
    wait_for(lambda: all(gone(client, n) for n in ("g-big", "g-xl", "g-big2", "g-preset")),
             what="the GPU pods to go")


def test_a_pod_placed_on_gpus_just_freed_waits_for_ray_to_free_them(client: Client) -> None:
    """Ray frees a pod's GPUs a moment after the pod object is gone: the next pod placed there
    (here at once: bound at create to the same node) waits for them instead of failing."""
    client.create(gpu_pod("hold-all", 4, script="sleep 600"))
    try:
        held = wait_for(pod_phase(client, "hold-all", "Running"), what="hold-all to run")
        node = held["spec"]["nodeName"]
        for round_ in range(3):
            name = f"next-{round_}"
            client.delete("pods", "hold-all" if round_ == 0 else f"next-{round_ - 1}", grace_seconds=0)
            nxt = gpu_pod(name, 4, script="sleep 600" if round_ < 2 else "echo done")
            nxt["spec"]["nodeName"] = node
            client.create(nxt)
            wait_for(pod_phase(client, name, "Running", "Succeeded", "Failed"), timeout=90,
                     what=f"{name} to start")
            pod = client.get("pods", name)
            assert pod["status"]["phase"] in ("Running", "Succeeded"), pod["status"]
    finally:
        for name in ("hold-all", "next-0", "next-1", "next-2"):
            if not gone(client, name):
                client.delete("pods", name, grace_seconds=0)
        wait_for(lambda: all(gone(client, n) for n in ("hold-all", "next-0", "next-1", "next-2")),
                 what="the pods to go")
