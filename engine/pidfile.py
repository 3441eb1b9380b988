"""Pid files that name exactly one process (its pid, its start time and the $TUG_HOME it
serves), so that a stale file never makes tugboat signal another program that got the pid;
and the lock that makes a process the one control plane of its home."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from engine.config import write_private
from engine.errors import UnavailableError


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return ""


_BOOT = _boot_id()


def start_time(pid: int) -> tuple[str, float] | None:
    """When process `pid` started, as (boot, time), or None when there is no such process.

    On Linux: this boot's id and the kernel's start tick of the process (field 22 of
    /proc/PID/stat), which no change of the wall clock moves and a later process that gets
    the pid cannot share. Elsewhere: psutil's start time in seconds since the epoch."""
    if _BOOT:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
            return _BOOT, float(stat[stat.rindex(b")") + 2:].split()[19])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, IndexError):
            pass
    try:
        return "", float(psutil.Process(pid).create_time())
    except (psutil.Error, ValueError):
        return None


@dataclass(frozen=True)
class Owner:
    """One process as a pid file records it."""

    pid: int
    started: float  # start_time()'s time: a start tick, or seconds since the epoch
    home: str  # the $TUG_HOME it serves, resolved
    role: str  # what it is: "control-plane", "ray-head", "ray-node"
    boot: str = ""  # the boot it started in (Linux's boot id), "" where there is none

    def process(self) -> psutil.Process | None:
        """The recorded process if it still runs, else None (also when its pid now belongs to
        a later process)."""
        if start_time(self.pid) != (self.boot, self.started):
            return None
        try:
            return psutil.Process(self.pid)
        except psutil.Error:
            return None


def owner_of(pid: int, *, home: Path, role: str) -> Owner:
    """The record for the running process `pid`."""
    started = start_time(pid)
    if started is None:
        raise ProcessLookupError(pid)
    return Owner(pid=pid, started=started[1], home=str(home.resolve()), role=role, boot=started[0])


def write(path: Path, owners: list[Owner]) -> None:
    """Write `owners` to `path` privately (0600) and atomically."""
    write_private(path, (json.dumps([asdict(o) for o in owners]) + "\n").encode())


def read(path: Path) -> list[Owner] | None:
    """The processes `path` records; [] for a file that records none or that cannot be read as
    a tugboat pid file (an old bare pid, garbage), None when there is no file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return []
    owners = []
    for item in data if isinstance(data, list) else []:
        try:
            owners.append(Owner(pid=int(item["pid"]), started=float(item["started"]),
                                home=str(item["home"]), role=str(item["role"]),
                                boot=str(item.get("boot", ""))))
        except (TypeError, KeyError, ValueError):
            continue
    return owners


def live(path: Path, *, home: Path) -> list[Owner] | None:
    """The processes `path` records that still run and serve `home`; None when there is no
    file. A record of any other process (its pid reused, another home) is left out."""
    owners = read(path)
    if owners is None:
        return None
    want = str(home.resolve())
    return [o for o in owners if o.home == want and o.process() is not None]


class HomeLock:
    """An exclusive flock on `path`, held for the life of this process (the kernel lets go when
    it exits, however it exits): what makes a process the one control plane of its home."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False when another process (or another HomeLock here) holds it.
        UnavailableError when the lock file cannot be opened (a symlink, a directory)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise UnavailableError(f"cannot open the lock file {self.path}: {exc.strerror} "
                                   f"(it must be a plain file)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the lock
            self._fd = None


def locked(path: Path) -> bool:
    """Whether some process holds the HomeLock on `path` now."""
    probe = HomeLock(path)
    if not path.exists():
        return False
    if probe.acquire():
        probe.release()
        return False
    return True
