"""`tug bench heal` end to end on a real three-node dev cluster, one round of each measure
(speed is measured there, never asserted here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine.client import Client
from engine.runtime.cluster import ray_dir

from .conftest import REPO, wait_for


def test_bench_heal_reports_every_measure_beside_ray(tmp_path: Path) -> None:
    home = tmp_path / "tug"
    env = {**os.environ, "TUG_HOME": str(home)}
    for key in ("RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        env.pop(key, None)
    log = open(tmp_path / "dev.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "dev-cluster", "--nodes", "3",
                             "--gpus-per-node", "0", "--cpus-per-node", "1", "--port", "0",
                             "--ingress-port", "0", "--headless"],
                            env=env, stdout=log, stderr=log, cwd=REPO)
    try:
        def three_ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "dev.log").read_text())
            if not (home / "server.pid").exists():
                return False
            with Client.from_config(home) as c:
                nodes = c.list("nodes", namespace=None)["items"]
            return sum(1 for n in nodes if n["status"]["conditions"][0]["status"] == "True") == 3
        wait_for(three_ready, timeout=180, what="three ready nodes")
        out = subprocess.run([sys.executable, "-m", "engine.cli", "bench", "heal", "--repeat", "1",
                              "--replicas", "3", "-o", "json"], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert (report["replicas"], report["repeat"]) == (3, 1)
        for key in ("process_restart", "actor_replace", "node_loss", "rollout", "ray_actor_start"):
            assert report[f"{key}_p50_s"] > 0 and report[f"{key}_p99_s"] >= report[f"{key}_p50_s"], key
        with Client.from_config(home) as c:  # the bench cleans up after itself
            wait_for(lambda: not c.list("deployments")["items"], timeout=60,
                     what="the bench's deployment to go")
    finally:
        subprocess.run([sys.executable, "-m", "engine.cli", "down"], env=env, cwd=REPO,
                       capture_output=True, timeout=120)
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(ray_dir(home), ignore_errors=True)
