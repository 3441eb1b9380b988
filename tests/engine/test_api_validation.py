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
            "batch/v1beta1 CronJob is deprecated in v1.21+, unavailable in v1.25+; "
            "use batch/v1 CronJob"
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
            'spec.restartPolicy: Unsupported value "Sometimes": supported values "Always", '
            '"OnFailure", "Never"',
        ),
        (
            pod(containers=[container(resources={"limits": {"cpu": "1K"}})]),
            "spec.containers[0].resources.limits[cpu]: quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got \"1K\"",
        ),
        (
            pod(containers=[container(resources={"limits": {"nvidia.com/gpu": True}})]),
            "spec.containers[0].resources.limits[nvidia.com/gpu]: expected a quantity such as 500m, "
            "2 or 128Mi, got true",
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


# -- containers and pods -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"containers": []}, "spec.containers: must have at least one container"),
        (
            {"containers": [container(name="Main")]},
            "spec.containers[0].name: must be a lowercase RFC 1123 label",
        ),
        (
            {"containers": [container(), container()]},
            'spec.containers[1].name: Duplicate value "main"',
        ),
        (
            {"containers": [container()], "initContainers": [container()]},
            'spec.containers[0].name: Duplicate value "main"',
        ),
        ({"containers": [container(image="")]}, "spec.containers[0].image: required"),
        (
            {"containers": [container(ports=[{"containerPort": 0}])]},
            "spec.containers[0].ports[0].containerPort: must be between 1 and 65535, inclusive, got 0",
        ),
        (
            {"containers": [container(ports=[{"containerPort": 70000}])]},
            "spec.containers[0].ports[0].containerPort: must be between 1 and 65535, inclusive, got 70000",
        ),
        (
            {"containers": [container(ports=[{"containerPort": 80, "hostPort": 99999}])]},
            "spec.containers[0].ports[0].hostPort: must be between 1 and 65535, inclusive",
        ),
        (
            {
                "containers": [
                    container(
                        ports=[
                            {"containerPort": 80, "name": "a", "protocol": "TCP"},
                            {"containerPort": 81, "name": "a"},
                        ]
                    )
                ]
            },
            'spec.containers[0].ports[1].name: Duplicate value "a"',
        ),
        (
            {"containers": [container(ports=[{"containerPort": 80, "protocol": "tcp"}])]},
            'spec.containers[0].ports[0].protocol: Unsupported value "tcp"',
        ),
        (
            {"containers": [container(env=[{"name": "A=B", "value": "x"}])]},
            "spec.containers[0].env[0].name: must be printable ASCII characters other than '='",
        ),
        (
            {
                "containers": [
                    container(
                        env=[
                            {
                                "name": "A",
                                "value": "x",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            }
                        ]
                    )
                ]
            },
            "spec.containers[0].env[0].valueFrom: may not be specified when `value` is not empty",
        ),
        (
            {
                "containers": [
                    container(
                        env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.x"}}}]
                    )
                ]
            },
            'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value "spec.x"',
        ),
        (
            {"containers": [container(env=[{"name": "A", "valueFrom": {}}])]},
            "spec.containers[0].env[0].valueFrom: must specify exactly one of fieldRef",
        ),
        (
            {"containers": [container(volumeMounts=[{"name": "nope", "mountPath": "/x"}])]},
            'spec.containers[0].volumeMounts[0].name: must name a volume of the pod, got "nope" (Not found)',
        ),
        (
            {"containers": [container(livenessProbe={"periodSeconds": 5})]},
            "spec.containers[0].livenessProbe: must specify a handler type",
        ),
        (
            {
                "containers": [
                    container(
                        livenessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}
                    )
                ]
            },
            "spec.containers[0].livenessProbe: may not specify more than 1 handler type, got exec, tcpSocket",
        ),
        (
            {
                "containers": [
                    container(livenessProbe={"exec": {"command": ["true"]}, "successThreshold": 2})
                ]
            },
            "spec.containers[0].livenessProbe.successThreshold: must be 1, got 2",
        ),
        (
            {"containers": [container(readinessProbe={"httpGet": {"port": "Not_A_Name"}})]},
            "spec.containers[0].readinessProbe.httpGet.port: must be a port number (1-65535) or an IANA",
        ),
        (
            {
                "containers": [
                    container(readinessProbe={"tcpSocket": {"port": 80}, "periodSeconds": -1})
                ]
            },
            "spec.containers[0].readinessProbe.periodSeconds: must be greater than or equal to 0, got -1",
        ),
        (
            {
                "containers": [container()],
                "initContainers": [
                    container(name="init", readinessProbe={"exec": {"command": ["true"]}})
                ],
            },
            "spec.initContainers[0].readinessProbe: may not be set for init containers without "
            "restartPolicy=Always",
        ),
        (
            {"containers": [container(lifecycle={"preStop": {}})]},
            "spec.containers[0].lifecycle.preStop: must specify exactly one handler type",
        ),
        (
            {"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]},
            "spec.volumes[0]: may not specify more than 1 volume type, got emptyDir, hostPath",
        ),
        (
            {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]},
            'spec.volumes[1].name: Duplicate value "v"',
        ),
        (
            {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": ""}}]},
            "spec.volumes[0].persistentVolumeClaim.claimName: required",
        ),
        (
            {"terminationGracePeriodSeconds": -1},
            "spec.terminationGracePeriodSeconds: must be greater than or equal to 0, got -1",
        ),
        ({"activeDeadlineSeconds": 0}, "spec.activeDeadlineSeconds: must be between 1 and"),
        ({"nodeSelector": {"gpu type": "a100"}}, "spec.nodeSelector: key must be a qualified name"),
        ({"hostname": "Trainer"}, "spec.hostname: must be a lowercase RFC 1123 label"),
        (
            {"tolerations": [{"operator": "Equal", "value": "x"}]},
            "spec.tolerations[0].operator: must be Exists when `key` is empty",
        ),
        (
            {"tolerations": [{"key": "k", "operator": "Exists", "value": "x"}]},
            "spec.tolerations[0].value: must be empty when `operator` is 'Exists'",
        ),
        (
            {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]},
            "spec.tolerations[0].effect: must be 'NoExecute' when `tolerationSeconds` is set",
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "gpus", "operator": "Gt", "values": ["a"]}
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
            "nodeSelectorTerms[0].matchExpressions[0].values[0]: must be an integer for Gt",
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "zone", "operator": "In"}]}
                            ]
                        }
                    }
                }
            },
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
            "nodeSelectorTerms[0].matchExpressions[0].values: must be specified when `operator` is 'In'",
        ),
    ],
)
def test_pod_rules(spec: dict[str, Any], expected: str) -> None:
    details = problems_of(pod(**spec))
    assert any(d.startswith(expected) for d in details), details


