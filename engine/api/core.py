"""core/v1 kinds besides Pod: Node, Event, Namespace, Service, Endpoints, ConfigMap, Secret, PVC."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from engine.api.base import (
    ApiModel,
    Int32,
    IntOrString,
    NotImplementedField,
    ResourceList,
    Unimplemented,
)
from engine.api.meta import LabelSelector, ObjectMeta, ObjectReference

NI = NotImplementedField

Status = dict[str, Any] | None


# -- Node --------------------------------------------------------------------------------------
class Taint(ApiModel):
    key: str
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
    time_added: str | None = None


class NodeSpec(ApiModel):
    pod_cidr: str | None = Field(None, alias="podCIDR")
    pod_cidrs: list[str] | None = Field(None, alias="podCIDRs")
    provider_id: str | None = Field(None, alias="providerID")
    unschedulable: bool | None = None
    taints: list[Taint] | None = None
    config_source: NI = None
    external_id: NI = Field(None, alias="externalID")


class Node(ApiModel):
    api_version: str
    kind: Literal["Node"]
    metadata: ObjectMeta
    spec: NodeSpec | None = None
    status: Status = None


# -- Event -------------------------------------------------------------------------------------
class EventSource(ApiModel):
    component: str | None = None
    host: str | None = None


class Event(ApiModel):
    api_version: str
    kind: Literal["Event"]
    metadata: ObjectMeta
    involved_object: ObjectReference
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    count: Int32 | None = None
    type: Literal["Normal", "Warning"] | None = None
    event_time: str | None = None
    series: dict[str, Any] | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None


# -- Namespace ---------------------------------------------------------------------------------
class NamespaceSpec(ApiModel):
    finalizers: list[str] | None = None


class Namespace(ApiModel):
    api_version: str
    kind: Literal["Namespace"]
    metadata: ObjectMeta
    spec: NamespaceSpec | None = None
    status: Status = None


# -- Service -----------------------------------------------------------------------------------
class ServicePort(ApiModel):
    name: str | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] | None = None
    app_protocol: str | None = None
    port: Int32
    target_port: IntOrString | None = None
    node_port: Int32 | None = None


ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]


class ServiceSpec(ApiModel):
    type: ServiceType | None = None
    selector: dict[str, str] | None = None
    ports: list[ServicePort] | None = None
    cluster_ip: str | None = Field(None, alias="clusterIP")
    cluster_ips: list[str] | None = Field(None, alias="clusterIPs")
    external_name: str | None = None
    session_affinity: Literal["None", "ClientIP"] | None = None
    session_affinity_config: NI = None
    publish_not_ready_addresses: bool | None = None
    internal_traffic_policy: Literal["Cluster", "Local"] | None = None
    ip_families: list[Literal["IPv4", "IPv6"]] | None = None
    ip_family_policy: Literal["SingleStack", "PreferDualStack", "RequireDualStack"] | None = None
    external_ips: NI = Field(None, alias="externalIPs")
    external_traffic_policy: Annotated[
        Literal["Cluster", "Local"] | None, Unimplemented(quiet=("Cluster",))
    ] = None
    health_check_node_port: NI = None
    load_balancer_ip: NI = Field(None, alias="loadBalancerIP")
    load_balancer_source_ranges: NI = None
    load_balancer_class: NI = None
    allocate_load_balancer_node_ports: NI = None
    traffic_distribution: NI = None


class Service(ApiModel):
    api_version: str
    kind: Literal["Service"]
    metadata: ObjectMeta
    spec: ServiceSpec | None = None
    status: Status = None


# -- Endpoints ---------------------------------------------------------------------------------
class EndpointAddress(ApiModel):
    ip: str
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(ApiModel):
    name: str | None = None
    port: Int32
    protocol: Literal["TCP", "UDP", "SCTP"] | None = None
    app_protocol: str | None = None


class EndpointSubset(ApiModel):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(ApiModel):
    api_version: str
    kind: Literal["Endpoints"]
    metadata: ObjectMeta
    subsets: list[EndpointSubset] | None = None


# -- ConfigMap and Secret ----------------------------------------------------------------------
class ConfigMap(ApiModel):
    api_version: str
    kind: Literal["ConfigMap"]
    metadata: ObjectMeta
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None
    immutable: bool | None = None


class Secret(ApiModel):
    api_version: str
    kind: Literal["Secret"]
    metadata: ObjectMeta
    type: str | None = None
    data: dict[str, str] | None = None
    string_data: dict[str, str] | None = None
    immutable: bool | None = None


# -- PersistentVolumeClaim ---------------------------------------------------------------------
class VolumeResourceRequirements(ApiModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None


AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]


class PersistentVolumeClaimSpec(ApiModel):
    access_modes: list[AccessMode] | None = None
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements | None = None
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: Literal["Filesystem", "Block"] | None = None
    data_source: NI = None
    data_source_ref: NI = None
    volume_attributes_class_name: NI = None


class PersistentVolumeClaim(ApiModel):
    api_version: str
    kind: Literal["PersistentVolumeClaim"]
    metadata: ObjectMeta
    spec: PersistentVolumeClaimSpec
    status: Status = None
