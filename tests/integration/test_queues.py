"""Queues on the real cluster (simulated GPUs: the session's Ray head declares 4): a queue's quota
holds a pod back until the running one ends; the higher priority goes first when GPUs free up."""

from __future__ import annotations

from typing import Any

import pytest

from engine.client import Client

from .conftest import gone, pod_phase, unschedulable_message, wait_for

pytestmark = pytest.mark.integration


def gpu_pod(name: str, gpus: int, *, seconds: int, queue: str | None = None,
            priority_class: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if queue:
        meta["labels"] = {"tugboat.dev/queue": queue}
    spec: dict[str, Any] = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                            "containers": [{"name": "c", "image": "busybox",
                                            "command": ["sh", "-c", f"sleep {seconds}"],
                                            "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}
    if priority_class:
        spec["priorityClassName"] = priority_class
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def condition(client: Client, name: str, reason: str) -> dict[str, Any] | None:
    conditions = (client.get("pods", name).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("reason") == reason), None)


def test_quota_holds_a_pod_back_until_the_running_one_ends(client: Client) -> None:
    client.apply([{"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "lab"},
                   "spec": {"quota": {"nvidia.com/gpu": "1"}}},
                  gpu_pod("quota-a", 1, seconds=4, queue="lab"),
                  gpu_pod("quota-b", 1, seconds=1, queue="lab")])
    held = wait_for(lambda: condition(client, "quota-b", "QuotaExceeded"), what="quota-b held by quota")
    assert held["message"] == "queue lab is at its quota: nvidia.com/gpu 1/1 in use (need 1)"
    assert client.get("pods", "quota-a")["spec"].get("nodeName")
    assert not client.get("pods", "quota-b")["spec"].get("nodeName")
    a = wait_for(pod_phase(client, "quota-a", "Succeeded"), timeout=90, what="quota-a to finish")
    b = wait_for(pod_phase(client, "quota-b", "Succeeded"), timeout=90, what="quota-b to run after")
    started_b = next(c["lastTransitionTime"] for c in b["status"]["conditions"]
                     if c["type"] == "PodScheduled")
    assert started_b >= a["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
    for name in ("quota-a", "quota-b"):
        client.delete("pods", name)
    client.delete("queues", "lab")
    wait_for(lambda: gone(client, "quota-a") and gone(client, "quota-b"), what="the quota pods to go")


def test_the_higher_priority_goes_first_when_gpus_free_up(client: Client) -> None:
    for name, value in (("it-low", 10), ("it-high", 1000), ("it-top", 1000000)):
        client.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                       "metadata": {"name": name}, "value": value})
    try:
        client.create(gpu_pod("prio-blocker", 4, seconds=600, priority_class="it-top"))  # not preempted
        wait_for(pod_phase(client, "prio-blocker", "Running"), what="the blocker to run")
        client.create(gpu_pod("prio-low", 3, seconds=600, priority_class="it-low"))
        unschedulable_message(client, "prio-low")
        client.create(gpu_pod("prio-high", 3, seconds=600, priority_class="it-high"))
        assert "Insufficient nvidia.com/gpu (free 0, need 3)" in unschedulable_message(client, "prio-high")
        client.delete("pods", "prio-blocker")
        wait_for(pod_phase(client, "prio-high", "Running"), timeout=90, what="the high-priority pod to run")
        low = client.get("pods", "prio-low")
        assert not low["spec"].get("nodeName")
        wait_for(lambda: "free 1, need 3" in (condition(client, "prio-low", "Unschedulable") or {}).get(
            "message", ""), what="prio-low to say why it still waits")
    finally:
        for name in ("prio-blocker", "prio-low", "prio-high"):
            if not gone(client, name):
                client.delete("pods", name, grace_seconds=0)
        for name in ("it-low", "it-high", "it-top"):
            client.delete("priorityclasses", name)
        wait_for(lambda: all(gone(client, n) for n in ("prio-blocker", "prio-low", "prio-high")),
                 what="the priority pods to go")


def test_preemption_stops_the_victim_gracefully_and_runs_the_preemptor(client: Client) -> None:
    client.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                   "metadata": {"name": "it-urgent"}, "value": 100000})
    try:
        victim = gpu_pod("pre-victim", 4, seconds=600)
        victim["spec"]["terminationGracePeriodSeconds"] = 10
        victim["spec"]["containers"][0]["command"] = [
            "sh", "-c", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.2; done"]
        client.create(victim)
        wait_for(pod_phase(client, "pre-victim", "Running"), what="the victim to run")
        rv = client.list("pods")["metadata"]["resourceVersion"]
        client.create(gpu_pod("pre-urgent", 4, seconds=1, priority_class="it-urgent"))
        last = None
        for kind, pod in client.watch("pods", resource_version=rv, timeout=90):
            if pod["metadata"]["name"] == "pre-victim" and kind == "DELETED":
                last = pod
                break
        assert last is not None, "the victim was not stopped"
        target = next(c for c in last["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert target["reason"] == "PreemptionByScheduler"
        terminated = last["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 0  # it got TERM and exited itself, not KILL
        done = wait_for(pod_phase(client, "pre-urgent", "Succeeded"), timeout=90, what="the preemptor to run")
        assert done["spec"]["nodeName"] == last["spec"]["nodeName"]
    finally:
        for name in ("pre-victim", "pre-urgent"):
            if not gone(client, name):
                client.delete("pods", name, grace_seconds=0)
        client.delete("priorityclasses", "it-urgent")
        wait_for(lambda: gone(client, "pre-victim") and gone(client, "pre-urgent"), what="the pods to go")


def gang_job(name: str, parallelism: int, gpus: int, seconds: int) -> dict[str, Any]:
    pod = gpu_pod("x", gpus, seconds=seconds)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "annotations": {"tugboat.dev/gang": "true"}},
            "spec": {"parallelism": parallelism, "completions": parallelism,
                     "template": {"spec": pod["spec"]}}}


def test_a_gang_starts_whole_or_not_at_all(client: Client) -> None:
    client.create(gang_job("gang-too-big", 3, 2, 1))  # 6 GPUs on a 4-GPU cluster: never half
    client.create(gang_job("gang-fits", 2, 2, 2))
    try:
        def condition_of(name: str, ctype: str) -> dict[str, Any] | None:
            status = client.get("jobs", name).get("status") or {}
            return next((c for c in status.get("conditions") or []
                         if c["type"] == ctype and c["status"] == "True"), None)

        wait_for(lambda: condition_of("gang-fits", "Complete"), timeout=120,
                 what="the fitting gang to complete")
        pods = client.list("pods", label_selector="batch.kubernetes.io/job-name=gang-fits")["items"]
        assert len(pods) == 2 and all(p["status"]["phase"] == "Succeeded" for p in pods)
        queue = client.get("queues", "default").get("status") or {}
        waiting = next(w for w in queue.get("pending", []) if w["name"] == "gang-too-big")
        assert waiting["message"].startswith("gang of 3: only 2 fit together;")
        assert client.list("pods", label_selector="batch.kubernetes.io/job-name=gang-too-big")["items"] == []
        assert client.get("jobs", "gang-too-big")["spec"]["suspend"] is True
    finally:
        for name in ("gang-too-big", "gang-fits"):
            client.delete("jobs", name, propagation="Foreground")
        selector = "batch.kubernetes.io/job-name=gang-fits"
        wait_for(lambda: not client.list("pods", label_selector=selector)["items"],
                 what="the gang's pods to go")
