"""Pod status helpers shared by the runtime's paths: container choice for logs, merged
conditions, how containers end when nobody saw them end, the GPUs and node ports a pod holds
as its status and annotations say them. Pure data."""

from __future__ import annotations

import json
from typing import Any

from engine.errors import BadRequestError
from gpu import Inventory


def pick_container(pod: dict[str, Any], container: str | None, *, init: bool = False) -> str:
    names = [c["name"] for c in pod["spec"].get("containers") or []]
    inits = [c["name"] for c in pod["spec"].get("initContainers") or []]
    if container:
        if container not in names + inits:
            raise BadRequestError(
                f"container {container} is not valid for pod {pod['metadata']['name']}")
        return container
    if len(names) == 1:
        return names[0]
    raise BadRequestError(
        f"a container name must be specified for pod {pod['metadata']['name']}, "
        f"choose one of: [{' '.join(names)}]")


def waiting_reason(status: dict[str, Any] | None) -> str:
    waiting = ((status or {}).get("state") or {}).get("waiting") or {}
    return str(waiting.get("reason") or "ContainerCreating")


def unknown_end(container: dict[str, Any], now: str) -> dict[str, Any]:
    state = container.get("state") or {}
    if "terminated" in state:
        return container
    started = (state.get("running") or {}).get("startedAt")
    return {**container, "ready": False, "lastState": container.get("lastState") or {},
            "state": {"terminated": {
                "exitCode": 137, "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
                **({"startedAt": started} if started else {}), "finishedAt": now}}}


def merge_conditions(old: list[dict[str, Any]] | None,
                      new: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    by_type = {c["type"]: c for c in old or []}
    for c in new or []:
        by_type[c["type"]] = c
    order = ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
    return sorted(by_type.values(),
                  key=lambda c: order.index(c["type"]) if c["type"] in order else 99)


PORTS_ANNOTATION = "tugboat.dev/ports"


def port_map(status: dict[str, Any] | None) -> dict[str, int]:
    """The node ports the runtime gave the pod's containers, by port name (or by containerPort
    where a port has no name): what the `tugboat.dev/ports` annotation says."""
    out: dict[str, int] = {}
    statuses = status.get("containerStatuses") if isinstance(status, dict) else None
    for container in statuses if isinstance(statuses, list) else []:
        ports = container.get("hostPorts") if isinstance(container, dict) else None
        for port in ports if isinstance(ports, list) else []:
            if isinstance(port, dict) and isinstance(port.get("hostPort"), int):
                out.setdefault(str(port.get("name") or port.get("containerPort")), port["hostPort"])
    return out


def annotate_ports(pod: dict[str, Any], status: dict[str, Any]) -> bool:
    """Set the pod's `tugboat.dev/ports` from its status; False where it says so already."""
    ports = port_map(status)
    text = json.dumps(ports, sort_keys=True)
    annotations = pod["metadata"].get("annotations") or {}
    if not ports or annotations.get(PORTS_ANNOTATION) == text:
        return False
    pod["metadata"]["annotations"] = {**annotations, PORTS_ANNOTATION: text}
    return True


def describe_gpus(inventory: Inventory | None, held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pod's GPU indexes with the UUID and product NVML (or the simulation) gives them."""
    by_index = {g.index: g for g in inventory.gpus if g.parent_uuid is None} if inventory else {}
    out = []
    for entry in held:
        gpu = by_index.get(entry.get("index"))  # type: ignore[arg-type]
        out.append({**entry, **({"uuid": gpu.uuid, "product": gpu.product} if gpu else {})})
    return out


def with_addresses(pod: dict[str, Any], ip: str) -> dict[str, Any]:
    """The pod with its node's IP as its own (pods share their node's network)."""
    status = {**(pod.get("status") or {}), "hostIP": ip, "podIP": ip}
    if ip:
        status["hostIPs"] = [{"ip": ip}]
        status["podIPs"] = [{"ip": ip}]
    return {**pod, "status": status}


def waiting_container(spec: dict[str, Any], reason: str, message: str | None = None) -> dict[str, Any]:
    """A container's status before it ran: waiting with `reason` (and `message`)."""
    waiting = {"reason": reason} if message is None else {"reason": reason, "message": message}
    return {"name": spec.get("name"), "image": spec.get("image") or "", "imageID": "",
            "ready": False, "started": False, "restartCount": 0,
            "state": {"waiting": waiting}, "lastState": {}}
