"""Node objects from Ray's view of its nodes: capacity, addresses, labels, Ready condition."""

from __future__ import annotations

from typing import Any

from engine.api import parse_quantity
from engine.api.status import full_node_info
from engine.clusterconfig import declared
from engine.objects import MAX_PODS, UNREACHABLE

VERSION = "tugboat-0.1.0"
NODE_ID_LABEL = "tugboat.dev/ray-node-id"


def node_name(entry: dict[str, Any]) -> str:
    """Stable name for a Ray node: the name it was declared with, or its hostname plus the
    first hex digits of its id."""
    name = declared(entry.get("Resources") or {})["name"]
    if name:
        return str(name)
    host = str(entry.get("NodeManagerHostname") or "node").split(".")[0].lower()
    return f"{host}-{str(entry['NodeID'])[:8]}"


def _resources(raw: dict[str, float]) -> dict[str, str]:
    cpu = raw.get("CPU", 0.0)
    res = {
        "cpu": str(parse_quantity(f"{cpu:.3f}")),
        "memory": str(int(raw.get("memory", 0))),
        "pods": str(MAX_PODS),
    }
    if raw.get("GPU"):
        res["nvidia.com/gpu"] = str(int(raw["GPU"]))
    return res


def node_object(entry: dict[str, Any], *, info: dict[str, Any] | None, now: str,
                previous: dict[str, Any] | None,
                gpu: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Node object for one `ray.nodes()` entry; keeps transition times of `previous`.
    `gpu` is `gpu.node_gpu_fields(...)` for the node's inventory, when it is known."""
    alive = bool(entry.get("Alive"))
    name = node_name(entry)
    info = info or {}
    old_ready = next((c for c in ((previous or {}).get("status") or {}).get("conditions") or []
                      if c.get("type") == "Ready"), None)
    status = "True" if alive else "False"
    ready = {
        "type": "Ready",
        "status": status,
        "reason": "RayNodeAlive" if alive else "RayNodeDead",
        "message": ("Ray reports the node alive" if alive else
                    f"Ray reports the node dead: {entry.get('DeathReasonMessage') or 'unknown'}"),
        "lastHeartbeatTime": (old_ready or {}).get("lastHeartbeatTime", now),
        "lastTransitionTime": (old_ready["lastTransitionTime"]
                               if old_ready and old_ready.get("status") == status else now),
    }
    raw = {k: float(v) for k, v in (entry.get("Resources") or {}).items()}
    capacity = _resources(raw)
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        NODE_ID_LABEL: str(entry["NodeID"]),
    }
    if info.get("architecture"):
        labels["kubernetes.io/arch"] = info["architecture"]
    labels.update(declared(raw)["labels"])
    if "node:__internal_head__" in raw:
        labels["node-role.kubernetes.io/control-plane"] = ""
    conditions = [ready]
    gpus: list[dict[str, Any]] | None = None
    extra: list[dict[str, Any]] = []
    if gpu is not None:
        labels.update(gpu["labels"])
        if gpu["capacity"]:
            capacity = {**capacity, "nvidia.com/gpu": str(gpu["capacity"])}
        extra += gpu["conditions"]
        gpus = gpu["gpus"] or None
    if "mountNamespaces" in info:  # can pods' volumes be mounted here (engine/runtime/volumes.py)
        why = info["mountNamespaces"]
        extra.append({"type": "MountNamespaces", "status": "True", "reason": "MountNamespacesWork",
                      "message": "each container that mounts volumes gets a mount namespace of its own"}
                     if why is None else
                     {"type": "MountNamespaces", "status": "False", "reason": "NoMountNamespaces",
                      "message": f"pods that mount volumes fail here: {why}"})
    old = {c.get("type"): c for c in ((previous or {}).get("status") or {}).get("conditions") or []}
    for cond in extra:
        was = old.get(cond["type"])
        keep = was is not None and was.get("status") == cond["status"]
        since = was.get("lastTransitionTime", now) if keep and was else now
        conditions.append({**cond, "lastHeartbeatTime": since, "lastTransitionTime": since})
    allocatable = dict(capacity)
    disk = info.get("storage")
    if isinstance(disk, dict):  # where pods' files and local-path volumes go; free when found
        capacity["ephemeral-storage"] = str(int(disk.get("capacity") or 0))
        allocatable["ephemeral-storage"] = str(int(disk.get("free") or 0))
    if gpu is not None and gpu["capacity"]:
        allocatable["nvidia.com/gpu"] = str(gpu["allocatable"])
    meta_prev = (previous or {}).get("metadata") or {}
    for key, value in (meta_prev.get("labels") or {}).items():
        labels.setdefault(key, value)  # labels a user added stay
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels,
                     "annotations": {**(meta_prev.get("annotations") or {})}},
        "spec": {**_with_unreachable((previous or {}).get("spec") or {}, not alive, now),
                 "providerID": f"ray://{entry['NodeID']}"},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": conditions,
            **({"gpus": gpus} if gpus else {}),
            "addresses": [
                {"type": "InternalIP", "address": str(entry.get("NodeManagerAddress", ""))},
                {"type": "Hostname", "address": str(entry.get("NodeManagerHostname", ""))},
            ],
            "nodeInfo": full_node_info({
                "kubeletVersion": VERSION,
                "operatingSystem": info.get("operatingSystem", "linux"),
                "architecture": info.get("architecture", ""),
                "osImage": info.get("osImage", ""),
                "kernelVersion": info.get("kernelVersion", ""),
                "containerRuntimeVersion": info.get("containerRuntimeVersion", ""),
                "machineID": str(entry["NodeID"]),
                "systemUUID": str(entry["NodeID"]),
            }),
        },
    }


