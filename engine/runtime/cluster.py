"""The Ray cluster under tugboat: start or reuse a local head as its own daemon, stop it,
and connect the control plane to a cluster (local or `--ray-address`)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from engine import pidfile
from engine.api.names import is_loopback
from engine.clusterconfig import NodeSpec
from engine.config import ray_auth_env
from engine.errors import UnavailableError

RAY_NAMESPACE = "tugboat"
# Fast node-death detection (measured: ~5 s instead of ~64 s for a frozen node).
_HEAD_ENV = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


_MAX_RAY_DIR = 40  # Ray's session sockets live ~65 characters below it; AF_UNIX allows 107


def ray_dir(home: Path) -> Path:
    """Where the local head keeps its state: $TUG_HOME/ray, or a short path under the temp
    directory when $TUG_HOME is too deep for Ray's unix sockets."""
    path = home.resolve() / "ray"
    if len(str(path)) <= _MAX_RAY_DIR:
        return path
    digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"tugboat-{digest}"


def _answers(address: str, timeout: float = 1.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def local_head_address(home: Path) -> str | None:
    """The address of this $TUG_HOME's local Ray head if it runs and answers, else None."""
    path = ray_dir(home) / "address"
    if not path.exists():
        return None
    address = path.read_text().strip()
    return address if _answers(address) else None


def _ray() -> str:
    return os.path.join(os.path.dirname(sys.executable), "ray")


# `ray start` replaces a loopback --node-ip-address with the machine's address (so that other
# machines could join), and its servers then listen on every interface. A loopback node is
# started with that replacement turned off, so everything it serves stays on loopback.
_START_ON_LOOPBACK = (
    "import sys\n"
    "import ray._private.services as services\n"
    "services.resolve_ip_for_localhost = lambda host: host\n"
    "from ray.scripts.scripts import main\n"
    "sys.argv[0] = 'ray'\n"
    "main()\n")


def ray_start_command(node_ip: str) -> list[str]:
    """The command line of `ray start` for a node at `node_ip`."""
    if is_loopback(node_ip):
        return [sys.executable, "-c", _START_ON_LOOPBACK, "start"]
    return [_ray(), "start"]


def keep_loopback() -> None:
    """In this process, keep a loopback Ray address on loopback (see _START_ON_LOOPBACK)."""
    import ray._private.services as services

    services.resolve_ip_for_localhost = lambda host: host


def start_local_head(home: Path, *, node: NodeSpec | None = None,
                     node_ip: str = "127.0.0.1") -> str:
    """Start (or reuse) the local Ray head of $TUG_HOME; it outlives the control plane."""
    existing = local_head_address(home)
    if existing:
        return existing
    rdir = ray_dir(home)
    rdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    port = _free_port(node_ip)
    cmd = [*ray_start_command(node_ip), "--head", f"--port={port}", f"--node-ip-address={node_ip}",
           f"--temp-dir={rdir}", "--include-dashboard=false", "--disable-usage-stats",
           *(node or NodeSpec()).ray_args()]
    env = {**os.environ, **ray_auth_env(home), **_HEAD_ENV}
    since = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    address = f"{node_ip}:{port}"
    if proc.returncode != 0 or not _answers(address, timeout=5):
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise UnavailableError(f"could not start the local Ray head: {tail}")
    _record(home, role="ray-head", since=since, keep=False)
    (rdir / "address").write_text(address + "\n")
    return address


def join_local_node(home: Path, node: NodeSpec, *, node_ip: str = "127.0.0.1") -> None:
    """Add one more Ray node on this machine to $TUG_HOME's local cluster (`tug down` stops
    it with the head: its processes live under the head's session directory)."""
    address = local_head_address(home)
    if address is None:
        raise UnavailableError("no local Ray head runs for this $TUG_HOME to join")
    cmd = [*ray_start_command(node_ip), f"--address={address}", f"--node-ip-address={node_ip}",
           "--disable-usage-stats", *node.ray_args()]
    since = time.time()
    proc = subprocess.run(cmd, env={**os.environ, **ray_auth_env(home)}, capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise UnavailableError(f"could not start a Ray node: {tail}")
    _record(home, role="ray-node", since=since, keep=True)


def processes_path(home: Path) -> Path:
    """The record of the Ray daemons tugboat started for `home` (a pid file of several)."""
    return ray_dir(home) / "processes.json"


def _ray_package() -> str:
    spec = importlib.util.find_spec("ray")  # finds the package without importing it (slow)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return os.path.realpath(locations[0]) + os.sep if locations else "\0"


def _ray_daemons(home: Path, *, since: float | None) -> list[psutil.Process]:
    """This home's Ray daemons: processes that run Ray's own programs (gcs_server, raylet, its
    Python daemons) with this home's Ray directory in their arguments, started at or after
    `since` when it is given. A program that only mentions the directory (an editor, `less` on
    a log) is not one of them."""
    marker, package = str(ray_dir(home)) + "/", _ray_package()
    found = []
    for proc in psutil.process_iter(["cmdline", "create_time", "uids"]):
        try:
            argv = proc.info["cmdline"] or []
            if not any(marker in arg for arg in argv[1:]):
                continue
            if since is not None and proc.info["create_time"] < since - 1.0:
                continue
            if proc.info["uids"] is not None and proc.info["uids"].real != os.getuid():
                continue
            # the program itself (argv[0]), or the script an interpreter runs (the first
            # argument that is not an option)
            script = next((a for a in argv[1:] if not a.startswith("-")), "")
            if any(os.path.realpath(p).startswith(package) for p in (argv[0], script) if p):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
            continue
    return found


def _record(home: Path, *, role: str, since: float, keep: bool) -> None:
    """Record the Ray daemons that started since `since` (each by pid and start time), beside
    the ones recorded before when `keep`."""
    owners = (pidfile.live(processes_path(home), home=home) or []) if keep else []
    known = {o.pid for o in owners}
    for proc in _ray_daemons(home, since=since):
        if proc.pid not in known:
            with contextlib.suppress(ProcessLookupError):
                owners.append(pidfile.owner_of(proc.pid, home=home, role=role))
    pidfile.write(processes_path(home), owners)


def stop_local_head(home: Path, *, timeout: float = 1.0) -> int:
    """Stop the Ray daemons of this $TUG_HOME's local cluster, and the workers under them (so
    every pod: a container dies with its actor); returns how many processes there were.

    Only processes that are still the recorded ones (same pid and start, this home) are
    signalled, with their descendants. Where none of the record is alive any more (a head
    started before processes were recorded, a record from an older tugboat), the head's
    processes are found by their Ray programs instead (see _ray_daemons)."""
    owners = pidfile.live(processes_path(home), home=home)
    roots = [proc for owner in owners or [] if (proc := owner.process()) is not None]
    if not roots:
        roots = _ray_daemons(home, since=None)
    found: dict[int, psutil.Process] = {}
    for proc in roots:
        found[proc.pid] = proc
        # Workers (ray::PodActor …) do not name the directory: take the daemons' children.
        with contextlib.suppress(psutil.Error):
            for child in proc.children(recursive=True):
                found[child.pid] = child
    procs = list(found.values())
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()  # psutil checks the process is still the same one first
    alive = _wait_gone(procs, timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _wait_gone(alive, timeout)
    for path in (ray_dir(home) / "address", processes_path(home)):
        path.unlink(missing_ok=True)
    return len(procs)


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited (a zombie counts as gone); the ones still alive."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for proc in procs:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def connect(address: str, *, auth: dict[str, str] | None = None) -> None:
    """Attach this process to the Ray cluster at `address` as a driver in tugboat's namespace.

    `auth` is the token environment of a head that tugboat started; a cluster the user
    started is reached with the user's own Ray environment. Ray reads it when it is first
    imported, so a process that imported ray already must have had it set before."""
    if auth:
        os.environ.update(auth)
    import ray

    if not _answers(address, timeout=3):
        raise UnavailableError(f"no Ray cluster answers at {address}")
    if not ray.is_initialized():
        host, _, port = address.rpartition(":")
        # A head started on loopback (tug up) answers there only; one started by a plain
        # `ray start --head` answers on the machine's address too, and is reached through it.
        local = is_loopback(host) and not _answers(f"{ray.util.get_node_ip_address()}:{port}")
        if local:
            keep_loopback()  # else the driver looks for the head at the machine's address
        ray.init(address=address, namespace=RAY_NAMESPACE, logging_level="ERROR",
                 log_to_driver=False, configure_logging=False,
                 **({"_node_ip_address": host} if local else {}))
