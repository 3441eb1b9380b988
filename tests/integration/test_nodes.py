"""Nodes end to end: a second real Ray node joins the session cluster, runs a pod pinned to it,
and is then killed hard (SIGKILL of its raylet and the workers under it). The control plane
must show the node, run the pod there, then mark the node NotReady (RayNodeDead) and fail the
pod with NodeLost. The head must still run pods afterwards.

Run with `pytest -s` to see how long each transition took."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from engine.client import Client
from engine.errors import NotFoundError, TugError
from engine.runtime.cluster import ray_start_command

from .conftest import ControlPlaneProc, pod_phase, wait_for

pytestmark = pytest.mark.integration

NODE_ID_LABEL = "tugboat.dev/ray-node-id"
HOSTNAME_LABEL = "kubernetes.io/hostname"
POD = "p-node-loss"
MARKER = "tugboat-node-loss-marker"  # in the pod's command line, to find its process


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ""


class SecondNode:
    """A second Ray node of the session cluster, started with `ray start --address=...` (not
    --block: it runs as daemons), and every process known to belong to it."""

    def __init__(self, ray_cluster: dict[str, str]) -> None:
        self.address = ray_cluster["address"]
        self.env = {**os.environ, **{k: v for k, v in ray_cluster.items() if k != "address"}}
        # Ray rewrites 127.0.0.1 to the machine's IP in --gcs-address; the port is what is ours.
        port = self.address.rpartition(":")[2]
        self._ours = re.compile(rf"--gcs[-_]address=\S*:{port}(\s|$)")
        self.raylet: psutil.Process | None = None
        self.node_id = ""
        self.known: dict[int, psutil.Process] = {}  # every process seen to belong to the node

    def _cluster_procs(self) -> dict[int, psutil.Process]:
        """Processes that name this cluster's GCS on their command line (raylets, log
        monitors, ...; renamed workers and agents do not, they are found as descendants)."""
        found = {}
        for proc in psutil.process_iter():
            if self._ours.search(_cmdline(proc)):
                found[proc.pid] = proc
        return found

    def start(self) -> float:
        """Start the node; returns how long `ray start` took."""
        before = self._cluster_procs()
        head_raylets = {pid for pid, p in before.items() if p.name() == "raylet"}
        assert head_raylets, f"no raylet of the session cluster at {self.address} was found"
        started = time.monotonic()
        out = subprocess.run(
            [*ray_start_command("127.0.0.1"), f"--address={self.address}", "--num-cpus=1",
             '--resources={"second-node": 1}', "--disable-usage-stats",
             "--node-ip-address=127.0.0.1"],
            env=self.env, capture_output=True, text=True, timeout=180)
        took = time.monotonic() - started
        new = {pid: p for pid, p in self._cluster_procs().items() if pid not in before}
        for pid, proc in new.items():  # not workers the head's raylet started meanwhile
            try:
                if not any(a.pid in head_raylets for a in proc.parents()):
                    self.known[pid] = proc
            except psutil.NoSuchProcess:
                pass
        assert out.returncode == 0, \
            f"ray start exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
        raylets = [p for p in self.known.values()
                   if p.name() == "raylet" and "--head" not in _cmdline(p).split()]
        assert len(raylets) == 1, f"expected one new raylet, found {raylets}: {out.stdout}"
        self.raylet = raylets[0]
        match = re.search(r"--node_id=([0-9a-f]+)", _cmdline(self.raylet))
        assert match, _cmdline(self.raylet)
        self.node_id = match.group(1)
        self.refresh()
        return took

    def refresh(self) -> None:
        """Remember every current descendant of the node's raylet (they outlive it as orphans)."""
        if self.raylet is None:
            return
        try:
            for child in self.raylet.children(recursive=True):
                self.known.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass

    def descendants_matching(self, text: str) -> list[psutil.Process]:
        self.refresh()
        return [p for p in self.known.values() if _alive(p) and text in _cmdline(p)]

    def kill_hard(self) -> list[psutil.Process]:
        """SIGKILL the raylet, its direct children (workers, agents) and the node's log monitor,
        as a crashing machine would lose them. Grandchildren (pod processes) are left: they must
        die with their actor. Returns the processes killed."""
        assert self.raylet is not None
        self.refresh()
        direct = {c.pid for c in self.raylet.children()}
        victims = [p for pid, p in self.known.items()
                   if pid == self.raylet.pid or pid in direct or "log_monitor" in _cmdline(p)]
        for proc in victims:
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        return victims

    def kill_all(self, timeout: float = 30.0) -> list[psutil.Process]:
        """SIGKILL whatever of the node is left; returns what is still alive after `timeout`."""
        self.refresh()
        for proc in self.known.values():
            if _alive(proc):
                try:
                    proc.send_signal(signal.SIGKILL)
                except psutil.NoSuchProcess:
                    pass
        deadline = time.monotonic() + timeout
        left = [p for p in self.known.values() if _alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [p for p in left if _alive(p)]
        return left


def _ready(node: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


def _nodes(client: Client) -> dict[str, dict[str, Any]]:
    return {n["metadata"]["name"]: n for n in client.list("nodes")["items"]}


def _described(client: Client, name: str) -> dict[str, Any] | None:
    """The Node `name` once a node sync has written what its node agent reported."""
    node = client.get("nodes", name)
    return node if node["status"]["nodeInfo"]["kernelVersion"] else None


def _table(text: str) -> dict[str, list[str]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines and lines[0].split()[:2] == ["NAME", "STATUS"], text
    return {ln.split()[0]: ln.split() for ln in lines[1:]}


def _pinned_pod(node: str) -> dict[str, Any]:
    script = f": {MARKER}; while true; do sleep 1; done"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD},
            "spec": {"restartPolicy": "Never", "nodeSelector": {HOSTNAME_LABEL: node},
                     "containers": [{"name": "main", "image": "busybox",
                                     "command": ["sh", "-c", script],
                                     "resources": {"requests": {"cpu": "10m"}}}]}}


def _gone(client: Client, resource: str, name: str) -> bool:
    try:
        client.get(resource, name)
    except NotFoundError:
        return True
    return False


@pytest.fixture()
def second_node(ray_cluster: dict[str, str], client: Client) -> Iterator[SecondNode]:
    node = SecondNode(ray_cluster)
    try:
        yield node
    finally:
        # Best effort first (the test may have failed anywhere), then the hard requirement:
        # nothing of the second node is left running.
        try:
            client.delete("pods", POD, grace_seconds=0)
        except TugError:
            pass
        try:
            wait_for(lambda: _gone(client, "pods", POD), timeout=60, what=f"{POD} to be removed")
        except AssertionError as exc:
            print(f"\n[test_nodes] cleanup: {exc}")
        left = node.kill_all()
        name: str | None = None
        if node.node_id:
            name = next((n for n, obj in _nodes(client).items()
                         if obj["metadata"]["labels"].get(NODE_ID_LABEL) == node.node_id), None)
            if name is not None:  # a dead node's object is kept by the runtime: remove it
                try:
                    wait_for(lambda: _ready(client.get("nodes", name))["status"] == "False",
                             timeout=90, what=f"node {name} to be NotReady before removing it")
                    client.delete("nodes", name)
                except (AssertionError, TugError) as exc:
                    print(f"\n[test_nodes] cleanup: could not remove node {name}: {exc}")
        assert not left, f"processes of the second Ray node are still alive: {left}"
        if name is not None:
            wait_for(lambda: _gone(client, "nodes", name), timeout=30,
                     what=f"the dead node {name} to be removed")


def test_second_node_joins_runs_a_pod_and_is_lost(
        second_node: SecondNode, client: Client, control_plane: ControlPlaneProc) -> None:
    before = _nodes(client)
    assert before and all(_ready(n)["status"] == "True" for n in before.values()), before

    # 1. A second Ray node joins; a Ready Node object appears for it. Meanwhile a thread times
    # /healthz, to show whether the control plane stays responsive while it meets the node.
    slowest = [0.0]
    stop = threading.Event()

    def probe() -> None:
        with control_plane.client() as c:
            while not stop.is_set():
                t = time.monotonic()
                c.healthz()
                slowest[0] = max(slowest[0], time.monotonic() - t)
                time.sleep(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        start_took = second_node.start()
        joined = time.monotonic()
        joined_node = wait_for(lambda: next(
            (n for n in _nodes(client).values()
             if n["metadata"]["labels"].get(NODE_ID_LABEL) == second_node.node_id
             and _ready(n)["status"] == "True"), None),
            timeout=120, what="a Ready Node for the second Ray node")
        ready_after = time.monotonic() - joined
        # a new node is first written without what its node agent reports (asked for in the
        # background); keep probing until a later node sync has written that too
        node = wait_for(lambda: _described(client, joined_node["metadata"]["name"]), timeout=120,
                        what="the second node's agent report in its Node")
    finally:
        stop.set()
        prober.join(30)
    name = node["metadata"]["name"]
    assert name not in before
    assert node["metadata"]["labels"][HOSTNAME_LABEL] == name
    assert _ready(node)["reason"] == "RayNodeAlive"
    assert node["status"]["nodeInfo"]["kernelVersion"] == os.uname().release  # the same machine
    assert node["status"]["capacity"]["cpu"] == "1"
    assert "node-role.kubernetes.io/control-plane" not in node["metadata"]["labels"]
    rows = _table(control_plane.tug("get", "nodes").stdout)
    assert set(rows) == set(before) | {name}
    assert len(rows) == len(before) + 1 == 2  # the session cluster has one head
    assert rows[name][1] == "Ready"

    # 2. A pod pinned to the second node runs there.
    client.create(_pinned_pod(name))
    running = wait_for(pod_phase(client, POD, "Running", "Succeeded", "Failed"), timeout=120,
                       what=f"{POD} to run")
    assert running["status"]["phase"] == "Running", running["status"]
    assert running["spec"]["nodeName"] == name
    pod_procs = wait_for(lambda: second_node.descendants_matching(MARKER), timeout=30,
                         what="the pod's process under the second node's raylet")

    # 3. Kill the node hard.
    victims = second_node.kill_hard()
    assert second_node.raylet in victims
    killed = time.monotonic()
    timings: dict[str, float] = {}

    def transitions() -> bool:
        if "notready" not in timings and _ready(client.get("nodes", name))["status"] == "False":
            timings["notready"] = time.monotonic() - killed
        if "failed" not in timings and \
                (client.get("pods", POD).get("status") or {}).get("phase") == "Failed":
            timings["failed"] = time.monotonic() - killed
        if "pod-process" not in timings and not any(_alive(p) for p in pod_procs):
            timings["pod-process"] = time.monotonic() - killed
        return len(timings) == 3

    try:
        wait_for(transitions, timeout=90, interval=0.1,
                 what="node NotReady, pod Failed and the pod's process gone")
    finally:
        print(f"\n[test_nodes] ray start took {start_took:.2f}s; ray start returned -> Node "
              f"Ready {ready_after:.2f}s (slowest /healthz meanwhile {slowest[0]:.2f}s); "
              + "; ".join(f"kill -> {k} {v:.2f}s" for k, v in timings.items()))

    dead = client.get("nodes", name)
    assert (_ready(dead)["status"], _ready(dead)["reason"]) == ("False", "RayNodeDead")
    failed = client.get("pods", POD)
    assert failed["status"]["phase"] == "Failed"
    assert failed["status"]["reason"] == "NodeLost", failed["status"]
    assert name in failed["status"]["message"]
    reasons = [e["reason"] for e in client.list(
        "events", field_selector=f"involvedObject.name={POD}")["items"]]
    assert "NodeLost" in reasons
    rows = _table(control_plane.tug("get", "nodes").stdout)
    assert rows[name][1] == "NotReady"
    assert all(rows[n][1] == "Ready" for n in before)


def test_head_still_runs_pods_after_node_loss(client: Client) -> None:
    nodes = _nodes(client)
    assert any(_ready(n)["status"] == "True" for n in nodes.values()), nodes
    client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p-after-loss"},
                   "spec": {"restartPolicy": "Never", "containers": [
                       {"name": "main", "image": "busybox", "command": ["sh", "-c", "echo ok"],
                        "resources": {"requests": {"cpu": "10m"}}}]}})
    done = wait_for(pod_phase(client, "p-after-loss", "Succeeded", "Failed"), timeout=120,
                    what="p-after-loss to finish")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert _ready(nodes[done["spec"]["nodeName"]])["status"] == "True"
    assert b"".join(client.logs("p-after-loss")) == b"ok\n"
    client.delete("pods", "p-after-loss")
    wait_for(lambda: _gone(client, "pods", "p-after-loss"), what="p-after-loss to be removed")
