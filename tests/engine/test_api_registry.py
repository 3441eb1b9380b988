"""The resource registry: names, scopes, apiVersions and deprecated versions."""

from __future__ import annotations

import pytest

from engine.api import (
    RESOURCES,
    Deployment,
    Pod,
    Queue,
    by_kind,
    by_plural,
    deprecated_api_warning,
    resolve,
)
from engine.errors import NotFoundError


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("po", "Pod"),
        ("pod", "Pod"),
        ("pods", "Pod"),
        ("Pod", "Pod"),
        ("PODS", "Pod"),
        ("pods.v1", "Pod"),
        ("no", "Node"),
        ("nodes", "Node"),
        ("ev", "Event"),
        ("events", "Event"),
        ("ns", "Namespace"),
        ("namespace", "Namespace"),
        ("deploy", "Deployment"),
        ("deployments", "Deployment"),
        ("Deployment", "Deployment"),
        ("deployments.apps", "Deployment"),
        ("deployment.apps", "Deployment"),
        ("deployments.v1.apps", "Deployment"),
        ("deploy.apps", "Deployment"),
        ("rs", "ReplicaSet"),
        ("replicasets.apps", "ReplicaSet"),
        ("job", "Job"),
        ("jobs", "Job"),
        ("jobs.batch", "Job"),
        ("cj", "CronJob"),
        ("cronjobs", "CronJob"),
        ("cronjob.batch", "CronJob"),
        ("svc", "Service"),
        ("services", "Service"),
        ("ep", "Endpoints"),
        ("endpoints", "Endpoints"),
        ("endpointslice", "EndpointSlice"),
        ("endpointslices.discovery.k8s.io", "EndpointSlice"),
        ("ing", "Ingress"),
        ("ingresses.networking.k8s.io", "Ingress"),
        ("hpa", "HorizontalPodAutoscaler"),
        ("horizontalpodautoscalers.autoscaling", "HorizontalPodAutoscaler"),
        ("pvc", "PersistentVolumeClaim"),
        ("persistentvolumeclaims", "PersistentVolumeClaim"),
        ("cm", "ConfigMap"),
        ("configmaps", "ConfigMap"),
        ("secret", "Secret"),
        ("secrets", "Secret"),
        ("pc", "PriorityClass"),
        ("priorityclasses.scheduling.k8s.io", "PriorityClass"),
        ("queue", "Queue"),
        ("queues", "Queue"),
        ("queues.tugboat.dev", "Queue"),
        (" Pods ", "Pod"),
    ],
)
def test_resolve(name: str, kind: str) -> None:
    assert resolve(name).kind == kind


@pytest.mark.parametrize("name", ["foo", "podz", "deployments.batch", "pods.apps", "", "queues.x"])
def test_resolve_unknown(name: str) -> None:
    with pytest.raises(NotFoundError) as info:
        resolve(name)
    assert str(info.value) == f'the server doesn\'t have a resource type "{name}"'


@pytest.mark.parametrize(
    ("kind", "api_version", "namespaced", "plural"),
    [
        ("Pod", "v1", True, "pods"),
        ("Node", "v1", False, "nodes"),
        ("Namespace", "v1", False, "namespaces"),
        ("Event", "v1", True, "events"),
        ("Deployment", "apps/v1", True, "deployments"),
        ("Job", "batch/v1", True, "jobs"),
        ("CronJob", "batch/v1", True, "cronjobs"),
        ("Ingress", "networking.k8s.io/v1", True, "ingresses"),
        ("EndpointSlice", "discovery.k8s.io/v1", True, "endpointslices"),
        ("HorizontalPodAutoscaler", "autoscaling/v2", True, "horizontalpodautoscalers"),
        ("PriorityClass", "scheduling.k8s.io/v1", False, "priorityclasses"),
        ("Queue", "tugboat.dev/v1", False, "queues"),
        ("PersistentVolumeClaim", "v1", True, "persistentvolumeclaims"),
    ],
)
def test_resource_info(kind: str, api_version: str, namespaced: bool, plural: str) -> None:
    info = resolve(kind)
    assert info.api_version == api_version
    assert info.namespaced is namespaced
    assert info.plural == plural
    assert info.singular == kind.lower()
    assert by_kind(api_version, kind) is info
    assert by_plural(info.group, plural) is info


def test_all_resources_unique() -> None:
    kinds = [info.kind for info in RESOURCES]
    # the 17 of the issue, PodRecord, IngressClass, EndpointSlice, PersistentVolume, StorageClass
    assert len(kinds) == len(set(kinds)) == 22
    assert resolve("pods").model is Pod
    assert resolve("deploy").model is Deployment
    assert resolve("queues").model is Queue
    assert resolve("deploy").group_resource == "deployments.apps"
    assert resolve("po").group_resource == "pods"


@pytest.mark.parametrize(
    ("api_version", "kind", "current"),
    [
        ("batch/v1beta1", "CronJob", "batch/v1"),
        ("apps/v1beta1", "Deployment", "apps/v1"),
        ("apps/v1beta2", "Deployment", "apps/v1"),
        ("extensions/v1beta1", "Deployment", "apps/v1"),
        ("apps/v1beta2", "ReplicaSet", "apps/v1"),
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "autoscaling/v2"),
        ("scheduling.k8s.io/v1beta1", "PriorityClass", "scheduling.k8s.io/v1"),
    ],
)
def test_deprecated_versions(api_version: str, kind: str, current: str) -> None:
    assert by_kind(api_version, kind).api_version == current
    warning = deprecated_api_warning(api_version, kind)
    assert warning is not None
    assert warning.startswith(f"{api_version} {kind} is deprecated")
    assert warning.endswith(f"use {current} {kind}")


def test_cronjob_v1beta1_warning_text() -> None:
    assert deprecated_api_warning("batch/v1beta1", "CronJob") == (
        "batch/v1beta1 CronJob is deprecated in v1.21+, unavailable in v1.25+; use batch/v1 CronJob"
    )
    assert deprecated_api_warning("batch/v1", "CronJob") is None
    assert deprecated_api_warning("autoscaling/v1", "HorizontalPodAutoscaler") is None
    assert by_kind("autoscaling/v1", "HorizontalPodAutoscaler").version == "v2"


@pytest.mark.parametrize(
    ("api_version", "kind", "message"),
    [
        ("v1", "Deployment", 'use "apps/v1"'),
        ("apps/v2", "Deployment", 'use "apps/v1"'),
        ("extensions/v1beta1", "Ingress", 'use "networking.k8s.io/v1"'),
        ("v1", "Widget", "supported kinds: ConfigMap"),
        ("apps/v1", "deployment", "supported kinds"),  # kinds are case-sensitive
    ],
)
def test_by_kind_unknown(api_version: str, kind: str, message: str) -> None:
    with pytest.raises(NotFoundError) as info:
        by_kind(api_version, kind)
    assert f'no matches for kind "{kind}" in version "{api_version}"' in str(info.value)
    assert message in str(info.value)


def test_by_plural_unknown() -> None:
    with pytest.raises(NotFoundError, match='"widgets.apps"'):
        by_plural("apps", "widgets")
    with pytest.raises(NotFoundError, match='"deployments"'):
        by_plural("", "deployments")
