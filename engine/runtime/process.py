"""One container process on the node: start it in its own process group, wait, signal, stop.

The child gets a new session (so a stop signals its whole process group) and a
parent-death signal (so it dies with the thread that started it, which is the
container's supervisor thread inside the pod actor). What the container forks is in its
group too: a GroupReaper process, which outlives the actor by design, kills every group
still registered when the actor's end of its pipe closes (the actor died: kill -9, node
agent gone, `tug down`). No Ray here; the pod runner drives this.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux/glibc: the actor's stop path still kills the group
        pass


@dataclass
class ProcessSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    log_path: Path


class ContainerProcess:
    """A started container process writing stdout and stderr to its log file."""

    def __init__(self, spec: ProcessSpec) -> None:
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(spec.log_path, "ab", buffering=0)
        cwd = spec.cwd
        if cwd:
            Path(cwd).mkdir(parents=True, exist_ok=True)
        try:
            self._popen = subprocess.Popen(
                spec.argv,
                env=spec.env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_setup,
                close_fds=True,
            )
        except BaseException:
            self._log.close()
            raise
        self.pid = self._popen.pid
        self.started = time.time()

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (128+signal for a signal, as a container runtime reports), or None."""
        try:
            code = self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._log.close()
        return 128 - code if code < 0 else code

    @property
    def running(self) -> bool:
        return self._popen.poll() is None

    def signal_group(self, sig: int) -> None:
        """Send `sig` to the container's whole process group."""
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def run_hook(argv: list[str], *, env: dict[str, str], cwd: str | None, timeout: float) -> int | None:
    """Run an exec hook (preStop) to completion within `timeout`; its exit code or None on timeout."""
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd or None, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=_child_setup)
    except OSError:
        return 127
    try:
        return proc.wait(max(timeout, 0.0))
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        return None


# Reads "+PGID" / "-PGID" lines; at end of input (its parent is gone) SIGKILLs what is left.
_REAPER = """
import os, signal, sys
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line[:1] == "+":
        groups.add(int(line[1:]))
    elif line[:1] == "-":
        groups.discard(int(line[1:]))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


class GroupReaper:
    """Kills the process groups of a pod's containers if the pod actor dies without stopping
    them; started on first use, one per pod."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _REAPER], stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                    close_fds=True)
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(line.encode() + b"\n")
                self._proc.stdin.flush()
            except BrokenPipeError:
                pass

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def forget(self, pgid: int) -> None:
        self._send(f"-{pgid}")

    def close(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                self._proc.stdin.close()
                self._proc.wait()
                self._proc = None
