"""`tug bench net` end to end against the session's control plane, small (speed is measured
there, never asserted here): every measure is reported and the objects it made are gone."""

from __future__ import annotations

import json

from .conftest import ControlPlaneProc, wait_for


def test_bench_net_reports_every_measure_and_cleans_up(control_plane: ControlPlaneProc) -> None:
    out = control_plane.tug("bench", "net", "--requests", "100", "--concurrency", "2", "--flips", "2",
                            "-o", "json", timeout=300)
    report = json.loads(out.stdout)
    for key in ("direct", "svc", "ingress"):
        assert report[f"{key}_rps"] > 0 and 0 < report[f"{key}_p50_ms"] <= report[f"{key}_p99_ms"]
    for key in ("endpoint_added", "endpoint_removed"):
        assert 0 < report[f"{key}_p50_ms"] <= report[f"{key}_p99_ms"]
    with control_plane.client() as client:
        def gone() -> bool:
            names = [o["metadata"]["name"] for r in ("deployments", "services", "ingresses")
                     for o in client.list(r)["items"]]
            return not [n for n in names if n.startswith("bench-net-")]
        wait_for(gone, timeout=60, what="the bench's objects to go")
