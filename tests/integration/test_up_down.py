"""`tug up` and `tug down` as the README uses them: a local Ray head of its own, the control
plane in the foreground, the hello example, then everything stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from engine import pidfile
from engine.client import Client
from engine.runtime.cluster import processes_path, ray_dir

from .conftest import REPO, pod_phase, wait_for

pytestmark = pytest.mark.integration


def _procs_under(path: Path) -> list[psutil.Process]:
    marker = str(path)
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                out.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def _listeners(procs: list[psutil.Process]) -> list[tuple[str, int, str]]:
    """(address, port, program) of every listening TCP socket of `procs`."""
    out = []
    for proc in procs:
        try:
            name = proc.name()
            conns = proc.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        out += [(c.laddr.ip, c.laddr.port, name) for c in conns if c.status == psutil.CONN_LISTEN]
    return out


def test_up_runs_the_hello_example_and_down_stops_everything(tmp_path: Path) -> None:
    home = tmp_path / "tug"
    env = {**os.environ, "TUG_HOME": str(home)}
    for key in ("RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        env.pop(key, None)
    log = open(tmp_path / "up.log", "wb")
    up = subprocess.Popen([sys.executable, "-m", "engine.cli", "up", "--headless", "--port", "0",
                             "--ingress-port", "0",
                           "--num-cpus", "2"], env=env, stdout=log, stderr=log, cwd=REPO)
    try:
        def healthy() -> bool:
            if up.poll() is not None:
                raise AssertionError((tmp_path / "up.log").read_text())
            if not (home / "server.pid").exists():
                return False
            with Client.from_config(home) as c:
                return c.healthz() == "ok"
        wait_for(healthy, timeout=180, what="tug up to serve")
        assert (ray_dir(home) / "address").exists()
        # the Ray daemons tugboat started are recorded by pid and start time
        recorded = {Path(psutil.Process(o.pid).cmdline()[0]).name
                    for o in pidfile.live(processes_path(home), home=home) or []}
        assert {"gcs_server", "raylet"} <= recorded, recorded

        def tug(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, cwd=REPO,
                                  capture_output=True, text=True, timeout=120)

        assert tug("apply", "-f", "configs/examples/hello-pod.yaml").stdout == "pod/hello created\n"
        with Client.from_config(home) as c:
            done = wait_for(pod_phase(c, "hello", "Succeeded", "Failed"), timeout=120,
                            what="hello to finish")
        assert done["status"]["phase"] == "Succeeded"
        logs = tug("logs", "hello").stdout
        assert logs.startswith(f"Hello from hello on node {done['spec']['nodeName']}")
        assert "tick 3\ndone\n" in logs
        assert "Successfully assigned default/hello" in tug("describe", "pod", "hello").stdout
        # Started on loopback (the default), the Ray cluster, its workers and the control plane
        # serve nothing beyond it
        roots = [psutil.Process(up.pid),
                 *(psutil.Process(o.pid) for o in pidfile.live(processes_path(home), home=home) or [])]
        listening = _listeners([*roots, *(c for r in roots for c in r.children(recursive=True))])
        names = {name for _, _, name in listening}
        assert {"gcs_server", "raylet"} <= names, listening
        assert all(ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1") for ip, _, _ in listening), listening

        # A long-running pod: `tug down` must stop its process too.
        pid_file = tmp_path / "sleeper.pid"
        pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: sleeper}\nspec:\n  containers:\n"
               f"  - {{name: s, image: busybox, command: [sh, -c, 'sleep 1000 & echo $! > {pid_file}; "
               "wait']}\n")
        out = subprocess.run([sys.executable, "-m", "engine.cli", "apply", "-f", "-"], env=env,
                             input=pod, capture_output=True, text=True, cwd=REPO, timeout=60)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=120,
                 what="the sleeper to start")
        sleeper = int(pid_file.read_text())
        assert psutil.pid_exists(sleeper)

        # A bystander whose command line says tugboat and names the Ray directory (an editor
        # open on a Ray log, say): `tug down` must leave it alone.
        bystander = subprocess.Popen(["bash", "-c", 'exec -a tugboat-notes python3 -c '
                                      '"import time; time.sleep(300)" "$0"',
                                      f"{ray_dir(home)}/session_latest/logs/raylet.out"])
        wait_for(lambda: "tugboat-notes" in psutil.Process(bystander.pid).cmdline(),
                 timeout=30, what="the bystander to start")

        down = tug("down")
        assert down.returncode == 0, down.stderr
        assert bystander.poll() is None, "tug down signalled a bystander"
        bystander.kill()
        bystander.wait()
        assert "stopped the control plane" in down.stdout
        up.wait(30)
        wait_for(lambda: not _procs_under(ray_dir(home)), timeout=60,
                 what="the local Ray cluster's processes to end")
        def sleeper_gone() -> bool:
            try:
                return psutil.Process(sleeper).status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True
        wait_for(sleeper_gone, timeout=30, what="the pod's process to end")
        assert not (home / "server.pid").exists()
        assert tug("get", "pods").returncode == 1  # nothing answers any more
    finally:
        if up.poll() is None:
            up.kill()
        for proc in _procs_under(ray_dir(home)):
            proc.kill()
        time.sleep(0.1)
        shutil.rmtree(ray_dir(home), ignore_errors=True)
