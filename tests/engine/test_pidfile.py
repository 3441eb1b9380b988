"""Pid files and `tug down`: a process is signalled only when it is exactly the one recorded
(pid, start time, this home, and for the control plane the home's lock held); bystanders whose
command lines mention tugboat, or whose pid a stale file names, are never touched."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from engine import pidfile
from engine.controlplane import ControlPlane, control_plane, pid_path, running_pid
from engine.errors import UnavailableError
from engine.runtime.cluster import processes_path, ray_dir, stop_local_head

from .conftest import InProcessServer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bystanders() -> Iterator[Callable[..., psutil.Process]]:
    """Start programs that are not ours but whose command lines say tugboat (and name `path`)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(path: str = "") -> psutil.Process:
        proc = subprocess.Popen(["bash", "-c", 'exec -a tugboat-notes python3 -c '
                                 '"import time; time.sleep(300)" "$0"', path])
        started.append(proc)
        handle = psutil.Process(proc.pid)
        deadline = time.monotonic() + 30
        while "tugboat-notes" not in handle.cmdline():  # until bash has exec'd
            assert time.monotonic() < deadline, "the bystander did not start"
            time.sleep(0.01)
        return psutil.Process(proc.pid)  # the handle of the exec'd program
    yield start
    for proc in started:
        proc.kill()
        proc.wait()


@pytest.fixture
def bystander(bystanders: Callable[..., psutil.Process]) -> psutil.Process:
    return bystanders()


def _tug_down(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TUG_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "engine.cli", "down"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def _alive(proc: psutil.Process) -> bool:
    return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE


def test_down_never_signals_a_bystander_named_by_a_bare_pid_file(
        tmp_path: Path, bystander: psutil.Process) -> None:
    home = tmp_path / "tug"
    home.mkdir()
    pid_path(home).write_text(f"{bystander.pid}\n")  # what tugboat wrote before, now stale
    out = _tug_down(home)
    assert out.returncode == 0, out.stderr
    assert "no control plane was running; removed the stale" in out.stdout
    assert _alive(bystander)
    assert not pid_path(home).exists()


def test_down_never_signals_a_process_that_matches_the_record_but_holds_no_lock(
        tmp_path: Path, bystander: psutil.Process) -> None:
    home = tmp_path / "tug"
    home.mkdir()
    # pid, start time and home all match, but no control plane holds the home's lock
    pidfile.write(pid_path(home), [pidfile.owner_of(bystander.pid, home=home, role="control-plane")])
    assert pidfile.live(pid_path(home), home=home)
    assert running_pid(home) is None
    out = _tug_down(home)
    assert out.returncode == 0, out.stderr
    assert "removed the stale" in out.stdout and _alive(bystander)


def test_a_record_of_another_start_time_or_home_names_no_process(
        tmp_path: Path, bystander: psutil.Process) -> None:
    home = tmp_path / "tug"
    home.mkdir()
    real = pidfile.owner_of(bystander.pid, home=home, role="control-plane")
    earlier = pidfile.Owner(pid=real.pid, started=real.started - 5, home=real.home, role=real.role,
                            boot=real.boot)
    other_boot = pidfile.Owner(pid=real.pid, started=real.started, home=real.home, role=real.role,
                               boot="another-boot")
    assert other_boot.process() is None
    elsewhere = pidfile.Owner(pid=real.pid, started=real.started, home=str(tmp_path / "other"),
                              role=real.role, boot=real.boot)
    pidfile.write(pid_path(home), [earlier, elsewhere])
    assert earlier.process() is None and real.process() is not None
    assert pidfile.live(pid_path(home), home=home) == []
    for garbage in ("", "not json", "[1, 2]", '{"pid": 1}', json.dumps([{"pid": "x"}])):
        pid_path(home).write_text(garbage)
        assert pidfile.live(pid_path(home), home=home) == []


def test_the_control_plane_is_found_by_its_record_and_lock_and_is_one_per_home(
        api_server: InProcessServer) -> None:
    home = api_server.home
    owner = control_plane(home)
    assert owner is not None and owner.pid == os.getpid() and owner.home == str(home.resolve())
    assert os.stat(pid_path(home)).st_mode & 0o777 == 0o600
    second = ControlPlane(home, ray_address=None, port=0)

    async def start() -> None:
        try:
            await second.start()
        finally:
            await second.stop()
    with pytest.raises(UnavailableError, match=f"already runs for {home}.*pid {os.getpid()}|"
                                               f"pid {os.getpid()}.*already runs for {home}"):
        asyncio.run(start())
    # the refused one took nothing away from the one that runs
    assert running_pid(home) == os.getpid()
    api_server.close()
    assert running_pid(home) is None and not pid_path(home).exists()
    api_server.close = lambda: None  # type: ignore[method-assign]


def test_stopping_ray_signals_only_recorded_ray_daemons(
        tmp_path: Path, bystanders: Callable[..., psutil.Process]) -> None:
    home = tmp_path / "tug"
    rdir = ray_dir(home)
    rdir.mkdir(parents=True)
    # A bystander whose arguments name this home's Ray directory (`less` on a Ray log, say),
    # and a stale record of it with another start time: neither makes it one of Ray's daemons.
    reader = bystanders(f"{rdir}/session_latest/logs/raylet.out")
    assert f"{rdir}/session_latest/logs/raylet.out" in reader.cmdline()
    real = pidfile.owner_of(reader.pid, home=home, role="ray-head")
    stale = pidfile.Owner(pid=reader.pid, started=real.started - 10, home=real.home, role=real.role,
                          boot=real.boot)
    pidfile.write(processes_path(home), [stale])
    assert stop_local_head(home) == 0 and _alive(reader)
    assert not processes_path(home).exists()
    # No record at all (a head started before tugboat recorded them): only Ray's own
    # programs would be taken, and the reader is not one.
    assert stop_local_head(home) == 0 and _alive(reader)


def test_a_step_of_the_wall_clock_does_not_lose_the_process(
        tmp_path: Path, bystander: psutil.Process, monkeypatch: pytest.MonkeyPatch) -> None:
    """psutil's start time moves with the boot time it reads (and so with `date -s`); the record
    is the kernel's start tick and this boot's id, which nothing but a new process changes."""
    import psutil._pslinux as pslinux

    owner = pidfile.owner_of(bystander.pid, home=tmp_path, role="control-plane")
    real_boot_time = pslinux.boot_time
    monkeypatch.setattr(pslinux, "boot_time", lambda: real_boot_time() + 0.1)
    monkeypatch.setattr(psutil, "boot_time", lambda: real_boot_time() + 0.1)
    assert owner.process() is not None and owner.process().pid == bystander.pid


def test_down_leaves_a_locked_home_alone_when_its_pid_file_names_no_one(tmp_path: Path) -> None:
    """A control plane between taking its lock and writing its pid file, or one whose pid file
    was damaged: `tug down` says so, deletes nothing and stops nothing."""
    home = tmp_path / "tug"
    home.mkdir()
    lock = pidfile.HomeLock(home / "server.lock")
    assert lock.acquire()
    try:
        pid_path(home).write_text("garbage")
        out = _tug_down(home)
        assert out.returncode == 1
        assert "holds the lock" in out.stderr and "nothing was stopped" in out.stderr
        assert pid_path(home).read_text() == "garbage"
    finally:
        lock.release()
