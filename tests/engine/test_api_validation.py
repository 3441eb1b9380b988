"""validate_object / validate_documents: the examples, plain-English errors, rules and warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.api import read_manifests, validate_documents, validate_object
from engine.errors import InvalidError

EXAMPLES = Path("/work/shared/k8s-examples")
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml")) if EXAMPLES.is_dir() else []
NI = "not implemented by tugboat yet; accepted and ignored"


def problems_of(doc: Any, **kw: Any) -> list[str]:
    with pytest.raises(InvalidError) as info:
        validate_object(doc, **kw)
    return info.value.details


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "main", "image": "busybox:1.36", **fields}


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [container()])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()]}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {**base, **spec},
    }


def job(
    name: str = "j",
    restart: str | None = "Never",
    pod_spec: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    template_spec: dict[str, Any] = {"containers": [container()], **(pod_spec or {})}
    if restart is not None:
        template_spec["restartPolicy"] = restart
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": template_spec}, **spec},
    }


def cronjob(name: str = "c", **spec: Any) -> dict[str, Any]:
    job_spec = job()["spec"]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": job_spec}, **spec},
    }


# -- the shared examples -------------------------------------------------------------------------
@pytest.mark.skipif(not EXAMPLE_FILES, reason="the shared k8s examples are not present")
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


@pytest.mark.skipif(not EXAMPLE_FILES, reason="the shared k8s examples are not present")
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


def test_status_kept_loosely() -> None:
    doc = pod()
    doc["status"] = {"phase": "Running", "anything": [1, {"x": None}], "podIP": "10.0.0.1"}
    assert validate_object(doc).obj["status"] == doc["status"]


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


# -- plain-English type errors -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (deployment(replicas="three"), 'spec.replicas: expected an integer, got "three"'),
        (deployment(replicas="3"), 'spec.replicas: expected an integer, got "3"'),
        (deployment(replicas=1.5), "spec.replicas: expected an integer, got 1.5"),
        (deployment(paused="yes"), 'spec.paused: expected a boolean (true or false), got "yes"'),
        (pod(containers=[container(foo=1)]), "spec.containers[0].foo: unknown field"),
        (
            pod(containers=[container(commands=["x"])]),
            'spec.containers[0].commands: unknown field (did you mean "command"?)',
        ),
        (
            pod(restartpolicy="Never"),
            'spec.restartpolicy: unknown field (did you mean "restartPolicy"?)',
        ),
        (
            pod(containers=[container(command="echo hi")]),
            'spec.containers[0].command: expected a list, got "echo hi"',
        ),
        (
            pod(containers=[container(args=[1])]),
            "spec.containers[0].args[0]: expected a string, got 1",
        ),
        (pod(containers=[{"name": "c"}]), "spec.containers[0].image: required"),
        (
            pod(containers=[container(image=None)]),
            "spec.containers[0].image: expected a string, got null",
        ),
        (pod(nodeSelector=["a"]), "spec.nodeSelector: expected a mapping, got a list"),
        (
            pod(containers=[container(resources="big")]),
            'spec.containers[0].resources: expected a mapping, got "big"',
        ),
        (
            pod(restartPolicy="Sometimes"),
            (
                'spec.restartPolicy: Unsupported value "Sometimes": supported values "Always", '
                '"OnFailure", "Never"'
            ),
        ),
        (
            pod(containers=[container(resources={"limits": {"cpu": "1K"}})]),
            (
                "spec.containers[0].resources.limits[cpu]: quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got \"1K\""
            ),
        ),
        (
            pod(containers=[container(resources={"limits": {"nvidia.com/gpu": True}})]),
            (
                "spec.containers[0].resources.limits[nvidia.com/gpu]: expected a quantity such as 500m, "
                "2 or 128Mi, got true"
            ),
        ),
        (
            pod(containers=[container(livenessProbe={"httpGet": {"port": [80]}})]),
            "spec.containers[0].livenessProbe.httpGet.port: expected an integer or a string, got a list",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "labels": {"v": 1}},
                "spec": {"containers": [container()]},
            },
            "metadata.labels[v]: expected a string, got 1",
        ),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}, "spec: required"),
        (
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": "p",
                "spec": {"containers": [container()]},
            },
            'metadata: expected a mapping, got "p"',
        ),
    ],
)
def test_type_errors(doc: dict[str, Any], expected: str) -> None:
    assert expected in problems_of(doc)


def test_error_message_names_kind_and_name() -> None:
    with pytest.raises(InvalidError) as info:
        validate_object(deployment(replicas="three"))
    assert info.value.message == 'Deployment "web" is invalid: 1 problem(s)'
    assert info.value.code == 422
    status = info.value.to_status()
    assert (
        status["details"]["causes"][0]["message"]
        == 'spec.replicas: expected an integer, got "three"'
    )


def test_every_problem_is_collected() -> None:
    doc = deployment(
        replicas="three", strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}
    )
    doc["metadata"]["name"] = "Web_1"
    doc["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    doc["spec"]["template"]["spec"]["containers"] = [
        container(name="a", bogus=True),
        container(name="a", resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
    ]
    details = problems_of(doc)
    assert 'spec.replicas: expected an integer, got "three"' in details
    assert "spec.template.spec.containers[0].bogus: unknown field" in details
    assert any(
        d.startswith("metadata.name: must be a lowercase RFC 1123 subdomain") for d in details
    )
    assert any(
        d.startswith("spec.template.metadata.labels: must match spec.selector") for d in details
    )
    assert 'spec.template.spec.containers[1].name: Duplicate value "a"' in details
    assert (
        "spec.template.spec.containers[1].resources.requests[cpu]: must be less than or equal "
        'to cpu limit of 1, got "2"'
    ) in details
    assert (
        'spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when `maxSurge` is 0, got "0%"'
    ) in details
    assert len(details) == 7


def test_no_raw_pydantic_text() -> None:
    doc = pod(containers=[container(ports=[{"containerPort": "http"}], env={"A": "1"})])
    for line in problems_of(doc):
        assert "Input should" not in line and "pydantic" not in line


# -- apiVersion and kind -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"kind": "Pod", "metadata": {"name": "p"}},
            ['apiVersion: required (e.g. "v1" or "apps/v1")'],
        ),
        (
            {"apiVersion": "v1", "metadata": {"name": "p"}},
            ['kind: required (e.g. "Pod" or "Deployment")'],
        ),
        (
            {},
            [
                'apiVersion: required (e.g. "v1" or "apps/v1")',
                'kind: required (e.g. "Pod" or "Deployment")',
            ],
        ),
        ({"apiVersion": 1, "kind": "Pod"}, ["apiVersion: expected a string, got 1"]),
        (
            {"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "d"}},
            ['apiVersion: Deployment is served as "apps/v1", got "v1"'],
        ),
        (
            {
                "apiVersion": "networking.k8s.io/v1beta1",
                "kind": "Ingress",
                "metadata": {"name": "i"},
            },
            [
                'apiVersion: Ingress is served as "networking.k8s.io/v1", got "networking.k8s.io/v1beta1"'
            ],
        ),
    ],
)
def test_api_version_and_kind(doc: dict[str, Any], expected: list[str]) -> None:
    assert problems_of(doc) == expected


def test_unknown_kind_lists_supported() -> None:
    [line] = problems_of({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert line.startswith("kind: must be one of ConfigMap, CronJob, Deployment,")
    assert line.endswith('got "Widget"')
    [line] = problems_of({"apiVersion": "apps/v1", "kind": "deployment", "metadata": {"name": "w"}})
    assert line.endswith('got "deployment" (did you mean "Deployment"?)')


def test_not_a_mapping() -> None:
    assert problems_of(["a"]) == ["(document): expected a mapping, got a list"]


# -- names and metadata --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("meta", "expected_start"),
    [
        ({}, "metadata.name: required (or metadata.generateName)"),
        ({"name": ""}, "metadata.name: required (or metadata.generateName)"),
        ({"name": "Web"}, "metadata.name: must be a lowercase RFC 1123 subdomain"),
        ({"name": "web_1"}, "metadata.name: must be a lowercase RFC 1123 subdomain"),
        ({"name": "-web"}, "metadata.name: must be a lowercase RFC 1123 subdomain"),
        ({"name": "a" * 254}, "metadata.name: must be a lowercase RFC 1123 subdomain"),
        ({"generateName": "Web-"}, "metadata.generateName: must be a lowercase RFC 1123 subdomain"),
        (
            {"name": "p", "namespace": "Team.A"},
            "metadata.namespace: must be a lowercase RFC 1123 label",
        ),
        (
            {"name": "p", "labels": {"bad key": "x"}},
            "metadata.labels: key must be a qualified name",
        ),
        (
            {"name": "p", "labels": {"app": "has space"}},
            "metadata.labels[app]: must be a valid label value",
        ),
        (
            {"name": "p", "labels": {"app": "x" * 64}},
            "metadata.labels[app]: must be a valid label value",
        ),
        (
            {"name": "p", "labels": {"Example.com/a": "x"}},
            "metadata.labels: key must be a qualified name",
        ),
        (
            {"name": "p", "annotations": {"/x": "y"}},
            "metadata.annotations: key must be a qualified name",
        ),
        ({"name": "p", "finalizers": ["a b"]}, "metadata.finalizers[0]: must be a qualified name"),
        (
            {
                "name": "p",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": True},
                    {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": True},
                ],
            },
            "metadata.ownerReferences: only one reference can have controller set to true",
        ),
        (
            {"name": "p", "ownerReferences": [{"kind": "A", "name": "a", "uid": "1"}]},
            "metadata.ownerReferences[0].apiVersion: required",
        ),
    ],
)
def test_metadata_rules(meta: dict[str, Any], expected_start: str) -> None:
    doc = pod()
    doc["metadata"] = meta
    details = problems_of(doc)
    assert any(d.startswith(expected_start) for d in details), details


@pytest.mark.parametrize("name", ["web", "web-1", "a.b.c", "0abc", "x" * 253])
def test_valid_names(name: str) -> None:
    validate_object(pod(name))


def test_generate_name_alone_is_enough() -> None:
    doc = pod()
    doc["metadata"] = {"generateName": "worker-"}
    assert validate_object(doc).obj["metadata"] == {"generateName": "worker-"}


def test_kind_specific_name_rules() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}
    assert problems_of(ns)[0].startswith("metadata.name: must be a lowercase RFC 1123 label")
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "1web"},
        "spec": {"ports": [{"port": 80}]},
    }
    assert problems_of(svc)[0].startswith("metadata.name: must be a DNS-1035 label")
    assert problems_of(cronjob("c" * 53)) == [
        f'metadata.name: must be no more than 52 characters, got "{"c" * 53}" (53 characters)'
    ]
    validate_object(cronjob("c" * 52))


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
        "spec": {"nominalQuota": {"nvidia.com/gpu": 8, "cpu": "64", "memory": "512Gi"}},
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