def current_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One `ray.nodes()` entry per node name: the alive one where a node was started again
    under its name (Ray keeps the dead one's entry beside it, with the old node ID)."""
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        name = node_name(entry)
        if name not in out or (entry.get("Alive") and not out[name].get("Alive")):
            out[name] = entry
    return list(out.values())


def gone_node(previous: dict[str, Any], *, now: str) -> dict[str, Any] | None:
    """`previous` marked NotReady because its Ray node is not in the cluster at all (the Ray
    cluster was replaced or restarted); None when it is marked so already."""
    status = previous.get("status") or {}
    conditions = status.get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is not None and ready.get("reason") == "RayNodeGone":
        return None
    gone = {"type": "Ready", "status": "False", "reason": "RayNodeGone",
            "message": "this Ray node is not part of the Ray cluster the control plane is "
                       "attached to (the cluster was restarted or replaced)",
            "lastHeartbeatTime": (ready or {}).get("lastHeartbeatTime", now),
            "lastTransitionTime": now if (ready or {}).get("status") != "False"
            else ready.get("lastTransitionTime", now)}
    others = [c for c in conditions if c.get("type") != "Ready"]
    return {**previous, "spec": _with_unreachable(previous.get("spec") or {}, True, now),
            "status": {**status, "conditions": [gone, *others]}}


def _with_unreachable(spec: dict[str, Any], unreachable: bool, now: str) -> dict[str, Any]:
    """`spec` with the node lifecycle's `node.kubernetes.io/unreachable` taints (NoSchedule and
    NoExecute, as Kubernetes sets them on a node that stopped answering) on or off; the time
    each was added is kept while it stays. A NoExecute taint evicts the pods that do not
    tolerate it (engine/controllers/taints.py)."""
    taints = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
    ours = {t.get("effect"): t for t in taints if t.get("key") == UNREACHABLE}
    kept = [t for t in taints if t.get("key") != UNREACHABLE]
    if unreachable:
        kept += [ours.get(effect) or {"key": UNREACHABLE, "effect": effect, "timeAdded": now}
                 for effect in ("NoSchedule", "NoExecute")]
    out = {k: v for k, v in spec.items() if k != "taints"}
    if kept:
        out["taints"] = kept
    return out
