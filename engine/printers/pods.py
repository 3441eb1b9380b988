"""kubectl's logic for a pod's READY, STATUS and RESTARTS cells and a node's STATUS and ROLES."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.printers.fmt import NONE, Obj, age_of, aware, dig, since, to_time
from gpu.inventory import label_product

NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"
GPU_RESOURCE = "nvidia.com/gpu"

_TERMINAL_PHASES = ("Succeeded", "Failed")
_NODE_LOST = "NodeLost"


@dataclass(frozen=True)
class PodSummary:
    """What `kubectl get pods` shows for a pod, before any AGE or wide columns."""

    ready: int
    total: int
    status: str
    restarts: int
    last_restart: datetime | None

    def ready_cell(self) -> str:
        return f"{self.ready}/{self.total}"

    def restarts_cell(self, now: datetime) -> str:
        if self.restarts and self.last_restart is not None:
            return f"{self.restarts} ({since(self.last_restart, now)} ago)"
        return str(self.restarts)


def _later(current: datetime | None, status: Obj) -> datetime | None:
    """The later of `current` and a container's last termination time."""
    finished = to_time(dig(status, "lastState", "terminated", "finishedAt"))
    if finished is None:
        return current
    return finished if current is None or finished > current else current


def _terminated_reason(term: Obj, prefix: str) -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def summarize_pod(pod: Obj) -> PodSummary:
    """kubectl's printPod: ready count, status reason and restarts, init containers included."""
    spec: Obj = pod.get("spec") or {}
    status: Obj = pod.get("status") or {}
    conditions: list[Obj] = status.get("conditions") or []
    phase = str(status.get("phase") or "Pending")
    reason = str(status.get("reason") or phase)
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in conditions):
        reason = "SchedulingGated"

    init_specs: list[Obj] = spec.get("initContainers") or []
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    container_statuses: list[Obj] = status.get("containerStatuses") or []
    total = len(spec.get("containers") or container_statuses) + len(sidecars)
    ready = 0
    restarts = sidecar_restarts = 0
    last: datetime | None = None
    sidecar_last: datetime | None = None

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state: Obj = cs.get("state") or {}
        restarts += int(cs.get("restartCount") or 0)
        last = _later(last, cs)
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            sidecar_last = _later(sidecar_last, cs)
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and int(term.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if term is not None:
            reason = _terminated_reason(term, "Init:")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in conditions)
    if not initializing or initialized:
        restarts, last = sidecar_restarts, sidecar_last
        has_running = False
        # kubectl walks the statuses backwards, so the first container's reason wins.
        for cs in reversed(container_statuses):
            state = cs.get("state") or {}
            restarts += int(cs.get("restartCount") or 0)
            last = _later(last, cs)
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif term is not None:
                reason = _terminated_reason(term, "")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in conditions)
            reason = "Running" if pod_ready else "NotReady"

    deleting = dig(pod, "metadata", "deletionTimestamp") is not None
    if deleting and status.get("reason") == _NODE_LOST:
        reason = "Unknown"
    elif deleting and phase not in _TERMINAL_PHASES:
        reason = "Terminating"
    return PodSummary(ready, total, reason, restarts, last)


def pod_status(pod: Obj) -> str:
    """The STATUS cell of `kubectl get pods` (Running, CrashLoopBackOff, Init:0/1, ...)."""
    return summarize_pod(pod).status


def pod_row(pod: Obj, now: datetime, wide: bool) -> list[str]:
    """The cells of one pod row: NAME READY STATUS RESTARTS AGE [IP NODE NOMINATED READINESS]."""
    s = summarize_pod(pod)
    row = [str(dig(pod, "metadata", "name", default="")), s.ready_cell(), s.status,
           s.restarts_cell(aware(now)), age_of(pod, now)]
    if wide:
        ips = dig(pod, "status", "podIPs", default=[])
        ip = str(dig(ips, 0, "ip", default="") or dig(pod, "status", "podIP", default=""))
        gates: list[Obj] = dig(pod, "spec", "readinessGates", default=[])
        gates_cell = NONE
        if gates:
            conds = {c.get("type"): c.get("status")
                     for c in reversed(dig(pod, "status", "conditions", default=[]))}
            true = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
            gates_cell = f"{true}/{len(gates)}"
        row += [ip or NONE, str(dig(pod, "spec", "nodeName", default="") or NONE),
                str(dig(pod, "status", "nominatedNodeName", default="") or NONE), gates_cell]
    return row


def node_status(node: Obj) -> str:
    """Ready / NotReady / Unknown, plus ",SchedulingDisabled" for a cordoned node."""
    parts: list[str] = []
    for cond in dig(node, "status", "conditions", default=[]):
        if cond.get("type") == "Ready":
            parts = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if not parts:
        parts = ["Unknown"]
    if dig(node, "spec", "unschedulable", default=False):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(node: Obj) -> str:
    """Roles from node-role.kubernetes.io/<role> labels (and kubernetes.io/role), or "<none>"."""
    roles: set[str] = set()
    labels: dict[str, Any] = dig(node, "metadata", "labels", default={})
    for key, value in labels.items():
        if key.startswith(NODE_ROLE_PREFIX) and key[len(NODE_ROLE_PREFIX):]:
            roles.add(key[len(NODE_ROLE_PREFIX):])
        elif key == NODE_ROLE_LABEL and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or NONE


def node_address(node: Obj, kind: str) -> str:
    """The first status.addresses entry of a type (InternalIP, ExternalIP), or "<none>"."""
    for addr in dig(node, "status", "addresses", default=[]):
        if addr.get("type") == kind:
            return str(addr.get("address", ""))
    return NONE


def _gpu_count(node: Obj) -> str:
    alloc = str(dig(node, "status", "allocatable", GPU_RESOURCE, default="0"))
    cap = str(dig(node, "status", "capacity", GPU_RESOURCE, default=alloc))
    return alloc if alloc == cap else f"{alloc}/{cap}"


def node_row(node: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME STATUS ROLES AGE VERSION [INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL RUNTIME GPU
    GPU-PRODUCT]: GPU is allocatable/capacity, then the GPU products."""
    info: Obj = dig(node, "status", "nodeInfo", default={})
    row = [str(dig(node, "metadata", "name", default="")), node_status(node), node_roles(node),
           age_of(node, now), str(info.get("kubeletVersion") or "")]
    if wide:
        row += [node_address(node, "InternalIP"), node_address(node, "ExternalIP"),
                str(info.get("osImage") or "<unknown>"),
                str(info.get("kernelVersion") or "<unknown>"),
                str(info.get("containerRuntimeVersion") or "<unknown>"),
                _gpu_count(node), _gpu_products(node)]
    return row


def _gpu_products(node: Obj) -> str:
    """The product as GPU feature discovery labels it; on a node with GPUs of several products,
    how many of each (`2xNVIDIA-A100-SXM4-40GB,2xNVIDIA-H100-80GB-HBM3`)."""
    counts: dict[str, int] = {}
    for g in dig(node, "status", "gpus", default=[]) or []:
        product = label_product(str(g.get("product") or ""))
        counts[product] = counts.get(product, 0) + 1
    if len(counts) > 1:
        return ",".join(f"{n}x{product}" for product, n in counts.items())
    return str(dig(node, "metadata", "labels", "nvidia.com/gpu.product", default="<none>"))
