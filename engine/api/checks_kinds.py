"""Workload validation rules (Deployment, ReplicaSet, Job, CronJob) and the per-kind dispatch."""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

from engine.api import names
from engine.api.batch import generated_selector as job_selector
from engine.api.checks import (
    check_metadata,
    check_selector,
    check_template_labels,
    d,
    int_or_percent,
    integer,
    is_zero_int_or_percent,
    lst,
    non_negative,
    percent_over_100,
    text,
    unsupported,
)
from engine.api.checks_discovery import check_endpointslice
from engine.api.checks_other import OTHER_CHECKS
from engine.api.checks_pod import check_pod_spec
from engine.api.meta import selector_is_empty, selector_matches
from engine.api.names import show
from engine.api.registry import ResourceInfo
from engine.api.schedule import schedule_problem

_INDEXES_RE = re.compile(r"[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*")
_TZ_PART_RE = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")
MAX_INT32 = 2**31 - 1


# -- pod templates and workloads -----------------------------------------------------------------
def _template(path: str, template: Any, *, restart: tuple[str, ...]) -> list[str]:
    if template is None:
        return [f"{path}: required"]
    problems = check_template_labels(path, template)
    spec = d(d(template).get("spec"))
    problems += check_pod_spec(f"{path}.spec", spec)
    policy = spec.get("restartPolicy")
    if isinstance(policy, str):
        problems += unsupported(f"{path}.spec.restartPolicy", policy, restart)
    return problems


def _selector_matches_template(spec: dict[str, Any], *, allow_empty: bool = False) -> list[str]:
    selector = spec.get("selector")
    if selector is None:
        return []
    problems = check_selector("spec.selector", selector)
    if selector_is_empty(d(selector)):
        if not allow_empty:
            problems.append("spec.selector: empty selector is invalid for this kind, got {}")
        return problems
    labels = d(d(d(spec.get("template")).get("metadata")).get("labels"))
    if (
        spec.get("template") is not None
        and _well_formed(d(selector))
        and all(isinstance(v, str) for v in labels.values())
        and not selector_matches(d(selector), labels)
    ):
        problems.append(
            "spec.template.metadata.labels: must match spec.selector "
            f"({json.dumps(selector, sort_keys=True)}), got {json.dumps(labels, sort_keys=True)}"
        )
    return problems


def _well_formed(selector: dict[str, Any]) -> bool:
    """Whether a selector has the shape matching needs (type errors are reported elsewhere)."""
    labels, exprs = selector.get("matchLabels"), selector.get("matchExpressions")
    return (
        (labels is None or isinstance(labels, dict))
        and (exprs is None or isinstance(exprs, list))
        and all(
            isinstance(e, dict) and isinstance(e.get("values") or [], list) for e in exprs or []
        )
    )


def _no_deadline(spec: dict[str, Any]) -> list[str]:
    if d(d(spec.get("template")).get("spec")).get("activeDeadlineSeconds") is not None:
        return [
            (
                "spec.template.spec.activeDeadlineSeconds: forbidden: activeDeadlineSeconds "
                "in ReplicaSet is not Supported"
            )
        ]
    return []


