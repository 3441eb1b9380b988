"""metrics.k8s.io/v1beta1, as metrics-server serves it, so `kubectl top nodes|pods` works: the
node agents' latest samples (the rows `tug top` shows) as NodeMetrics and PodMetrics. A pod
is measured as a whole (its processes), so its one container entry carries the pod's usage
under its first container's name. Pure: the server passes the rows in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.clock import format_time

Obj = dict[str, Any]
GROUP_VERSION = "metrics.k8s.io/v1beta1"
WINDOW = "10s"


def _usage(cores: Any, memory: Any) -> Obj | None:
    if not isinstance(cores, int | float) or not isinstance(memory, int | float):
        return None  # not sampled yet: left out, as metrics-server leaves it out
    return {"cpu": f"{max(0, round(cores * 1e9))}n", "memory": f"{max(0, int(memory) // 1024)}Ki"}


def node_metrics(rows: list[Obj], now: datetime) -> list[Obj]:
    out = []
    for row in rows:
        usage = _usage(row.get("cpuCores"), row.get("memoryBytes"))
        if usage is not None:
            out.append({"metadata": {"name": row["name"], "creationTimestamp": format_time(now)},
                        "timestamp": format_time(now), "window": WINDOW, "usage": usage})
    return out


def pod_metrics(rows: list[Obj], pods: dict[tuple[str, str], Obj], now: datetime) -> list[Obj]:
    out = []
    for row in rows:
        usage = _usage(row.get("cpuCores"), row.get("memoryBytes"))
        pod = pods.get((row["namespace"], row["name"]))
        if usage is None or pod is None:
            continue
        containers = (pod.get("spec") or {}).get("containers") or [{}]
        out.append({"metadata": {"name": row["name"], "namespace": row["namespace"],
                                 "labels": (pod.get("metadata") or {}).get("labels") or {},
                                 "creationTimestamp": format_time(now)},
                    "timestamp": format_time(now), "window": WINDOW,
                    "containers": [{"name": str(containers[0].get("name") or "pod"), "usage": usage}]})
    return out


def one(kind: str, item: Obj) -> Obj:
    return {"kind": kind, "apiVersion": GROUP_VERSION, **item}


def listed(kind: str, items: list[Obj]) -> Obj:
    return {"kind": f"{kind}List", "apiVersion": GROUP_VERSION, "metadata": {},
            "items": [one(kind, item) for item in items]}


RESOURCES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": [
    {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
     "verbs": ["get", "list"]},
    {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]}]}
