"""validate_object errors: plain-English type errors, apiVersion and kind, names and metadata."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api import validate_object
from engine.errors import InvalidError

from .api_builders import container, cronjob, deployment, pod, problems_of


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
    assert status["details"]["causes"][0] == {"reason": "FieldValueInvalid", "field": "spec.replicas",
                                              "message": 'expected an integer, got "three"'}
    assert info.value.details == ['spec.replicas: expected an integer, got "three"']


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
