"""The Ray actors tugboat places on nodes: one PodActor per pod (named and sized from the pod),
one NodeAgent per node."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import ray

from engine.net.proxy import Proxy
from engine.objects import GPU, amount, bound_gpus, pod_requests
from engine.runtime.execs import Sessions, command_for
from engine.runtime.logfiles import READ_LIMIT, read_log, read_since
from engine.runtime.podrunner import PodRunner, node_log_roots
from engine.runtime.podusage import PodUsage
from engine.runtime.startup import container_runtime
from engine.runtime.volumes import mount_support, pod_roots
from gpu import Nvml

WATCH_TIMEOUT_S = 30.0
POD_ACTOR_PREFIX = "pod."
# Node agents are detached and outlive control planes; a new agent API gets a new name, and
# the runtime retires agents of other versions.
AGENT_VERSION = 9


def actor_name(pod: dict[str, Any]) -> str:
    meta = pod["metadata"]
    return f"{POD_ACTOR_PREFIX}{meta.get('namespace', 'default')}.{meta['name']}.{meta['uid'][:8]}"


def ray_options(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod's requests as Ray resources: cpu -> num_cpus, memory, nvidia.com/gpu -> num_gpus."""
    req = pod_requests(pod)
    opts: dict[str, Any] = {"num_cpus": round(amount(req.get("cpu"), "cpu"), 4)}
    if amount(req.get("memory"), "memory") > 0:
        opts["memory"] = int(amount(req["memory"], "memory"))
    if GPU in req:
        opts["num_gpus"] = amount(req[GPU], GPU)
    return opts


class PodHost:
    """What the control plane calls on whatever hosts a pod's PodRunner: a PodActor made for
    the pod, or a warm runner serving it (engine/runtime/runner.py)."""

    runner: PodRunner
    execs: Sessions

    # `uid`: the pod the caller means (a warm runner answers only for the pod it serves)
    def watch(self, since_version: int, since_event: int, timeout: float = WATCH_TIMEOUT_S,
              uid: str | None = None) -> dict[str, Any]:
        return self.runner.watch(since_version, since_event, timeout)

    def stop(self, grace_seconds: float, uid: str | None = None) -> dict[str, Any]:
        self.execs.end_all()
        return self.runner.stop(grace_seconds)

    def pid(self) -> int:
        return os.getpid()

    def set_volume_files(self, files: dict[str, dict[str, dict[str, Any]]], uid: str | None = None) -> None:
        """New contents of the pod's configMap, secret and downwardAPI volumes."""
        self.runner.volumes.update(files)

    def usage(self, window: float = 0.5, uid: str | None = None) -> dict[str, Any]:
        """CPU cores and memory the pod's containers use now (their whole process trees)."""
        return self.runner.usage(window)

    # `kubectl exec` (engine/runtime/execs.py): a session per command; the control plane moves its bytes.
    def exec_start(self, container: str, command: list[str], tty: bool, stdin: bool,
                   uid: str | None = None) -> str:
        argv, env, cwd = command_for(self.runner, container, command, tty=tty, stdin=stdin)
        return self.execs.start(argv, env, cwd, tty=tty, stdin=stdin)

    def exec_read(self, key: str, timeout: float) -> dict[str, Any]:
        return self.execs.get(key).read(min(timeout, 1.0))

    def exec_write(self, key: str, data: bytes, close: bool) -> None:
        self.execs.get(key).write(data, close)

    def exec_resize(self, key: str, width: int, height: int) -> None:
        self.execs.get(key).resize(width, height)

    def exec_end(self, key: str) -> None:
        self.execs.end(key)


