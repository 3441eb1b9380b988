"""`tug dev-cluster`: several Ray nodes with simulated GPUs on one machine; GPU pods spread
over the nodes that have free GPUs, and `tug down` stops every node."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from engine.client import Client
from engine.runtime.cluster import ray_dir

from .conftest import REPO, pod_phase, unschedulable_message, wait_for

pytestmark = pytest.mark.integration


def gpu_pod(name: str, gpus: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                {"name": "c", "image": "cuda", "command": ["sleep", "600"],
                 "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}}


def test_dev_cluster_spreads_gpu_pods_and_down_stops_all_nodes(tmp_path: Path) -> None:
    home = tmp_path / "tug"
    env = {**os.environ, "TUG_HOME": str(home)}
    for key in ("RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        env.pop(key, None)
    log = open(tmp_path / "dev.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "dev-cluster", "--nodes", "2",
                             "--gpus-per-node", "2", "--cpus-per-node", "1", "--port", "0",
                             "--ingress-port", "0",
                             "--headless"], env=env, stdout=log, stderr=log, cwd=REPO)
    try:
        def nodes() -> list[dict[str, Any]] | None:
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "dev.log").read_text())
            if not (home / "server.pid").exists():
                return None
            with Client.from_config(home) as c:
                items = c.list("nodes", namespace=None)["items"]
            ready = [n for n in items if n["status"]["conditions"][0]["status"] == "True"
                     and n["status"]["allocatable"].get("nvidia.com/gpu") == "2"]
            return items if len(ready) == 2 else None
        items = wait_for(nodes, timeout=180, what="two ready GPU nodes")
        assert sorted(n["metadata"]["name"] for n in items) == ["node-0", "node-1"]
        for n in items:
            assert n["metadata"]["labels"]["tugboat.dev/gpu-simulated"] == "true"
            assert n["metadata"]["labels"]["nvidia.com/gpu.count"] == "2"

        with Client.from_config(home) as c:
            c.create(gpu_pod("train-a", 2))
            c.create(gpu_pod("train-b", 2))
            a = wait_for(pod_phase(c, "train-a", "Running"), timeout=120, what="train-a")
            b = wait_for(pod_phase(c, "train-b", "Running"), timeout=120, what="train-b")
            assert {a["spec"]["nodeName"], b["spec"]["nodeName"]} == {"node-0", "node-1"}
            c.create(gpu_pod("train-c", 1))
            assert unschedulable_message(c, "train-c") == (
                "0/2 nodes are available: 2 Insufficient nvidia.com/gpu (free 0, need 1).")
            top = c.request("GET", "/apis/tugboat.dev/v1/top/nodes")["items"]
            held = {g["uuid"]: g["pods"] for n in top for g in n["gpus"]}
            assert sorted(p for pods in held.values() for p in pods) == \
                ["default/train-a"] * 2 + ["default/train-b"] * 2

            # Drain the node of train-a: refused for a bare pod without --force, then done.
            def tug(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env,
                                      cwd=REPO, capture_output=True, text=True, timeout=180)
            node_a = a["spec"]["nodeName"]
            refused = tug("drain", node_a)
            assert refused.returncode == 1 and "use --force" in refused.stderr
            assert not c.get("nodes", node_a)["spec"].get("unschedulable")
            drained = tug("drain", node_a, "--force", "--grace-period", "1")
            assert drained.returncode == 0, drained.stderr
            assert drained.stdout.splitlines()[-1] == f"node/{node_a} drained"
            assert "SchedulingDisabled" in tug("get", "nodes").stdout

            # train-c must not land on the cordoned node, whose GPUs train-a freed. The
            # scheduler's pass that no longer has train-a (drain waited until it was gone)
            # judges train-c too, and writes the default queue's status: train-b and
            # train-c, admitted or waiting, and no train-a (the pass that reported train-c
            # unschedulable above wrote three).
            def without_train_a() -> bool:
                status = c.get("queues", "default", namespace=None).get("status") or {}
                return status.get("admittedWorkloads", 0) + status.get("pendingWorkloads", 0) == 2

            wait_for(without_train_a, timeout=60, what="a scheduling pass without train-a")
            waiting = c.get("pods", "train-c")
            assert waiting["status"]["phase"] == "Pending" and not waiting["spec"].get("nodeName")
            assert "1 node(s) were unschedulable" in unschedulable_message(c, "train-c")
            assert tug("uncordon", node_a).stdout.strip() == f"node/{node_a} uncordoned"
            placed = wait_for(pod_phase(c, "train-c", "Running"), timeout=120,
                              what="train-c once the node is back")
            assert placed["spec"]["nodeName"] == node_a
            for name in ("train-b", "train-c"):  # (the drain took train-a)
                c.delete("pods", name, grace_seconds=0)

            # A node dies (its raylet killed): its replica is replaced on the other node
            c.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "svc"},
                      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "svc"}},
                               "template": {"metadata": {"labels": {"app": "svc"}}, "spec": {
                                   "terminationGracePeriodSeconds": 1, "containers": [
                                       {"name": "main", "image": "busybox", "command": ["sleep", "3600"],
                                        "resources": {"requests": {"cpu": "10m"}}}]}}}})

            def replicas() -> list[dict[str, Any]]:
                return [p for p in c.list("pods", label_selector="app=svc")["items"]
                        if not p["metadata"].get("deletionTimestamp")
                        and (p.get("status") or {}).get("phase") == "Running"
                        and any(x["type"] == "Ready" and x["status"] == "True"
                                for x in p["status"].get("conditions") or [])]
            running = wait_for(lambda: len(replicas()) == 2 and replicas(), timeout=120, what="two replicas")
            victim = running[0]["spec"]["nodeName"]
            raylets = [p for p in psutil.process_iter(["cmdline"])
                       if "raylet" in (line := " ".join(p.info["cmdline"] or []))
                       and f"tugboat.dev/name:{victim}" in line and str(ray_dir(home)) in line]
            assert len(raylets) == 1, [" ".join(p.info["cmdline"]) for p in raylets]
            raylets[0].kill()
            healed = wait_for(lambda: (r := replicas()) and len(r) == 2
                              and all(p["spec"]["nodeName"] != victim for p in r) and r,
                              timeout=120, what="the dead node's replica to run elsewhere")
            kept = {p["metadata"]["name"] for p in healed} & {p["metadata"]["name"] for p in running}
            assert len(kept) == 1  # the other node's replica stayed
            dead = c.get("nodes", victim)
            assert dead["status"]["conditions"][0]["status"] == "False"
            assert {t["effect"] for t in dead["spec"].get("taints") or []
                    if t["key"] == "node.kubernetes.io/unreachable"} == {"NoSchedule", "NoExecute"}

        down = subprocess.run([sys.executable, "-m", "engine.cli", "down"], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr
        proc.wait(30)
        marker = str(ray_dir(home))

        def leftovers() -> list[int]:
            out = []
            for p in psutil.process_iter(["cmdline"]):
                try:
                    if marker in " ".join(p.info["cmdline"] or []) and \
                            p.status() != psutil.STATUS_ZOMBIE:
                        out.append(p.pid)
                except psutil.Error:
                    continue
            return out
        wait_for(lambda: not leftovers(), timeout=30, what="every node's processes to end")
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run([sys.executable, "-m", "engine.cli", "down"], env=env, cwd=REPO,
                       capture_output=True, timeout=120)
        shutil.rmtree(ray_dir(home), ignore_errors=True)
