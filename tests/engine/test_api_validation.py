"""validate_object / validate_documents: the examples, result shape, other kinds, many documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.api import read_manifests, validate_documents, validate_object
from engine.errors import InvalidError
from tests.shared_examples import EXAMPLE_FILES, EXAMPLES, needs_examples

from .api_builders import container, cronjob, deployment, job, pod


# -- the shared examples -------------------------------------------------------------------------
@needs_examples
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_validates(path: Path) -> None:
    [(_, doc)] = read_manifests(str(path))
    result = validate_object(doc, default_namespace="default")
    assert result.obj["metadata"]["namespace"] == "default"
    assert result.resource.kind == doc["kind"]
    if doc["apiVersion"] == "batch/v1beta1":
        assert result.obj["apiVersion"] == "batch/v1"
        assert result.warnings == [
            (
                "batch/v1beta1 CronJob is deprecated in v1.21+, unavailable in v1.25+; "
                "use batch/v1 CronJob"
            )
        ]
    else:
        assert result.obj["apiVersion"] == doc["apiVersion"]
        assert result.warnings == []
    again = validate_object(result.obj, default_namespace="default")
    assert again.obj == result.obj  # a stored object validates to itself
    assert again.warnings == []


@needs_examples
def test_examples_as_one_set() -> None:
    docs = [doc for _, doc in read_manifests(str(EXAMPLES))]
    results = validate_documents(docs, default_namespace="default")
    by_name = {r.obj["metadata"]["name"]: r.obj for r in results}
    pi = by_name["pi"]["spec"]
    assert (pi["completions"], pi["parallelism"], pi["backoffLimit"]) == (1, 1, 4)
    per_index = by_name["job-backoff-limit-per-index-example"]["spec"]
    assert per_index["backoffLimit"] == 2**31 - 1
    assert per_index["maxFailedIndexes"] == 5
    indexed = by_name["indexed-job"]["spec"]
    assert indexed["template"]["spec"]["volumes"] == [{"name": "input", "emptyDir": {}}]
    assert indexed["template"]["spec"]["initContainers"][0]["imagePullPolicy"] == "Always"
    nginx = by_name["nginx-deployment"]["spec"]
    assert nginx["template"]["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"
    assert (
        by_name["hello"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"]
        == "OnFailure"
    )


# -- result shape --------------------------------------------------------------------------------
def test_result_shape_and_namespaces() -> None:
    result = validate_object(pod(), default_namespace="team-a")
    assert result.obj["metadata"] == {"name": "p", "namespace": "team-a"}
    assert result.resource.plural == "pods"
    explicit = pod()
    explicit["metadata"]["namespace"] = "other"
    assert (
        validate_object(explicit, default_namespace="team-a").obj["metadata"]["namespace"]
        == "other"
    )
    assert "namespace" not in validate_object(pod()).obj["metadata"]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "namespace": "x"}}
    assert validate_object(node, default_namespace="team-a").obj["metadata"] == {"name": "n1"}


def test_a_created_objects_status_is_its_controllers() -> None:
    """A pod created claiming to have succeeded starts with no status (Kubernetes drops it); a
    node registers with its status, which must have a node status's shape."""
    doc = pod()
    doc["status"] = {"phase": "Succeeded", "bogus": 1}
    assert "status" not in validate_object(doc).obj
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "2"}, "anything": [1, {"x": None}]}}
    assert validate_object(node).obj["status"] == node["status"]
    node["status"] = {"allocatable": {"cpu": "two"}, "conditions": "abc"}
    with pytest.raises(InvalidError) as err:
        validate_object(node)
    assert any(d.startswith("status.allocatable.cpu:") for d in err.value.details)
    assert any(d.startswith("status.conditions:") for d in err.value.details)


def test_none_fields_omitted_and_camel_case() -> None:
    doc = pod(nodeSelector=None, containers=[container(workingDir="/w", args=None)])
    obj = validate_object(doc).obj
    assert "nodeSelector" not in obj["spec"]
    assert obj["spec"]["containers"][0]["workingDir"] == "/w"
    assert "args" not in obj["spec"]["containers"][0]


