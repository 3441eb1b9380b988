"""The pod runner (the kubelet inside a pod actor) with real processes and no Ray."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from engine.runtime.podrunner import PodRunner, crashloop_delay, should_restart


@pytest.mark.parametrize("crashes,delay", [(1, 0), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160),
                                           (7, 300), (8, 300), (20, 300)])
def test_crashloop_delays_follow_the_kubelet(crashes: int, delay: float) -> None:
    assert crashloop_delay(crashes) == delay


@pytest.mark.parametrize("policy,code,restart", [
    ("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 2, True),
    ("Never", 0, False), ("Never", 1, False)])
def test_restart_policy(policy: str, code: int, restart: bool) -> None:
    assert should_restart(policy, code) is restart


def make_pod(containers: list[dict[str, Any]], *, restart: str = "Never",
             init: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": restart, "nodeName": "n1", "containers": containers}
    if init:
        spec["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "0123456789abcdef",
                         "labels": {"app": "x"}},
            "spec": spec, "status": {"hostIP": "10.0.0.1", "podIP": "10.0.0.1"}}


def sh(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **extra}


def run_until(runner: PodRunner, phases: tuple[str, ...], timeout: float = 30) -> dict[str, Any]:
    version, events = 0, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = runner.watch(version, events, timeout=1.0)
        version, events = snap["version"], snap["eventCount"]
        if snap["status"]["phase"] in phases:
            return snap["status"]
    raise AssertionError(f"pod never reached {phases}")


def test_env_fieldrefs_and_expansion_reach_the_process(tmp_path: Path) -> None:
    c = sh("main", 'echo "$GREETING $MY_POD $MY_NODE $MY_IP $APP $HOSTNAME"; echo "$(GREETING)"',
           env=[{"name": "WHO", "value": "world"},
                {"name": "GREETING", "value": "hello $(WHO)"},
                {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}])
    runner = PodRunner(make_pod([c]), log_root=tmp_path)
    runner.start()
    status = run_until(runner, ("Succeeded", "Failed"))
    assert status["phase"] == "Succeeded"
    text = runner.log_path("main", 0).read_text()
    assert text == "hello world p n1 10.0.0.1 x p\nhello world\n"


def test_init_containers_run_first_and_a_failing_one_fails_the_pod(tmp_path: Path) -> None:
    marker = tmp_path / "init-ran"
    ok = PodRunner(make_pod([sh("main", f"test -f {marker}")],
                            init=[sh("prep", f"touch {marker}")]), log_root=tmp_path)
    ok.start()
    assert run_until(ok, ("Succeeded", "Failed"))["phase"] == "Succeeded"
    bad = PodRunner(make_pod([sh("main", "true")], init=[sh("prep", "exit 4")]), log_root=tmp_path)
    bad.start()
    status = run_until(bad, ("Succeeded", "Failed"))
    assert status["phase"] == "Failed"
    assert status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 4
    assert status["containerStatuses"][0]["started"] is False


def test_missing_executable_is_a_start_error(tmp_path: Path) -> None:
    c = {"name": "main", "image": "x", "command": ["/definitely/not/here"]}
    runner = PodRunner(make_pod([c]), log_root=tmp_path)
    runner.start()
    status = run_until(runner, ("Succeeded", "Failed"))
    term = status["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("StartError", 128)
    assert "/definitely/not/here" in term["message"]


def test_stop_runs_prestop_then_term_then_kill_after_grace(tmp_path: Path) -> None:
    hook = tmp_path / "prestop"
    c = sh("main", "trap 'echo term' TERM; echo up; while true; do sleep 0.1; done",
           lifecycle={"preStop": {"exec": {"command": ["sh", "-c", f"echo hook > {hook}"]}}})
    runner = PodRunner(make_pod([c], restart="Always"), log_root=tmp_path)
    runner.start()
    run_until(runner, ("Running",))
    started = time.monotonic()
    status = runner.stop(2.0)
    assert time.monotonic() - started >= 1.9  # it ignored TERM, so it waited out the grace
    term = status["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 137
    assert hook.read_text() == "hook\n"
    assert "term" in runner.log_path("main", 0).read_text()


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    c = sh("main", f"sleep 1000 & echo $! > {pidfile}; wait")
    runner = PodRunner(make_pod([c], restart="Always"), log_root=tmp_path)
    runner.start()
    run_until(runner, ("Running",))
    deadline = time.monotonic() + 10
    # the shell makes the file before it writes the pid: wait for the whole line
    while not (pidfile.exists() and pidfile.read_text().endswith("\n")) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    runner.stop(1.0)
    wait_gone(child)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pid: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), f"process {pid} outlived its pod"


def _wait_for_pids(path: Path, count: int, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = path.read_text().split() if path.exists() else []
        if len(pids) >= count:
            return [int(p) for p in pids[:count]]
        time.sleep(0.05)
    raise AssertionError(f"{path} never listed {count} pids")


def _escaper(tmp_path: Path, then: str) -> tuple[dict[str, Any], Path]:
    """A container that starts two processes outside its process group (a `setsid` child, and
    a double-forked daemon in a new session), each writing its pid, then runs `then`."""
    pids = tmp_path / "pids"
    script = tmp_path / "escape.sh"
    script.write_text(
        f"setsid sh -c 'echo $$ >> {pids}; exec sleep 3033' &\n"
        f"setsid sh -c '(sh -c \"echo \\$\\$ >> {pids}; exec sleep 3035\" &)'\n"
        f"while [ $(wc -l < {pids} 2>/dev/null || echo 0) -lt 2 ]; do sleep 0.05; done\n"
        f"{then}\n")
    return {"name": "main", "image": "busybox", "command": ["sh", str(script)]}, pids


def test_processes_that_leave_the_group_end_with_the_pod(tmp_path: Path) -> None:
    """`setsid` (and a daemon's double fork) leave the process group; they still end."""
    c, pids = _escaper(tmp_path, "sleep 3034")
    runner = PodRunner(make_pod([c], restart="Never"), log_root=tmp_path)
    runner.start()
    run_until(runner, ("Running",))
    escaped = _wait_for_pids(pids, 2)
    for pid in escaped:
        assert os.getsid(pid) != os.getsid(os.getpid()) and not _gone(pid)
    runner.stop(1.0)
    for pid in escaped:
        wait_gone(pid)


def test_a_main_process_that_exits_takes_its_escaped_children_with_it(tmp_path: Path) -> None:
    c, pids = _escaper(tmp_path, "exit 3")
    runner = PodRunner(make_pod([c], restart="Never"), log_root=tmp_path)
    runner.start()
    status = run_until(runner, ("Failed",))
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    for pid in _wait_for_pids(pids, 2):
        wait_gone(pid)


def test_no_command_and_no_runtime_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.runtime.startup as pr

    monkeypatch.setitem(pr._runtime_cache, "rt", None)
    runner = PodRunner(make_pod([{"name": "web", "image": "nginx"}]), log_root=tmp_path)
    runner.start()
    status = run_until(runner, ("Succeeded", "Failed"))
    assert status["reason"] == "ContainerRuntimeUnavailable"
    waiting = status["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ContainerRuntimeUnavailable"


def test_a_replica_with_no_runtime_stays_waiting_instead_of_failing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ReplicaSet's pod that cannot start is not Failed (its ReplicaSet would replace it in
    a loop): it stays Pending, its container waiting with the reason, and tries again later."""
    import threading

    import engine.runtime.podrunner as runner_module
    import engine.runtime.startup as pr

    monkeypatch.setitem(pr._runtime_cache, "rt", None)
    backing_off = threading.Event()

    def delay(crashes: int) -> float:
        backing_off.set()
        return 3600.0  # the next try: far away (the stop below wakes it)
    monkeypatch.setattr(runner_module, "crashloop_delay", delay)
    pod = make_pod([{"name": "web", "image": "nginx"}], restart="Always")
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                           "uid": "rs-uid", "controller": True}]
    runner = PodRunner(pod, log_root=tmp_path)
    runner.start()
    assert backing_off.wait(30), "the replica never waited to try again"
    status = runner.watch(0, 0, timeout=0)["status"]
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerRuntimeUnavailable"
    runner.stop(0)


def test_args_without_command_run_as_the_command_line(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.runtime.startup as pr

    monkeypatch.setitem(pr._runtime_cache, "rt", None)
    c = {"name": "hello", "image": "busybox", "args": ["/bin/sh", "-c", "echo Hello"]}
    runner = PodRunner(make_pod([c]), log_root=tmp_path)
    runner.start()
    assert run_until(runner, ("Succeeded", "Failed"))["phase"] == "Succeeded"
    assert runner.log_path("hello", 0).read_text() == "Hello\n"
    snap = runner.watch(0, 0, timeout=0)
    assert any(e["reason"] == "EntrypointUnknown" for e in snap["events"])


def test_a_killed_runner_takes_the_whole_container_with_it(tmp_path: Path) -> None:
    """kill -9 of the process hosting the runner (a pod actor's worker) ends every process the
    container started, not just its main one."""
    import json
    import os
    import signal
    import subprocess
    import sys

    pidfile = tmp_path / "child.pid"
    pod = make_pod([sh("main", f"sleep 1000 & echo $! > {pidfile}; wait")], restart="Always")
    host = subprocess.Popen([sys.executable, "-c", (
        "import json, sys, time, pathlib\n"
        "from engine.runtime.podrunner import PodRunner\n"
        f"r = PodRunner(json.loads(sys.argv[1]), log_root=pathlib.Path({str(tmp_path)!r}))\n"
        "r.start()\n"
        "time.sleep(1000)\n"), json.dumps(pod)])
    try:
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pidfile.read_text())
        assert Path(f"/proc/{child}").exists()
        os.kill(host.pid, signal.SIGKILL)
        host.wait()

        def gone() -> bool:
            try:
                return Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"
            except FileNotFoundError:
                return True
        deadline = time.monotonic() + 20
        while not gone() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone()
    finally:
        if host.poll() is None:
            host.kill()


def test_a_killed_runner_takes_escaped_processes_with_it(tmp_path: Path) -> None:
    import json
    import signal
    import subprocess
    import sys

    c, pids = _escaper(tmp_path, "sleep 3034")
    host = subprocess.Popen([sys.executable, "-c", (
        "import json, sys, time, pathlib\n"
        "from engine.runtime.podrunner import PodRunner\n"
        f"r = PodRunner(json.loads(sys.argv[1]), log_root=pathlib.Path({str(tmp_path)!r}))\n"
        "r.start()\n"
        "time.sleep(1000)\n"), json.dumps(make_pod([c], restart="Always"))])
    try:
        escaped = _wait_for_pids(pids, 2)
        os.kill(host.pid, signal.SIGKILL)  # the pod actor dies without stopping anything
        host.wait()
        for pid in escaped:
            wait_gone(pid)
    finally:
        if host.poll() is None:
            host.kill()


def test_declared_ports_get_host_ports_in_env_and_status(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port free right now, not a fixed number another process may hold
        probe.bind(("", 0))
        fixed = probe.getsockname()[1]
    c = sh("web", 'echo "$PORT $PORT_HTTP $PORT_ADMIN_API"',
           ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"name": "admin-api", "containerPort": 9090, "hostPort": fixed, "protocol": "TCP"}])
    runner = PodRunner(make_pod([c]), log_root=tmp_path)
    runner.start()
    status = run_until(runner, ("Succeeded", "Failed"))
    assert status["phase"] == "Succeeded", status
    ports = status["containerStatuses"][0]["hostPorts"]
    assert [p["containerPort"] for p in ports] == [8080, 9090]
    http = ports[0]["hostPort"]
    assert 0 < http < 65536 and ports[1]["hostPort"] == fixed
    assert runner.log_path("web", 0).read_text() == f"{http} {http} {fixed}\n"


def test_a_host_port_in_use_is_refused_with_its_reason(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        c = sh("web", "echo never", ports=[{"containerPort": 80, "hostPort": port, "protocol": "TCP"}])
        runner = PodRunner(make_pod([c]), log_root=tmp_path)
        runner.start()
        status = run_until(runner, ("Succeeded", "Failed"))
    assert status["reason"] == "HostPortInUse" and f"host port {port}" in status["message"]
    assert not runner.log_path("web", 0).exists()


def test_logs_are_capped_and_rotated(tmp_path: Path) -> None:
    from engine.runtime.process import ContainerProcess, ProcessSpec

    log = tmp_path / "c" / "0.log"
    script = "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done"
    proc = ContainerProcess(ProcessSpec(["sh", "-c", script], {"PATH": "/usr/bin:/bin"}, None,
                                        log, max_log_bytes=1000))
    assert proc.wait() == 0
    proc.drain()
    current, old = log.read_text(), Path(f"{log}.1").read_text()
    assert len(current) <= 1000 and len(old) <= 1000
    lines = (old + current).splitlines()
    assert lines[-1] == "line-399"
    assert lines == [f"line-{i}" for i in range(400 - len(lines), 400)]  # no gap, in order


def test_logs_fall_back_to_a_node_local_directory(tmp_path: Path) -> None:
    """A node that cannot write the control plane's log directory keeps logs under its temp
    directory, where its node agent looks too."""
    from engine.runtime.podrunner import node_log_roots, pod_log_dir

    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    import uuid

    pod = make_pod([sh("main", "echo here")])
    pod["metadata"]["uid"] = uuid.uuid4().hex  # the fallback directory is shared by the node
    runner = PodRunner(pod, log_root=blocked / "logs")
    runner.start()
    run_until(runner, ("Succeeded", "Failed"))
    fallback = node_log_roots(blocked / "logs")[1]
    assert runner.log_path("main", 0) == fallback / pod_log_dir(pod) / "main" / "0.log"
    assert runner.log_path("main", 0).read_text() == "here\n"


def test_the_pods_gpus_are_all_it_sees_in_nvml_order(tmp_path: Path) -> None:
    c = sh("main", 'echo "$CUDA_VISIBLE_DEVICES/${CUDA_DEVICE_ORDER-unset}"')
    runner = PodRunner(make_pod([c]), log_root=tmp_path, gpus=[2, 3])
    runner.start()
    assert run_until(runner, ("Succeeded", "Failed"))["phase"] == "Succeeded"
    assert runner.log_path("main", 0).read_text() == "2,3/PCI_BUS_ID\n"
    none = PodRunner({**make_pod([c]), "metadata": {**make_pod([c])["metadata"], "uid": "fedcba9876543210"}},
                     log_root=tmp_path)
    none.start()
    assert run_until(none, ("Succeeded", "Failed"))["phase"] == "Succeeded"
    assert none.log_path("main", 0).read_text() == "/unset\n"