def test_full_pod_is_valid() -> None:
    doc = pod(
        initContainers=[container(name="setup", command=["sh", "-c", "echo"])],
        containers=[
            container(
                command=["python", "train.py"],
                args=["--epochs", "$(EPOCHS)"],
                workingDir="/app",
                env=[
                    {"name": "EPOCHS", "value": "3"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {
                        "name": "TIER",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}},
                    },
                    {"name": "CFG", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}},
                    {
                        "name": "TOKEN",
                        "valueFrom": {"secretKeyRef": {"name": "s", "key": "t", "optional": True}},
                    },
                    {
                        "name": "CPU",
                        "valueFrom": {
                            "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}
                        },
                    },
                ],
                envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
                ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                resources={
                    "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": 2},
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                },
                volumeMounts=[
                    {"name": "data", "mountPath": "/data", "readOnly": True},
                    {"name": "scratch", "mountPath": "/tmp/s"},
                ],
                livenessProbe={"httpGet": {"path": "/healthz", "port": "http"}},
                readinessProbe={"grpc": {"port": 9090}},
                startupProbe={"tcpSocket": {"port": 8080}, "failureThreshold": 30},
                lifecycle={"preStop": {"exec": {"command": ["sleep", "5"]}}},
            )
        ],
        volumes=[
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi", "medium": "Memory"}},
            {"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}},
            {"name": "sec", "secret": {"secretName": "s"}},
            {"name": "host", "hostPath": {"path": "/mnt", "type": "Directory"}},
        ],
        nodeSelector={"gpu": "a100"},
        nodeName="node-1",
        hostname="h",
        subdomain="s",
        tolerations=[
            {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
            {"operator": "Exists"},
        ],
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["4"]}]}
                    ]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "preference": {
                            "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]
                        },
                    }
                ],
            }
        },
        priorityClassName="high",
        priority=1000,
        schedulerName="default-scheduler",
        serviceAccountName="trainer",
        activeDeadlineSeconds=3600,
        securityContext={"runAsUser": 1000, "fsGroup": 2000},
    )
    result = validate_object(doc)
    assert result.warnings == []
    assert result.obj["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "2"


# -- resources and GPUs (section 6) --------------------------------------------------------------
PATH = "spec.containers[0].resources"


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({"limits": {"nvidia.com/gpu": 1}}, None),
        ({"limits": {"nvidia.com/gpu": 2}, "requests": {"nvidia.com/gpu": 2}}, None),
        ({"limits": {"nvidia.com/gpu": "2"}, "requests": {"nvidia.com/gpu": 2}}, None),
        ({"limits": {"nvidia.com/gpu": 0}}, None),
        ({"limits": {"example.com/foo": 3}}, None),
        (
            {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 2}},
            f'{PATH}.requests[nvidia.com/gpu]: must be equal to nvidia.com/gpu limit of 2, got "1"',
        ),
        (
            {"requests": {"nvidia.com/gpu": 1}},
            f"{PATH}.limits[nvidia.com/gpu]: Limit must be set for non overcommitable resources, "
            "got a request of 1 and no limit",
        ),
        (
            {"limits": {"nvidia.com/gpu": 0.5}},
            f'{PATH}.limits[nvidia.com/gpu]: must be an integer, got "500m"',
        ),
        (
            {"limits": {"nvidia.com/gpu": "500m"}},
            f'{PATH}.limits[nvidia.com/gpu]: must be an integer, got "500m"',
        ),
        (
            {"limits": {"hugepages-2Mi": "100Mi"}, "requests": {"hugepages-2Mi": "50Mi"}},
            f'{PATH}.requests[hugepages-2Mi]: must be equal to hugepages-2Mi limit of 100Mi, got "50Mi"',
        ),
        (
            {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
            f'{PATH}.requests[cpu]: must be less than or equal to cpu limit of 1, got "2"',
        ),
        (
            {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}},
            f'{PATH}.requests[memory]: must be less than or equal to memory limit of 1Gi, got "2Gi"',
        ),
        ({"requests": {"cpu": "1500m"}, "limits": {"cpu": "2"}}, None),
        ({"requests": {"cpu": 2}}, None),
        (
            {"requests": {"cpu": "-1"}},
            f'{PATH}.requests[cpu]: must be greater than or equal to 0, got "-1"',
        ),
        ({"limits": {"gpu": 1}}, f"{PATH}.limits: resource names must be cpu, memory"),
    ],
)
def test_resource_rules(resources: dict[str, Any], expected: str | None) -> None:
    doc = pod(containers=[container(resources=resources)])
    if expected is None:
        validate_object(doc)
    else:
        details = problems_of(doc)
        assert any(d.startswith(expected) for d in details), details


