"""What every node's proxy serves, from the Services and their Endpoints: for each TCP port of
a Service with a clusterIP or nodePorts, where it listens and the ready backends (node IP and
host port) of the Endpoints port of the same name. Pure data."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
DEFAULT_AFFINITY_S = 10800  # sessionAffinity ClientIP without timeoutSeconds (Kubernetes' default)
NODE_ADDRESS = "node"  # a nodePort listens on its node's IP (each proxy puts in its own)


def ready_backends(endpoints: Obj | None, name: str) -> list[list[Any]]:
    """[ip, port] of each ready address of the Endpoints port named `name` (TCP), sorted."""
    out: set[tuple[str, int]] = set()
    for subset in (endpoints or {}).get("subsets") or []:
        if not isinstance(subset, dict):
            continue
        ports = [p.get("port") for p in subset.get("ports") or [] if isinstance(p, dict)
                 and (p.get("name") or "") == name and (p.get("protocol") or "TCP") == "TCP"
                 and isinstance(p.get("port"), int)]
        for address in subset.get("addresses") or []:
            if isinstance(address, dict) and isinstance(address.get("ip"), str) and address["ip"]:
                out.update((address["ip"], port) for port in ports)
    return [list(b) for b in sorted(out)]


def route_table(services: list[Obj], endpoints: dict[str, Obj]) -> list[Obj]:
    """`endpoints` by "namespace/name". Entries sorted, so equal inputs give equal tables."""
    table = []
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        if not isinstance(spec, dict) or spec.get("type") == "ExternalName":
            continue
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        cluster_ip = spec.get("clusterIP") if spec.get("clusterIP") not in (None, "", "None") else None
        affinity = 0
        if spec.get("sessionAffinity") == "ClientIP":
            config = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
            affinity = config.get("timeoutSeconds") or DEFAULT_AFFINITY_S
        for port in spec.get("ports") or []:
            if not isinstance(port, dict) or (port.get("protocol") or "TCP") != "TCP":
                continue  # UDP and SCTP are not proxied
            listen = []
            if cluster_ip and isinstance(port.get("port"), int):
                listen.append([cluster_ip, port["port"]])
            if isinstance(port.get("nodePort"), int):
                listen.append([NODE_ADDRESS, port["nodePort"]])
            if listen:
                table.append({"service": f"{key}:{port.get('name') or port.get('port')}", "listen": listen,
                              "backends": ready_backends(endpoints.get(key), str(port.get("name") or "")),
                              "affinity_s": affinity})
    return sorted(table, key=lambda e: e["service"])


def backends_of(table: list[Obj]) -> set[tuple[str, int]]:
    """Every backend a table forwards to."""
    return {(str(ip), int(port)) for entry in table for ip, port in entry.get("backends") or []}
