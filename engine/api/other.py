"""Ingress and IngressClass (networking.k8s.io/v1), HorizontalPodAutoscaler (autoscaling/v2),
PriorityClass."""

from __future__ import annotations

from typing import Any, Literal

from engine.api.base import ApiModel, Int32, NotImplementedField, QuantityStr
from engine.api.meta import LabelSelector, ObjectMeta, TypedLocalObjectReference

NI = NotImplementedField


# -- Ingress -----------------------------------------------------------------------------------
class ServiceBackendPort(ApiModel):
    name: str | None = None
    number: Int32 | None = None


class IngressServiceBackend(ApiModel):
    name: str
    port: ServiceBackendPort | None = None


class IngressBackend(ApiModel):
    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(ApiModel):
    path: str | None = None
    path_type: Literal["Exact", "Prefix", "ImplementationSpecific"]
    backend: IngressBackend


class HTTPIngressRuleValue(ApiModel):
    paths: list[HTTPIngressPath]


class IngressRule(ApiModel):
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressTLS(ApiModel):
    hosts: list[str] | None = None
    secret_name: str | None = None


class IngressSpec(ApiModel):
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    tls: list[IngressTLS] | None = None
    rules: list[IngressRule] | None = None


class Ingress(ApiModel):
    api_version: str
    kind: Literal["Ingress"]
    metadata: ObjectMeta
    spec: IngressSpec | None = None
    status: dict[str, Any] | None = None


# -- HorizontalPodAutoscaler -------------------------------------------------------------------
class CrossVersionObjectReference(ApiModel):
    api_version: str | None = None
    kind: str
    name: str


class MetricTarget(ApiModel):
    type: Literal["Utilization", "Value", "AverageValue"]
    value: QuantityStr | None = None
    average_value: QuantityStr | None = None
    average_utilization: Int32 | None = None


class ResourceMetricSource(ApiModel):
    name: str
    target: MetricTarget


class ContainerResourceMetricSource(ApiModel):
    name: str
    container: str
    target: MetricTarget


class MetricIdentifier(ApiModel):
    name: str
    selector: LabelSelector | None = None


class PodsMetricSource(ApiModel):
    metric: MetricIdentifier
    target: MetricTarget


class ObjectMetricSource(ApiModel):
    described_object: CrossVersionObjectReference
    metric: MetricIdentifier
    target: MetricTarget


class ExternalMetricSource(ApiModel):
    metric: MetricIdentifier
    target: MetricTarget


class MetricSpec(ApiModel):
    type: Literal["Resource", "ContainerResource", "Pods", "Object", "External"]
    resource: ResourceMetricSource | None = None
    container_resource: ContainerResourceMetricSource | None = None
    pods: PodsMetricSource | None = None
    object: ObjectMetricSource | None = None
    external: ExternalMetricSource | None = None


class HPAScalingPolicy(ApiModel):
    type: Literal["Pods", "Percent"]
    value: Int32
    period_seconds: Int32


class HPAScalingRules(ApiModel):
    stabilization_window_seconds: Int32 | None = None
    select_policy: Literal["Max", "Min", "Disabled"] | None = None
    policies: list[HPAScalingPolicy] | None = None
    tolerance: QuantityStr | None = None


class HorizontalPodAutoscalerBehavior(ApiModel):
    scale_up: HPAScalingRules | None = None
    scale_down: HPAScalingRules | None = None


class HorizontalPodAutoscalerSpec(ApiModel):
    scale_target_ref: CrossVersionObjectReference
    min_replicas: Int32 | None = None
    max_replicas: Int32
    metrics: list[MetricSpec] | None = None
    behavior: HorizontalPodAutoscalerBehavior | None = None


class HorizontalPodAutoscaler(ApiModel):
    api_version: str
    kind: Literal["HorizontalPodAutoscaler"]
    metadata: ObjectMeta
    spec: HorizontalPodAutoscalerSpec
    status: dict[str, Any] | None = None


# -- IngressClass ------------------------------------------------------------------------------
class IngressClassSpec(ApiModel):
    controller: str | None = None
    parameters: dict[str, Any] | None = None


class IngressClass(ApiModel):
    api_version: str
    kind: Literal["IngressClass"]
    metadata: ObjectMeta
    spec: IngressClassSpec | None = None


# -- PriorityClass -----------------------------------------------------------------------------
class PriorityClass(ApiModel):
    api_version: str
    kind: Literal["PriorityClass"]
    metadata: ObjectMeta
    value: Int32
    global_default: bool | None = None
    description: str | None = None
    preemption_policy: Literal["PreemptLowerPriority", "Never"] | None = None
