"""The HPA planner against the reference's vectors (k8s-semantics §7): tolerance, integer
utilization, unready and missing pods, stabilization, the scale-up limit and behavior policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.api.defaults import default_hpa
from engine.clock import format_time
from workloads.hpa import History, Scale, plan, rescale_failed
from workloads.hpa_metrics import GPU_METRIC, HpaConfig

NOW = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
LONG_AGO = format_time(NOW - timedelta(hours=1))
SELECTOR = {"matchLabels": {"app": "web"}}


def hpa(*, low: int = 1, high: int = 100, metrics: list[dict[str, Any]] | None = None,
        behavior: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                           "metadata": {"name": "web", "namespace": "default", "generation": 1},
                           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                       "name": "web"},
                                    "minReplicas": low, "maxReplicas": high,
                                    "metrics": metrics or [cpu(50)]}}
    if behavior is not None:
        obj["spec"]["behavior"] = behavior
    default_hpa(obj)
    return obj


def cpu(percent: int) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": percent}}}


def pod(i: int, *, request: str | None = "100m", phase: str = "Running", ready: str = "True",
        started: str = LONG_AGO, ready_at: str = LONG_AGO) -> dict[str, Any]:
    resources = {"requests": {"cpu": request}} if request else {}
    return {"metadata": {"name": f"web-{i}", "namespace": "default", "uid": f"u{i}"},
            "spec": {"containers": [{"name": "c", "resources": resources}]},
            "status": {"phase": phase, "startTime": started,
                       "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": ready_at}]}}


def sample(milli: int, *, at: datetime = NOW, **more: Any) -> dict[str, Any]:
    return {"cpuMilli": milli, "memoryBytes": 0, "time": at.timestamp(), "windowSeconds": 2.0, **more}


def loaded(usages: list[int | None], **kw: Any) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Pods web-0.. with these CPU usages (millicores; None: no sample)."""
    pods = [pod(i, **kw) for i in range(len(usages))]
    return pods, {f"u{i}": sample(u) for i, u in enumerate(usages) if u is not None}


def run(obj: dict[str, Any], current: int, usages: list[int | None], *, history: History | None = None,
        now: datetime = NOW, **kw: Any):  # noqa: ANN201 - an HpaPlan
    pods, samples = loaded(usages, **kw)
    return plan(obj, Scale(current, SELECTOR), pods, samples, history or History(), now)


def condition(result: Any, ctype: str) -> dict[str, Any]:
    return next(c for c in result.status["conditions"] if c["type"] == ctype)


def aged() -> History:
    """A history whose only recommendation is older than the 300 s window."""
    return History(recommendations=[((NOW - timedelta(seconds=301)).timestamp(), 10)])


