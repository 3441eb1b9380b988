"""ReplicaSets on real Ray with real processes: the docs' frontend example applied unchanged,
replicas that run, heal (a killed process restarts in place, a killed actor is replaced on
another try) and survive a kill -9 of the control plane without being restarted."""

from __future__ import annotations

import os
import signal
from typing import Any

import psutil

from engine.client import Client
from tests.shared_examples import EXAMPLES, needs_examples

from .conftest import ControlPlaneProc, wait_for


def replicas(client: Client, name: str) -> list[dict[str, Any]]:
    """The live pods the ReplicaSet `name` controls."""
    return [p for p in client.list("pods")["items"] if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")
            and any(r.get("kind") == "ReplicaSet" and r.get("name") == name and r.get("controller")
                    for r in p["metadata"].get("ownerReferences") or [])]


def container(p: dict[str, Any]) -> dict[str, Any]:
    return p["status"]["containerStatuses"][0]


def ready(p: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (p.get("status") or {}).get("conditions") or [])


def rs_status(client: Client, name: str) -> dict[str, Any]:
    return client.get("replicasets", name).get("status") or {}


@needs_examples
def test_the_docs_frontend_example_keeps_three_replicas_waiting_for_a_runtime(
        control_plane: ControlPlaneProc) -> None:
    assert EXAMPLES is not None
    control_plane.tug("apply", "-f", str(EXAMPLES / "replicaset-frontend.yaml"))
    with control_plane.client() as client:
        def waiting() -> list[dict[str, Any]] | None:
            pods = replicas(client, "frontend")
            states = [((p.get("status") or {}).get("containerStatuses") or [{}])[0].get("state") or {}
                      for p in pods]
            reasons = [(s.get("waiting") or {}).get("reason") for s in states]
            return pods if len(pods) == 3 and reasons == ["ContainerRuntimeUnavailable"] * 3 else None
        pods = wait_for(waiting, timeout=120, what="three frontend replicas waiting for a container runtime")
        # waiting, not Failed: the ReplicaSet has nothing to replace
        assert all(p["status"]["phase"] == "Pending" for p in pods)
        assert all(p["metadata"]["name"].startswith("frontend-") for p in pods)
        wait_for(lambda: rs_status(client, "frontend").get("replicas") == 3, what="frontend's status")
        assert rs_status(client, "frontend").get("readyReplicas") == 0
        # events of an earlier test's "frontend" outlive it: count this ReplicaSet's own
        uid = client.get("replicasets", "frontend")["metadata"]["uid"]
        events = client.list("events", field_selector="involvedObject.name=frontend")["items"]
        mine = [e["reason"] for e in events if e["involvedObject"].get("uid") == uid]
        assert mine.count("SuccessfulCreate") == 3
        out = control_plane.tug("get", "rs", "frontend")
        assert out.stdout.split("\n")[1].split()[:4] == ["frontend", "3", "3", "0"]
        client.delete("replicasets", "frontend")
        wait_for(lambda: not replicas(client, "frontend"), timeout=60, what="frontend's pods to go")


def test_replicas_run_heal_and_outlive_the_control_plane(control_plane: ControlPlaneProc) -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "sleepers"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "sleepers"}},
                   "template": {"metadata": {"labels": {"app": "sleepers"}},
                                "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                                    {"name": "main", "image": "busybox", "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m"}}}]}}}}
    with control_plane.client() as client:
        client.create(rs)
        def two_ready() -> list[dict[str, Any]] | None:
            pods = replicas(client, "sleepers")
            return pods if len(pods) == 2 and all(map(ready, pods)) else None
        pods = wait_for(two_ready, timeout=120, what="two ready sleepers")
        wait_for(lambda: rs_status(client, "sleepers").get("availableReplicas") == 2, what="2 available")

        # a killed process restarts in place (restartPolicy Always): same pod, restartCount 1
        victim = pods[0]
        os.kill(int(container(victim)["containerID"].split("://")[1]), signal.SIGKILL)
        again = wait_for(lambda: (p := client.get("pods", victim["metadata"]["name"]))
                         and container(p)["restartCount"] == 1 and ready(p) and p,
                         timeout=60, what="the killed process to restart in place")
        assert again["metadata"]["uid"] == victim["metadata"]["uid"]

        # a killed actor fails its pod, and the ReplicaSet replaces it with a new one
        other = pods[1]
        worker = psutil.Process(int(container(other)["containerID"].split("://")[1])).parent()
        assert worker is not None
        os.kill(worker.pid, signal.SIGKILL)
        healed = wait_for(lambda: (p := two_ready()) and other["metadata"]["name"] not in
                          [q["metadata"]["name"] for q in p] and p,
                          timeout=90, what="a replacement for the replica whose actor died")
        before = {p["metadata"]["uid"]: container(p)["containerID"] for p in healed}

    control_plane.kill9()
    control_plane.start()
    with control_plane.client() as client:
        # adopted: the same pods and processes, and no replica more
        wait_for(lambda: rs_status(client, "sleepers").get("observedGeneration") == 1
                 and len(replicas(client, "sleepers")) == 2, what="the ReplicaSet after a restart")
        after = {p["metadata"]["uid"]: container(p)["containerID"] for p in replicas(client, "sleepers")}
        assert after == before
        client.delete("replicasets", "sleepers")
        wait_for(lambda: not replicas(client, "sleepers"), timeout=60, what="the sleepers to go")
