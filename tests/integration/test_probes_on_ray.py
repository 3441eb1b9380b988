"""Probes through the whole path (control plane, Ray actor, real process): a readiness probe
that flips takes the replica out of Ready and the Deployment out of Available without a
restart; a liveness probe that starts failing kills the container, which restarts through the
CrashLoopBackOff path, with `Unhealthy`, `Killing` and `BackOff` events saying why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.client import Client

from .conftest import ControlPlaneProc, wait_for


def _deployment(ready: Path, alive: Path) -> dict[str, Any]:
    probe = {"periodSeconds": 1, "failureThreshold": 2}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "probed"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "probed"}},
                     "template": {"metadata": {"labels": {"app": "probed"}},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                      "name": "main", "image": "busybox", "command": ["sleep", "3600"],
                                      "resources": {"requests": {"cpu": "10m"}},
                                      "readinessProbe": {"exec": {"command": ["test", "-e", str(ready)]},
                                                         **probe},
                                      "livenessProbe": {"exec": {"command": ["test", "-e", str(alive)]},
                                                        **probe}}]}}}}


def _pod(client: Client) -> dict[str, Any] | None:
    live = [p for p in client.list("pods", label_selector="app=probed")["items"]
            if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")]
    return live[0] if len(live) == 1 else None


def _ready(p: dict[str, Any] | None) -> bool:
    return p is not None and any(c.get("type") == "Ready" and c.get("status") == "True"
                                 for c in (p.get("status") or {}).get("conditions") or [])


def _available(client: Client) -> int:
    return int((client.get("deployments", "probed").get("status") or {}).get("availableReplicas") or 0)


def _reasons(client: Client, pod: str) -> list[str]:
    events = client.list("events", field_selector=f"involvedObject.name={pod}")["items"]
    return [f"{e.get('reason')}: {e.get('message')}" for e in events]


def test_readiness_flips_and_liveness_restarts_with_backoff(control_plane: ControlPlaneProc,
                                                            tmp_path: Path) -> None:
    ready, alive = tmp_path / "ready", tmp_path / "alive"
    ready.touch()
    alive.touch()
    with control_plane.client() as client:
        client.create(_deployment(ready, alive))
        try:
            pod = wait_for(lambda: (p := _pod(client)) and _ready(p) and p, timeout=120,
                           what="the probed replica to be ready")
            name = pod["metadata"]["name"]
            wait_for(lambda: _available(client) == 1, timeout=60, what="the Deployment to be available")

            ready.unlink()  # readiness flips: out of Ready, no restart
            wait_for(lambda: not _ready(client.get("pods", name)), timeout=60, what="Ready to go False")
            wait_for(lambda: _available(client) == 0, timeout=60, what="availableReplicas to drop to 0")
            status = client.get("pods", name)["status"]
            assert status["containerStatuses"][0]["restartCount"] == 0
            assert status["phase"] == "Running"
            assert any(r.startswith("Unhealthy: Readiness probe failed") for r in _reasons(client, name))
            ready.touch()
            wait_for(lambda: _ready(client.get("pods", name)), timeout=60, what="Ready to come back")

            alive.unlink()  # liveness fails: killed, restarted in place, and again after a backoff
            wait_for(lambda: client.get("pods", name)["status"]["containerStatuses"][0]["restartCount"] >= 2,
                     timeout=120, what="two restarts of the container")
            reasons = _reasons(client, name)
            assert any(r.startswith("Unhealthy: Liveness probe failed") for r in reasons), reasons
            assert any(r.startswith("Killing:") and "failed liveness probe" in r for r in reasons), reasons
            assert any(r.startswith("BackOff:") for r in reasons), reasons
            assert _pod(client)["metadata"]["name"] == name  # restarted in place, never replaced
            alive.touch()
            wait_for(lambda: _ready(client.get("pods", name)), timeout=120,
                     what="the restarted replica to be ready")
        finally:
            client.delete("deployments", "probed")
            wait_for(lambda: _pod(client) is None, timeout=60, what="the probed replica to go")
