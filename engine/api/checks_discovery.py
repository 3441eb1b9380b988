"""Validation rules of discovery.k8s.io/v1 EndpointSlice, as Kubernetes' ValidateEndpointSlice."""

from __future__ import annotations

import ipaddress
from typing import Any

from engine.api import names
from engine.api.checks import d, in_range, lst
from engine.api.names import show

# Kubernetes' bounds (pkg/apis/discovery/validation): per slice and per endpoint.
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 20000


def _is_ip(value: str, family: str) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    # Syntax only: Kubernetes also refuses loopback addresses here, but a tugboat pod's address
    # is its node's, 127.0.0.1 on a one-machine cluster.
    return address.version == (4 if family == "IPv4" else 6)


def _address_problems(path: str, value: Any, family: Any) -> list[str]:
    if not isinstance(value, str):
        return []  # the type check reports it
    if family in ("IPv4", "IPv6") and not _is_ip(value, family):
        return [f"{path}: must be a valid {family} address, got {show(value)}"]
    if family == "FQDN" and not (names.is_dns1123_subdomain(value) and "." in value):
        return [f"{path}: must be a fully qualified domain name (at least two "
                f"{names.DNS1123_LABEL_RULE}s joined by '.'), got {show(value)}"]
    return []


def _endpoint_problems(path: str, endpoint: Any, family: Any) -> list[str]:
    endpoint = d(endpoint)
    addresses = endpoint.get("addresses")
    problems: list[str] = []
    if isinstance(addresses, list) and not addresses:
        problems.append(f"{path}.addresses: required (at least 1 address)")
    elif isinstance(addresses, list) and len(addresses) > MAX_ADDRESSES:
        problems.append(f"{path}.addresses: must have at most {MAX_ADDRESSES} items, "
                        f"got {len(addresses)}")
    else:
        for i, address in enumerate(lst(addresses)):
            problems += _address_problems(f"{path}.addresses[{i}]", address, family)
    problems += names.check_name(f"{path}.nodeName", endpoint.get("nodeName"))
    problems += names.check_name(f"{path}.hostname", endpoint.get("hostname"), rule="label")
    return problems


def _port_problems(ports: list[Any]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        here, port = f"ports[{i}]", d(port)
        name = port.get("name")
        if isinstance(name, str):
            if name:
                problems += names.check_name(f"{here}.name", name, rule="label")
            if name in seen:
                problems.append(f"{here}.name: Duplicate value {show(name)}")
            seen.add(name)
        problems += in_range(f"{here}.port", port.get("port"), 1, 65535)
        app = port.get("appProtocol")
        if isinstance(app, str) and not names.is_qualified_name(app):
            problems.append(f"{here}.appProtocol: must be {names.QUALIFIED_NAME_RULE}, "
                            f"got {show(app)}")
    return problems


def check_endpointslice(obj: dict[str, Any]) -> list[str]:
    """Kubernetes' ValidateEndpointSlice, after defaults: addresses of the slice's type, node
    names, hostnames, unique port names; at most 1000 endpoints of at most 100 addresses."""
    endpoints, ports = lst(obj.get("endpoints")), lst(obj.get("ports"))
    problems: list[str] = []
    if len(endpoints) > MAX_ENDPOINTS:
        problems.append(f"endpoints: must have at most {MAX_ENDPOINTS} items, got {len(endpoints)}")
    else:
        for i, endpoint in enumerate(endpoints):
            problems += _endpoint_problems(f"endpoints[{i}]", endpoint, obj.get("addressType"))
    if len(ports) > MAX_PORTS:
        problems.append(f"ports: must have at most {MAX_PORTS} items, got {len(ports)}")
    else:
        problems += _port_problems(ports)
    return problems
