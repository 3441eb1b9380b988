"""What every node's proxy serves, from the Services and their Endpoints: for each TCP or UDP
port of a Service with a clusterIP or nodePorts, where it listens and the ready backends (node
IP and host port) of the Endpoints port of the same name and protocol (SCTP is not proxied).
Pure data."""

from __future__ import annotations

import re
from typing import Any

from engine.api.checks import d

Obj = dict[str, Any]
_IPV4 = re.compile(r"(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}")
DEFAULT_AFFINITY_S = 10800  # sessionAffinity ClientIP without timeoutSeconds (Kubernetes' default)
NODE_ADDRESS = "node"  # a nodePort listens on its node's IP (each proxy puts in its own)


PROXIED = ("TCP", "UDP")


def ready_backends(endpoints: Obj | None, name: str, protocol: str = "TCP") -> list[list[Any]]:
    """[ip, port] of each ready address of the Endpoints port named `name`, sorted."""
    out: set[tuple[str, int]] = set()
    for subset in _list((endpoints or {}).get("subsets") if isinstance(endpoints, dict) else None):
        if not isinstance(subset, dict):
            continue
        ports = [p.get("port") for p in _list(subset.get("ports")) if isinstance(p, dict)
                 and (p.get("name") or "") == name and (p.get("protocol") or "TCP") == protocol
                 and _port(p.get("port"))]
        for address in _list(subset.get("addresses")):
            ip = address.get("ip") if isinstance(address, dict) else None
            if isinstance(ip, str) and _IPV4.fullmatch(ip):
                out.update((ip, port) for port in ports)
    return [list(b) for b in sorted(out)]


def _entries(svc: Obj, endpoints: dict[str, Obj]) -> list[Obj]:
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    if not isinstance(meta, dict) or not isinstance(spec, dict) or spec.get("type") == "ExternalName":
        return []
    key = f"{meta.get('namespace')}/{meta.get('name')}"
    cluster_ip = spec.get("clusterIP")
    if not isinstance(cluster_ip, str) or not _IPV4.fullmatch(cluster_ip):
        cluster_ip = None  # headless, none, or not an address a proxy can listen on
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client = config.get("clientIP") if isinstance(config, dict) else None
        seconds = client.get("timeoutSeconds") if isinstance(client, dict) else None
        affinity = seconds if isinstance(seconds, int) and 0 < seconds <= 86400 else DEFAULT_AFFINITY_S
    out = []
    for port in _list(spec.get("ports")):
        protocol = (port.get("protocol") or "TCP") if isinstance(port, dict) else None
        if protocol not in PROXIED:
            continue  # SCTP is not proxied
        listen = []
        if cluster_ip and _port(port.get("port")):
            listen.append([cluster_ip, port["port"]])
        if _port(port.get("nodePort")):
            listen.append([NODE_ADDRESS, port["nodePort"]])
        if listen:
            entry = {"service": f"{key}:{port.get('name') or port.get('port')}", "listen": listen,
                     "backends": ready_backends(endpoints.get(key), str(port.get("name") or ""), protocol),
                     "affinity_s": affinity}
            if protocol == "UDP":
                entry["protocol"] = "UDP"  # absent: TCP
            out.append(entry)
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def route_table(services: list[Obj], endpoints: dict[str, Obj]) -> list[Obj]:
    """`endpoints` by "namespace/name". Entries sorted, so equal inputs give equal tables; a
    Service whose fields make no sense (however it got into the store) gives none."""
    table = [entry for svc in services if isinstance(svc, dict) for entry in _entries(svc, endpoints)]
    return sorted(table, key=lambda e: (e["service"], e.get("protocol", "TCP")))


def backends_of(table: list[Obj]) -> set[tuple[str, int]]:
    """Every backend a table forwards to."""
    return {(str(ip), int(port)) for entry in table for ip, port in entry.get("backends") or []}


def listen_key(ip: str, port: int, protocol: Any = "TCP") -> str:
    """How a proxy names a listening address in its state: `ip:port`, `ip:port/UDP`."""
    return f"{ip}:{port}" + ("/UDP" if protocol == "UDP" else "")


LISTENING = "ClusterIPListening"  # a Service's condition: False while a node proxy cannot listen


def listen_problems(table: list[Obj], states: dict[str, Obj]) -> dict[str, str]:
    """For each Service ("namespace/name") some node's proxy cannot serve, one sentence: which
    node, which address, why, and where it is still reachable."""
    out: dict[str, list[str]] = {}
    for entry in table:
        key = entry["service"].rsplit(":", 1)[0]
        node_ports = [port for ip, port in entry["listen"] if ip == NODE_ADDRESS]
        for node, state in sorted(states.items()):
            problems = d(state.get("problems"))
            for ip, port in entry["listen"]:
                address = listen_key(ip, port, entry.get("protocol"))
                why = problems.get(address) if ip != NODE_ADDRESS else None
                if isinstance(why, str):
                    hint = " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)" if port < 1024 else ""
                    still = f"; still reachable on nodePort {node_ports[0]}" if node_ports else ""
                    out.setdefault(key, []).append(
                        f"node {node} cannot listen on {ip}:{port}: {why}{hint}{still}")
    return {key: "; ".join(lines) for key, lines in out.items()}
