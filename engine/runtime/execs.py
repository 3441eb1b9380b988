"""`kubectl exec` on the node: a command run as the container runs (its environment, working
directory and volumes; `docker exec` for a container a runtime started), in a process group of
its own, with a terminal (tty) or pipes. The pod's actor holds the sessions; the control plane
moves bytes with `io` calls (engine/runtime/execremote.py). No Ray here."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.runtime.process import child_setup

BUFFER_BYTES = 1 << 20  # output held for the control plane; the command waits when it is full
CHUNK = 64 * 1024


def _own_terminal() -> None:
    """In the child before exec: a session of its own (as a container's process, dying with the
    actor) whose controlling terminal is the pty, so job control works and ^C reaches it."""
    child_setup()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class ExecRefused(Exception):
    """The command cannot run (no such container, not running); the message says why."""


@dataclass
class _Output:
    data: bytearray = field(default_factory=bytearray)
    open: bool = True


class Session:
    """One running command: its output kept (bounded) until taken, its stdin fed in order."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str | None, *, tty: bool,
                 stdin: bool) -> None:
        self._cond = threading.Condition()
        self._master: int | None = None
        self.out, self.err = _Output(), _Output()
        if tty:
            master, slave = pty.openpty()
            try:
                self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                             preexec_fn=_own_terminal, close_fds=True)
            finally:
                os.close(slave)
            self._master = master
            self.err.open = False  # a terminal has one stream
            threading.Thread(target=self._pump, args=(master, self.out), daemon=True).start()
            self._stdin = master if stdin else None
        else:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                                         preexec_fn=child_setup, close_fds=True)
            assert self.proc.stdout is not None and self.proc.stderr is not None
            for pipe, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
                threading.Thread(target=self._pump, args=(pipe.fileno(), sink), daemon=True).start()
            self._stdin = self.proc.stdin.fileno() if self.proc.stdin is not None else None
        self._writes: list[bytes | None] = []
        self._ended = False
        threading.Thread(target=self._feed, daemon=True).start()

    def _pump(self, fd: int, sink: _Output) -> None:
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except OSError:  # a terminal's master reads EIO once the command and its children end
                chunk = b""
            with self._cond:
                if not chunk:
                    sink.open = False
                    self._cond.notify_all()
                    return
                while len(sink.data) >= BUFFER_BYTES and not self._ended:
                    self._cond.wait(1.0)
                sink.data += chunk
                self._cond.notify_all()

    def _feed(self) -> None:
        """Writes stdin in order on a thread of its own: a command that does not read blocks only this."""
        while True:
            with self._cond:
                while not self._writes and not self._ended:
                    self._cond.wait()
                if self._ended:
                    return
                data = self._writes.pop(0)
            if self._stdin is None:
                continue
            try:
                if data is None:  # stdin closed: EOF for a pipe, ^D for a terminal
                    if self._master is not None:
                        os.write(self._master, b"\x04")
                    else:
                        os.close(self._stdin)
                        self._stdin = None
                    continue
                view = memoryview(data)
                while view:
                    view = view[os.write(self._stdin, view):]
            except OSError:
                self._stdin = None  # the command is gone or closed its stdin: the rest is dropped

    def write(self, data: bytes, close: bool) -> None:
        """Feed `data` to stdin, then EOF with `close`; returns at once (a thread writes)."""
        with self._cond:
            if data:
                self._writes.append(bytes(data))
            if close:
                self._writes.append(None)
            self._cond.notify_all()

    def read(self, timeout: float) -> dict[str, Any]:
        """What the command wrote since the last read, waiting up to `timeout` s for something;
        `exit` is its exit code once it ended and all its output was taken, else None."""
        with self._cond:
            code = self.proc.poll()
            if not (self.out.data or self.err.data) and (self.out.open or self.err.open or code is None):
                self._cond.wait(timeout)
            out, err = bytes(self.out.data), bytes(self.err.data)
            self.out.data.clear()
            self.err.data.clear()
            self._cond.notify_all()
            drained = not (self.out.open or self.err.open)
        code = self.proc.poll()
        if code is None and drained:
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                code = None
        return {"stdout": out, "stderr": err, "exit": code if drained else None}

    def resize(self, width: int, height: int) -> None:
        if self._master is not None:
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def kill(self) -> None:
        with self._cond:
            self._ended = True
            self.out.data.clear()
            self.err.data.clear()
            self._cond.notify_all()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self._master is not None:
            try:
                os.close(self._master)
            except OSError:
                pass
            self._master = None


def command_for(runner: Any, container: str | None, command: list[str], *, tty: bool,
                stdin: bool) -> tuple[list[str], dict[str, str], str | None]:
    """argv, environment and working directory to run `command` as `container` of the pod runs
    (engine/runtime/podrunner.py): beside a plain process, in a mount namespace with the same
    volumes and /etc/hosts where the container has one, or by `docker|podman exec`."""
    if not command or not all(isinstance(a, str) and a for a in command):
        raise ExecRefused("command: give the command to run, one argument per command= parameter")
    found = runner.running(container)
    if isinstance(found, str):
        raise ExecRefused(found)
    spec, launched = found
    argv = list(launched.argv)
    if len(argv) > 3 and argv[1:3] == ["run", "--rm"] and "--name" in argv:  # a runtime's container
        flags = (["-i"] if stdin else []) + (["-t"] if tty else [])
        return [argv[0], "exec", *flags, argv[argv.index("--name") + 1], *command], launched.env, None
    cwd = spec.get("workingDir") or None
    hosts = runner.volumes.hosts_mount(runner.hosts, spec)
    if spec.get("volumeMounts") or hosts is not None:
        return runner.volumes.wrap(spec, command, cwd, [hosts] if hosts else None), launched.env, None
    return command, launched.env, cwd


class Sessions:
    """The exec sessions of one pod, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Session] = {}

    def start(self, argv: list[str], env: dict[str, str], cwd: str | None, *, tty: bool, stdin: bool) -> str:
        try:
            session = Session(argv, env, cwd, tty=tty, stdin=stdin)
        except OSError as exc:
            raise ExecRefused(f"failed to start {argv[0]!r}: {exc.strerror or exc}") from None
        key = uuid.uuid4().hex
        with self._lock:
            self._by_id[key] = session
        return key

    def get(self, key: str) -> Session:
        with self._lock:
            session = self._by_id.get(key)
        if session is None:
            raise ExecRefused("this exec session has ended")
        return session

    def end(self, key: str) -> None:
        with self._lock:
            session = self._by_id.pop(key, None)
        if session is not None:
            session.kill()

    def end_all(self) -> None:
        with self._lock:
            keys = list(self._by_id)
        for key in keys:
            self.end(key)
