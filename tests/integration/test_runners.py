"""Warm runners on real Ray (engine/runtime/pool.py, engine/runtime/runner.py): a pod a runner
serves behaves as one in an actor of its own; a control plane killed -9 at the handover, just
after it, or between a pod's end and its runner's return to the pool runs no pod twice, leaks
no runner and lets no runner serve two pods; a node whose runners are all busy still starts
pods, and a pool of size 0 starts every pod in an actor of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from engine.client import Client

from .conftest import REPO, ControlPlaneProc, gone, pod_phase, wait_for

pytestmark = pytest.mark.integration

RUNNER = "tugboat.dev/runner"
RUNNERS = textwrap.dedent("""
    import json, sys, ray
    from engine.runtime.cluster import RAY_NAMESPACE, connect
    connect(sys.argv[1])
    out = []
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry.get("namespace") == RAY_NAMESPACE and entry["name"].startswith("runner."):
            try:
                actor = ray.get_actor(entry["name"], namespace=RAY_NAMESPACE)
                out.append({"name": entry["name"], **ray.get(actor.state.remote(), timeout=30)})
            except Exception as exc:  # gone since it was listed
                out.append({"name": entry["name"], "error": type(exc).__name__})
    print(json.dumps(out))
""")


def runners(cp: ControlPlaneProc) -> dict[str, str | None]:
    """Every live runner on the Ray cluster: its name -> the uid of the pod it serves (or None)."""
    out = subprocess.run([sys.executable, "-c", RUNNERS, cp.ray["address"]], env=cp.env,
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    return {r["name"]: r.get("uid") for r in json.loads(out.stdout) if "error" not in r}


def pod(name: str, script: str, *, restart: str = "Never", grace: int = 5) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": grace,
                     "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                                     "resources": {"requests": {"cpu": "10m"}}}]}}


def host_of(running: dict[str, Any]) -> str:
    """The Ray worker that hosts a running pod's container, by its process title."""
    status = running["status"]["containerStatuses"][0]
    main_pid = int(status["containerID"].split("://")[1])
    parent = psutil.Process(main_pid).parent()
    assert parent is not None
    return " ".join(parent.cmdline())


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture()
def restart(control_plane: ControlPlaneProc) -> Iterator[ControlPlaneProc]:
    """The shared control plane, for a test that restarts it with other flags or a failpoint:
    afterwards it runs again as the other tests expect it."""
    try:
        yield control_plane
    finally:
        if control_plane.proc is not None and control_plane.proc.poll() is None:
            control_plane.kill9()
        control_plane.start()


def test_a_pod_a_warm_runner_serves_behaves_as_before(control_plane: ControlPlaneProc, client: Client,
                                                       tmp_path: Path) -> None:
    bye, runs = tmp_path / "bye", tmp_path / "runs"
    client.create(pod("wr-term", f"echo started; trap 'echo bye >> {bye}; exit 0' TERM; "
                                 f"while true; do sleep 0.1; done"))
    running = wait_for(pod_phase(client, "wr-term", "Running"), what="wr-term to run")
    name = running["metadata"]["annotations"][RUNNER]  # stored before the handover
    assert "RunnerActor" in host_of(running)
    assert runners(control_plane)[name] == running["metadata"]["uid"]
    wait_for(lambda: "started" in control_plane.tug("logs", "wr-term").stdout, what="wr-term's log")
    client.delete("pods", "wr-term")
    wait_for(lambda: gone(client, "wr-term"), what="wr-term to go")
    assert bye.read_text() == "bye\n"  # SIGTERM first: it ended on its own within the grace period
    wait_for(lambda: runners(control_plane).get(name, "gone") is None, what=f"{name} to be idle again")

    # OnFailure: the container runs again in the same runner, and the pod ends as it should
    client.create(pod("wr-retry", f"echo run >> {runs}; [ $(wc -l < {runs}) -ge 2 ] || exit 3",
                      restart="OnFailure"))
    done = wait_for(pod_phase(client, "wr-retry", "Succeeded", "Failed"), timeout=120,
                    what="wr-retry to end")
    status = done["status"]["containerStatuses"][0]
    assert done["status"]["phase"] == "Succeeded" and status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 3 and lines(runs) == 2
    assert RUNNER in done["metadata"]["annotations"]
    client.delete("pods", "wr-retry")

    # a few short pods one after another: served by runners that come back, not a new one each
    used = set()
    for i in range(4):
        client.create(pod(f"wr-short-{i}", "true"))
        ended = wait_for(pod_phase(client, f"wr-short-{i}", "Succeeded"), what=f"wr-short-{i} to end")
        used.add(ended["metadata"]["annotations"][RUNNER])
        client.delete("pods", f"wr-short-{i}")
    assert len(used) < 4, used
    live = runners(control_plane)
    assert used <= set(live) and len(live) <= 16  # the default pool's maximum on the one node


