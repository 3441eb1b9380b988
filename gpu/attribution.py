"""Who uses which GPU: pods holding GPUs (from their status), GPU processes matched to pods
(from a node agent's tick), and the rows `tug top` and `tug describe` show. Pure data."""

from __future__ import annotations

from typing import Any


def container_leaders(pods: list[dict[str, Any]]) -> dict[int, str]:
    """Main pid of every running container -> "namespace/name" of its pod."""
    out: dict[int, str] = {}
    for pod in pods:
        meta = pod["metadata"]
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            cid = str(status.get("containerID") or "")
            if cid.startswith("process://") and "running" in (status.get("state") or {}):
                out[int(cid.split("://", 1)[1])] = f"{meta.get('namespace')}/{meta['name']}"
    return out


def holders(pods: list[dict[str, Any]]) -> dict[str, list[str]]:
    """GPU uuid -> the pods (namespace/name) that hold it, from the pods' status."""
    out: dict[str, list[str]] = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        meta = pod["metadata"]
        for gpu in (pod.get("status") or {}).get("gpus") or []:
            if gpu.get("uuid"):
                out.setdefault(gpu["uuid"], []).append(f"{meta.get('namespace')}/{meta['name']}")
    return out


def node_top(name: str, node: dict[str, Any], tick: dict[str, Any] | None,
             inventory: Any, held: dict[str, list[str]],
             idle: frozenset[str] = frozenset()) -> dict[str, Any]:
    """One row of `tug top nodes`: usage from the latest tick, each GPU with its holders and
    whether it is idle (`idle`: the uuids of this node's idle GPUs, gpu/idle.py)."""
    usage = (tick or {}).get("usage") or {}
    by_uuid = {g["uuid"]: g for g in (tick or {}).get("gpus") or []}
    health = {g["uuid"]: g.get("health") for g in (node.get("status") or {}).get("gpus") or []}
    gpus = []
    for info in (inventory.gpus if inventory else ()):
        sample = by_uuid.get(info.uuid) or {}
        used = sample.get("memoryUsedMiB")
        gpus.append({"index": info.index, "uuid": info.uuid, "product": info.product,
                     "simulated": info.simulated, "health": health.get(info.uuid, "Healthy"),
                     "utilizationGpu": sample.get("utilizationGpu"), "memoryUsedMiB": used,
                     "memoryTotalMiB": info.memory_mib,
                     "temperatureC": sample.get("temperatureC"), "powerW": sample.get("powerW"),
                     "pods": held.get(info.uuid, []), "idle": info.uuid in idle})
    return {"name": name, "cpuCores": usage.get("cpuCores"),
            "cpuCapacity": usage.get("cpuCapacity"), "memoryBytes": usage.get("memoryBytes"),
            "memoryCapacity": usage.get("memoryCapacity"), "gpus": gpus}


def pod_gpu_top(pod: dict[str, Any], tick: dict[str, Any] | None,
                inventory: Any, idle: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The GPUs a pod holds, with utilization and the memory its own processes use there."""
    key = f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
    owners = {int(pid): owner for pid, owner in ((tick or {}).get("owners") or {}).items()}
    samples = {g["uuid"]: g for g in (tick or {}).get("gpus") or []}
    totals = {g.uuid: g.memory_mib for g in (inventory.gpus if inventory else ())}
    out = []
    for held in (pod.get("status") or {}).get("gpus") or []:
        sample = samples.get(held.get("uuid")) or {}
        mine = [p.get("usedMemoryMiB") for p in sample.get("processes") or []
                if owners.get(int(p.get("pid", -1))) == key]
        known = [m for m in mine if m is not None]
        out.append({"index": held.get("index"), "uuid": held.get("uuid"),
                    "utilizationGpu": sample.get("utilizationGpu"),
                    "memoryUsedMiB": sum(known) if known else None,
                    "memoryTotalMiB": totals.get(held.get("uuid")),
                    "idle": held.get("uuid") in idle})
    return out


def node_gpu_processes(tick: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """GPU uuid -> its processes from one tick, each with the pod it belongs to (or None)."""
    owners = {int(pid): owner for pid, owner in ((tick or {}).get("owners") or {}).items()}
    out: dict[str, list[dict[str, Any]]] = {}
    for sample in (tick or {}).get("gpus") or []:
        out[sample["uuid"]] = [{"pid": p.get("pid"), "usedMemoryMiB": p.get("usedMemoryMiB"),
                                "pod": owners.get(int(p.get("pid", -1)))}
                               for p in sample.get("processes") or []]
    return out
