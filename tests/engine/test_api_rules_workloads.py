"""Workload rules: Job (k8s-semantics 1.1), CronJob (2.1), Deployment and ReplicaSet (3.1)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api import validate_object

from .api_builders import container, cronjob, deployment, job, problems_of


# -- Job (1.1) -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            job(restart=None),
            (
                'spec.template.spec.restartPolicy: Unsupported value "Always": '
                'supported values "OnFailure", "Never"'
            ),
        ),
        (
            job(restart="Always"),
            (
                'spec.template.spec.restartPolicy: Unsupported value "Always": '
                'supported values "OnFailure", "Never"'
            ),
        ),
        (
            job(
                restart="OnFailure",
                podFailurePolicy={
                    "rules": [
                        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
                    ]
                },
            ),
            'spec.template.spec.restartPolicy: Unsupported value "OnFailure": supported values "Never"',
        ),
        (job(parallelism=-1), "spec.parallelism: must be greater than or equal to 0, got -1"),
        (job(completions=-2), "spec.completions: must be greater than or equal to 0, got -2"),
        (job(backoffLimit=-1), "spec.backoffLimit: must be greater than or equal to 0, got -1"),
        (
            job(activeDeadlineSeconds=-5),
            "spec.activeDeadlineSeconds: must be greater than or equal to 0",
        ),
        (
            job(ttlSecondsAfterFinished=-1),
            "spec.ttlSecondsAfterFinished: must be greater than or equal to 0",
        ),
        (
            job(completionMode="Indexed", parallelism=2),
            "spec.completions: required when completion mode is Indexed",
        ),
        (
            job(completionMode="indexed"),
            'spec.completionMode: Unsupported value "indexed": supported values "NonIndexed", "Indexed"',
        ),
        (
            job(backoffLimitPerIndex=1),
            "spec.backoffLimitPerIndex: requires indexed completion mode",
        ),
        (
            job(completions=3, completionMode="Indexed", maxFailedIndexes=1),
            "spec.maxFailedIndexes: cannot be set when backoffLimitPerIndex is not set",
        ),
        (
            job(
                completions=3, completionMode="Indexed", backoffLimitPerIndex=1, maxFailedIndexes=4
            ),
            "spec.maxFailedIndexes: must be less than or equal to completions (3), got 4",
        ),
        (
            job(completions=3, completionMode="Indexed", parallelism=100001),
            "spec.parallelism: must be less than or equal to 100000 when completion mode is Indexed",
        ),
        (
            job(completions=200000, completionMode="Indexed", backoffLimitPerIndex=1),
            "spec.maxFailedIndexes: required when completions exceed 100000 with backoffLimitPerIndex",
        ),
        (
            job(name="j" * 62, completions=10, completionMode="Indexed"),
            "metadata.name: will not be able to create pod with invalid DNS label",
        ),
        (
            job(podFailurePolicy={"rules": [{"action": "FailJob"}]}),
            "spec.podFailurePolicy.rules[0]: must specify exactly one of onExitCodes and onPodConditions",
        ),
        (
            job(
                podFailurePolicy={
                    "rules": [
                        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 1]}}
                    ]
                }
            ),
            "spec.podFailurePolicy.rules[0].onExitCodes.values: must not contain 0 for the In operator",
        ),
        (
            job(
                podFailurePolicy={
                    "rules": [
                        {
                            "action": "FailJob",
                            "onExitCodes": {"operator": "NotIn", "values": [3, 1]},
                        }
                    ]
                }
            ),
            "spec.podFailurePolicy.rules[0].onExitCodes.values: must be sorted and unique, got a list",
        ),
        (
            job(
                podFailurePolicy={
                    "rules": [
                        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": []}}
                    ]
                }
            ),
            "spec.podFailurePolicy.rules[0].onExitCodes.values: must have between 1 and 255 values, got 0",
        ),
        (
            job(
                podFailurePolicy={
                    "rules": [
                        {
                            "action": "FailJob",
                            "onExitCodes": {
                                "containerName": "other",
                                "operator": "In",
                                "values": [42],
                            },
                        }
                    ]
                }
            ),
            "spec.podFailurePolicy.rules[0].onExitCodes.containerName: must be one of the container",
        ),
        (
            job(
                podFailurePolicy={
                    "rules": [
                        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}}
                    ]
                }
            ),
            "spec.podFailurePolicy.rules[0].action: FailIndex requires backoffLimitPerIndex to be set",
        ),
        (
            job(
                podFailurePolicy={
                    "rules": [
                        {"action": "Explode", "onExitCodes": {"operator": "In", "values": [42]}}
                    ]
                }
            ),
            'spec.podFailurePolicy.rules[0].action: Unsupported value "Explode"',
        ),
        (
            job(
                podFailurePolicy={
                    "rules": [
                        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
                    ]
                    * 21
                }
            ),
            "spec.podFailurePolicy.rules: must have at most 20 rules, got 21",
        ),
        (
            job(successPolicy={"rules": [{"succeededCount": 1}]}),
            "spec.successPolicy: requires indexed completion mode",
        ),
        (
            job(completions=5, completionMode="Indexed", successPolicy={"rules": [{}]}),
            "spec.successPolicy.rules[0]: must specify succeededIndexes or succeededCount",
        ),
        (
            job(
                completions=5,
                completionMode="Indexed",
                successPolicy={"rules": [{"succeededIndexes": "0-2", "succeededCount": 4}]},
            ),
            (
                "spec.successPolicy.rules[0].succeededCount: must be less than or equal to the number of "
                "succeededIndexes (3), got 4"
            ),
        ),
        (
            job(
                completions=5,
                completionMode="Indexed",
                successPolicy={"rules": [{"succeededIndexes": "3-7"}]},
            ),
            "spec.successPolicy.rules[0].succeededIndexes: must be smaller than completions (5)",
        ),
        (
            job(
                completions=5,
                completionMode="Indexed",
                successPolicy={"rules": [{"succeededIndexes": "a,b"}]},
            ),
            "spec.successPolicy.rules[0].succeededIndexes: must be a list of indexes and ranges",
        ),
        (
            job(selector={"matchLabels": {"app": "x"}}, manualSelector=True),
            "spec.template.metadata.labels: must match spec.selector",
        ),
        (job(selector={"matchLabels": {"app": "x"}}), "spec.selector: `selector` will be auto-generated"),
        (job(manualSelector=True), "spec.selector: required when spec.manualSelector is true"),
    ],
)
def test_job_rules(doc: dict[str, Any], expected: str) -> None:
    details = problems_of(doc)
    assert any(d.startswith(expected) for d in details), details


@pytest.mark.parametrize(
    "spec",
    [
        {"completions": 5, "parallelism": 2},
        {"parallelism": 4},
        {
            "completions": 10,
            "completionMode": "Indexed",
            "backoffLimitPerIndex": 1,
            "maxFailedIndexes": 5,
        },
        {
            "completions": 10,
            "completionMode": "Indexed",
            "successPolicy": {
                "rules": [
                    {"succeededIndexes": "0-4", "succeededCount": 3},
                    {"succeededIndexes": "0,2,5-7"},
                ]
            },
        },
        {
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
                    },
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                    {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0, 1]}},
                ]
            }
        },
        {"activeDeadlineSeconds": 100, "ttlSecondsAfterFinished": 0, "suspend": True},
        {"managedBy": "kueue.x-k8s.io/multikueue"},
    ],
)
def test_valid_jobs(spec: dict[str, Any]) -> None:
    validate_object(job(**spec))


def test_job_on_failure_is_fine() -> None:
    validate_object(job(restart="OnFailure"))


# -- CronJob (2.1) -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "schedule",
    [
        "*/1 * * * *",
        "0 * * * *",
        "30 6-16/4 * * 1-5",
        "0 0 1 JAN,jul *",
        "0 12 * * MON-FRI",
        "5 4 ? * SUN",
        "0 0 L * *"[:0] + "0 0 1,15 * *",
        "59 23 31 2 *",
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "@every 1h",
        "@every 1h30m",
        "@every 90s",
        "@every 1.5h",
        "0-59/15 * * * *",
        "5/10 * * * *",
    ],
)
def test_valid_schedules(schedule: str) -> None:
    validate_object(cronjob(schedule=schedule))


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("* * * *", "expected exactly 5 fields, found 4"),
        ("0 * * * * *", "expected exactly 5 fields, found 6"),
        ("60 * * * *", "minute: '60' is outside 0-59"),
        ("* 24 * * *", "hour: '24' is outside 0-23"),
        ("* * 0 * *", "day of month: '0' is outside 1-31"),
        ("* * * 13 *", "month: '13' is outside 1-12"),
        ("* * * * 7", "day of week: '7' is outside 0-6"),
        ("* * * FOO *", "month: 'FOO' is not a number"),
        ("5-1 * * * *", "minute: range '5-1' starts after it ends"),
        ("*/0 * * * *", "minute: invalid step '0'"),
        ("0 0 L * *", "day of month: 'L' is not a number"),
        ("@often", "unrecognized descriptor: @often"),
        ("@every soon", "invalid duration 'soon'"),
        ("@every 0s", "@every needs a positive duration"),
    ],
)
def test_invalid_schedules(schedule: str, why: str) -> None:
    [line] = problems_of(cronjob(schedule=schedule))
    assert line.startswith("spec.schedule: must be a cron schedule")
    assert f": {why}, got " in line


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"schedule": "TZ=Europe/Paris 0 * * * *"},
            (
                "spec.schedule: cannot use TZ or CRON_TZ in schedule, use timeZone field instead, got "
                '"TZ=Europe/Paris 0 * * * *"'
            ),
        ),
        ({"schedule": "CRON_TZ=UTC 0 * * * *"}, "spec.schedule: cannot use TZ or CRON_TZ"),
        ({"schedule": ""}, "spec.schedule: required"),
        (
            {"concurrencyPolicy": "Sometimes"},
            (
                'spec.concurrencyPolicy: Unsupported value "Sometimes": supported values "Allow", '
                '"Forbid", "Replace"'
            ),
        ),
        (
            {"startingDeadlineSeconds": -1},
            "spec.startingDeadlineSeconds: must be greater than or equal to 0",
        ),
        ({"successfulJobsHistoryLimit": -1}, "spec.successfulJobsHistoryLimit: must be greater"),
        ({"failedJobsHistoryLimit": -3}, "spec.failedJobsHistoryLimit: must be greater"),
        ({"timeZone": "Local"}, "spec.timeZone: must be a non-empty IANA time zone name"),
        ({"timeZone": ""}, "spec.timeZone: must be a non-empty IANA time zone name"),
        ({"timeZone": "../etc"}, "spec.timeZone: must be a non-empty IANA time zone name"),
    ],
)
def test_cronjob_rules(spec: dict[str, Any], expected: str) -> None:
    details = problems_of(cronjob(**spec))
    assert any(d.startswith(expected) for d in details), details


def test_cronjob_schedule_missing_and_job_template_checked() -> None:
    doc = cronjob()
    del doc["spec"]["schedule"]
    doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert problems_of(doc) == [
        "spec.schedule: required",
        (
            'spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value "Always": '
            'supported values "OnFailure", "Never"'
        ),
    ]


def test_cronjob_time_zone_accepted() -> None:
    validate_object(cronjob(timeZone="Etc/UTC"))


# -- Deployment / ReplicaSet (3.1) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
            "spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when `maxSurge` is 0, got 0",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}},
            "spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when `maxSurge` is 0",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": "25"}}},
            (
                "spec.strategy.rollingUpdate.maxSurge: must be a non-negative integer or a percentage "
                'such as "25%", got "25"'
            ),
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": -1}}},
            "spec.strategy.rollingUpdate.maxSurge: must be greater than or equal to 0, got -1",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}},
            'spec.strategy.rollingUpdate.maxUnavailable: must not be greater than 100%, got "150%"',
        ),
        (
            {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}},
            "spec.strategy.rollingUpdate: may not be specified when strategy `type` is 'Recreate'",
        ),
        ({"strategy": {"type": "BlueGreen"}}, 'spec.strategy.type: Unsupported value "BlueGreen"'),
        ({"replicas": -1}, "spec.replicas: must be greater than or equal to 0, got -1"),
        (
            {"progressDeadlineSeconds": 10, "minReadySeconds": 10},
            "spec.progressDeadlineSeconds: must be greater than minReadySeconds (10), got 10",
        ),
        (
            {"selector": {"matchLabels": {"app": "other"}}},
            (
                'spec.template.metadata.labels: must match spec.selector ({"matchLabels": {"app": '
                '"other"}}), got {"app": "web"}'
            ),
        ),
        ({"selector": {}}, "spec.selector: empty selector is invalid"),
        (
            {
                "selector": {
                    "matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]
                }
            },
            "spec.selector.matchExpressions[0].values: may not be specified when `operator` is 'Exists'",
        ),
        (
            {"selector": {"matchExpressions": [{"key": "app", "operator": "Has"}]}},
            'spec.selector.matchExpressions[0].operator: Unsupported value "Has"',
        ),
    ],
)
def test_deployment_rules(spec: dict[str, Any], expected: str) -> None:
    details = problems_of(deployment(**spec))
    assert any(d.startswith(expected) for d in details), details


def test_deployment_template_rules() -> None:
    doc = deployment()
    doc["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    doc["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 10
    assert problems_of(doc) == [
        'spec.template.spec.restartPolicy: Unsupported value "Never": supported values "Always"',
        (
            "spec.template.spec.activeDeadlineSeconds: forbidden: activeDeadlineSeconds in ReplicaSet "
            "is not Supported"
        ),
    ]


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"app": "web"}},
        {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
        {
            "matchExpressions": [
                {"key": "app", "operator": "Exists"},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "tier", "operator": "NotIn", "values": ["db"]},
            ]
        },
    ],
)
def test_deployment_selectors_that_match(selector: dict[str, Any]) -> None:
    validate_object(deployment(selector=selector))


def test_replicaset_selector_mismatch() -> None:
    doc = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "rs"},
        "spec": {
            "selector": {"matchLabels": {"tier": "frontend"}},
            "template": {
                "metadata": {"labels": {"tier": "backend"}},
                "spec": {"containers": [container()]},
            },
        },
    }
    assert problems_of(doc) == [
        (
            'spec.template.metadata.labels: must match spec.selector ({"matchLabels": {"tier": '
            '"frontend"}}), got {"tier": "backend"}'
        )
    ]
