"""The HorizontalPodAutoscaler planner: from an HPA, its target's scale, the target's pods,
their samples, the HPA's recent history and the time, the replica count to set and the HPA's
status and events, as Kubernetes' reconcileAutoscaler (reference k8s-semantics §7): the max
over the metrics, stabilization, scale-up limit or `behavior` policies, min/max, and the
conditions AbleToScale, ScalingActive and ScalingLimited. Pure: no store, no clock but `now`."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.clock import format_time
from workloads.hpa_metrics import HpaConfig, MetricError, propose

Obj = dict[str, Any]
MAX_PERIOD_S = 1800  # the longest policy period the API accepts: older scale events count nowhere
SAID = {  # each reason of AbleToScale and ScalingLimited with Kubernetes' message
    "ScaleUpLimit": "the desired replica count is increasing faster than the maximum scale rate",
    "ScaleDownLimit": "the desired replica count is decreasing faster than the maximum scale rate",
    "TooManyReplicas": "the desired replica count is more than the maximum replica count",
    "TooFewReplicas": "the desired replica count is less than the minimum replica count",
    "DesiredWithinRange": "the desired count is within the acceptable range",
    "ScaleUpStabilized": "recent recommendations were lower than current one, applying the lowest "
                         "recent recommendation",
    "ScaleDownStabilized": "recent recommendations were higher than current one, applying the "
                           "highest recent recommendation",
    "ReadyForNewScale": "recommended size matches current size",
}


@dataclass
class History:
    """What one HPA remembers between syncs (in memory, as Kubernetes does): its recent
    recommendations and, with `behavior`, the scale changes it made, as (time, number)."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    ups: list[tuple[float, int]] = field(default_factory=list)
    downs: list[tuple[float, int]] = field(default_factory=list)

    def scaled(self, now: float, before: int, after: int) -> None:
        """Record a rescale the controller made (only HPAs with `behavior` count them)."""
        cutoff = now - MAX_PERIOD_S
        self.ups = [e for e in self.ups if e[0] > cutoff]
        self.downs = [e for e in self.downs if e[0] > cutoff]
        if after > before:
            self.ups.append((now, after - before))
        elif after < before:
            self.downs.append((now, before - after))


@dataclass(frozen=True)
class Scale:
    """The target's scale subresource, as far as the HPA reads it."""

    replicas: int  # spec.replicas
    selector: Obj | None  # spec.selector (a LabelSelector)


@dataclass
class HpaPlan:
    replicas: int | None  # the target's new spec.replicas (None: leave it)
    status: Obj
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    before: int = 0  # the target's replicas this plan started from


def set_condition(status: Obj, ctype: str, state: bool, reason: str, message: str, now: datetime) -> None:
    """Set one HPA condition; its transition time moves only when its status does."""
    conditions = status.setdefault("conditions", [])
    text = "True" if state else "False"
    for c in conditions:
        if c.get("type") == ctype:
            if c.get("status") != text:
                c["lastTransitionTime"] = format_time(now)
            c.update(status=text, reason=reason, message=message)
            return
    conditions.append({"type": ctype, "status": text, "lastTransitionTime": format_time(now),
                       "reason": reason, "message": message})
    order = {"AbleToScale": 0, "ScalingActive": 1, "ScalingLimited": 2}
    conditions.sort(key=lambda c: order.get(str(c.get("type")), 3))


def rescale_failed(plan: HpaPlan, error: str, now: datetime) -> None:
    """The target refused the new replica count: say so as Kubernetes does."""
    reason = next((m.split("reason: ", 1)[1] for t, r, m in plan.events if r == "SuccessfulRescale"), "")
    plan.events = [e for e in plan.events if e[1] != "SuccessfulRescale"]
    plan.events.append(("Warning", "FailedRescale",
                        f"New size: {plan.replicas}; reason: {reason}; error: {error}"))
    set_condition(plan.status, "AbleToScale", False, "FailedUpdateScale",
                  f"the HPA controller was unable to update the target scale: {error}", now)
    plan.status["desiredReplicas"] = plan.before
    plan.replicas = None


def scale_unknown(hpa: Obj, error: str, now: datetime) -> HpaPlan:
    """The target cannot be read (absent, or a kind without a scale)."""
    status = copy.deepcopy(hpa.get("status") or {})
    set_condition(status, "AbleToScale", False, "FailedGetScale",
                  f"the HPA controller was unable to get the target's current scale: {error}", now)
    status.setdefault("currentReplicas", 0)
    status.setdefault("desiredReplicas", 0)
    return HpaPlan(None, status, [("Warning", "FailedGetScale", error)])


