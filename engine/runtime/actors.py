"""The Ray actors tugboat places on nodes: one PodActor per pod, one NodeAgent per node."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import Any

import ray

from engine.runtime.podrunner import PodRunner, container_runtime
from gpu import Nvml

WATCH_TIMEOUT_S = 30.0


@ray.remote(max_concurrency=4)  # watch, stop, and room to spare; more threads start slower
class PodActor:
    """Hosts a PodRunner; the control plane long-polls `watch` and calls `stop` to delete."""

    def __init__(self, pod: dict[str, Any], log_root: str) -> None:
        # The GPUs Ray gave this actor (it set CUDA_VISIBLE_DEVICES to them as well).
        gpus = [int(i) if str(i).isdigit() else i for i in ray.get_gpu_ids()]
        self.runner = PodRunner(pod, log_root=Path(log_root), gpus=gpus)
        self.runner.start()

    def watch(self, since_version: int, since_event: int,
              timeout: float = WATCH_TIMEOUT_S) -> dict[str, Any]:
        return self.runner.watch(since_version, since_event, timeout)

    def stop(self, grace_seconds: float) -> dict[str, Any]:
        return self.runner.stop(grace_seconds)

    def pid(self) -> int:
        return os.getpid()


def _read_tail(path: Path, lines: int) -> tuple[bytes, int]:
    size = path.stat().st_size
    chunk = 64 * 1024
    data = b""
    pos = size
    with open(path, "rb") as fh:
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(chunk, pos)
            pos -= step
            fh.seek(pos)
            data = fh.read(step) + data
    parts = data.split(b"\n")
    trailing = parts[-1] == b""
    body = parts[:-1] if trailing else parts
    body = body[-lines:] if lines > 0 else []
    text = b"\n".join(body) + (b"\n" if trailing and body else b"")
    return text, size


@ray.remote(num_cpus=0, max_concurrency=16)
class NodeAgent:
    """Per-node helper: reads container logs (which outlive pods) and describes the node."""

    def read_log(self, path: str, offset: int = 0, tail_lines: int = -1,
                 limit: int = 4 * 1024 * 1024) -> tuple[bytes, int]:
        """Bytes of a log file from `offset` (or its last `tail_lines` lines) and the next offset."""
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(path)
        if tail_lines >= 0 and offset == 0:
            return _read_tail(p, tail_lines)
        with open(p, "rb") as fh:
            fh.seek(offset)
            data = fh.read(limit)
        return data, offset + len(data)

    def info(self) -> dict[str, Any]:
        uname = platform.uname()
        os_image = "Linux"
        try:
            for line in Path("/etc/os-release").read_text().splitlines():
                if line.startswith("PRETTY_NAME="):
                    os_image = line.split("=", 1)[1].strip('"')
        except OSError:
            pass
        runtime = container_runtime()
        nvml = Nvml()
        try:
            inventory = nvml.discover()
        finally:
            nvml.close()
        return {
            "gpu": inventory.to_dict(),
            "hostname": socket.gethostname(),
            "kernelVersion": uname.release,
            "osImage": os_image,
            "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine, uname.machine),
            "operatingSystem": "linux",
            "containerRuntimeVersion": os.path.basename(runtime) if runtime else "none (processes)",
        }

