"""discovery.k8s.io/v1 EndpointSlice (its rules: checks_discovery.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from engine.api.base import NOT_IMPLEMENTED, ApiModel, Int32
from engine.api.meta import ObjectMeta, ObjectReference

AddressType = Literal["IPv4", "IPv6", "FQDN"]


class EndpointConditions(ApiModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(ApiModel):
    name: str


class ForNode(ApiModel):
    name: str


class EndpointHints(ApiModel):
    for_zones: list[ForZone] | None = None
    for_nodes: list[ForNode] | None = None


class Endpoint(ApiModel):
    addresses: list[str]
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    node_name: str | None = None
    zone: str | None = None
    # Topology-aware routing: kept, not acted on (every proxy sees every endpoint).
    hints: Annotated[EndpointHints | None, NOT_IMPLEMENTED] = None
    deprecated_topology: Annotated[dict[str, str] | None, NOT_IMPLEMENTED] = None


class EndpointSlicePort(ApiModel):
    name: str | None = None
    port: Int32 | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] | None = None
    app_protocol: str | None = None


class EndpointSlice(ApiModel):
    api_version: str
    kind: Literal["EndpointSlice"]
    metadata: ObjectMeta
    address_type: AddressType
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointSlicePort] | None = None
