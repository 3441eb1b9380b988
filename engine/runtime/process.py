"""One container process on the node: start it in its own process group, wait, signal, stop.

The child gets a new session (so a stop signals its whole process group) and a
parent-death signal (so it dies with the thread that started it, which is the
container's supervisor thread inside the pod actor). What the container forks is in its
group too, unless it leaves it (`setsid`, a daemon's double fork): so every container
process also carries a tag of its own in its environment (TUGBOAT_PROCESS_TAG), which its
descendants inherit wherever they move, and ending a container ends its group and every
process with its tag. A GroupReaper process, which outlives the actor by design, does the
same for every container still registered when the actor's end of its pipe closes (the
actor died: kill -9, node agent gone, `tug down`). No Ray here; the pod runner drives this.
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

from engine.runtime.logfiles import pump

_PR_SET_PDEATHSIG = 1
TAG_VAR = "TUGBOAT_PROCESS_TAG"
_KILL_ROUNDS = 20  # a process may fork while it is being killed: look again, this many times


def child_setup() -> None:  # runs in the child between fork and exec
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # An ignored signal stays ignored across exec, and Ray's workers ignore SIGINT: a
        # container (or `kubectl exec`'s shell, where ^C must interrupt) starts with the defaults.
        for number in (signal.SIGINT, signal.SIGQUIT):
            libc.signal(int(number), 0)  # SIG_DFL
    except OSError:  # not Linux/glibc: the actor's stop path still kills the group
        pass


MAX_LOG_BYTES = 10 * 1024 * 1024  # the kubelet's containerLogMaxSize default


@dataclass
class ProcessSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    log_path: Path
    max_log_bytes: int = MAX_LOG_BYTES


class _LogPump(threading.Thread):
    """Copies a container's output into its log file and the file's time index
    (`logfiles.pump`: rotated past `max_bytes`, so a chatty container cannot fill the disk)."""

    def __init__(self, fd: int, path: Path, max_bytes: int) -> None:
        super().__init__(name=f"logs-{path.parent.name}", daemon=True)
        self._fd, self._path, self._max = fd, path, max_bytes

    def run(self) -> None:
        pump(self._fd, self._path, self._max)


def tagged(tag: str) -> list[int]:
    """The pids of the live processes whose environment carries `tag` (read from /proc: the
    environment each process was started with, which a fork or exec passes on)."""
    needle = f"{TAG_VAR}={tag}".encode()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc (not Linux): the process group is all there is
        return []
    for name in entries:
        if name.isdigit():
            try:
                with open(f"/proc/{name}/environ", "rb") as fh:
                    if needle in fh.read().split(b"\0"):
                        found.append(int(name))
            except OSError:  # gone, or not ours to read
                continue
    return found


def kill_tagged(tag: str) -> int:
    """SIGKILL every process carrying `tag`, again until none is left; how many there were."""
    killed: set[int] = set()
    for _ in range(_KILL_ROUNDS):
        pids = [p for p in tagged(tag) if p != os.getpid()]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        time.sleep(0.01)  # let the kernel take them down before looking again
    return len(killed)


def new_tag() -> str:
    """A fresh TUGBOAT_PROCESS_TAG value."""
    return os.urandom(12).hex()


class ContainerProcess:
    """A started container process whose stdout and stderr go to its (capped) log file."""

    def __init__(self, spec: ProcessSpec, *, tag: str | None = None) -> None:
        self.tag = tag or new_tag()
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        cwd = spec.cwd
        if cwd:
            Path(cwd).mkdir(parents=True, exist_ok=True)
        read_end, write_end = os.pipe()
        try:
            self._popen = subprocess.Popen(
                spec.argv,
                env={**spec.env, TAG_VAR: self.tag},
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=subprocess.STDOUT,
                preexec_fn=child_setup,
                close_fds=True,
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self._pump = _LogPump(read_end, spec.log_path, spec.max_log_bytes)
        self._pump.start()
        self.pid = self._popen.pid
        self.started = time.time()

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (128+signal for a signal, as a container runtime reports), or None."""
        try:
            code = self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return 128 - code if code < 0 else code

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything the container wrote is in its log file (the group is gone)."""
        self._pump.join(timeout)

    @property
    def running(self) -> bool:
        return self._popen.poll() is None

    def signal_group(self, sig: int) -> None:
        """Send `sig` to the container's whole process group."""
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_all(self) -> None:
        """SIGKILL the group and every process that came from the container, also those that
        left the group (`setsid`, a daemon): what a container's PID namespace does when its
        main process ends."""
        self.signal_group(signal.SIGKILL)
        kill_tagged(self.tag)


def run_hook(argv: list[str], *, env: dict[str, str], cwd: str | None, timeout: float) -> int | None:
    """Run an exec hook (preStop) to completion within `timeout`; its exit code or None on timeout."""
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd or None, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=child_setup)
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


# Reads "+PGID TAG" lines ("+0 TAG": a container about to start) and "-PGID TAG" (that tag is
# done with); at end of input (its parent is gone) SIGKILLs what is
# left: each group, and every process carrying one of the tags (see tagged()).
_REAPER = """
import os, signal, sys, time
groups = set()
for line in sys.stdin:
    op, _, rest = line.strip().partition(" ")
    if op[:1] == "+":
        groups.add((int(op[1:]), rest))
    elif op[:1] == "-":
        groups = {g for g in groups if g[1] != rest}
for pgid, tag in groups:
    try:
        if pgid > 0:
            os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
needles = {("TUGBOAT_PROCESS_TAG=" + tag).encode() for _, tag in groups}
for _ in range(20):
    left = 0
    for name in os.listdir("/proc") if needles and os.path.isdir("/proc") else []:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/" + name + "/environ", "rb") as fh:
                env = set(fh.read().split(b"\\0"))
            if env & needles:
                os.kill(int(name), signal.SIGKILL)
                left += 1
        except OSError:
            pass
    if not left:
        break
    time.sleep(0.01)
"""


class GroupReaper:
    """Kills the process groups of a pod's containers if the pod actor dies without stopping
    them; started on first use, one per pod."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> None:
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _REAPER], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                close_fds=True)

    def _send(self, line: str) -> None:
        with self._lock:
            self._start()
            assert self._proc is not None and self._proc.stdin is not None
            try:
                self._proc.stdin.write(line.encode() + b"\n")
                self._proc.stdin.flush()
            except BrokenPipeError:
                pass

    def expect(self, tag: str) -> None:
        """A container with `tag` is about to start: from now on a dying host takes whatever
        carries the tag with it, even if the host dies before `watch`."""
        self._send(f"+0 {tag}")

    def watch(self, proc: ContainerProcess) -> None:
        self._send(f"+{proc.pid} {proc.tag}")

    def forget(self, proc: ContainerProcess) -> None:
        self.release(proc.tag)

    def release(self, tag: str) -> None:
        """Whatever carries `tag` is no longer the reaper's to end."""
        self._send(f"-0 {tag}")

    def close(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                self._proc.stdin.close()
                self._proc.wait()
                self._proc = None
