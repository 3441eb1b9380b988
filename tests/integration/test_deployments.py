"""Deployments on real Ray with real processes: Available, a rolling update watched at every
pod event for its bounds, `tug rollout undo` making revision 3, and a kill -9 of the control
plane in the middle of a rollout, which finishes after the restart with the bounds held."""

from __future__ import annotations

import json
import threading
from typing import Any

from engine.client import Client

from .conftest import ControlPlaneProc, wait_for

REPLICAS, SURGE, UNAVAILABLE = 3, 1, 0


def deployment(image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "roll"},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "roll"}},
                     "strategy": {"rollingUpdate": {"maxSurge": SURGE, "maxUnavailable": UNAVAILABLE}},
                     "template": {"metadata": {"labels": {"app": "roll"}},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                                      {"name": "main", "image": image, "command": ["sleep", "3600"],
                                       "resources": {"requests": {"cpu": "10m"}}}]}}}}


def ready(p: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (p.get("status") or {}).get("conditions") or [])


def live(p: dict[str, Any]) -> bool:
    return not p["metadata"].get("deletionTimestamp") and \
        (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


class Bounds:
    """Watches the Deployment's pods on a thread and notes every moment at which more pods
    live than replicas + maxSurge, or fewer are ready than replicas - maxUnavailable."""

    def __init__(self, control_plane: ControlPlaneProc) -> None:
        self.cp = control_plane
        self.pods: dict[str, dict[str, Any]] = {}
        self.broken: list[str] = []
        self.events = 0
        self.stop = threading.Event()
        self.rv = self._relist()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _relist(self) -> str:
        with self.cp.client() as c:
            listed = c.list("pods", label_selector="app=roll")
        self.pods = {p["metadata"]["uid"]: p for p in listed["items"]}
        self._check()
        return str(listed["metadata"]["resourceVersion"])

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.cp.client() as c:
                    for kind, pod in c.watch("pods", label_selector="app=roll", resource_version=self.rv,
                                             timeout_seconds=5):
                        self.rv = pod["metadata"].get("resourceVersion", self.rv)
                        if kind == "DELETED":
                            self.pods.pop(pod["metadata"]["uid"], None)
                        else:
                            self.pods[pod["metadata"]["uid"]] = pod
                        self.events += 1
                        self._check()
                        if self.stop.is_set():
                            return
            except Exception:  # noqa: BLE001 - the control plane is down, or the watch too old
                self.stop.wait(0.2)
                try:
                    self.rv = self._relist()
                except Exception:  # noqa: BLE001 - still down: try again
                    continue

    def _check(self) -> None:
        alive = [p for p in self.pods.values() if live(p)]
        ready_now = sum(1 for p in alive if ready(p))
        if len(alive) > REPLICAS + SURGE or ready_now < REPLICAS - UNAVAILABLE:
            self.broken.append(f"{len(alive)} live, {ready_now} ready: "
                               + ", ".join(sorted(p["metadata"]["name"] for p in alive)))

    def close(self) -> list[str]:
        self.stop.set()
        self.thread.join(30)
        return self.broken


def rolled_out(client: Client, image: str) -> dict[str, Any] | None:
    d = client.get("deployments", "roll")
    status = d.get("status") or {}
    pods = [p for p in client.list("pods", label_selector="app=roll")["items"] if live(p)]
    done = (status.get("observedGeneration") == d["metadata"]["generation"]
            and status.get("updatedReplicas") == REPLICAS and status.get("availableReplicas") == REPLICAS
            and status.get("replicas") == REPLICAS and len(pods) == REPLICAS
            and all(p["spec"]["containers"][0]["image"] == image and ready(p) for p in pods))
    return d if done else None


def test_rolling_update_holds_its_bounds_undo_and_a_control_plane_crash(
        control_plane: ControlPlaneProc) -> None:
    with control_plane.client() as client:
        client.create(deployment("v1"))
        d = wait_for(lambda: rolled_out(client, "v1"), timeout=120, what="roll to become available")
        assert {c["type"]: c["status"] for c in d["status"]["conditions"]} == \
            {"Available": "True", "Progressing": "True"}

    bounds = Bounds(control_plane)
    control_plane.tug("set", "image", "deployment/roll", "main=v2")
    with control_plane.client() as client:
        wait_for(lambda: rolled_out(client, "v2"), timeout=120, what="the rollout to v2")
    out = control_plane.tug("rollout", "undo", "deployment/roll")
    assert out.stdout.strip() == "deployment.apps/roll rolled back"
    with control_plane.client() as client:
        d = wait_for(lambda: rolled_out(client, "v1"), timeout=120, what="the undo to v1")
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"

    # kill -9 of the control plane in the middle of a rollout: it finishes after the restart
    control_plane.tug("set", "image", "deployment/roll", "main=v4")
    with control_plane.client() as client:
        wait_for(lambda: any(p["spec"]["containers"][0]["image"] == "v4"
                             for p in client.list("pods", label_selector="app=roll")["items"]),
                 timeout=60, what="the rollout to v4 to begin")
    control_plane.kill9()
    control_plane.start()
    with control_plane.client() as client:
        wait_for(lambda: rolled_out(client, "v4"), timeout=120, what="the rollout to v4 after a restart")
    broken = bounds.close()
    assert bounds.events > 0 and broken == [], broken[:5]
    out = control_plane.tug("rollout", "history", "deployment/roll")
    assert [line.split()[0] for line in out.stdout.splitlines()[2:]] == ["2", "3", "4"]
    with control_plane.client() as client:
        client.delete("deployments", "roll")
        wait_for(lambda: not [p for p in client.list("pods", label_selector="app=roll")["items"] if live(p)],
                 timeout=60, what="roll's pods to go")


def test_http_servers_with_a_readiness_probe_become_available(control_plane: ControlPlaneProc) -> None:
    import sys
    import urllib.request

    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "http"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "http"}},
                    "template": {"metadata": {"labels": {"app": "http"}},
                                 "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                     "name": "web", "image": "python:3.11",
                                     "command": ["sh", "-c", f"exec {sys.executable} -m http.server $PORT"],
                                     "ports": [{"name": "http", "containerPort": 8000}],
                                     "resources": {"requests": {"cpu": "10m"}},
                                     "readinessProbe": {"httpGet": {"path": "/", "port": "http"},
                                                        "periodSeconds": 1}}]}}}}
    with control_plane.client() as client:
        client.create(web)
        def available() -> dict[str, Any] | None:
            d = client.get("deployments", "http")
            return d if (d.get("status") or {}).get("availableReplicas") == 2 else None
        d = wait_for(available, timeout=120, what="the http servers to be available")
        assert {c["type"]: c["status"] for c in d["status"]["conditions"]}["Available"] == "True"
        pods = [p for p in client.list("pods", label_selector="app=http")["items"] if live(p)]
        ports = {p["status"]["containerStatuses"][0]["hostPorts"][0]["hostPort"] for p in pods}
        assert len(ports) == 2  # each replica its own node port
        assert {json.loads(p["metadata"]["annotations"]["tugboat.dev/ports"])["http"] for p in pods} == ports
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
                assert resp.status == 200
        described = control_plane.tug("describe", "pod", pods[0]["metadata"]["name"]).stdout
        assert f"{pods[0]['status']['containerStatuses'][0]['hostPorts'][0]['hostPort']}/TCP" in described
        assert "http-get" in described or "Readiness" in described
        client.delete("deployments", "http")
        wait_for(lambda: not [p for p in client.list("pods", label_selector="app=http")["items"] if live(p)],
                 timeout=60, what="the http servers to go")