def test_bad_gpu_limit_reported_once() -> None:
    details = problems_of(
        pod(containers=[container(resources={"limits": {"nvidia.com/gpu": 0.5}})])
    )
    assert details == [f'{PATH}.limits[nvidia.com/gpu]: must be an integer, got "500m"']


# -- not-implemented fields ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "warnings"),
    [
        ({"hostNetwork": True}, ["spec.hostNetwork"]),
        ({"hostNetwork": False}, []),
        ({"dnsPolicy": "ClusterFirst"}, []),
        ({"dnsPolicy": "Default"}, ["spec.dnsPolicy"]),
        ({"dnsConfig": {"nameservers": ["1.1.1.1"]}}, ["spec.dnsConfig"]),
        ({"hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a"]}]}, ["spec.hostAliases"]),
        ({"topologySpreadConstraints": [{"maxSkew": 1}]}, ["spec.topologySpreadConstraints"]),
        ({"runtimeClassName": "nvidia"}, ["spec.runtimeClassName"]),
        ({"imagePullSecrets": [{"name": "reg"}]}, ["spec.imagePullSecrets"]),
        ({"imagePullSecrets": []}, []),
        (
            {"shareProcessNamespace": True, "hostPID": True, "hostIPC": True},
            ["spec.hostPID", "spec.hostIPC", "spec.shareProcessNamespace"],
        ),
        (
            {"readinessGates": [{"conditionType": "x"}], "overhead": {"cpu": "1"}},
            ["spec.overhead", "spec.readinessGates"],
        ),
        ({"ephemeralContainers": [{"name": "debug"}]}, ["spec.ephemeralContainers"]),
        ({"affinity": {"podAntiAffinity": {"x": 1}}}, ["spec.affinity.podAntiAffinity"]),
        (
            {
                "containers": [
                    container(securityContext={"privileged": True}, tty=True, stdin=False)
                ]
            },
            ["spec.containers[0].securityContext", "spec.containers[0].tty"],
        ),
        (
            {
                "containers": [
                    container(),
                    container(name="b", resizePolicy=[{"x": 1}], volumeDevices=[{"name": "d"}]),
                ]
            },
            ["spec.containers[1].resizePolicy", "spec.containers[1].volumeDevices"],
        ),
        (
            {"volumes": [{"name": "v", "nfs": {"server": "s", "path": "/"}}]},
            ["spec.volumes[0].nfs"],
        ),
        (
            {"containers": [container(lifecycle={"postStart": {"exec": {"command": ["x"]}}})]},
            ["spec.containers[0].lifecycle.postStart"],
        ),
    ],
)
def test_not_implemented_warnings(spec: dict[str, Any], warnings: list[str]) -> None:
    result = validate_object(pod(**spec))
    assert sorted(result.warnings) == sorted(f"{w}: {NI}" for w in warnings)


