"""Kubernetes defaults applied by validate_object (k8s-semantics.md 1.1, 2.1, 3.1, 4.3, 4.4, 7)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from engine.api import validate_object
from engine.api.defaults import MAX_INT32, image_pull_policy

from .api_builders import pod


def template(restart: str = "Never", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "x"}},
        "spec": {
            "restartPolicy": restart,
            "containers": [{"name": "main", "image": "busybox:1.36"}],
            **spec,
        },
    }


def job(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"template": template(), **spec},
    }


def test_pod_defaults() -> None:
    spec = validate_object(pod()).obj["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    container = spec["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"


def test_pod_given_values_are_kept() -> None:
    doc = pod(
        restartPolicy="OnFailure",
        terminationGracePeriodSeconds=5,
        schedulerName="gang",
        containers=[
            {
                "name": "c",
                "image": "x",
                "imagePullPolicy": "Never",
                "terminationMessagePolicy": "FallbackToLogsOnError",
            }
        ],
    )
    spec = validate_object(doc).obj["spec"]
    assert (spec["restartPolicy"], spec["terminationGracePeriodSeconds"]) == ("OnFailure", 5)
    assert spec["schedulerName"] == "gang"
    assert spec["containers"][0]["imagePullPolicy"] == "Never"
    assert spec["containers"][0]["terminationMessagePolicy"] == "FallbackToLogsOnError"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.14.2", "IfNotPresent"),
        ("docker.io/library/busybox", "Always"),
        ("localhost:5000/team/app", "Always"),
        ("localhost:5000/team/app:v2", "IfNotPresent"),
        ("registry.example.com:443/app:latest", "Always"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:1.25@sha256:" + "b" * 64, "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy
    doc = pod(
        containers=[{"name": "c", "image": image}], initContainers=[{"name": "i", "image": image}]
    )
    spec = validate_object(doc).obj["spec"]
    assert spec["containers"][0]["imagePullPolicy"] == policy
    assert spec["initContainers"][0]["imagePullPolicy"] == policy


def test_port_protocol_and_probe_defaults() -> None:
    doc = pod(
        containers=[
            {
                "name": "c",
                "image": "x:1",
                "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                "livenessProbe": {"httpGet": {"port": 80}},
                "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
                "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 30},
            }
        ]
    )
    c = validate_object(doc).obj["spec"]["containers"][0]
    assert [p["protocol"] for p in c["ports"]] == ["TCP", "UDP"]
    assert c["livenessProbe"] == {
        "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
        "initialDelaySeconds": 0,
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["readinessProbe"]["periodSeconds"] == 5
    assert c["readinessProbe"]["failureThreshold"] == 3
    assert c["startupProbe"]["failureThreshold"] == 30
    assert c["startupProbe"]["periodSeconds"] == 10


@pytest.mark.parametrize(
    ("resources", "expected_requests"),
    [
        ({"limits": {"cpu": "2", "memory": "1Gi"}}, {"cpu": "2", "memory": "1Gi"}),
        ({"limits": {"cpu": "2"}, "requests": {"cpu": "500m"}}, {"cpu": "500m"}),
        (
            {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": 1}},
            {"cpu": "1", "memory": "1Gi"},
        ),
        ({"limits": {"nvidia.com/gpu": 1}}, {"nvidia.com/gpu": "1"}),
        ({"requests": {"cpu": 0.5}}, {"cpu": "500m"}),
    ],
)
def test_limit_without_request_defaults_request(
    resources: dict[str, Any], expected_requests: dict[str, str]
) -> None:
    doc = pod(containers=[{"name": "c", "image": "x:1", "resources": resources}])
    got = validate_object(doc).obj["spec"]["containers"][0]["resources"]
    assert got["requests"] == expected_requests


def test_quantities_are_canonical_in_output() -> None:
    doc = pod(
        containers=[
            {
                "name": "c",
                "image": "x:1",
                "resources": {
                    "limits": {"cpu": 1.5, "memory": "1.5Gi", "ephemeral-storage": "1e9"}
                },
            }
        ]
    )
    limits = validate_object(doc).obj["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "1500m", "memory": "1536Mi", "ephemeral-storage": "1e9"}


def test_volume_defaults() -> None:
    doc = pod(
        volumes=[
            {"name": "scratch"},
            {"name": "cfg", "configMap": {"name": "c"}},
            {"name": "host", "hostPath": {"path": "/data"}},
        ]
    )
    volumes = validate_object(doc).obj["spec"]["volumes"]
    assert volumes[0] == {"name": "scratch", "emptyDir": {}}
    assert volumes[1]["configMap"]["defaultMode"] == 0o644
    assert volumes[2]["hostPath"] == {"path": "/data", "type": ""}


# -- Job (1.1) -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "completions", "parallelism", "backoff"),
    [
        ({}, 1, 1, 6),
        ({"completions": 5}, 5, 1, 6),
        ({"parallelism": 3}, None, 3, 6),  # work queue: completions stays nil
        ({"completions": 5, "parallelism": 2}, 5, 2, 6),
        ({"completions": 0}, 0, 1, 6),
        ({"backoffLimit": 4}, 1, 1, 4),
        ({"backoffLimit": 0}, 1, 1, 0),
        (
            {"completions": 10, "completionMode": "Indexed", "backoffLimitPerIndex": 1},
            10,
            1,
            MAX_INT32,
        ),
        (
            {
                "completions": 10,
                "completionMode": "Indexed",
                "backoffLimitPerIndex": 1,
                "backoffLimit": 3,
            },
            10,
            1,
            3,
        ),
    ],
)
def test_job_defaults(
    given: dict[str, Any], completions: int | None, parallelism: int, backoff: int
) -> None:
    spec = validate_object(job(**given)).obj["spec"]
    assert spec.get("completions") == completions
    assert spec["parallelism"] == parallelism
    assert spec["backoffLimit"] == backoff
    assert spec["completionMode"] == given.get("completionMode", "NonIndexed")
    assert spec["suspend"] is False
    assert spec["manualSelector"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30


def test_job_pod_failure_policy_defaults() -> None:
    policy = {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
            },
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        ]
    }
    spec = validate_object(job(podFailurePolicy=policy)).obj["spec"]
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["podFailurePolicy"]["rules"][1]["onPodConditions"] == [
        {"type": "DisruptionTarget", "status": "True"}
    ]


def test_job_given_values_kept() -> None:
    spec = validate_object(job(suspend=True, podReplacementPolicy="Failed")).obj["spec"]
    assert spec["suspend"] is True
    assert spec["podReplacementPolicy"] == "Failed"


def test_cronjob_defaults_leave_the_job_spec_alone() -> None:
    doc = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": template()}}},
    }
    spec = validate_object(doc).obj["spec"]
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    job_spec = spec["jobTemplate"]["spec"]
    assert "completions" not in job_spec and "backoffLimit" not in job_spec
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


# -- Deployment, ReplicaSet (3.1) ----------------------------------------------------------------
def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template("Always"), **spec},
    }


def test_deployment_defaults() -> None:
    spec = validate_object(deployment()).obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["minReadySeconds"] == 0
    assert (
        spec["template"]["spec"]["containers"][0]["terminationMessagePath"]
        == "/dev/termination-log"
    )


def test_deployment_partial_rolling_update_and_recreate() -> None:
    spec = validate_object(deployment(strategy={"rollingUpdate": {"maxSurge": 1}})).obj["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"},
    }
    spec = validate_object(deployment(strategy={"type": "Recreate"})).obj["spec"]
    assert spec["strategy"] == {"type": "Recreate"}


def test_replicaset_defaults() -> None:
    doc = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "rs"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template("Always")},
    }
    spec = validate_object(doc).obj["spec"]
    assert spec["replicas"] == 1
    assert spec["template"]["spec"]["restartPolicy"] == "Always"


# -- Service, HPA, others ------------------------------------------------------------------------
def test_service_defaults() -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"app": "x"},
            "ports": [
                {"name": "web", "port": 80},
                {"name": "x", "port": 81, "targetPort": "http", "protocol": "UDP"},
            ],
        },
    }
    spec = validate_object(doc).obj["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"][0] == {"name": "web", "port": 80, "protocol": "TCP", "targetPort": 80}
    assert spec["ports"][1] == {"name": "x", "port": 81, "targetPort": "http", "protocol": "UDP"}


def hpa(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 10,
            **spec,
        },
    }


CPU_80 = [
    {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
    }
]


def test_hpa_defaults() -> None:
    spec = validate_object(hpa()).obj["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == CPU_80
    assert "behavior" not in spec


def test_hpa_behavior_defaults_only_when_set() -> None:
    spec = validate_object(hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})).obj[
        "spec"
    ]
    assert spec["behavior"]["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    assert spec["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }


def test_hpa_autoscaling_v1_is_converted() -> None:
    doc = hpa(targetCPUUtilizationPercentage=50, minReplicas=2)
    doc["apiVersion"] = "autoscaling/v1"
    result = validate_object(doc)
    assert result.obj["apiVersion"] == "autoscaling/v2"
    assert result.obj["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    assert result.warnings == []


def test_priority_class_namespace_secret_pvc_endpoints() -> None:
    pc = validate_object(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "high"},
            "value": 1000,
        }
    )
    assert pc.obj["preemptionPolicy"] == "PreemptLowerPriority"
    ns = validate_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    assert ns.obj["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert ns.obj["status"] == {"phase": "Active"}
    secret = validate_object(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"a": base64.b64encode(b"old").decode()},
            "stringData": {"a": "new", "b": "bee"},
        }
    )
    assert secret.obj["type"] == "Opaque"
    assert "stringData" not in secret.obj
    assert {k: base64.b64decode(v) for k, v in secret.obj["data"].items()} == {
        "a": b"new",
        "b": b"bee",
    }
    pvc = validate_object(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "10Gi"}},
            },
        }
    )
    assert pvc.obj["spec"]["volumeMode"] == "Filesystem"
    ep = validate_object(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "web"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
        }
    )
    assert ep.obj["subsets"][0]["ports"][0]["protocol"] == "TCP"


def test_input_is_not_mutated() -> None:
    doc = deployment()
    before = copy.deepcopy(doc)
    validate_object(doc, default_namespace="default")
    assert doc == before
