"""`tug describe hpa`: each metric as current / target, the counts, and the conditions that
say why it scales or cannot (kubectl's layout)."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.printers.describe_kinds import describe
from tests.workloads.test_hpa_plan import hpa, run


def test_describe_says_metrics_counts_and_why() -> None:
    obj = hpa(high=10)
    obj["status"] = run(obj, 3, [90, 90, 90]).status
    text = describe("horizontalpodautoscalers", obj, events=[], now=datetime.now(UTC))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "Reference: Deployment/web" in lines
    assert "resource cpu on pods (as a percentage of request): 90% (90m) / 50%" in lines
    assert "Deployment pods: 3 current / 6 desired" in lines
    assert any(line.startswith("ScalingActive True ValidMetricFound the HPA was able") for line in lines)


def test_describe_without_samples_says_unknown() -> None:
    obj = hpa(high=10)
    obj["status"] = run(obj, 2, [None, None]).status
    text = describe("horizontalpodautoscalers", obj, events=[], now=datetime.now(UTC))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "resource cpu on pods (as a percentage of request): <unknown> / 50%" in lines
    assert any(line.startswith("ScalingActive False FailedGetResourceMetric") for line in lines)