def test_three_pods_at_90_percent_become_six() -> None:
    result = run(hpa(), 3, [90, 90, 90])
    assert result.replicas == 6
    assert result.status["desiredReplicas"] == 6 and result.status["currentReplicas"] == 3
    assert result.status["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 90, "averageValue": "90m"}}}]
    said = "New size: 6; reason: cpu resource utilization (percentage of request) above target"
    assert ("Normal", "SuccessfulRescale", said) in result.events
    assert condition(result, "ScalingActive")["reason"] == "ValidMetricFound"
    assert condition(result, "AbleToScale")["reason"] == "SucceededRescale"
    assert condition(result, "ScalingLimited")["status"] == "False"
    assert result.status["lastScaleTime"] == format_time(NOW)


@pytest.mark.parametrize(("count", "usage", "want"), [
    (3, 54, None),  # ratio 1.08: within the tolerance
    (10, 55, None),  # ratio 1.1: the tolerance is inclusive
    (10, 56, 12),  # ratio 1.12 -> ceil(11.2)
    (10, 44, None),  # 0.88 -> 9, but the first sync's own recommendation (10) holds for 300 s
])
def test_tolerance_and_the_first_window(count: int, usage: int, want: int | None) -> None:
    assert run(hpa(), count, [usage] * count).replicas == want


def test_scale_down_waits_for_the_window() -> None:
    held = History(recommendations=[((NOW - timedelta(seconds=100)).timestamp(), 10)])
    result = run(hpa(), 10, [44] * 10, history=held)
    assert result.replicas is None
    assert condition(result, "AbleToScale")["reason"] == "ScaleDownStabilized"
    assert run(hpa(), 10, [44] * 10, history=aged()).replicas == 9
    assert run(hpa(), 10, [20] * 10, history=aged()).replicas == 4
    floored = run(hpa(low=5), 10, [20] * 10, history=aged())
    assert floored.replicas == 5
    limited = condition(floored, "ScalingLimited")
    assert (limited["status"], limited["reason"]) == ("True", "TooFewReplicas")


def test_the_scale_up_limit_without_behavior() -> None:
    one = run(hpa(high=30), 1, [1000])  # desired 20; max(2 × 1, 4) = 4
    assert one.replicas == 4
    assert condition(one, "ScalingLimited")["reason"] == "ScaleUpLimit"
    ten = run(hpa(high=50), 10, [500] * 10)  # desired 100; max(20, 4) = 20 < 50
    assert ten.replicas == 20
    capped = run(hpa(high=15), 10, [500] * 10)
    assert capped.replicas == 15 and condition(capped, "ScalingLimited")["reason"] == "TooManyReplicas"


def test_the_default_behavior_policies() -> None:
    assert run(hpa(high=200, behavior={}), 10, [500] * 10).replicas == 20  # max(10 + 4, 10 × 2)
    assert run(hpa(high=200, behavior={}), 2, [1000] * 2).replicas == 6  # max(2 + 4, 2 × 2)


def test_missing_pods_count_against_the_direction() -> None:
    # 2 ready at 100% and 2 without samples: 2.0 at first, then 200/400 = 50% -> ratio 1.0
    assert run(hpa(), 4, [100, 100, None, None]).replicas is None


def test_missing_pod_fill_in_is_exact() -> None:
    history = History(recommendations=[((NOW - timedelta(seconds=301)).timestamp(), 4)])
    result = run(hpa(), 4, [10, 10, 10, None], history=history)
    # scaling down, a missing pod counts at its request: first 30/300 = 10% (ratio 0.2), then
    # 130/400 = 32% -> 0.64
    assert result.replicas == 3  # ceil(0.64 × 4) = ceil(2.56)


def test_unready_pods_count_zero_when_scaling_up() -> None:
    pods, samples = loaded([100, 100])
    pods += [pod(2, phase="Pending"), pod(3, phase="Pending")]
    assert plan(hpa(), Scale(4, SELECTOR), pods, samples, History(), NOW).replicas is None


def test_integer_utilization() -> None:
    result = run(hpa(), 1, [100], request="300m")
    assert result.status["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 33
    assert result.replicas is None  # ratio 0.66, but the first sync's recommendation holds


def test_a_starting_pods_cpu_is_not_yet_telling() -> None:
    just = format_time(NOW - timedelta(seconds=10))
    pods, samples = loaded([900], started=just, ready_at=just)
    fresh, samples_fresh = loaded([90])
    pods[0]["metadata"]["uid"] = "new"
    samples = {"new": sample(900, at=NOW - timedelta(seconds=9)), **samples_fresh}  # before ready + window
    result = plan(hpa(high=10), Scale(2, SELECTOR), [*fresh, *pods], samples, History(), NOW)
    # only web-0 (90%) counts; the new pod is unready and counts 0 on the way up: (90 + 0)/200 = 45%
    assert result.replicas is None


def test_never_ready_pods_are_unready_for_cpu() -> None:
    late = format_time(NOW - timedelta(minutes=50))  # turned unready 10 minutes after it started
    pods, samples = loaded([500], ready="False", ready_at=late)
    result = plan(hpa(), Scale(1, SELECTOR), pods, samples, History(), NOW)
    # it was ready once, so its sample counts
    assert result.replicas == 4  # ratio 10 -> 10, limited to max(2, 4)
    early = format_time(NOW - timedelta(minutes=59, seconds=50))  # within 30 s of its start
    pods, samples = loaded([500], ready="False", ready_at=early)
    result = plan(hpa(), Scale(1, SELECTOR), pods, samples, History(), NOW)
    assert result.replicas is None
    assert condition(result, "ScalingActive")["reason"] == "FailedGetResourceMetric"


def test_a_pod_without_a_request_says_which() -> None:
    result = run(hpa(), 2, [50, 50], request=None)
    active = condition(result, "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == ("the HPA was unable to compute the replica count: missing request "
                                 "for cpu in container c of Pod web-0")
    assert ("Warning", "FailedComputeMetricsReplicas",
            "invalid metrics (1 invalid out of 1), first error is: failed to get cpu utilization: "
            "missing request for cpu in container c of Pod web-0") in result.events
    assert result.replicas is None and result.status["currentReplicas"] == 2


def test_gpu_utilization_metric() -> None:
    gpu = {"type": "Pods", "pods": {"metric": {"name": GPU_METRIC},
                                    "target": {"type": "AverageValue", "averageValue": "50"}}}
    pods, _ = loaded([0, 0])
    busy = {f"u{i}": sample(0, gpuPercent=95.0) for i in range(2)}
    result = plan(hpa(high=10, metrics=[gpu]), Scale(2, SELECTOR), pods, busy, History(), NOW)
    assert result.replicas == 4  # 95/50 = 1.9 -> ceil(3.8)
    assert result.status["currentMetrics"][0] == {"type": "Pods", "pods": {
        "metric": {"name": GPU_METRIC}, "current": {"averageValue": "95"}}}
    simulated = {f"u{i}": sample(0, gpuMissing="the GPUs of node n are simulated and report no "
                                             "utilization") for i in range(2)}
    result = plan(hpa(high=10, metrics=[gpu]), Scale(2, SELECTOR), pods, simulated, History(), NOW)
    active = condition(result, "ScalingActive")
    assert active["reason"] == "FailedGetPodsMetric" and "simulated" in active["message"]
    assert result.replicas is None


def test_the_max_over_metrics_and_a_failing_one() -> None:
    memory = {"type": "Resource", "resource": {"name": "memory", "target": {
        "type": "AverageValue", "averageValue": "100Mi"}}}
    external = {"type": "External", "external": {"metric": {"name": "q"},
                                                 "target": {"type": "Value", "value": "1"}}}
    obj = hpa(high=10, metrics=[cpu(50), memory, external])
    pods, samples = loaded([60, 60])
    for s in samples.values():
        s["memoryBytes"] = 175 * 2**20
    result = plan(obj, Scale(2, SELECTOR), pods, samples, History(), NOW)
    assert result.replicas == 4  # memory ceil(1.75 × 2) beats cpu ceil(1.2 × 2) = 3
    said = "New size: 4; reason: memory resource above target"
    assert ("Normal", "SuccessfulRescale", said) in result.events
    assert result.status["currentMetrics"][2] == {"type": ""}
    assert ("Warning", "FailedGetExternalMetric", "tugboat serves no external metrics API") in result.events
    assert condition(result, "ScalingActive")["status"] == "True"  # some metric works, scaling up


def test_replicas_outside_min_max_and_zero() -> None:
    over = run(hpa(high=3), 5, [50] * 5)
    assert over.replicas == 3
    assert ("Normal", "SuccessfulRescale",
            "New size: 3; reason: Current number of replicas above Spec.MaxReplicas") in over.events
    assert run(hpa(low=2), 1, [50]).replicas == 2
    zero = run(hpa(), 0, [])
    assert zero.replicas is None
    assert condition(zero, "ScalingActive")["reason"] == "ScalingDisabled"


def test_scale_down_policies_count_what_the_period_already_removed() -> None:
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 0, "policies": [
        {"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    history = History()
    first = run(hpa(behavior=behavior), 5, [5] * 5, history=history)
    assert first.replicas == 4
    assert condition(first, "ScalingLimited")["reason"] == "ScaleDownLimit"
    history.scaled(NOW.timestamp(), 5, 4)
    later = NOW + timedelta(seconds=10)
    again = run(hpa(behavior=behavior), 4, [5] * 4, history=history, now=later)
    assert again.replicas is None  # the period started at 5 and already lost its one pod
    after = run(hpa(behavior=behavior), 4, [5] * 4, history=history, now=NOW + timedelta(seconds=61))
    assert after.replicas == 3


def test_scale_up_window_takes_the_lowest_recent_recommendation() -> None:
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 60}}
    history = History(recommendations=[((NOW - timedelta(seconds=30)).timestamp(), 2)])
    result = run(hpa(behavior=behavior), 2, [100, 100], history=history)
    assert result.replicas is None
    assert condition(result, "AbleToScale")["reason"] == "ScaleUpStabilized"


def test_a_refused_rescale_is_said() -> None:
    result = run(hpa(), 3, [90, 90, 90])
    rescale_failed(result, "the object has been modified", NOW)
    assert result.replicas is None and result.status["desiredReplicas"] == 3
    assert condition(result, "AbleToScale")["reason"] == "FailedUpdateScale"
    assert [e[1] for e in result.events] == ["FailedRescale"]


def test_config_tolerance_is_honoured() -> None:
    pods, samples = loaded([60, 60])
    loose = plan(hpa(), Scale(2, SELECTOR), pods, samples, History(), NOW, HpaConfig(tolerance=0.25))
    assert loose.replicas is None  # ratio 1.2 is within 0.25