@ray.remote(max_concurrency=4)  # watch, stop, and room to spare; more threads start slower
class PodActor(PodHost):
    """Hosts one pod's PodRunner; the control plane long-polls `watch` and calls `stop` to delete."""

    def __init__(self, pod: dict[str, Any], log_root: str, service_env: dict[str, str] | None = None,
                 refs: dict[str, dict[str, str]] | None = None,
                 files: dict[str, dict[str, dict[str, Any]]] | None = None,
                 hosts: dict[str, list[Any]] | None = None) -> None:
        # The GPUs the scheduler chose for the pod; without a choice (a node whose GPUs are
        # counted, not listed), the ones Ray gave this actor. Ray counts them either way, and a
        # pod that asked for none gets none.
        given = [int(i) if str(i).isdigit() else i for i in ray.get_gpu_ids()]
        bound = bound_gpus(pod)
        gpus = list(bound) if bound is not None and given else given
        self.runner = PodRunner(pod, log_root=Path(log_root), gpus=gpus, service_env=service_env, refs=refs,
                                files=files, hosts=hosts)
        self.runner.start()
        self.execs = Sessions()


def _owner(pid: int, leaders: dict[int, str]) -> str | None:
    """The pod whose container `pid` descends from, if any."""
    try:
        proc: psutil.Process | None = psutil.Process(pid)
        while proc is not None:
            if proc.pid in leaders:
                return leaders[proc.pid]
            proc = proc.parent()
    except psutil.Error:
        return None
    return None


def _inside(root: Path, relative: str) -> Path | None:
    """`root / relative` resolved, if it stays under `root` resolved; else None."""
    base = root.resolve()
    path = (base / relative).resolve()
    return path if path.is_relative_to(base) and path != base else None