def plan(hpa: Obj, scale: Scale, pods: list[Obj], samples: dict[str, Obj], history: History,
         now: datetime, config: HpaConfig | None = None, *, why_none: str | None = None) -> HpaPlan:
    """One sync. `history` is updated with this sync's recommendation; the controller calls
    `history.scaled` once the rescale is written. `why_none`: why no pod has samples at all."""
    config = config or HpaConfig()
    spec = hpa.get("spec") or {}
    status = copy.deepcopy(hpa.get("status") or {})
    status.pop("currentMetrics", None)
    events: list[tuple[str, str, str]] = []
    t = now.timestamp()
    current = scale.replicas
    if not history.recommendations:
        history.recommendations.append((t, current))
    low, high = int(spec.get("minReplicas", 1)), int(spec.get("maxReplicas", 1))
    desired, reason, rescale = 0, "", True
    if current == 0 and low != 0:
        rescale = False
        set_condition(status, "ScalingActive", False, "ScalingDisabled",
                      "scaling is disabled since the replica count of the target is zero", now)
    elif current > high:
        reason, desired = "Current number of replicas above Spec.MaxReplicas", high
    elif current < low:
        reason, desired = "Current number of replicas below Spec.MinReplicas", low
    else:
        proposed, name, metrics = _for_metrics(spec, scale, current, pods, samples, status, events, t,
                                               config, why_none, now)
        if metrics:
            status["currentMetrics"] = metrics
        if proposed < 0:
            status["currentReplicas"] = current
            status.setdefault("desiredReplicas", current)
            return HpaPlan(None, status, events, current)
        desired = proposed
        if desired > current:
            reason = f"{name} above target"
        elif desired < current:
            reason = "All metrics below target"
        if spec.get("behavior") is None:
            desired = _normalize(status, history, current, desired, low, high, t, config, now)
        else:
            desired = _normalize_behavior(status, history, spec["behavior"], current, desired, low, high,
                                          t, config, now)
        rescale = desired != current
    if rescale:
        set_condition(status, "AbleToScale", True, "SucceededRescale",
                      f"the HPA controller was able to update the target scale to {desired}", now)
        events.append(("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}"))
        status["lastScaleTime"] = format_time(now)
    else:
        desired = current
    status["currentReplicas"] = current
    status["desiredReplicas"] = desired
    if hpa["metadata"].get("generation") is not None:
        status["observedGeneration"] = hpa["metadata"]["generation"]
    return HpaPlan(desired if rescale else None, status, events, current)


def _for_metrics(spec: Obj, scale: Scale, current: int, pods: list[Obj], samples: dict[str, Obj],
                 status: Obj, events: list[tuple[str, str, str]], t: float, config: HpaConfig,
                 why_none: str | None, now: datetime) -> tuple[int, str, list[Obj]]:
    """(the largest proposal or -1, the metric behind it, status.currentMetrics), as
    computeReplicasForMetrics; conditions and events go to `status` and `events`."""
    if not scale.selector:
        set_condition(status, "ScalingActive", False, "InvalidSelector",
                      "the HPA target's scale is missing a selector", now)
        events.append(("Warning", "SelectorRequired", "selector is required"))
        return -1, "", []
    metrics: list[Obj] = spec.get("metrics") or []
    replicas, name, statuses, invalid = 0, "", [], []
    for metric in metrics:
        try:
            proposal = propose(metric, current, pods, samples, now=t, config=config, why_none=why_none)
        except MetricError as exc:
            statuses.append({"type": ""})
            events.append(("Warning", exc.reason, exc.detail))
            invalid.append(exc)
            continue
        statuses.append(proposal.status)
        if replicas == 0 or proposal.replicas > replicas:
            replicas, name = proposal.replicas, proposal.name
    if invalid:
        events.append(("Warning", "FailedComputeMetricsReplicas",
                       f"invalid metrics ({len(invalid)} invalid out of {len(metrics)}), first error is: "
                       f"{invalid[0].wrapped}"))
    if len(invalid) >= len(metrics) or (invalid and replicas < current):
        first = invalid[0] if invalid else MetricError("InvalidMetricSourceType", "no metrics", "no metrics")
        set_condition(status, "ScalingActive", False, first.reason,
                      f"the HPA was unable to compute the replica count: {first.detail}", now)
        return -1, "", statuses
    set_condition(status, "ScalingActive", True, "ValidMetricFound",
                  f"the HPA was able to successfully calculate a replica count from {name}", now)
    return replicas, name, statuses


