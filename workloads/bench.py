"""`tug bench heal`: how fast a Deployment heals on a local dev cluster (`tug dev-cluster
--nodes 3`), beside raw Ray actor start measured in the same run: a replica's process killed
(-9) to Ready again, its actor's worker killed to a replacement Ready, a node's raylet killed
to all its replicas Ready elsewhere (the node is then started again), and a rollout of every
replica with maxSurge 1. Times are taken by polling the API every POLL_S; the kills are of this
machine's processes, so the cluster must run here."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from engine.client import Client
from engine.clusterconfig import NAME_PREFIX, NodeSpec
from engine.errors import TugError
from engine.stats import percentile

POLL_S = 0.05
TIMEOUT_S = 180.0
Obj = dict[str, Any]


def _deployment(name: str, replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"tugboat.dev/bench": name}},
                     "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"tugboat.dev/bench": name}},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                                      {"name": "main", "image": "busybox", "command": ["sleep", "86400"],
                                       "resources": {"requests": {"cpu": "10m"}}}]}}}}


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _pid(pod: Obj) -> int:
    return int(((pod.get("status") or {}).get("containerStatuses") or [{}])[0]["containerID"].split("://")[1])


class _Heal:
    def __init__(self, client: Client, name: str, replicas: int, ns: str) -> None:
        self.client, self.name, self.replicas, self.ns = client, name, replicas, ns

    def pods(self) -> list[Obj]:
        """The replicas that live now (not ended, not being deleted)."""
        return [p for p in self.client.list("pods", namespace=self.ns,
                                            label_selector=f"tugboat.dev/bench={self.name}")["items"]
                if not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]

    def until(self, check: Callable[[], Any], what: str) -> float:
        """Seconds until `check` holds."""
        start = time.perf_counter()
        while not check():
            if time.perf_counter() - start > TIMEOUT_S:
                raise TugError(f"bench heal: {what} took more than {TIMEOUT_S:g}s")
            time.sleep(POLL_S)
        return time.perf_counter() - start

    def healthy(self, avoid: frozenset[str] = frozenset(), node: str | None = None) -> bool:
        pods = self.pods()
        return (len(pods) == self.replicas and all(_ready(p) for p in pods)
                and not any(p["metadata"]["name"] in avoid for p in pods)
                and not any(node and p["spec"].get("nodeName") == node for p in pods))

    def process_restart(self) -> float:
        victim = min(self.pods(), key=lambda p: p["status"]["containerStatuses"][0]["restartCount"])
        name, before = victim["metadata"]["name"], victim["status"]["containerStatuses"][0]["restartCount"]
        os.kill(_pid(victim), signal.SIGKILL)

        def back() -> bool:
            pod = self.client.get("pods", name, namespace=self.ns)
            return _ready(pod) and pod["status"]["containerStatuses"][0]["restartCount"] > before
        return self.until(back, "a killed replica process to be Ready again")

    def actor_replace(self) -> float:
        victim = self.pods()[0]
        worker = psutil.Process(_pid(victim)).parent()
        if worker is None:
            raise TugError("bench heal: the replica's process has no parent worker")
        worker.kill()
        return self.until(lambda: self.healthy(avoid=frozenset({victim["metadata"]["name"]})),
                          "a replacement for a replica whose actor died")

    def node_loss(self, home: Path) -> float:
        nodes = {n["metadata"]["name"]: n for n in self.client.list("nodes", namespace=None)["items"]}
        held = [p["spec"].get("nodeName") for p in self.pods()]
        workers = [n for n in held if n and "node-role.kubernetes.io/control-plane"
                   not in nodes[n]["metadata"].get("labels", {})]
        if not workers:
            raise TugError("bench heal: no replica on a node other than the head: run it on "
                           "`tug dev-cluster --nodes 3`")
        victim = max(set(workers), key=workers.count)
        from engine.runtime.cluster import ray_dir

        ours = str(ray_dir(home))  # this $TUG_HOME's cluster, not another one on the machine
        raylets = [p for p in psutil.process_iter(["cmdline"])
                   if "raylet" in (line := " ".join(p.info["cmdline"] or []))
                   and f"{NAME_PREFIX}{victim}" in line and ours in line]
        if not raylets:
            raise TugError(f"bench heal: no raylet of node {victim} runs on this machine")
        for p in raylets:
            p.kill()
        took = self.until(lambda: self.healthy(node=victim), f"node {victim}'s replicas to run elsewhere")
        alloc = nodes[victim]["status"].get("allocatable") or {}
        from engine.runtime.cluster import join_local_node  # (imports ray's tools: only here)

        join_local_node(home, NodeSpec(name=victim, cpus=int(float(alloc.get("cpu", "1"))),
                                       gpus=int(alloc.get("nvidia.com/gpu", "0"))))
        self.until(lambda: any(c.get("type") == "Ready" and c.get("status") == "True" for c in
                               self.client.get("nodes", victim)["status"]["conditions"]),
                   f"node {victim} to be back")
        return took

    def rollout(self, i: int) -> float:
        patch = {"spec": {"template": {"metadata": {"annotations": {"tugboat.dev/bench-round": str(i)}}}}}
        self.client.patch("deployments", self.name, patch, namespace=self.ns)

        def done() -> bool:
            d = self.client.get("deployments", self.name, namespace=self.ns)
            status = d.get("status") or {}
            return (status.get("observedGeneration") == d["metadata"]["generation"]
                    and status.get("updatedReplicas") == status.get("availableReplicas") == self.replicas
                    and status.get("replicas") == self.replicas and self.healthy())
        return self.until(done, "a rollout")


def _stats(key: str, values: list[float]) -> dict[str, float]:
    return {f"{key}_p50_s": percentile(values, 50), f"{key}_p99_s": percentile(values, 99)}


def run(client: Client, home: Path, *, replicas: int, repeat: int, ns: str = "default",
        node_loss: bool = True, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    name = f"bench-heal-{uuid.uuid4().hex[:6]}"
    heal = _Heal(client, name, replicas, ns)
    client.create(_deployment(name, replicas), namespace=ns)
    try:
        heal.until(heal.healthy, f"{replicas} replicas to be Ready")
        progress(f"{replicas} replicas ready")
        out: dict[str, Any] = {"replicas": replicas, "repeat": repeat}
        ray = [t for _ in range(repeat) for t in client.bench_ray_actors(count=1, sequential=True)]
        out.update(_stats("ray_actor_start", ray))
        measures: dict[str, list[float]] = {"process_restart": [], "actor_replace": [], "rollout": []}
        for _ in range(repeat):
            measures["process_restart"].append(heal.process_restart())
        progress("process restarts measured")
        for _ in range(repeat):
            measures["actor_replace"].append(heal.actor_replace())
        progress("actor replacements measured")
        if node_loss:
            measures["node_loss"] = [heal.node_loss(home) for _ in range(repeat)]
            progress("node losses measured")
        for i in range(repeat):
            measures["rollout"].append(heal.rollout(i))
        for key, values in measures.items():
            out.update(_stats(key, values))
        return out
    finally:
        client.delete("deployments", name, namespace=ns)
