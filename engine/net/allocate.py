"""A Service's stable addresses, given at admission: a clusterIP from the loopback range
127.77.0.0/16 and a nodePort from 30000-32767 for each port of a NodePort or LoadBalancer
Service; both kept for the Service's life (an update that omits them keeps them, one that
changes the clusterIP is refused). Allocation prefers addresses above Kubernetes' static band
from a random start, then the first free one, so the cost follows the Services that exist."""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidError

CLUSTER_IP_RANGE = ipaddress.IPv4Network("127.77.0.0/16")
NODE_PORTS = range(30000, 32768)
_IP_BAND = min(max(16, CLUSTER_IP_RANGE.num_addresses // 16), 256)  # Kubernetes' static band
_PORT_BAND = min(max(16, len(NODE_PORTS) // 32), 128)
WITH_NODE_PORTS = ("NodePort", "LoadBalancer")

Obj = dict[str, Any]
Pick = Callable[[int, int], int]


@dataclass
class Taken:
    """Addresses in use: by stored Services, and by those admitted earlier in one apply."""

    ips: set[str] = field(default_factory=set)
    node_ports: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, services: list[Obj], *, besides: Obj | None = None) -> Taken:
        """What `services` hold, leaving out `besides` (the Service being updated)."""
        skip = _key(besides) if besides else None
        out = cls()
        for svc in services:
            if _key(svc) == skip:
                continue
            spec = svc.get("spec") if isinstance(svc.get("spec"), dict) else {}
            if isinstance(spec.get("clusterIP"), str):
                out.ips.add(spec["clusterIP"])
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and isinstance(port.get("nodePort"), int):
                    out.node_ports.add(port["nodePort"])
        return out


def _key(svc: Obj) -> tuple[Any, Any]:
    meta = svc.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")


def allocate(svc: Obj, current: Obj | None, taken: Taken, pick: Pick = random.randrange) -> Obj:
    """`svc` (changed in place and returned) with its clusterIP(s) and nodePorts set; what it
    takes is added to `taken`. InvalidError names each field that cannot be honoured. `pick(lo,
    hi)` chooses where the search for a free one starts above the static band (at random, as
    Kubernetes: two tugboats on one machine rarely choose the same address)."""
    spec = svc.setdefault("spec", {})
    old = (current or {}).get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    problems: list[str] = []
    if kind == "ExternalName":
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            spec.pop(key, None)
    else:
        was = old if old.get("type", "ClusterIP") != "ExternalName" else {}
        _cluster_ip(spec, was, taken, problems, pick)
    _node_ports(spec, old, kind, taken, problems, pick)
    if problems:
        meta = svc.get("metadata") or {}
        raise InvalidError(f'Service "{meta.get("name") or meta.get("generateName")}" is invalid: '
                           f"{len(problems)} problem(s)", details=problems)
    return svc


def _cluster_ip(spec: Obj, old: Obj, taken: Taken, problems: list[str], pick: Pick) -> None:
    given, before = spec.get("clusterIP") or None, old.get("clusterIP") or None
    ips = spec.get("clusterIPs")
    if given is None and isinstance(ips, list) and ips and isinstance(ips[0], str) and ips[0]:
        given = ips[0]
    if before is not None:
        if given not in (None, before):
            problems.append(f'spec.clusterIP: Invalid value: "{given}": field is immutable')
            return
        given = before
    elif given is None:
        given = _free_ip(taken, pick)
        if given is None:
            problems.append(f"spec.clusterIP: Internal error: no free address left in {CLUSTER_IP_RANGE}")
            return
    elif given != "None":
        problem = _check_ip(str(given), taken)
        if problem:
            problems.append(f'spec.clusterIP: Invalid value: "{given}": {problem}')
            return
    spec["clusterIP"] = given
    spec["clusterIPs"] = [given]
    if given != "None":
        taken.ips.add(given)
        spec["ipFamilies"], spec["ipFamilyPolicy"] = ["IPv4"], "SingleStack"


def _check_ip(given: str, taken: Taken) -> str | None:
    try:
        ip = ipaddress.IPv4Address(given)
    except ValueError:
        return "must be a valid IPv4 address or None"
    if ip not in CLUSTER_IP_RANGE or ip in (CLUSTER_IP_RANGE.network_address,
                                            CLUSTER_IP_RANGE.broadcast_address):
        return (f"provided IP is not in the valid range. The range of valid IPs is {CLUSTER_IP_RANGE} "
                f"(loopback: every node reaches it without routes)")
    if given in taken.ips:
        return "provided IP is already allocated"
    return None


def _search(low: int, band: int, stop: int, pick: Pick) -> Iterator[int]:
    """From a chosen start above the band to the end, then the rest above it, then the band."""
    start = pick(low + band, stop)
    return itertools.chain(range(start, stop), range(low + band, start), range(low, low + band))


def _free_ip(taken: Taken, pick: Pick) -> str | None:
    base, size = int(CLUSTER_IP_RANGE.network_address), CLUSTER_IP_RANGE.num_addresses
    for offset in _search(1, _IP_BAND - 1, size - 1, pick):
        ip = str(ipaddress.IPv4Address(base + offset))
        if ip not in taken.ips:
            return ip
    return None


def _node_ports(spec: Obj, old: Obj, kind: str, taken: Taken, problems: list[str], pick: Pick) -> None:
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if kind not in WITH_NODE_PORTS:
        for port in ports:
            port.pop("nodePort", None)
        return
    kept = {}  # the port's nodePort before this update, by (port, protocol) and by name
    if old.get("type") in WITH_NODE_PORTS:
        for port in old.get("ports") or []:
            if isinstance(port, dict) and isinstance(port.get("nodePort"), int):
                kept[(port.get("port"), port.get("protocol", "TCP"))] = port["nodePort"]
                if port.get("name"):
                    kept[port["name"]] = port["nodePort"]
    for i, port in enumerate(ports):  # the ports asked for first, then the free ones
        if port.get("nodePort") is not None:
            if port["nodePort"] in taken.node_ports:
                problems.append(f"spec.ports[{i}].nodePort: Invalid value: {port['nodePort']}: provided "
                                f"port is already allocated")
            taken.node_ports.add(port["nodePort"])
    for i, port in enumerate(ports):
        if port.get("nodePort") is not None:
            continue
        given = kept.get((port.get("port"), port.get("protocol", "TCP"))) or kept.get(port.get("name"))
        if given is None or given in taken.node_ports:
            given = next((p for p in _search(NODE_PORTS.start, _PORT_BAND, NODE_PORTS.stop, pick)
                          if p not in taken.node_ports), None)
        if given is None:
            problems.append(f"spec.ports[{i}].nodePort: Internal error: no free node port left")
            continue
        port["nodePort"] = given
        taken.node_ports.add(given)