def test_not_implemented_fields_are_kept() -> None:
    doc = pod(hostAliases=[{"ip": "1.2.3.4", "hostnames": ["a"]}], dnsPolicy="None")
    spec = validate_object(doc).obj["spec"]
    assert spec["hostAliases"] == [{"ip": "1.2.3.4", "hostnames": ["a"]}]
    assert spec["dnsPolicy"] == "None"


def test_warnings_inside_templates() -> None:
    doc = deployment()
    doc["spec"]["template"]["spec"]["affinity"] = {"podAffinity": {"required": []}}
    assert validate_object(doc).warnings == [f"spec.template.spec.affinity.podAffinity: {NI}"]


# -- Job (1.1) -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            job(restart=None),
            'spec.template.spec.restartPolicy: Unsupported value "Always": '
            'supported values "OnFailure", "Never"',
        ),
        (
            job(restart="Always"),
            'spec.template.spec.restartPolicy: Unsupported value "Always": '
            'supported values "OnFailure", "Never"',
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
            "spec.successPolicy.rules[0].succeededCount: must be less than or equal to the number of "
            "succeededIndexes (3), got 4",
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
            job(selector={"matchLabels": {"app": "x"}}),
            "spec.template.metadata.labels: must match spec.selector",
        ),
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
            "spec.schedule: cannot use TZ or CRON_TZ in schedule, use timeZone field instead, got "
            '"TZ=Europe/Paris 0 * * * *"',
        ),
        ({"schedule": "CRON_TZ=UTC 0 * * * *"}, "spec.schedule: cannot use TZ or CRON_TZ"),
        ({"schedule": ""}, "spec.schedule: required"),
        (
            {"concurrencyPolicy": "Sometimes"},
            'spec.concurrencyPolicy: Unsupported value "Sometimes": supported values "Allow", '
            '"Forbid", "Replace"',
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
        'spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value "Always": '
        'supported values "OnFailure", "Never"',
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
            "spec.strategy.rollingUpdate.maxSurge: must be a non-negative integer or a percentage "
            'such as "25%", got "25"',
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
            'spec.template.metadata.labels: must match spec.selector ({"matchLabels": {"app": '
            '"other"}}), got {"app": "web"}',
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
        "spec.template.spec.activeDeadlineSeconds: forbidden: activeDeadlineSeconds in ReplicaSet "
        "is not Supported",
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
        'spec.template.metadata.labels: must match spec.selector ({"matchLabels": {"tier": '
        '"frontend"}}), got {"tier": "backend"}'
    ]


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


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {}},
            "spec.ports: required (at least one port)",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"ports": [{"port": 80}, {"port": 81}]},
            },
            "spec.ports[0].name: required when there is more than one port",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"ports": [{"port": 80, "nodePort": 30001}]},
            },
            "spec.ports[0].nodePort: may only be set for type NodePort or LoadBalancer",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"type": "ExternalName"},
            },
            "spec.externalName: required",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"type": "Headless", "ports": [{"port": 80}]},
            },
            'spec.type: Unsupported value "Headless"',
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "data": {"bad key": "x"},
            },
            "data: key must be a valid config key",
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}},
            "data[a]: expected a string, got 1",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s"},
                "data": {"a": "not base64!"},
            },
            "data[a]: expected base64-encoded bytes",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "d"},
                "spec": {"resources": {"requests": {"storage": "1Gi"}}},
            },
            "spec.accessModes: required",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "d"},
                "spec": {"accessModes": ["ReadWriteOnce"]},
            },
            "spec.resources.requests[storage]: required",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "d"},
                "spec": {"accessModes": ["RWO"], "resources": {"requests": {"storage": "1Gi"}}},
            },
            'spec.accessModes[0]: Unsupported value "RWO"',
        ),
        (
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "i"},
                "spec": {
                    "rules": [
                        {
                            "http": {
                                "paths": [
                                    {
                                        "path": "api",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "s", "port": {}}},
                                    }
                                ]
                            }
                        }
                    ]
                },
            },
            "spec.rules[0].http.paths[0].path: must be an absolute path for pathType Prefix",
        ),
        (
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "i"},
                "spec": {
                    "rules": [
                        {
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "s", "port": {}}},
                                    }
                                ]
                            }
                        }
                    ]
                },
            },
            "spec.rules[0].http.paths[0].backend.service.port: must specify exactly one of name or number",
        ),
        (
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "i"},
                "spec": {},
            },
            "spec: must specify defaultBackend or at least one rule",
        ),
        (
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "w"},
                    "minReplicas": 5,
                    "maxReplicas": 2,
                },
            },
            "spec.maxReplicas: must be greater than or equal to minReplicas (5), got 2",
        ),
        (
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w"}},
            },
            "spec.maxReplicas: required",
        ),
        (
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "w"},
                    "maxReplicas": 3,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization"}},
                        }
                    ],
                },
            },
            "spec.metrics[0].resource.target.averageUtilization: required when type is Utilization",
        ),
        (
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "w"},
                    "maxReplicas": 3,
                    "metrics": [{"type": "Pods"}],
                },
            },
            "spec.metrics[0].pods: required when type is Pods",
        ),
        (
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "x"},
                "value": 2000000000,
            },
            "value: must be less than or equal to 1000000000, got 2000000000",
        ),
        (
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "system-mine"},
                "value": 1,
            },
            "metadata.name: the 'system-' prefix is reserved",
        ),
        (
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "x"},
            },
            "value: required",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "n"},
                "spec": {"taints": [{"key": "gpu", "effect": "Sometimes"}]},
            },
            'spec.taints[0].effect: Unsupported value "Sometimes"',
        ),
        (
            {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}},
            "involvedObject: required",
        ),
        (
            {
                "apiVersion": "tugboat.dev/v1",
                "kind": "Queue",
                "metadata": {"name": "q"},
                "spec": {"nominalQuota": {"nvidia.com/gpu": "-1"}},
            },
            'spec.nominalQuota[nvidia.com/gpu]: must be greater than or equal to 0, got "-1"',
        ),
        (
            {
                "apiVersion": "tugboat.dev/v1",
                "kind": "Queue",
                "metadata": {"name": "q"},
                "spec": {"nominalQuota": {"cpu": "lots"}},
            },
            "spec.nominalQuota[cpu]: quantities must match the regular expression",
        ),
        (
            {
                "apiVersion": "tugboat.dev/v1",
                "kind": "Queue",
                "metadata": {"name": "q"},
                "spec": {"cohort": "x"},
            },
            "spec.cohort: unknown field",
        ),
    ],
)
def test_other_kinds_invalid(doc: dict[str, Any], expected: str) -> None:
    details = problems_of(doc)
    assert any(d.startswith(expected) for d in details), details


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