def check_deployment(obj: dict[str, Any]) -> list[str]:
    spec = d(obj.get("spec"))
    problems = _selector_matches_template(spec)
    problems += _template("spec.template", spec.get("template"), restart=("Always",))
    problems += _no_deadline(spec)
    for key in ("replicas", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        problems += non_negative(f"spec.{key}", spec.get(key))
    pds, mrs = integer(spec.get("progressDeadlineSeconds")), integer(spec.get("minReadySeconds"))
    if pds is not None and mrs is not None and pds <= mrs:
        problems.append(
            f"spec.progressDeadlineSeconds: must be greater than minReadySeconds ({mrs}), got {pds}"
        )
    strategy = d(spec.get("strategy"))
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "Recreate" and rolling is not None:
        problems.append(
            "spec.strategy.rollingUpdate: may not be specified when strategy `type` is 'Recreate'"
        )
    elif rolling is not None:
        surge, unavailable = d(rolling).get("maxSurge"), d(rolling).get("maxUnavailable")
        problems += int_or_percent("spec.strategy.rollingUpdate.maxSurge", surge)
        problems += int_or_percent("spec.strategy.rollingUpdate.maxUnavailable", unavailable)
        if percent_over_100(unavailable):
            problems.append(
                "spec.strategy.rollingUpdate.maxUnavailable: must not be greater "
                f"than 100%, got {show(unavailable)}"
            )
        if is_zero_int_or_percent(surge) and is_zero_int_or_percent(unavailable):
            problems.append(
                "spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when "
                f"`maxSurge` is 0, got {show(unavailable)}"
            )
    return problems


def check_replicaset(obj: dict[str, Any]) -> list[str]:
    spec = d(obj.get("spec"))
    problems = _selector_matches_template(spec)
    problems += _template("spec.template", spec.get("template"), restart=("Always",))
    problems += _no_deadline(spec)
    for key in ("replicas", "minReadySeconds"):
        problems += non_negative(f"spec.{key}", spec.get(key))
    return problems


def check_job_spec(path: str, spec: dict[str, Any], *, job_name: str | None) -> list[str]:
    """validateJobSpec (section 1.1), for a Job's spec and a CronJob's jobTemplate.spec."""
    policy = d(spec.get("podFailurePolicy"))
    restart = ("Never",) if spec.get("podFailurePolicy") is not None else ("OnFailure", "Never")
    problems = _template(f"{path}.template", spec.get("template"), restart=restart)
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
        "ttlSecondsAfterFinished",
    ):
        problems += non_negative(f"{path}.{key}", spec.get(key))
    indexed = spec.get("completionMode") == "Indexed"
    completions, parallelism = integer(spec.get("completions")), integer(spec.get("parallelism"))
    per_index, max_failed = spec.get("backoffLimitPerIndex"), spec.get("maxFailedIndexes")
    if indexed:
        if completions is None:
            problems.append(f"{path}.completions: required when completion mode is Indexed")
        if parallelism is not None and parallelism > 100000:
            problems.append(
                f"{path}.parallelism: must be less than or equal to 100000 when "
                f"completion mode is Indexed, got {parallelism}"
            )
        if (
            job_name
            and completions
            and completions > 0
            and not names.is_dns1123_label(f"{job_name}-{completions - 1}")
        ):
            problems.append(
                f"metadata.name: will not be able to create pod with invalid DNS "
                f"label {show(f'{job_name}-{completions - 1}')}: must be "
                f"{names.DNS1123_LABEL_RULE}"
            )
    else:
        if per_index is not None:
            problems.append(f"{path}.backoffLimitPerIndex: requires indexed completion mode")
        if max_failed is not None:
            problems.append(f"{path}.maxFailedIndexes: requires indexed completion mode")
    if max_failed is not None and per_index is None:
        problems.append(
            f"{path}.maxFailedIndexes: cannot be set when backoffLimitPerIndex is not set"
        )
    if isinstance(max_failed, int) and not isinstance(max_failed, bool):
        if completions is not None and max_failed > completions:
            problems.append(
                f"{path}.maxFailedIndexes: must be less than or equal to "
                f"completions ({completions}), got {max_failed}"
            )
        if max_failed > 100000:
            problems.append(
                f"{path}.maxFailedIndexes: must be less than or equal to 100000, got {max_failed}"
            )
    if indexed and per_index is not None and completions is not None and completions > 100000:
        if max_failed is None:
            problems.append(
                f"{path}.maxFailedIndexes: required when completions exceed 100000 "
                "with backoffLimitPerIndex"
            )
        if parallelism is not None and parallelism > 10000:
            problems.append(
                f"{path}.parallelism: must be less than or equal to 10000 when "
                f"completions exceed 100000 with backoffLimitPerIndex, got {parallelism}"
            )
    problems += _pod_failure_policy(f"{path}.podFailurePolicy", policy, spec)
    if spec.get("successPolicy") is not None:
        problems += _success_policy(
            f"{path}.successPolicy",
            d(spec["successPolicy"]),
            indexed=indexed,
            completions=completions,
        )
    return problems