def _kill_at(cp: ControlPlaneProc, point: str, client_pod: dict[str, Any]) -> None:
    """Restart the control plane with failpoint `point`, apply `client_pod`, and kill it -9 once
    it stopped there; then start it as usual."""
    cp.kill9()
    log = cp.home / "server.log"
    before = log.stat().st_size
    cp.start(env={"TUG_FAILPOINT": point})
    with cp.client() as c:
        c.create(client_pod)
    wait_for(lambda: f"failpoint {point} reached" in log.read_bytes()[before:].decode(errors="replace"),
             timeout=120, what=f"the control plane to reach {point}")
    cp.kill9()
    cp.start()


@pytest.mark.parametrize("point", ["runner-handover", "runner-started"])
def test_killed_at_the_handover_no_pod_runs_twice(restart: ControlPlaneProc, tmp_path: Path,
                                                  point: str) -> None:
    runs = tmp_path / "runs"
    name = f"wr-{point}"
    _kill_at(restart, point, pod(name, f"echo run >> {runs}; exec sleep 1000", grace=1))
    with restart.client() as client:
        running = wait_for(pod_phase(client, name, "Running"), timeout=120, what=f"{name} to run")
        uid = running["metadata"]["uid"]
        serving = [n for n, u in runners(restart).items() if u == uid]
        assert len(serving) == 1 and lines(runs) == 1, (serving, lines(runs))
        assert running["metadata"]["annotations"][RUNNER] in serving or point == "runner-handover"
        client.delete("pods", name)
        wait_for(lambda: gone(client, name), what=f"{name} to go")
    wait_for(lambda: uid not in runners(restart).values(), what="its runner to be freed")


def test_killed_between_a_pods_end_and_its_runners_return(restart: ControlPlaneProc,
                                                          tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _kill_at(restart, "runner-release", pod("wr-ended", f"echo run >> {runs}"))
    with restart.client() as client:
        ended = wait_for(pod_phase(client, "wr-ended", "Succeeded"), timeout=120, what="wr-ended to end")
        name = ended["metadata"]["annotations"][RUNNER]
        wait_for(lambda: runners(restart).get(name, "gone") is None, timeout=120,
                 what=f"{name} to be back in the pool")
        assert lines(runs) == 1
        live = runners(restart)
        busy = [u for u in live.values() if u]
        assert len(busy) == len(set(busy)) and len(live) <= 16  # none serves two pods; none leaked
        client.delete("pods", "wr-ended")


def test_a_used_up_pool_and_a_pool_of_zero_still_start_pods(restart: ControlPlaneProc) -> None:
    restart.kill9()
    restart.start("--runners", "0:1")
    with restart.client() as client:
        for name in ("wr-first", "wr-second"):
            client.create(pod(name, "exec sleep 1000", grace=1))
        first = wait_for(pod_phase(client, "wr-first", "Running"), timeout=120, what="wr-first to run")
        second = wait_for(pod_phase(client, "wr-second", "Running"), timeout=120, what="wr-second to run")
        hosts = sorted(["RunnerActor" in host_of(first), "RunnerActor" in host_of(second)])
        assert hosts == [False, True]  # one runner: the other pod got an actor of its own
        assert len(runners(restart)) == 1
    restart.kill9()
    restart.start("--runners", "0:0")
    with restart.client() as client:
        client.create(pod("wr-zero", "exec sleep 1000", grace=1))
        zero = wait_for(pod_phase(client, "wr-zero", "Running"), timeout=120, what="wr-zero to run")
        assert "PodActor" in host_of(zero) and RUNNER not in (zero["metadata"].get("annotations") or {})
        for name in ("wr-first", "wr-second", "wr-zero"):
            client.delete("pods", name)
        for name in ("wr-first", "wr-second", "wr-zero"):
            wait_for(lambda n=name: gone(client, n), what=f"{name} to go")  # type: ignore[misc]
    wait_for(lambda: not runners(restart), what="the runners to go (pool of size 0)")
