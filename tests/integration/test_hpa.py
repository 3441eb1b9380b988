"""HorizontalPodAutoscalers on real Ray with real processes: a CPU-burning Deployment scaled up
on its pods' measured CPU and back down once the burning stops (the test's control plane syncs
HPAs every 2 s; the manifest shortens the scale-down window); `tug autoscale` and `tug get
hpa`'s TARGETS; the docs' hpa-rs example applied unchanged next to its ReplicaSet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.client import Client
from tests.shared_examples import EXAMPLES, needs_examples

from .conftest import ControlPlaneProc, wait_for

pytestmark = pytest.mark.integration

# Burns about 0.3 of a core while the flag file exists, idles otherwise.
BURN = """
import os, sys, time
flag = sys.argv[1]
while True:
    if os.path.exists(flag):
        end = time.monotonic() + 0.03
        while time.monotonic() < end:
            pass
        time.sleep(0.07)
    else:
        time.sleep(0.1)
"""

# The Kubernetes docs' controllers/hpa-rs.yaml, as users copy it.
HPA_RS = """\
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: frontend-scaler
spec:
  scaleTargetRef:
    kind: ReplicaSet
    name: frontend
  minReplicas: 3
  maxReplicas: 10
  targetCPUUtilizationPercentage: 50
"""


def _burner(flag: Path) -> dict[str, Any]:
    labels = {"app": "burner"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "burner"},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "burn", "image": "python",
                                         "command": [sys.executable, "-c", BURN, str(flag)],
                                         "resources": {"requests": {"cpu": "100m"}}}]}}}}


def _replicas(client: Client, name: str) -> int:
    return int(client.get("deployments", name)["spec"]["replicas"])


def _condition(hpa: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((c for c in (hpa.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


def test_an_hpa_scales_a_cpu_burning_deployment_up_and_back_down(
        control_plane: ControlPlaneProc, tmp_path: Path) -> None:
    flag = tmp_path / "burn"
    flag.touch()
    with control_plane.client() as client:
        client.create(_burner(flag))
        control_plane.tug("autoscale", "deployment/burner", "--min", "1", "--max", "2",
                          "--cpu-percent", "50")
        hpa = client.get("horizontalpodautoscalers", "burner")
        hpa["spec"]["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 0}}
        client.update(hpa)
        try:
            wait_for(lambda: _replicas(client, "burner") == 2, timeout=120,
                     what="the HPA to scale burner to 2")
            hpa = client.get("horizontalpodautoscalers", "burner")
            used = hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"]
            assert used > 50 * 1.1  # what made it scale: measured, above the target
            events = client.list("events", field_selector="involvedObject.name=burner")["items"]
            said = [e["message"] for e in events if e["reason"] == "SuccessfulRescale"]
            assert "New size: 2; reason: cpu resource utilization (percentage of request) above " \
                   "target" in said
            row = control_plane.tug("get", "hpa", "burner").stdout.splitlines()[1].split()
            assert row[:2] == ["burner", "Deployment/burner"]
            assert row[2] == "cpu:" and row[3].endswith("%/50%") and row[4:6] == ["1", "2"]

            flag.unlink()  # the load stops: back to the minimum
            wait_for(lambda: _replicas(client, "burner") == 1, timeout=120,
                     what="the HPA to scale burner back to 1")
            hpa = client.get("horizontalpodautoscalers", "burner")
            assert _condition(hpa, "ScalingActive")["reason"] == "ValidMetricFound"
            events = client.list("events", field_selector="involvedObject.name=burner")["items"]
            assert any(e["reason"] == "SuccessfulRescale" and e["message"] == "New size: 1; reason: "
                       "All metrics below target" for e in events)
        finally:
            client.delete("horizontalpodautoscalers", "burner")
            client.delete("deployments", "burner")


def test_autoscale_refuses_what_kubectl_refuses(control_plane: ControlPlaneProc) -> None:
    out = control_plane.tug("autoscale", "deployment/nowhere", "--max", "0", check=False)
    assert out.returncode != 0 and "--max=MAXPODS is required and must be at least 1" in out.stderr
    out = control_plane.tug("autoscale", "deployment/nowhere", "--max", "3", check=False)
    assert out.returncode != 0 and "nowhere" in out.stderr and "not found" in out.stderr
    out = control_plane.tug("autoscale", "job/x", "--max", "3", check=False)
    assert out.returncode != 0 and "cannot autoscale jobs" in out.stderr


@needs_examples
def test_the_docs_hpa_rs_example_holds_its_replicaset_and_says_why_it_cannot_scale(
        control_plane: ControlPlaneProc, tmp_path: Path) -> None:
    assert EXAMPLES is not None
    manifest = tmp_path / "hpa-rs.yaml"
    manifest.write_text(HPA_RS)
    control_plane.tug("apply", "-f", str(EXAMPLES / "replicaset-frontend.yaml"))
    control_plane.tug("apply", "-f", str(manifest))
    with control_plane.client() as client:
        try:
            def told() -> dict[str, Any] | None:
                hpa = client.get("horizontalpodautoscalers", "frontend-scaler")
                active = _condition(hpa, "ScalingActive")
                return hpa if active.get("reason") == "FailedGetResourceMetric" else None
            hpa = wait_for(told, timeout=90, what="the HPA to say why it cannot scale frontend")
            assert hpa["spec"]["scaleTargetRef"] == {"kind": "ReplicaSet", "name": "frontend"}
            assert hpa["status"]["currentReplicas"] == 3
            active = _condition(hpa, "ScalingActive")
            # the frontend pods wait for a container runtime: no process, so no CPU sample
            assert active["status"] == "False"
            assert "did not receive metrics for targeted pods" in active["message"]
            assert client.get("replicasets", "frontend")["spec"]["replicas"] == 3
            out = control_plane.tug("get", "hpa", "frontend-scaler").stdout.splitlines()
            assert out[1].split()[:4] == ["frontend-scaler", "ReplicaSet/frontend", "cpu:", "<unknown>/50%"]
            shown = yaml.safe_load(control_plane.tug("get", "hpa", "frontend-scaler", "-o", "yaml").stdout)
            assert shown["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
        finally:
            client.delete("horizontalpodautoscalers", "frontend-scaler")
            client.delete("replicasets", "frontend")