def _pod_failure_policy(path: str, policy: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    rules = lst(policy.get("rules"))
    if len(rules) > 20:
        problems.append(f"{path}.rules: must have at most 20 rules, got {len(rules)}")
    pod_spec = d(d(spec.get("template")).get("spec"))
    container_names = {
        str(d(c).get("name"))
        for key in ("containers", "initContainers")
        for c in lst(pod_spec.get(key))
    }
    for i, rule in enumerate(rules):
        here = f"{path}.rules[{i}]"
        rule = d(rule)
        exit_codes, conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
        if (exit_codes is None) == (conditions is None):
            problems.append(f"{here}: must specify exactly one of onExitCodes and onPodConditions")
        if rule.get("action") == "FailIndex" and spec.get("backoffLimitPerIndex") is None:
            problems.append(f"{here}.action: FailIndex requires backoffLimitPerIndex to be set")
        if exit_codes is not None:
            codes = d(exit_codes)
            values = [v for v in lst(codes.get("values")) if integer(v) is not None]
            if not 1 <= len(lst(codes.get("values"))) <= 255:
                problems.append(
                    f"{here}.onExitCodes.values: must have between 1 and 255 values, "
                    f"got {len(lst(codes.get('values')))}"
                )
            if values != sorted(set(values)):
                problems.append(
                    f"{here}.onExitCodes.values: must be sorted and unique, got {show(values)}"
                )
            if codes.get("operator") == "In" and 0 in values:
                problems.append(
                    f"{here}.onExitCodes.values: must not contain 0 for the In operator"
                )
            name = codes.get("containerName")
            if isinstance(name, str) and name not in container_names:
                problems.append(
                    f"{here}.onExitCodes.containerName: must be one of the container "
                    f"or initContainer names in the pod template, got {show(name)}"
                )
        for j, pattern in enumerate(lst(conditions)):
            kind = d(pattern).get("type")
            if isinstance(kind, str) and not names.is_qualified_name(kind):
                problems.append(
                    f"{here}.onPodConditions[{j}].type: must be "
                    f"{names.QUALIFIED_NAME_RULE}, got {show(kind)}"
                )
    return problems


def _success_policy(
    path: str, policy: dict[str, Any], *, indexed: bool, completions: int | None
) -> list[str]:
    problems: list[str] = []
    if not indexed:
        problems.append(f"{path}: requires indexed completion mode")
    rules = lst(policy.get("rules"))
    if not 1 <= len(rules) <= 20:
        problems.append(f"{path}.rules: must have between 1 and 20 rules, got {len(rules)}")
    for i, rule in enumerate(rules):
        here = f"{path}.rules[{i}]"
        indexes, count = d(rule).get("succeededIndexes"), integer(d(rule).get("succeededCount"))
        if indexes is None and count is None:
            problems.append(f"{here}: must specify succeededIndexes or succeededCount")
        size = None
        if isinstance(indexes, str):
            size, problem = _index_set_size(indexes, completions)
            if problem:
                problems.append(f"{here}.succeededIndexes: {problem}, got {show(indexes)}")
        if count is not None:
            if count < 0:
                problems.append(
                    f"{here}.succeededCount: must be greater than or equal to 0, got {count}"
                )
            if completions is not None and count > completions:
                problems.append(
                    f"{here}.succeededCount: must be less than or equal to "
                    f"completions ({completions}), got {count}"
                )
            if size is not None and count > size:
                problems.append(
                    f"{here}.succeededCount: must be less than or equal to the number "
                    f"of succeededIndexes ({size}), got {count}"
                )
    return problems


def _index_set_size(indexes: str, completions: int | None) -> tuple[int | None, str | None]:
    if not _INDEXES_RE.fullmatch(indexes):
        return None, 'must be a list of indexes and ranges such as "0,2-4"'
    size, last = 0, -1
    for part in indexes.split(","):
        low, _, high = part.partition("-")
        start, end = int(low), int(high or low)
        if start > end or start <= last:
            return None, "must list ordered, non-overlapping indexes and ranges"
        if completions is not None and end >= completions:
            return None, f"must be smaller than completions ({completions})"
        size, last = size + end - start + 1, end
    return size, None


def check_job(obj: dict[str, Any]) -> list[str]:
    name = text(d(obj.get("metadata")).get("name"))
    spec = d(obj.get("spec"))
    uid = text(d(obj.get("metadata")).get("uid"))
    return (_manual_selector(spec, uid) + _selector_matches_template(spec)
            + check_job_spec("spec", spec, job_name=name))


def _manual_selector(spec: dict[str, Any], uid: str) -> list[str]:
    """The server generates a Job's selector on its uid unless spec.manualSelector is true; then
    (and only then) spec.selector is the user's, and must be given. An object read back from
    the server (it has a uid) carries the generated one."""
    manual, selector = spec.get("manualSelector") is True, spec.get("selector")
    if manual and selector is None:
        return ["spec.selector: required when spec.manualSelector is true"]
    if not manual and selector is not None and uid and selector != job_selector(uid):
        return [f"spec.selector: field is immutable (the server generated "
                f"{json.dumps(job_selector(uid), sort_keys=True)} for this Job), "
                f"got {json.dumps(selector, sort_keys=True)}"]
    if not manual and selector is not None and not uid:
        return [f"spec.selector: `selector` will be auto-generated; set spec.manualSelector: true "
                f"to give your own, got {json.dumps(selector, sort_keys=True)}"]
    return []


def check_cronjob(obj: dict[str, Any]) -> list[str]:
    spec = d(obj.get("spec"))
    problems: list[str] = []
    schedule = spec.get("schedule")
    if schedule == "":
        problems.append("spec.schedule: required")
    elif isinstance(schedule, str):
        problem = schedule_problem(schedule)
        if problem and "TZ" in schedule:
            problems.append(f"spec.schedule: {problem}, got {show(schedule)}")
        elif problem:
            problems.append(
                f"spec.schedule: must be a cron schedule (5 fields: minute hour "
                f"day-of-month month day-of-week, or @hourly, @daily, @every 1h, ...): "
                f"{problem}, got {show(schedule)}"
            )
    problems += _time_zone(spec.get("timeZone"))
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        problems += non_negative(f"spec.{key}", spec.get(key))
    template = d(spec.get("jobTemplate"))
    problems += check_template_labels("spec.jobTemplate", template)
    problems += check_job_spec("spec.jobTemplate.spec", d(template.get("spec")), job_name=None)
    return problems


def _time_zone(zone: Any) -> list[str]:
    if not isinstance(zone, str):
        return []
    path = "spec.timeZone"
    if (
        zone == ""
        or zone == "Local"
        or any(part in (".", "..") or not _TZ_PART_RE.fullmatch(part) for part in zone.split("/"))
    ):
        return [
            (
                f'{path}: must be a non-empty IANA time zone name such as "Europe/Paris" '
                f"(not Local), got {show(zone)}"
            )
        ]
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if zoneinfo.available_timezones():  # without a tz database, trust the name
            return [f"{path}: unknown time zone, got {show(zone)}"]
    return []


CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "Pod": lambda obj: check_pod_spec("spec", obj.get("spec")),
    "Deployment": check_deployment,
    "ReplicaSet": check_replicaset,
    "Job": check_job,
    "CronJob": check_cronjob,
    "EndpointSlice": check_endpointslice,
    **OTHER_CHECKS,
}

MAX_NAME = {"CronJob": 52}


def check_object(obj: dict[str, Any], info: ResourceInfo) -> list[str]:
    """All rule problems of a defaulted object: its metadata, then its kind's rules."""
    problems = check_metadata(
        obj.get("metadata"),
        name_rule=names.NAME_RULES.get(info.kind, "subdomain"),
        namespaced=info.namespaced,
        max_name=MAX_NAME.get(info.kind),
    )
    check = CHECKS.get(info.kind)
    if check is not None:
        problems += check(obj)
    return problems
