"""`/metrics` in Prometheus text format: API requests and latency, and object counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from engine.objects import is_ready

UNAUTHENTICATED = "unauthenticated"  # every request without a valid token, whatever its path
UNMATCHED = "unmatched"  # a path no route (or no resource) answers


class Metrics:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.registry = CollectorRegistry()
        self.requests = Counter("tugboat_apiserver_requests_total", "API requests",
                                ["verb", "route", "code"], registry=self.registry)
        self.latency = Histogram("tugboat_apiserver_request_duration_seconds",
                                 "API request latency (watch and log streams included)",
                                 ["verb", "route"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5, 1, 2.5, 5, 10, 30, 60))
        self.pods = Gauge("tugboat_pods", "Pods by phase", ["phase"], registry=self.registry)
        self.nodes = Gauge("tugboat_nodes", "Nodes by readiness", ["ready"], registry=self.registry)
        self.idle = Gauge("tugboat_gpu_idle", "1 for each GPU a running pod holds while it is idle "
                          "(under the threshold for the window)", ["node", "gpu", "pod"],
                          registry=self.registry)
        # (node, GPU uuid, pod) of the idle GPUs now; set by the control plane when it has a runtime
        self.gpu_idle: Callable[[], list[tuple[str, str, str]]] = list

    def observe(self, method: str, route: str, code: int, seconds: float) -> None:
        """Count one request. `route` comes from the route table (a route's pattern, or a
        resource the registry knows), never from the raw path, so a client cannot grow the
        label set: junk paths are UNMATCHED, requests without a token UNAUTHENTICATED."""
        self.requests.labels(method, route, str(code)).inc()  # aiohttp refuses unknown methods
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        phases: dict[str, int] = {p: 0 for p in ("Pending", "Running", "Succeeded", "Failed")}
        for pod in self.store.list("pods")[0]:
            phase = (pod.get("status") or {}).get("phase") or "Pending"
            phases[phase] = phases.get(phase, 0) + 1
        for phase, n in phases.items():
            self.pods.labels(phase).set(n)
        ready = {"true": 0, "false": 0}
        for node in self.store.list("nodes")[0]:
            ready["true" if is_ready(node) else "false"] += 1
        for key, n in ready.items():
            self.nodes.labels(key).set(n)
        self.idle.clear()  # a spell that ended leaves no series behind
        for node, gpu, pod in self.gpu_idle():
            self.idle.labels(node, gpu, pod).set(1)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
