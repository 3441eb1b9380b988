"""Container probes (reference §4.3): liveness, readiness and startup, each an exec, httpGet or
tcpSocket check run every periodSeconds on a thread of its own from initialDelaySeconds after
the container started. A readiness result changes only after failureThreshold failures or
successThreshold successes in a row; liveness and startup kill at failureThreshold failures;
readiness and liveness wait until a startup probe has passed. The pod runner is told of each
change and each failure (an Unhealthy event); nothing here writes status."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OUTPUT_LIMIT = 1024  # characters of a probe's output kept for its event
KINDS = ("startupProbe", "livenessProbe", "readinessProbe")


@dataclass(frozen=True)
class Settings:
    delay: float
    period: float
    timeout: float
    success: int
    failure: int


def _int(value: Any, default: int, least: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= least else default


def settings(probe: dict[str, Any]) -> Settings:
    """The probe's timing with Kubernetes' defaults (0, 10, 1, 1, 3) for what is missing or
    out of range."""
    return Settings(delay=_int(probe.get("initialDelaySeconds"), 0, 0),
                    period=_int(probe.get("periodSeconds"), 10, 1),
                    timeout=_int(probe.get("timeoutSeconds"), 1, 1),
                    success=_int(probe.get("successThreshold"), 1, 1),
                    failure=_int(probe.get("failureThreshold"), 3, 1))


def host_port(port: Any, ports: list[dict[str, Any]]) -> int:
    """The node port a probe's `port` reaches: a named port's host port, a declared container
    port's host port, else the number itself (processes share the node's network)."""
    if isinstance(port, str) and not port.isdigit():
        for p in ports:
            if p.get("name") == port:
                return int(p["hostPort"])
        raise ValueError(f"port {port!r} is not one of the container's named ports")
    number = int(port)
    for p in ports:
        if p.get("containerPort") == number:
            return int(p["hostPort"])
    return number


def check(probe: dict[str, Any], *, ports: list[dict[str, Any]], env: dict[str, str],
          cwd: str | None, timeout: float) -> tuple[bool, str]:
    """Run the probe once: (success, what it said)."""
    try:
        if isinstance(probe.get("exec"), dict):
            return _exec(list(probe["exec"].get("command") or []), env=env, cwd=cwd, timeout=timeout)
        if isinstance(probe.get("httpGet"), dict):
            return _http(probe["httpGet"], ports, timeout)
        if isinstance(probe.get("tcpSocket"), dict):
            action = probe["tcpSocket"]
            port = host_port(action.get("port"), ports)
            with socket.create_connection((action.get("host") or "127.0.0.1", port), timeout=timeout):
                return True, ""
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return False, str(exc) or type(exc).__name__
    return True, "no exec, httpGet or tcpSocket action (grpc probes are not run yet): counted as passing"


def _exec(argv: list[str], *, env: dict[str, str], cwd: str | None, timeout: float) -> tuple[bool, str]:
    if not argv:
        return False, "exec probe has no command"
    proc = subprocess.Popen(argv, env=env, cwd=cwd or None, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        return False, f"command timed out after {timeout:g}s"
    text = out.decode(errors="replace")[-OUTPUT_LIMIT:].strip()
    return proc.returncode == 0, text


def _http(action: dict[str, Any], ports: list[dict[str, Any]], timeout: float) -> tuple[bool, str]:
    port = host_port(action.get("port"), ports)
    host = action.get("host") or "127.0.0.1"
    path = action.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    scheme = str(action.get("scheme") or "HTTP").upper()
    cls = http.client.HTTPSConnection if scheme == "HTTPS" else http.client.HTTPConnection
    headers = {h["name"]: h["value"] for h in action.get("httpHeaders") or []
               if isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value"), str)}
    headers.setdefault("User-Agent", "kube-probe/tugboat")
    for _ in range(10):  # redirects are followed; one to another host passes, as the kubelet says
        conn = cls(host, port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read(OUTPUT_LIMIT).decode(errors="replace")
        finally:
            conn.close()
        if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
            target = urllib.parse.urlsplit(resp.getheader("Location") or "")
            if target.hostname and target.hostname not in (host, "localhost", "127.0.0.1"):
                return True, f"redirected to another host: {target.hostname}"
            path = target.path or "/"
            if target.query:
                path += "?" + target.query
            continue
        if 200 <= resp.status < 400:
            return True, body
        return False, f"HTTP probe failed with statuscode: {resp.status}"
    return False, "too many redirects"


class ProbeState:
    """The counting of one probe's results (pure): `observe(ok)` is the verdict this result
    makes, or None when it changes nothing. Readiness: the result after its thresholds (it
    starts failing); startup: True once it passes; liveness and startup: False at
    failureThreshold failures in a row (then `over`)."""

    def __init__(self, kind: str, timing: Settings) -> None:
        self.kind, self.timing = kind, timing
        self.result = kind == "livenessProbe"
        self.run = {True: 0, False: 0}
        self.over = False

    def observe(self, ok: bool) -> bool | None:
        self.run[ok] += 1
        self.run[not ok] = 0
        if self.kind == "readinessProbe":
            if ok != self.result and self.run[ok] >= (self.timing.success if ok else self.timing.failure):
                self.result = ok
                return ok
            return None
        if ok and self.kind == "startupProbe":
            self.over = True
            return True
        if not ok and self.run[False] >= self.timing.failure:
            self.over = True
            return False
        return None


class Prober(threading.Thread):
    """One probe of one container run, on its own thread: `verdict(kind, ok)` is told what
    ProbeState says, `failed(kind, output)` of every failure. Readiness and liveness wait for
    `gate` (the startup probe passed); it ends with `stop`, or when its state is over."""

    def __init__(self, kind: str, probe: dict[str, Any], run: Callable[[float], tuple[bool, str]], *,
                 verdict: Callable[[str, bool], None], failed: Callable[[str, str], None],
                 stop: threading.Event, gate: threading.Event | None = None) -> None:
        super().__init__(daemon=True, name=f"probe-{kind}")
        self.kind, self.settings = kind, settings(probe)
        self._run_check, self._verdict, self._failed = run, verdict, failed
        self._stop, self._gate = stop, gate

    def run(self) -> None:
        if self._stop.wait(self.settings.delay):
            return
        while self._gate is not None and not self._gate.is_set():
            if self._stop.wait(0.1):
                return
        state = ProbeState(self.kind, self.settings)
        while not self._stop.is_set():
            ok, output = self._run_check(float(self.settings.timeout))
            if self._stop.is_set():
                return
            if not ok:
                self._failed(self.kind, output)
            said = state.observe(ok)
            if said is not None:
                self._verdict(self.kind, said)
            if state.over or self._stop.wait(self.settings.period):
                return
