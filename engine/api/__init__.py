"""Typed API objects, defaults and validation: user input in, a valid Kubernetes-shaped dict out.

Everything outside this package handles objects as plain JSON dicts (camelCase); the way in is
`validate_object` / `validate_documents`, the way to read files is `read_manifests`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Light names load at once; the pydantic models and validation load on first use, so a
# client that only resolves kinds starts fast (`tug get pods`); manifests (YAML) load when read.
from engine.api.quantity import Quantity, parse_quantity
from engine.api.registry import (
    RESOURCES,
    ResourceInfo,
    by_kind,
    by_plural,
    deprecated_api_warning,
    resolve,
)
from engine.lazy import lazy_attributes

_LAZY = {
    "load_documents": "manifests", "read_manifests": "manifests",
    "Deployment": "apps", "ReplicaSet": "apps", "NotImplementedField": "base",
    "CronJob": "batch", "Job": "batch", "ConfigMap": "core", "Endpoints": "core",
    "EndpointSlice": "discovery",
    "Event": "core", "Namespace": "core", "Node": "core", "PersistentVolumeClaim": "core",
    "Secret": "core", "Service": "core", "container_env": "env", "expand_command": "env",
    "LabelSelector": "meta", "ObjectMeta": "meta", "HorizontalPodAutoscaler": "other",
    "Ingress": "other", "IngressClass": "other", "PriorityClass": "other", "Container": "pod", "Pod": "pod",
    "PodSpec": "pod", "PodTemplateSpec": "pod", "Queue": "tugboat", "Validated": "validation",
    "validate_documents": "validation", "validate_object": "validation",
}

if TYPE_CHECKING:
    from engine.api.apps import Deployment, ReplicaSet
    from engine.api.base import NotImplementedField
    from engine.api.batch import CronJob, Job
    from engine.api.core import (
        ConfigMap,
        Endpoints,
        Event,
        Namespace,
        Node,
        PersistentVolumeClaim,
        Secret,
        Service,
    )
    from engine.api.discovery import EndpointSlice
    from engine.api.env import container_env, expand_command
    from engine.api.manifests import load_documents, read_manifests
    from engine.api.meta import LabelSelector, ObjectMeta
    from engine.api.other import HorizontalPodAutoscaler, Ingress, IngressClass, PriorityClass
    from engine.api.pod import Container, Pod, PodSpec, PodTemplateSpec
    from engine.api.tugboat import Queue
    from engine.api.validation import Validated, validate_documents, validate_object


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "RESOURCES",
    "ConfigMap",
    "Container",
    "CronJob",
    "Deployment",
    "EndpointSlice",
    "Endpoints",
    "Event",
    "HorizontalPodAutoscaler",
    "Ingress",
    "IngressClass",
    "Job",
    "LabelSelector",
    "Namespace",
    "Node",
    "NotImplementedField",
    "ObjectMeta",
    "PersistentVolumeClaim",
    "Pod",
    "PodSpec",
    "PodTemplateSpec",
    "PriorityClass",
    "Quantity",
    "Queue",
    "ReplicaSet",
    "ResourceInfo",
    "Secret",
    "Service",
    "Validated",
    "by_kind",
    "by_plural",
    "container_env",
    "deprecated_api_warning",
    "expand_command",
    "load_documents",
    "parse_quantity",
    "read_manifests",
    "resolve",
    "validate_documents",
    "validate_object",
]