@ray.remote(num_cpus=0, max_concurrency=16)
class NodeAgent:
    """Per-node helper: reads container logs (which outlive pods), describes the node, samples
    its CPU, memory and GPUs (NVML), naming the pod behind each GPU process, and runs the
    node's Service proxy (engine/net/proxy.py) on a thread and event loop of its own."""

    def __init__(self) -> None:
        self._nvml = Nvml()
        self._lock = threading.Lock()
        self._inventory = None
        self._cpu_last = psutil.cpu_times()
        self._pods = PodUsage()
        self._proxy: tuple[asyncio.AbstractEventLoop, Proxy] | None = None

    def set_routes(self, table: list[dict[str, Any]], version: int,
                   ingress: dict[str, Any] | None = None) -> dict[str, Any]:
        """Serve this route table (engine/net/routes.py), and on the head node the Ingress
        router's; returns once the proxy does: what it listens on and what it could not."""
        with self._lock:
            if self._proxy is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="proxy", daemon=True).start()
                self._proxy = (loop, Proxy(node_ip=ray.util.get_node_ip_address()))
            loop, proxy = self._proxy
        return asyncio.run_coroutine_threadsafe(proxy.apply(table, version, ingress), loop).result(30)

    def drain(self, backends: list[list[Any]], timeout: float) -> bool:
        """Wait (at most `timeout` s) until this node's proxy and router have nothing open to
        `backends` (connections and requests begun before they left the table); whether it came."""
        with self._lock:
            if self._proxy is None:
                return True
            loop, proxy = self._proxy
        wanted = {(str(ip), int(port)) for ip, port in backends}
        done = asyncio.run_coroutine_threadsafe(proxy.inflight.clear(wanted, timeout), loop)
        return done.result(timeout + 5)

    def sample(self, leaders: dict[int, str]) -> dict[str, Any]:
        """One tick: GPU samples, node usage, each pod's CPU and memory (engine/runtime/
        podusage.py), and for each GPU process the pod it belongs to (`leaders`: container main
        pid -> "namespace/name"; a process counts for the pod whose container it descends
        from)."""
        with self._lock:
            if self._inventory is None:
                self._inventory = self._nvml.discover()
            samples = self._nvml.sample() if self._inventory.gpus else []
        owners: dict[int, str] = {}
        for s in samples:
            for proc in s.processes:
                owner = _owner(proc.pid, leaders)
                if owner:
                    owners[proc.pid] = owner
        mem = psutil.virtual_memory()
        cpus = float(psutil.cpu_count() or 1)
        with self._lock:  # per-instance deltas: psutil.cpu_percent keeps per-thread state
            now_cpu, last = psutil.cpu_times(), self._cpu_last
            self._cpu_last = now_cpu
        total = sum(now_cpu) - sum(last)
        idle = (now_cpu.idle + getattr(now_cpu, "iowait", 0.0)) - (
            last.idle + getattr(last, "iowait", 0.0))
        busy = max(total - idle, 0.0) / total * cpus if total > 0 else 0.0
        now = time.time()
        with self._lock:
            pods = self._pods.sample(leaders, now)
        return {
            "time": now,
            "pods": pods,
            "gpus": [s.to_dict() for s in samples],
            "owners": owners,
            "usage": {"cpuCores": busy, "cpuCapacity": cpus,
                      "memoryBytes": int(mem.total - mem.available),
                      "memoryCapacity": int(mem.total)},
        }

    def read_log(self, log_root: str, relative: str, offset: int = 0, tail_lines: int = -1,
                 limit: int = READ_LIMIT, timestamps: bool = False,
                 since_ns: int | None = None) -> tuple[bytes, int]:
        """Bytes of a log file from `offset` (or its last `tail_lines` lines; or, with
        `since_ns`, from the first line written since) and the next offset; `relative` is looked
        up under each of the node's log roots, and only a file that resolves inside that root is
        read (a name with '..' or a symlink cannot lead out). With `timestamps`, each line
        comes with its time in front (`logfiles.read_log`)."""
        p = next((path for root in node_log_roots(Path(log_root))
                  if (path := _inside(root, relative)) is not None and path.is_file()), None)
        if p is None:
            raise FileNotFoundError(relative)
        if since_ns is not None and offset == 0:
            return read_since(p, since_ns, tail_lines=tail_lines, limit=limit, timestamps=timestamps)
        return read_log(p, offset=offset, tail_lines=tail_lines, limit=limit,
                        timestamps=timestamps)

    def info(self, log_root: str | None = None) -> dict[str, Any]:
        """What the node is: OS, kernel, container runtime, its GPUs as NVML finds them, and
        whether pods' volumes can be mounted (probed where pods keep them, beside `log_root`)."""
        uname = platform.uname()
        os_image = "Linux"
        try:
            for line in Path("/etc/os-release").read_text().splitlines():
                if line.startswith("PRETTY_NAME="):
                    os_image = line.split("=", 1)[1].strip('"')
        except OSError:
            pass
        runtime = container_runtime()
        with self._lock:
            inventory = self._inventory = self._nvml.discover()
        return {
            "gpu": inventory.to_dict(),
            "hostname": socket.gethostname(),
            "kernelVersion": uname.release,
            "osImage": os_image,
            "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine, uname.machine),
            "operatingSystem": "linux",
            "containerRuntimeVersion": os.path.basename(runtime) if runtime else "none (processes)",
            "mountNamespaces": mount_support(pod_roots(Path(log_root or tempfile.gettempdir()))[0]),
            "storage": _disk(Path(log_root or tempfile.gettempdir()).parent),
        }

    def remove_volume(self, path: str, base: str) -> bool:
        """Remove a provisioned volume's directory, which must lie right under `base` and be named
        as the local-path provisioner names them; False when it was already gone."""
        target = Path(path)
        if target.parent.resolve() != Path(base).resolve() or not target.name.startswith("pvc-"):
            raise ValueError(f"{path} is not a volume this node's local-path provisioner made under {base}")
        if not target.exists() and not target.is_symlink():
            return False
        if target.is_symlink() or not target.is_dir():
            target.unlink()
        else:
            shutil.rmtree(target)
        return True


def _disk(path: Path) -> dict[str, int]:
    """Total and free bytes of the filesystem that holds `path` (or its nearest existing parent)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    usage = shutil.disk_usage(path)
    return {"capacity": usage.total, "free": usage.free}

