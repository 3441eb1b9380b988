"""engine/runtime/execs.py on real processes: output by stream until the exit code, stdin in
order then EOF, a terminal with its size, output held back (bounded) until read, and a kill
that takes the command's whole process group."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from engine.runtime.execs import BUFFER_BYTES, ExecRefused, Session, Sessions, command_for

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _all(session: Session, timeout: float = 30.0) -> tuple[bytes, bytes, int]:
    out, err = b"", b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = session.read(0.2)
        out, err = out + got["stdout"], err + got["stderr"]
        if got["exit"] is not None:
            return out, err, got["exit"]
    raise AssertionError(f"no exit within {timeout} s; so far {out!r} {err!r}")


def test_output_by_stream_then_the_exit_code(tmp_path: Any) -> None:
    s = Session(["sh", "-c", 'echo "$X in $(pwd)"; echo bad >&2; exit 7'], {**ENV, "X": "x"}, str(tmp_path),
                tty=False, stdin=False)
    assert _all(s) == (f"x in {tmp_path}\n".encode(), b"bad\n", 7)


def test_stdin_in_order_then_eof() -> None:
    s = Session(["sh", "-c", "cat; echo end"], ENV, None, tty=False, stdin=True)
    for part in (b"a", b"b\n", b"c\n"):
        s.write(part, False)
    s.write(b"", True)
    assert _all(s) == (b"ab\nc\nend\n", b"", 0)


def test_a_terminal_has_its_size_and_one_stream() -> None:
    s = Session(["sh", "-c", "read line; tty; stty size; echo got $line >&2"], ENV, None,
                tty=True, stdin=True)
    s.resize(100, 40)
    s.write(b"hi\n", False)
    out, err, code = _all(s)
    text = out.decode().replace("\r", "")
    assert code == 0 and err == b""
    assert "/dev/pts/" in text and "40 100" in text and "got hi" in text


def test_output_waits_for_the_reader_and_none_is_lost() -> None:
    size = 3 * BUFFER_BYTES
    s = Session(["head", "-c", str(size), "/dev/zero"], ENV, None, tty=False, stdin=False)
    first = s.read(5.0)
    assert 0 < len(first["stdout"]) <= BUFFER_BYTES + 64 * 1024 and first["exit"] is None
    out, _, code = _all(s)
    assert code == 0 and len(first["stdout"]) + len(out) == size


def test_ending_a_session_kills_its_process_group() -> None:
    sessions = Sessions()
    key = sessions.start(["sh", "-c", "sleep 300 & echo $!; wait"], ENV, None, tty=False, stdin=False)
    session = sessions.get(key)
    got = b""
    while not got.endswith(b"\n"):
        got += session.read(1.0)["stdout"]
    child = int(got)
    sessions.end(key)
    deadline = time.monotonic() + 30
    while _alive(child):
        assert time.monotonic() < deadline, "the background child outlived its session"
        time.sleep(0.05)
    with pytest.raises(ExecRefused, match="ended"):
        sessions.get(key)
    with pytest.raises(ExecRefused, match="failed to start '/no/such'"):
        sessions.start(["/no/such"], ENV, None, tty=False, stdin=False)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


class _Runner:
    """What command_for reads of a PodRunner."""

    def __init__(self, found: Any) -> None:
        self.found, self.hosts = found, None
        self.volumes = self

    def running(self, name: str | None) -> Any:
        return self.found

    def hosts_mount(self, hosts: Any, spec: Any) -> None:
        return None


def test_the_command_runs_as_its_container_does() -> None:
    from pathlib import Path

    from engine.runtime.process import ProcessSpec

    tmp = Path("/dev/null")
    plain = ProcessSpec(["sleep", "9"], {"A": "1"}, "/tmp", tmp)
    spec = {"name": "c", "workingDir": "/srv"}
    assert command_for(_Runner((spec, plain)), "c", ["ls"], tty=False, stdin=False) == \
        (["ls"], {"A": "1"}, "/srv")
    docker = ProcessSpec(["docker", "run", "--rm", "--init", "--name", "tug-1234-c-0", "img"], {}, None, tmp)
    assert command_for(_Runner((spec, docker)), "c", ["sh"], tty=True, stdin=True)[0] == \
        ["docker", "exec", "-i", "-t", "tug-1234-c-0", "sh"]
    with pytest.raises(ExecRefused, match="is not running"):
        command_for(_Runner("container c of pod p is not running"), "c", ["ls"], tty=False, stdin=False)
    with pytest.raises(ExecRefused, match="command"):
        command_for(_Runner((spec, plain)), "c", [], tty=False, stdin=False)
