"""The HPA's replica count for one metric, as Kubernetes' replica calculator makes it
(reference k8s-semantics §7): pods grouped into ready, unready, missing and ignored; integer
utilization over the ready pods; tolerance; missing and unready pods filled in on a second
pass. Values are in thousandths (millicores, milli-bytes, milli-percent). Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.api.quantity import Quantity, parse_quantity
from engine.clock import time_or_none
from engine.objects import container_requests

GPU_METRIC = "tugboat.dev/gpu-utilization"  # a Pods metric: mean utilization (%) of the pod's GPUs

Obj = dict[str, Any]


@dataclass(frozen=True)
class HpaConfig:
    """kube-controller-manager's --horizontal-pod-autoscaler-* settings, with their defaults."""

    sync_period_s: float = 15.0
    tolerance: float = 0.1
    downscale_stabilization_s: float = 300.0
    cpu_initialization_s: float = 300.0
    initial_readiness_delay_s: float = 30.0


class MetricError(Exception):
    """A metric that gives no replica count: `reason` names it as Kubernetes does."""

    def __init__(self, reason: str, detail: str, wrapped: str) -> None:
        super().__init__(wrapped)
        self.reason = reason  # the condition's and the event's reason
        self.detail = detail  # what went wrong, said on the condition and the event
        self.wrapped = wrapped  # the same, naming the metric (FailedComputeMetricsReplicas)


@dataclass(frozen=True)
class Proposal:
    replicas: int
    name: str  # "cpu resource utilization (percentage of request)", "pods metric X"
    status: Obj  # its entry of status.currentMetrics


def quantity(milli: int) -> str:
    """Thousandths as a canonical quantity string ("153m", "2")."""
    return str(Quantity(Decimal(milli).scaleb(-3)))


def _ready_condition(pod: Obj) -> Obj | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or []
                 if isinstance(c, dict) and c.get("type") == "Ready"), None)


def group(pods: list[Obj], values: dict[str, int], samples: dict[str, Obj], *, cpu: bool,
          now: float, config: HpaConfig) -> tuple[int, set[str], set[str], set[str]]:
    """(ready pods with a value, unready uids, missing uids, ignored uids), as groupPods."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        uid = pod["metadata"]["uid"]
        status = pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(uid)
            continue
        if status.get("phase") == "Pending":
            unready.add(uid)
            continue
        if uid not in values:
            missing.add(uid)
            continue
        if cpu and _cpu_unready(pod, samples[uid], now, config):
            unready.add(uid)
            continue
        ready += 1
    return ready, unready, missing, ignored


def _cpu_unready(pod: Obj, sample: Obj, now: float, config: HpaConfig) -> bool:
    """A running pod whose CPU is not yet telling: starting up, or never ready."""
    cond = _ready_condition(pod)
    start = time_or_none((pod.get("status") or {}).get("startTime"))
    changed = time_or_none(cond.get("lastTransitionTime")) if cond else None
    if cond is None or start is None or changed is None:
        return True
    if start.timestamp() + config.cpu_initialization_s > now:
        window = float(sample.get("windowSeconds") or 0.0)
        return cond.get("status") == "False" or float(sample["time"]) < changed.timestamp() + window
    never_ready = start.timestamp() + config.initial_readiness_delay_s > changed.timestamp()
    return cond.get("status") == "False" and never_ready


def requests_of(pods: list[Obj], resource: str) -> dict[str, int]:
    """uid -> the pod's request of `resource` in thousandths; every container must have one."""
    out = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            request = container_requests(c).get(resource)
            if request is None:
                raise ValueError(f"missing request for {resource} in container {c.get('name')} "
                                 f"of Pod {pod['metadata']['name']}")
            total += request.milli_value()
        out[pod["metadata"]["uid"]] = total
    return out


def _within(ratio: float, config: HpaConfig) -> bool:
    return 1.0 - config.tolerance <= ratio <= 1.0 + config.tolerance


