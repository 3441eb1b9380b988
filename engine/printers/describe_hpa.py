"""`kubectl describe hpa` text: the target, each metric as current / target, the replica
bounds and counts, the behavior, and the conditions that say why it scales or cannot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.printers.fmt import Obj, scalar
from engine.printers.writer import PrefixWriter, clean, write_events, write_metadata

UNKNOWN = "<unknown>"
_KEYS = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
         "Object": "object", "External": "external"}


def _metric_line(spec: Obj, status: Obj | None) -> tuple[str, str]:
    """(label, "current / target") for one metric, as kubectl words them."""
    mtype = str(spec.get("type"))
    key = _KEYS.get(mtype, "")
    source: Obj = spec.get(key) or {}
    target: Obj = source.get("target") or {}
    current: Obj = ((status or {}).get(key) or {}).get("current") or {}
    if mtype in ("Resource", "ContainerResource"):
        where = f"resource {source.get('name')}"
        if mtype == "ContainerResource":
            where += f" of container \"{source.get('container')}\""
        if target.get("averageValue") is not None:
            now_value = scalar(current.get("averageValue")) or UNKNOWN
            return f"{where} on pods", f"{now_value} / {scalar(target['averageValue'])}"
        util = current.get("averageUtilization")
        now_value = UNKNOWN if util is None else f"{util}% ({scalar(current.get('averageValue'))})"
        return f"{where} on pods  (as a percentage of request)", \
            f"{now_value} / {target.get('averageUtilization')}%"
    name = (source.get("metric") or {}).get("name")
    now_value = scalar(current.get("averageValue") or current.get("value")) or UNKNOWN
    goal = scalar(target.get("averageValue") or target.get("value"))
    where = {"Pods": "on pods", "Object": "on " + str((source.get("describedObject") or {}).get("kind")),
             "External": "(external metric)"}.get(mtype, "")
    return f"\"{name}\" {where}", f"{now_value} / {goal}"


def _behavior(w: PrefixWriter, behavior: Obj) -> None:
    w.write(0, "Behavior:\n")
    for key, title in (("scaleUp", "Scale Up"), ("scaleDown", "Scale Down")):
        rules: Obj = behavior.get(key) or {}
        w.write(1, f"{title}:\n")
        window = rules.get("stabilizationWindowSeconds")
        w.write(2, f"Stabilization Window: {'<default>' if window is None else f'{window} seconds'}\n")
        w.write(2, f"Select Policy: {clean(rules.get('selectPolicy') or 'Max')}\n")
        w.write(2, "Policies:\n")
        for policy in rules.get("policies") or []:
            w.write(3, f"- Type: {clean(policy.get('type'))}  Value: {clean(policy.get('value'))}  "
                       f"Period: {clean(policy.get('periodSeconds'))} seconds\n")


def describe_hpa(hpa: Obj, events: Sequence[Obj], now: datetime) -> str:
    w = PrefixWriter()
    write_metadata(w, hpa, now)
    spec: Obj = hpa.get("spec") or {}
    status: Obj = hpa.get("status") or {}
    ref: Obj = spec.get("scaleTargetRef") or {}
    w.field(0, "Reference", f"{ref.get('kind')}/{ref.get('name')}")
    w.write(0, "Metrics:\t( current / target )\n")
    statuses: list[Obj] = status.get("currentMetrics") or []
    for i, metric in enumerate(spec.get("metrics") or []):
        label, text = _metric_line(metric, statuses[i] if i < len(statuses) else None)
        w.write(1, f"{clean(label)}:\t{clean(text)}\n")
    w.field(0, "Min replicas", spec.get("minReplicas", 1))
    w.field(0, "Max replicas", spec.get("maxReplicas"))
    if spec.get("behavior"):
        _behavior(w, spec["behavior"])
    w.field(0, f"{ref.get('kind')} pods",
            f"{status.get('currentReplicas', 0)} current / {status.get('desiredReplicas', 0)} desired")
    conditions: list[Obj] = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n")
        w.write(1, "Type\tStatus\tReason\tMessage\n")
        w.write(1, "----\t------\t------\t-------\n")
        for c in conditions:
            w.write(1, f"{clean(c.get('type'))}\t{clean(c.get('status'))}\t{clean(c.get('reason'))}\t"
                       f"{clean(c.get('message'))}\n")
    write_events(w, events, now)
    return w.render()
