"""Pods end to end: real control plane, real Ray actors, real processes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from engine.client import Client

from .conftest import ControlPlaneProc, gone, pod_phase, unschedulable_message, wait_for

pytestmark = pytest.mark.integration


def pod(name: str, script: str, *, restart: str = "Never", grace: int | None = None,
        cpu: str | None = "10m") -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": restart, "containers": [
        {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    if cpu:
        spec["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def container(p: dict[str, Any]) -> dict[str, Any]:
    return p["status"]["containerStatuses"][0]


def test_pod_prints_and_exits_zero(client: Client, control_plane: ControlPlaneProc) -> None:
    client.create(pod("p-ok", 'echo "hello from $HOSTNAME"; echo second line'))
    done = wait_for(pod_phase(client, "p-ok", "Succeeded", "Failed"), what="p-ok to finish")
    assert done["status"]["phase"] == "Succeeded"
    term = container(done)["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert done["spec"]["nodeName"] and done["status"]["hostIP"]
    assert b"".join(client.logs("p-ok")) == b"hello from p-ok\nsecond line\n"
    assert b"".join(client.logs("p-ok", tail=1)) == b"second line\n"
    reasons = [e["reason"] for e in client.list(
        "events", field_selector="involvedObject.name=p-ok")["items"]]
    assert "Scheduled" in reasons and "Started" in reasons
    text = control_plane.tug("describe", "pod", "p-ok").stdout
    assert "Exit Code:    0" in text and "Successfully assigned default/p-ok" in text
    control_plane.tug("delete", "pod", "p-ok")
    assert gone(client, "p-ok")


def test_pod_exit_code_three_fails(client: Client) -> None:
    client.create(pod("p-three", "echo failing; exit 3"))
    done = wait_for(pod_phase(client, "p-three", "Succeeded", "Failed"), what="p-three to finish")
    assert done["status"]["phase"] == "Failed"
    term = container(done)["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")
    assert container(done)["restartCount"] == 0


def test_delete_sends_sigterm_and_honours_grace(client: Client) -> None:
    # Traps TERM, says so, and keeps running: only SIGKILL after the grace period ends it.
    script = "trap 'echo got TERM' TERM; echo up; while true; do sleep 0.2; done"
    client.create(pod("p-grace", script, restart="Always", grace=3))
    wait_for(pod_phase(client, "p-grace", "Running"), what="p-grace to run")
    wait_for(lambda: b"up" in b"".join(client.logs("p-grace")), what="p-grace to print")
    started = time.monotonic()
    client.delete("pods", "p-grace")
    terminating = client.get("pods", "p-grace")
    assert terminating["metadata"]["deletionTimestamp"]
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 3
    wait_for(lambda: gone(client, "p-grace"), timeout=60, what="p-grace to be removed")
    # Not a speed bound: the pod must have been given its grace period before the SIGKILL.
    assert time.monotonic() - started >= 2.5
    kinds = [e["reason"] for e in client.list(
        "events", field_selector="involvedObject.name=p-grace")["items"]]
    assert "Killing" in kinds


def test_sigterm_is_seen_by_the_process(client: Client, control_plane: ControlPlaneProc) -> None:
    client.create(pod("p-term", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.2; done",
                      restart="Always", grace=20))
    running = wait_for(pod_phase(client, "p-term", "Running"), what="p-term to run")
    uid = running["metadata"]["uid"]
    control_plane.tug("delete", "pod", "p-term", "--wait")
    assert gone(client, "p-term")
    logs = list((control_plane.home / "logs").glob(f"default_p-term_{uid}/main/0.log"))
    assert logs and "got TERM" in logs[0].read_text()


def test_on_failure_restarts_until_success(client: Client, tmp_path: Any) -> None:
    counter = tmp_path / "count"
    script = (f'n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; '
              f'echo "attempt $n"; [ $n -ge 3 ]')
    client.create(pod("p-flaky", script, restart="OnFailure"))
    done = wait_for(pod_phase(client, "p-flaky", "Succeeded", "Failed"), timeout=120,
                    what="p-flaky to finish")
    assert done["status"]["phase"] == "Succeeded"
    assert container(done)["restartCount"] == 2
    assert container(done)["lastState"]["terminated"]["exitCode"] == 1
    assert b"".join(client.logs("p-flaky")) == b"attempt 3\n"
    assert b"".join(client.logs("p-flaky", previous=True)) == b"attempt 2\n"
    reasons = [e["reason"] for e in client.list(
        "events", field_selector="involvedObject.name=p-flaky")["items"]]
    assert "BackOff" in reasons


def test_unschedulable_pod_says_why(client: Client) -> None:
    client.create(pod("p-huge", "true", cpu="64"))
    pending = unschedulable_message(client, "p-huge")
    assert "Insufficient cpu" in pending and "need 64" in pending
    client.delete("pods", "p-huge")
    wait_for(lambda: gone(client, "p-huge"), what="p-huge to be removed")


def test_image_only_container_needs_a_runtime(client: Client) -> None:
    client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p-image"},
                   "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
    done = wait_for(pod_phase(client, "p-image", "Failed", "Running"), what="p-image to settle")
    if done["status"]["phase"] == "Running":
        pytest.fail("a container runtime answered here; this test expects a machine without one")
    assert done["status"]["reason"] == "ContainerRuntimeUnavailable"
    assert "docker or podman" in done["status"]["message"]


def _exited(pid: int) -> bool:
    import psutil
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_kill9_of_control_plane_adopts_running_pod(control_plane: ControlPlaneProc,
                                                   tmp_path: Path) -> None:
    go = tmp_path / "p-exits-may-exit"  # p-exits runs until this file exists
    with control_plane.client() as client:
        client.create(pod("p-adopt", "echo up; while true; do sleep 0.2; done", restart="Always"))
        before = wait_for(pod_phase(client, "p-adopt", "Running"), what="p-adopt to run")
        client.create(pod("p-exits", f"while [ ! -e {go} ]; do sleep 0.1; done; exit 7"))
        running = wait_for(pod_phase(client, "p-exits", "Running"), what="p-exits to run")
    exits_pid = int(container(running)["containerID"].split("://")[1])
    control_plane.kill9()
    assert not _exited(exits_pid)  # the control plane going down does not stop its pods
    go.touch()
    wait_for(lambda: _exited(exits_pid), timeout=60, what="p-exits to exit while the control plane is down")
    control_plane.start()
    with control_plane.client() as client:
        after = wait_for(pod_phase(client, "p-adopt", "Running"), what="p-adopt after restart")
        assert container(after)["containerID"] == container(before)["containerID"]
        assert container(after)["state"]["running"]["startedAt"] == \
            container(before)["state"]["running"]["startedAt"]
        assert container(after)["restartCount"] == 0
        exited = wait_for(pod_phase(client, "p-exits", "Failed"), what="p-exits picked up")
        assert container(exited)["state"]["terminated"]["exitCode"] == 7
        client.delete("pods", "p-adopt", grace_seconds=0)
        client.delete("pods", "p-exits")


def test_get_json_is_a_list(control_plane: ControlPlaneProc) -> None:
    out = json.loads(control_plane.tug("get", "nodes", "-o", "json").stdout)
    assert out["kind"] == "List" and out["items"][0]["kind"] == "Node"
    node = out["items"][0]
    assert node["status"]["conditions"][0]["status"] == "True"
    assert node["status"]["allocatable"]["cpu"] == "4"


def test_a_killed_pod_actor_fails_the_pod_within_seconds(client: Client) -> None:
    import os
    import signal

    import psutil

    client.create(pod("p-victim", "sleep 1000", restart="Always"))
    running = wait_for(pod_phase(client, "p-victim", "Running"), what="p-victim to run")
    main_pid = int(container(running)["containerID"].split("://")[1])
    worker = psutil.Process(main_pid).parent()
    # its host: a warm runner (engine/runtime/runner.py) or an actor of its own
    assert worker is not None and re.search(r"ray::(PodActor|RunnerActor)", " ".join(worker.cmdline()))
    os.kill(worker.pid, signal.SIGKILL)
    failed = wait_for(pod_phase(client, "p-victim", "Failed"), timeout=60,
                      what="p-victim to be marked Failed")
    assert failed["status"]["reason"] == "PodActorDied"
    term = container(failed)["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("ContainerStatusUnknown", 137)
    wait_for(lambda: not psutil.pid_exists(main_pid)
             or psutil.Process(main_pid).status() == psutil.STATUS_ZOMBIE,
             timeout=30, what="the container process to die with its actor")
    client.delete("pods", "p-victim")