def _utilization(metrics: dict[str, int], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    """(ratio to the target, integer utilization %, mean raw value), as GetResourceUtilizationRatio."""
    used = sum(v for uid, v in metrics.items() if uid in requests)
    asked = sum(requests[uid] for uid in metrics if uid in requests)
    if asked == 0:
        raise ValueError("no metrics returned matched known pods")
    utilization = used * 100 // asked
    return utilization / target, utilization, used // len(metrics)


def _usage(metrics: dict[str, int], target: int) -> tuple[float, int]:
    usage = sum(metrics.values()) // len(metrics)
    return usage / target, usage


def resource_replicas(current: int, target_pct: int, resource: str, pods: list[Obj],
                      values: dict[str, int], samples: dict[str, Obj], *, now: float,
                      config: HpaConfig) -> tuple[int, int, int]:
    """(replicas, utilization %, mean raw value) for a Utilization target, as GetResourceReplicas."""
    ready, unready, missing, ignored = group(pods, values, samples, cpu=resource == "cpu", now=now,
                                             config=config)
    metrics = {uid: v for uid, v in values.items() if uid not in ignored and uid not in unready}
    if not metrics:
        raise ValueError("did not receive metrics for targeted pods (pods might be unready)")
    requests = requests_of(pods, resource)
    ratio, utilization, raw = _utilization(metrics, requests, target_pct)
    up_with_unready = bool(unready) and ratio > 1.0
    if not up_with_unready and not missing:
        if _within(ratio, config):
            return current, utilization, raw
        return math.ceil(ratio * ready), utilization, raw
    if missing:
        if ratio < 1.0:
            fallback = max(100, target_pct)
            metrics.update({uid: requests[uid] * fallback // 100 for uid in missing})
        elif ratio > 1.0:
            metrics.update(dict.fromkeys(missing, 0))
    if up_with_unready:
        metrics.update(dict.fromkeys(unready, 0))
    new_ratio, _, _ = _utilization(metrics, requests, target_pct)
    if _within(new_ratio, config) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current, utilization, raw
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, utilization, raw
    return replicas, utilization, raw


def plain_replicas(current: int, target: int, pods: list[Obj], values: dict[str, int],
                   samples: dict[str, Obj], *, cpu: bool, now: float, config: HpaConfig) -> tuple[int, int]:
    """(replicas, mean value) for an AverageValue target, as calcPlainMetricReplicas."""
    ready, unready, missing, ignored = group(pods, values, samples, cpu=cpu, now=now, config=config)
    metrics = {uid: v for uid, v in values.items() if uid not in ignored and uid not in unready}
    if not metrics:
        raise ValueError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = _usage(metrics, target)
    up_with_unready = bool(unready) and ratio > 1.0
    if not up_with_unready and not missing:
        if _within(ratio, config):
            return current, usage
        return math.ceil(ratio * ready), usage
    if missing:
        if ratio < 1.0:
            metrics.update(dict.fromkeys(missing, target))
        elif ratio > 1.0:
            metrics.update(dict.fromkeys(missing, 0))
    if up_with_unready:
        metrics.update(dict.fromkeys(unready, 0))
    new_ratio, _ = _usage(metrics, target)
    if _within(new_ratio, config) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current, usage
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, usage
    return replicas, usage


def _values(key: str, pods: list[Obj], samples: dict[str, Obj]) -> dict[str, int]:
    """uid -> the pod's value of `key` ("cpu", "memory", GPU_METRIC) in thousandths."""
    out = {}
    for pod in pods:
        sample = samples.get(pod["metadata"]["uid"])
        if sample is None:
            continue
        raw = {"cpu": sample.get("cpuMilli"), "memory": sample.get("memoryBytes"),
               GPU_METRIC: sample.get("gpuPercent")}.get(key)
        if raw is not None:
            out[pod["metadata"]["uid"]] = int(raw) if key == "cpu" else int(raw * 1000)
    return out


def _no_values(key: str, pods: list[Obj], samples: dict[str, Obj], why_none: str | None) -> str:
    if why_none:
        return why_none
    if key == GPU_METRIC:
        reasons = [s["gpuMissing"] for s in samples.values() if s.get("gpuMissing")]
        if reasons:
            return f"no {GPU_METRIC} for the targeted pods: {reasons[0]}"
    if not pods:
        return "no pods match the target's selector"
    return "did not receive metrics for targeted pods (pods might be unready)"


def propose(metric: Obj, current: int, pods: list[Obj], samples: dict[str, Obj], *, now: float,
            config: HpaConfig, why_none: str | None = None) -> Proposal:
    """One metric's proposal, or MetricError. `why_none`: why no pod has samples at all."""
    mtype = metric.get("type")
    if mtype == "Resource":
        source = metric.get("resource") or {}
        resource, target = str(source.get("name")), source.get("target") or {}
        values = _values(resource, pods, samples)
        try:
            if resource not in ("cpu", "memory"):
                raise ValueError(f"tugboat samples cpu and memory, not {resource}")
            if not values:
                raise ValueError(_no_values(resource, pods, samples, why_none))
            if target.get("averageValue") is not None:
                goal = parse_quantity(target["averageValue"]).milli_value()
                replicas, usage = plain_replicas(current, goal, pods, values, samples,
                                                 cpu=resource == "cpu", now=now, config=config)
                current_value = {"averageValue": quantity(usage)}
                return Proposal(replicas, f"{resource} resource", {
                    "type": "Resource", "resource": {"name": resource, "current": current_value}})
            pct = int(target.get("averageUtilization") or 0)
            if pct <= 0:
                raise ValueError("invalid resource metric source: neither a utilization target "
                                 "nor a value target was set")
            replicas, utilization, raw = resource_replicas(current, pct, resource, pods, values, samples,
                                                           now=now, config=config)
            return Proposal(replicas, f"{resource} resource utilization (percentage of request)", {
                "type": "Resource", "resource": {"name": resource, "current": {
                    "averageUtilization": utilization, "averageValue": quantity(raw)}}})
        except ValueError as exc:
            raise MetricError("FailedGetResourceMetric", str(exc),
                              f"failed to get {resource} utilization: {exc}") from None
    if mtype == "Pods":
        source = metric.get("pods") or {}
        name = str((source.get("metric") or {}).get("name"))
        target = source.get("target") or {}
        try:
            if name != GPU_METRIC:
                raise ValueError(f"unable to get metric {name}: tugboat serves one pods metric, {GPU_METRIC}")
            values = _values(name, pods, samples)
            if not values:
                raise ValueError(_no_values(name, pods, samples, why_none))
            goal = parse_quantity(target.get("averageValue") or "0").milli_value()
            if goal <= 0:
                raise ValueError("the target's averageValue must be above 0")
            replicas, usage = plain_replicas(current, goal, pods, values, samples, cpu=False, now=now,
                                             config=config)
            current_value = {"averageValue": quantity(usage)}
            return Proposal(replicas, f"pods metric {name}", {
                "type": "Pods", "pods": {"metric": {"name": name}, "current": current_value}})
        except ValueError as exc:
            raise MetricError("FailedGetPodsMetric", str(exc),
                              f"failed to get pods metric value: {exc}") from None
    unsupported = {
        "ContainerResource": ("FailedGetContainerResourceMetric",
                              "tugboat samples whole pods, not single containers: use a Resource metric"),
        "Object": ("FailedGetObjectMetric", "tugboat serves no custom metrics API"),
        "External": ("FailedGetExternalMetric", "tugboat serves no external metrics API")}
    reason, detail = unsupported.get(
        str(mtype), ("InvalidMetricSourceType", f"unknown metric source type {mtype!r}"))
    raise MetricError(reason, detail, f"failed to get {str(mtype).lower()} metric: {detail}")
