"""What a container needs before it starts on its node: host ports for its declared ports
(and the PORT variables that name them), a container runtime when it names only an image, and
the failure that says why it cannot start."""

from __future__ import annotations

import shutil
import socket
import subprocess
from typing import Any


class StartFailure(Exception):
    """A container that cannot be started at all; `reason` is the waiting/terminated reason."""

    def __init__(self, reason: str, message: str, *, mount: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.mount = mount  # a volume not ready yet: ContainerCreating, FailedMount, tried again


def allocate_ports(container: dict[str, Any]) -> list[dict[str, Any]]:
    """A host port for each declared container port: its hostPort, or a free one on the node.
    Processes share the node's network, so a port the container asks for is what it gets."""
    out = []
    for port in container.get("ports") or []:
        host = port.get("hostPort")
        udp = str(port.get("protocol") or "TCP").upper() == "UDP"
        with socket.socket(type=socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("", int(host or 0)))
            except OSError as exc:  # a hostPort asked for and taken on this node
                raise StartFailure("HostPortInUse", f"container {container.get('name')!r} asks for host port "
                                                    f"{host}, which is in use on this node ({exc.strerror})"
                                   ) from None
            host = sock.getsockname()[1]
        out.append({"name": port.get("name"), "containerPort": port.get("containerPort"),
                    "hostPort": int(host), "protocol": port.get("protocol", "TCP")})
    return out


def port_env(ports: list[dict[str, Any]]) -> dict[str, str]:
    """PORT (the first port) and PORT_<NAME> for each named one, as the process sees them."""
    env: dict[str, str] = {}
    if ports:
        env["PORT"] = str(ports[0]["hostPort"])
    for port in ports:
        if port.get("name"):
            env["PORT_" + str(port["name"]).upper().replace("-", "_")] = str(port["hostPort"])
    return env


_runtime_cache: dict[str, str | None] = {}


def container_runtime() -> str | None:
    """`docker` or `podman` when one is installed and its daemon answers, else None (cached)."""
    if "rt" not in _runtime_cache:
        found = None
        for tool in ("docker", "podman"):
            path = shutil.which(tool)
            if not path:
                continue
            try:
                ok = subprocess.run([path, "info"], capture_output=True, timeout=10).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                ok = False
            if ok:
                found = path
                break
        _runtime_cache["rt"] = found
    return _runtime_cache["rt"]
