"""One real local Ray cluster for the whole test run, and a real control plane on it
(`tug server` as a subprocess, so it can be killed with -9 and started again)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.client import Client
from engine.controlplane import control_plane as recorded_control_plane
from engine.errors import NotFoundError, TugError

REPO = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.1,
             what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except TugError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from engine.clusterconfig import NodeSpec
    from engine.config import ray_auth_env
    from engine.runtime import start_local_head, stop_local_head
    from engine.runtime.cluster import ray_dir

    home = tmp_path_factory.mktemp("rayhome")
    # GPUs of two kinds, so that the scheduler's choice of GPU shows (tests/integration/test_gpus.py)
    small, large = ("Simulated GPU", 16384), ("Simulated GPU XL", 81920)
    address = start_local_head(home, node=NodeSpec(cpus=4, gpus=4, gpu_memory_mib=16384,
                                                   gpu_models=(small, small, large, large)))
    try:
        yield {"address": address, **ray_auth_env(home)}
    finally:
        stop_local_head(home)
        shutil.rmtree(ray_dir(home), ignore_errors=True)


class ControlPlaneProc:
    """A `tug server` subprocess with its own $TUG_HOME."""

    def __init__(self, home: Path, ray: dict[str, str]) -> None:
        self.home = home
        self.ray = ray
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "TUG_HOME": str(home),
                    **{k: v for k, v in ray.items() if k != "address"}}

    def start(self, *extra: str, env: dict[str, str] | None = None, wait: bool = True) -> None:
        """`tug server` with the tests' flags and `extra` ones, `env` added to its environment;
        with `wait`, until it answers /healthz."""
        log = open(self.home / "server.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "server", "--ray-address", self.ray["address"],
             "--port", "0", "--ingress-port", "0", "--hpa-sync-period", "2", *extra],
            env={**self.env, **(env or {})}, stdout=log, stderr=log, cwd=REPO)
        if not wait:
            return
        started = time.monotonic()
        wait_for(self._healthy, timeout=120, what="the control plane to answer /healthz")
        self.start_seconds = time.monotonic() - started

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError("tug server exited: "
                                 + (self.home / "server.log").read_text()[-3000:])
        owner = recorded_control_plane(self.home)
        if owner is None or owner.pid != self.proc.pid:
            return False
        config = self.home / "config"
        if not config.exists() or config.stat().st_mtime < owner.started:
            return False  # not serving yet, or the config names the address of the run before
        with Client.from_config(self.home) as c:
            return c.healthz() == "ok"

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def client(self) -> Client:
        return Client.from_config(self.home)

    def tug(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the real CLI against this control plane."""
        out = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=self.env,
                             capture_output=True, text=True, input=input, timeout=timeout, cwd=REPO)
        if check and out.returncode != 0:
            raise AssertionError(f"tug {' '.join(args)} exited {out.returncode}:\n{out.stderr}")
        return out


@pytest.fixture(scope="session")
def control_plane(ray_cluster: dict[str, str],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlaneProc]:
    cp = ControlPlaneProc(tmp_path_factory.mktemp("tughome"), ray_cluster)
    cp.start()
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture()
def client(control_plane: ControlPlaneProc) -> Iterator[Client]:
    with control_plane.client() as c:
        yield c


def pod_phase(client: Client, name: str, *phases: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        pod = client.get("pods", name)
        return pod if (pod.get("status") or {}).get("phase") in phases else None
    return check


def gone(client: Client, name: str) -> bool:
    """The pod `name` is no longer in the store."""
    try:
        client.get("pods", name)
    except NotFoundError:
        return True
    return False


def unschedulable_message(client: Client, name: str) -> str:
    """Wait for the pod's PodScheduled=False/Unschedulable condition; its message."""
    def check() -> dict[str, Any] | None:
        conditions = (client.get("pods", name).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c.get("reason") == "Unschedulable"), None)
    return str(wait_for(check, what=f"{name} to be reported unschedulable")["message"])