def test_managed_fields_and_metadata_accepted() -> None:
    doc = pod()
    doc["metadata"].update(
        {
            "uid": "abc",
            "resourceVersion": "12",
            "generation": 3,
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "labels": {"app.kubernetes.io/name": "x", "tier": ""},
            "annotations": {"example.com/note": "any text at all: ok"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "rs",
                    "uid": "u",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "finalizers": ["example.com/cleanup"],
            "managedFields": [
                {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:x": {}}}
            ],
        }
    )
    assert validate_object(doc).obj["metadata"]["generation"] == 3


# -- other kinds ---------------------------------------------------------------------------------
VALID_OTHERS: list[dict[str, Any]] = [
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080}],
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"}},
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ext"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com"},
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"a.txt": "x", "B_KEY": "y"},
        "binaryData": {"bin": "AAEC"},
        "immutable": True,
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "fast",
            "resources": {"requests": {"storage": "10Gi"}},
        },
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["a.example.com"], "secretName": "t"}],
            "rules": [
                {
                    "host": "*.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    },
    {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "500Mi"},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "1k"},
                    },
                },
            ],
            "behavior": {
                "scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}
            },
        },
    },
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "system-cluster-critical"},
        "value": 2000000000,
    },
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "batch"},
        "value": -10,
        "globalDefault": False,
        "description": "low",
        "preemptionPolicy": "Never",
    },
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
    {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "gpu-node-1.local", "labels": {"nvidia.com/gpu.count": "8"}},
        "spec": {
            "unschedulable": False,
            "taints": [{"key": "gpu", "value": "a100", "effect": "NoSchedule"}],
        },
        "status": {"capacity": {"nvidia.com/gpu": "8"}},
    },
    {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
        "reason": "Scheduled",
        "message": "assigned",
        "type": "Normal",
        "count": 1,
        "source": {"component": "scheduler"},
        "firstTimestamp": "2024-01-01T00:00:00Z",
    },
    {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web"},
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "w"}}],
                "ports": [{"name": "http", "port": 80}],
            }
        ],
    },
    {
        "apiVersion": "tugboat.dev/v1",
        "kind": "Queue",
        "metadata": {"name": "research"},
        "spec": {"quota": {"nvidia.com/gpu": 8, "cpu": "64", "memory": "512Gi"}, "strategy": "StrictFIFO"},
    },
    {"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "empty"}},
]


@pytest.mark.parametrize("doc", VALID_OTHERS, ids=lambda d: f"{d['kind']}-{d['metadata']['name']}")
def test_other_kinds_valid(doc: dict[str, Any]) -> None:
    result = validate_object(doc, default_namespace="default")
    assert result.warnings == []
    assert result.obj["kind"] == doc["kind"]


# -- many documents ------------------------------------------------------------------------------
def test_validate_documents_lists_every_problem() -> None:
    bad_deploy = deployment(replicas="three")
    bad_job = job(name="Bad_Name", restart="Always")
    bad_kind = {"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}}
    docs = [pod(), bad_deploy, bad_job, {"kind": "Pod"}, bad_kind]
    with pytest.raises(InvalidError) as info:
        validate_documents(docs, default_namespace="default")
    details = info.value.details
    assert info.value.message == "4 of 5 document(s) invalid: 5 problem(s)"
    assert (
        details[0]
        == 'document 2 (Deployment "web"): spec.replicas: expected an integer, got "three"'
    )
    assert details[1].startswith('document 3 (Job "Bad_Name"): metadata.name: must be a lowercase')
    assert details[2] == (
        'document 3 (Job "Bad_Name"): spec.template.spec.restartPolicy: '
        'Unsupported value "Always": supported values "OnFailure", "Never"'
    )
    assert details[3] == 'document 4 (Pod): apiVersion: required (e.g. "v1" or "apps/v1")'
    assert details[4].startswith('document 5 (Widget "w"): kind: must be one of')
    assert len(details) == 5


def test_validate_documents_all_valid() -> None:
    results = validate_documents([pod("a"), pod("b")], default_namespace="ns1")
    assert [r.obj["metadata"] for r in results] == [
        {"name": "a", "namespace": "ns1"},
        {"name": "b", "namespace": "ns1"},
    ]
    assert validate_documents([], default_namespace=None) == []


# -- robustness ----------------------------------------------------------------------------------
def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            out += _paths(value, (*prefix, index))
    return out


ROBUSTNESS_DOCS = [
    *VALID_OTHERS,
    deployment(strategy={"rollingUpdate": {"maxSurge": 1}}),
    cronjob(),
    job(
        completions=3,
        completionMode="Indexed",
        backoffLimitPerIndex=1,
        podFailurePolicy={
            "rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}}]
        },
        successPolicy={"rules": [{"succeededIndexes": "0-1"}]},
    ),
    pod(
        containers=[
            container(
                livenessProbe={"httpGet": {"port": 80}},
                resources={"limits": {"cpu": "1"}},
                env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                ports=[{"containerPort": 80}],
                volumeMounts=[{"name": "v", "mountPath": "/v"}],
            )
        ],
        volumes=[{"name": "v", "configMap": {"name": "c"}}],
        tolerations=[{"key": "k", "operator": "Exists"}],
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]}
                    ]
                }
            }
        },
    ),
]


@pytest.mark.parametrize(
    "doc", ROBUSTNESS_DOCS, ids=lambda d: f"{d['kind']}-{d['metadata']['name']}"
)
def test_wrong_types_anywhere_give_problems_not_crashes(doc: dict[str, Any]) -> None:
    """Replacing any value with any other JSON type yields an InvalidError or a valid object."""
    import copy

    for path in _paths(doc):
        if not path or path[0] in ("apiVersion", "kind"):
            continue
        for value in (None, "x", -1, True, [], {}, [1], {"a": 1}, 1.5):
            broken = copy.deepcopy(doc)
            target = broken
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
            try:
                validate_object(broken, default_namespace="default")
            except InvalidError as exc:
                assert exc.details
                assert all(": " in line and "Input should" not in line for line in exc.details)


@pytest.mark.parametrize(
    "doc", ROBUSTNESS_DOCS, ids=lambda d: f"{d['kind']}-{d['metadata']['name']}"
)
def test_validation_is_idempotent(doc: dict[str, Any]) -> None:
    once = validate_object(doc, default_namespace="default").obj
    assert validate_object(once, default_namespace="default").obj == once
