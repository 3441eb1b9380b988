"""Probes (reference §4.3): defaults, the counting of results with the reference's vectors,
each handler against real processes and sockets, and the pod runner acting on them: readiness
drives Ready, a failing liveness probe restarts the container, a startup probe holds the
others back."""

from __future__ import annotations

import http.server
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.runtime.podrunner import PodRunner
from engine.runtime.probes import ProbeState, Settings, check, host_port, settings
from tests.engine.test_podrunner import make_pod


def test_defaults_and_hostile_values() -> None:
    assert settings({}) == Settings(delay=0, period=10, timeout=1, success=1, failure=3)
    assert settings({"periodSeconds": 0, "timeoutSeconds": -1, "failureThreshold": True,
                     "initialDelaySeconds": "5"}) == Settings(0, 10, 1, 1, 3)
    given = {"periodSeconds": 2, "successThreshold": 2, "failureThreshold": 5}
    assert settings(given) == Settings(0, 2, 1, 2, 5)


def test_readiness_flapping_under_the_threshold_never_goes_not_ready() -> None:
    state = ProbeState("readinessProbe", Settings(0, 10, 1, 1, 3))
    assert state.observe(True) is True  # ready at the first success
    assert [state.observe(ok) for ok in (False, True, False, False, True)] == [None] * 5
    assert [state.observe(False) for _ in range(3)] == [None, None, False]  # three in a row


def test_readiness_needs_success_threshold_successes() -> None:
    state = ProbeState("readinessProbe", Settings(0, 10, 1, 2, 1))
    assert [state.observe(True), state.observe(True)] == [None, True]


def test_liveness_kills_at_the_third_failure_and_startup_passes_once() -> None:
    live = ProbeState("livenessProbe", Settings(0, 10, 1, 1, 3))
    assert [live.observe(False) for _ in range(3)] == [None, None, False] and live.over
    start = ProbeState("startupProbe", Settings(0, 10, 1, 1, 30))
    assert [start.observe(False) for _ in range(29)] == [None] * 29
    assert start.observe(True) is True and start.over


def test_ports_resolve_names_and_declared_container_ports() -> None:
    ports = [{"name": "http", "containerPort": 8080, "hostPort": 31000}]
    assert host_port("http", ports) == 31000
    assert host_port(8080, ports) == 31000
    assert host_port(9090, ports) == 9090
    with pytest.raises(ValueError, match="named ports"):
        host_port("grpc", ports)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        codes = {"/ok": 200, "/bad": 500, "/moved": 302}
        self.send_response(codes.get(self.path, 404))
        if self.path == "/moved":
            self.send_header("Location", "/ok")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[int]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()


def test_handlers_against_real_processes_and_sockets(server: int) -> None:
    env = {"PATH": "/usr/bin:/bin"}
    assert check({"exec": {"command": ["sh", "-c", "echo fine"]}}, ports=[], env=env, cwd=None, timeout=2) \
        == (True, "fine")
    assert check({"exec": {"command": ["sh", "-c", "echo broken; exit 3"]}}, ports=[], env=env, cwd=None,
                 timeout=2) == (False, "broken")
    ok, said = check({"exec": {"command": ["sleep", "5"]}}, ports=[], env=env, cwd=None, timeout=1)
    assert not ok and "timed out" in said
    named = [{"name": "web", "containerPort": 80, "hostPort": server}]
    assert check({"httpGet": {"path": "/ok", "port": "web"}}, ports=named, env=env, cwd=None, timeout=2)[0]
    assert check({"httpGet": {"path": "/moved", "port": server}}, ports=[], env=env, cwd=None, timeout=2)[0]
    assert check({"httpGet": {"path": "/bad", "port": 80}}, ports=named, env=env, cwd=None, timeout=2) == \
        (False, "HTTP probe failed with statuscode: 500")
    assert check({"tcpSocket": {"port": server}}, ports=[], env=env, cwd=None, timeout=2) == (True, "")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert not check({"tcpSocket": {"port": closed}}, ports=[], env=env, cwd=None, timeout=1)[0]


def _serve(flag: Path) -> dict[str, Any]:
    """A container serving HTTP on $PORT: /ready answers 200 while `flag` exists, else 503."""
    script = ("import http.server, os\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              f"        ok = os.path.exists({str(flag)!r})\n"
              "        self.send_response(200 if ok else 503); self.end_headers()\n"
              "    def log_message(self, *a): pass\n"
              "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n")
    return {"name": "web", "image": "python", "command": [sys.executable, "-c", script],
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1,
                               "failureThreshold": 1}}


def _wait(runner: PodRunner, check_status: Any, timeout: float = 30) -> dict[str, Any]:
    version, events = 0, 0
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        snap = runner.watch(version, events, timeout=1.0)
        version, events = snap["version"], snap["eventCount"]
        seen += snap["events"]
        if check_status(snap["status"], seen):
            return snap["status"]
    raise AssertionError("the pod never got there")


def _ready(status: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])


def test_readiness_probe_drives_ready_without_restarting(tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    runner = PodRunner(make_pod([_serve(flag)], restart="Always"), log_root=tmp_path)
    runner.start()
    try:
        status = _wait(runner, lambda s, _: s["phase"] == "Running")
        assert not _ready(status) and status["containerStatuses"][0]["ready"] is False
        flag.touch()
        _wait(runner, lambda s, _: _ready(s))
        flag.unlink()
        status = _wait(runner, lambda s, seen: not _ready(s)
                       and any(e["reason"] == "Unhealthy" and "Readiness probe failed" in e["message"]
                               for e in seen))
        assert status["containerStatuses"][0]["restartCount"] == 0
    finally:
        runner.stop(1)


def test_a_failing_liveness_probe_restarts_the_container(tmp_path: Path) -> None:
    alive = tmp_path / "alive"
    alive.touch()
    container = {"name": "main", "image": "busybox", "command": ["sh", "-c", "sleep 3600"],
                 "livenessProbe": {"exec": {"command": ["test", "-e", str(alive)]},
                                   "periodSeconds": 1, "failureThreshold": 2,
                                   "terminationGracePeriodSeconds": 1}}
    runner = PodRunner(make_pod([container], restart="Always"), log_root=tmp_path)
    runner.start()
    try:
        _wait(runner, lambda s, _: s["phase"] == "Running" and _ready(s))
        alive.unlink()
        status = _wait(runner, lambda s, seen: s["containerStatuses"][0]["restartCount"] >= 1
                       and any(e["reason"] == "Killing" and "failed liveness probe" in e["message"]
                               for e in seen))
        assert status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] in (137, 143)
    finally:
        runner.stop(1)


def test_a_startup_probe_holds_readiness_back_until_it_passes(tmp_path: Path) -> None:
    up = tmp_path / "up"
    container = {"name": "main", "image": "busybox", "command": ["sh", "-c", "sleep 3600"],
                 "startupProbe": {"exec": {"command": ["test", "-e", str(up)]}, "periodSeconds": 1,
                                  "failureThreshold": 60},
                 "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}
    runner = PodRunner(make_pod([container], restart="Always"), log_root=tmp_path)
    runner.start()
    try:
        status = _wait(runner, lambda s, seen: s["phase"] == "Running"
                       and any("Startup probe failed" in e["message"] for e in seen))
        assert status["containerStatuses"][0]["started"] is False and not _ready(status)
        up.touch()
        status = _wait(runner, lambda s, _: _ready(s))
        assert status["containerStatuses"][0]["started"] is True
    finally:
        runner.stop(1)
