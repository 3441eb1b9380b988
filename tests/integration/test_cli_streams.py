"""Streams and housekeeping through the real CLI: `logs -f`, `logs --timestamps`, `get -w`,
orphan actors, bench."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime

import pytest

from engine.client import Client

from .conftest import REPO, ControlPlaneProc, pod_phase, wait_for
from .test_pods import pod

pytestmark = pytest.mark.integration


def test_logs_follow_streams_until_the_container_ends(control_plane: ControlPlaneProc,
                                                     client: Client) -> None:
    client.create(pod("p-follow", "for i in 1 2 3 4; do echo line $i; sleep 0.5; done"))
    wait_for(pod_phase(client, "p-follow", "Running", "Succeeded"), what="p-follow to start")
    out = control_plane.tug("logs", "-f", "p-follow", timeout=60)
    assert out.stdout == "line 1\nline 2\nline 3\nline 4\n"
    assert control_plane.tug("logs", "p-follow", "--tail", "2").stdout == "line 3\nline 4\n"


def test_logs_timestamps_put_the_time_each_line_was_written_in_front(
        control_plane: ControlPlaneProc, client: Client) -> None:
    """`tug logs --timestamps`, as `kubectl logs --timestamps` prints it, followed or not: the
    same times both ways, from the pod's start on, in order, on every line."""
    client.create(pod("p-stamps", "for i in 1 2 3; do echo line $i; sleep 0.3; done; printf end"))
    wait_for(pod_phase(client, "p-stamps", "Running", "Succeeded"), what="p-stamps to start")
    followed = control_plane.tug("logs", "-f", "--timestamps", "p-stamps", timeout=60).stdout
    done = wait_for(pod_phase(client, "p-stamps", "Succeeded", "Failed"), what="p-stamps to end")
    now = datetime.now(UTC)
    whole = control_plane.tug("logs", "p-stamps", "--timestamps").stdout
    assert followed == whole
    times = []
    for line, text in zip(whole.splitlines(), ["line 1", "line 2", "line 3", "end"], strict=True):
        stamp, _, rest = line.partition(" ")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", stamp), line
        assert rest == text
        times.append(datetime.fromisoformat(stamp))
    assert datetime.fromisoformat(done["status"]["startTime"]) <= times[0]
    assert times == sorted(times) and times[-1] <= now
    last = whole.splitlines(keepends=True)[-1]
    assert b"".join(client.logs("p-stamps", tail=1, timestamps=True)).decode() == last
    assert b"".join(client.logs("p-stamps")) == b"line 1\nline 2\nline 3\nend"


def _pod_reads(client: Client) -> float:
    """GET requests on pods the API server has answered (lists and gets; a watch once it ends)."""
    total = 0.0
    for line in client.text("/metrics").splitlines():
        if line.startswith("tugboat_apiserver_requests_total{") and 'verb="GET"' in line \
                and 'route="/api/v1/pods"' in line and 'code="200"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_get_watch_prints_changes(control_plane: ControlPlaneProc, client: Client) -> None:
    before = _pod_reads(client)
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "get", "pods", "-w",
                             "-l", "watch=me"], env=control_plane.env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def listed() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"tug get -w exited {proc.returncode}: {proc.stderr.read()}")
        return _pod_reads(client) > before

    def printed(status: str) -> bool:
        return any(line.startswith("p-watched ") and line.split()[2] == status for line in lines)

    try:
        # nothing matches yet, so the CLI prints nothing until the first change: wait until the
        # server has answered its list instead (its watch starts where that list ends)
        wait_for(listed, what="tug get -w to list the pods")
        body = pod("p-watched", "sleep 1")
        body["metadata"]["labels"] = {"watch": "me"}
        client.create(body)
        wait_for(pod_phase(client, "p-watched", "Succeeded"), what="p-watched to finish")
        try:
            wait_for(lambda: printed("Completed"), what="tug get -w to print p-watched Completed")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it printed {lines}") from None
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(10)
    assert lines[0].split()[:3] == ["NAME", "READY", "STATUS"]
    statuses = [line.split()[2] for line in lines[1:] if line.startswith("p-watched")]
    assert "Running" in statuses and statuses[-1] == "Completed"


def test_restart_cleans_up_actors_no_pod_owns(control_plane: ControlPlaneProc) -> None:
    script = textwrap.dedent("""
        import sys, ray
        from engine.runtime.cluster import connect
        connect(sys.argv[1])  # as the control plane does: the head listens on loopback only
        from engine.runtime.actors import PodActor
        pod = {"metadata": {"name": "ghost", "namespace": "default", "uid": "deadbeef0000"},
               "spec": {"restartPolicy": "Never", "nodeName": "n",
                        "containers": [{"name": "c", "image": "x", "command": ["sleep", "600"]}]}}
        if sys.argv[2] == "make":
            a = PodActor.options(name="pod.default.ghost.deadbeef", lifetime="detached",
                                 num_cpus=0).remote(pod, "/tmp")
            ray.get(a.pid.remote())
        else:
            try:
                ray.get_actor("pod.default.ghost.deadbeef")
                print("alive")
            except ValueError:
                print("gone")
    """)

    def ghost(action: str) -> str:
        out = subprocess.run([sys.executable, "-c", script, control_plane.ray["address"], action],
                             env=control_plane.env, capture_output=True, text=True, timeout=120,
                             cwd=REPO)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    ghost("make")
    assert ghost("check") == "alive"
    control_plane.kill9()
    control_plane.start()
    assert ghost("check") == "gone"


def test_bench_pods_reports_its_keys(control_plane: ControlPlaneProc) -> None:
    out = json.loads(control_plane.tug("bench", "pods", "--count", "2", "--sequential", "2",
                                       "--job-completions", "3", "--job-parallelism", "2", "-o", "json",
                                       timeout=300).stdout)
    for key in ("warm_start_p50_ms", "warm_start_p99_ms", "ray_actor_start_p99_ms", "cold_start_p99_ms",
                "burst_pods_per_s", "ray_actors_per_s", "cold_burst_pods_per_s", "job_s"):
        assert isinstance(out[key], float) and out[key] > 0, key
    assert out["job_completions"] == 3 and out["job_200_s"] is None  # not the 200 the key names
    assert out["burst_last_succeeded_s"] > 0 and out["cold_burst_last_succeeded_s"] > 0
    with control_plane.client() as c:
        assert not [p for p in c.list("pods")["items"]
                    if p["metadata"]["name"].startswith("bench-")
                    and not p["metadata"].get("deletionTimestamp")]