def _limit(status: Obj, stabilized: int, low: int, high: int, up_limit: int, now: datetime) -> int:
    """Clamp to [low, min(high, up_limit)] and set ScalingLimited (convertDesiredReplicasWithRules)."""
    top, why = (up_limit, "ScaleUpLimit") if high > up_limit else (high, "TooManyReplicas")
    if stabilized < low:
        out, why = low, "TooFewReplicas"
    elif stabilized > top:
        out = top
    else:
        out, why = stabilized, "DesiredWithinRange"
    set_condition(status, "ScalingLimited", out != stabilized, why, SAID[why], now)
    return out


def _stabilized(status: Obj, stabilized: int, desired: int, *, down: bool, now: datetime) -> None:
    """AbleToScale after stabilization: did a window hold the recommendation back?"""
    why = ("ReadyForNewScale" if stabilized == desired
           else "ScaleDownStabilized" if down else "ScaleUpStabilized")
    set_condition(status, "AbleToScale", True, why, SAID[why], now)


def _normalize(status: Obj, history: History, current: int, desired: int, low: int, high: int,
               t: float, config: HpaConfig, now: datetime) -> int:
    """Without `behavior`: the highest recommendation of the stabilization window, then the
    scale-up limit max(2 × current, 4) and min/max."""
    cutoff = t - config.downscale_stabilization_s
    recent = [r for r in history.recommendations if r[0] >= cutoff]
    stabilized = max([desired, *(n for _, n in recent)])
    history.recommendations = [*recent, (t, desired)]
    _stabilized(status, stabilized, desired, down=True, now=now)  # the window holds back only scale-downs
    return _limit(status, stabilized, low, high, max(2 * current, 4), now)


def _changed_within(events: list[tuple[float, int]], period: float, t: float) -> int:
    return sum(n for when, n in events if when > t - period)


def _rate_limit(rules: Obj, current: int, history: History, t: float, *, up: bool) -> int:
    """The furthest the policies let the count go from `current` now (calculateScale*Limit*)."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _changed_within(history.ups, period, t) + _changed_within(history.downs, period, t)
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposals.append(start + value if up else start - value)
        elif up:
            proposals.append(-(-start * (100 + value) // 100))  # ceil(start × (1 + v/100))
        else:
            proposals.append(int(start * (100 - value) / 100))  # trunc(start × (1 − v/100))
    if not proposals:
        return current
    # scale-up: Max takes the largest; scale-down: Max allows the most change, the lowest
    if up:
        return max(proposals) if select == "Max" else min(proposals)
    return min(proposals) if select == "Max" else max(proposals)


def _normalize_behavior(status: Obj, history: History, behavior: Obj, current: int, desired: int,
                        low: int, high: int, t: float, config: HpaConfig, now: datetime) -> int:
    """With `behavior`: stabilize between the windows' recommendations, then the policies' rate
    limits and min/max (normalizeDesiredReplicasWithBehaviors)."""
    up_rules, down_rules = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
    up_window = float(up_rules.get("stabilizationWindowSeconds") or 0)
    down_window = down_rules.get("stabilizationWindowSeconds")
    down_window = config.downscale_stabilization_s if down_window is None else float(down_window)
    up_rec = down_rec = desired
    for when, n in history.recommendations:
        if when > t - up_window:
            up_rec = min(up_rec, n)
        if when > t - down_window:
            down_rec = max(down_rec, n)
    stabilized = min(max(current, up_rec), down_rec)
    history.recommendations = [r for r in history.recommendations
                               if r[0] >= t - up_window or r[0] >= t - down_window] + [(t, desired)]
    _stabilized(status, stabilized, desired, down=desired < current, now=now)
    out, why = stabilized, "DesiredWithinRange"
    if stabilized > current:
        limit = max(_rate_limit(up_rules, current, history, t, up=True), current)
        top, why_top = (limit, "ScaleUpLimit") if high > limit else (high, "TooManyReplicas")
        if stabilized > top:
            out, why = top, why_top
    elif stabilized < current:
        limit = min(_rate_limit(down_rules, current, history, t, up=False), current)
        bottom, why_low = (limit, "ScaleDownLimit") if low < limit else (low, "TooFewReplicas")
        if stabilized < bottom:
            out, why = bottom, why_low
    set_condition(status, "ScalingLimited", out != stabilized, why, SAID[why], now)
    return out
