"""A pod's /etc/hosts: the node's own file, then the pod's `hostAliases` as the kubelet adds
them, then a line per Service with a clusterIP: its bare name in the pod's own namespace, and
in every namespace `SVC.NS`, `SVC.NS.svc`, `SVC.NS.svc.cluster.local`, the names a cluster's
DNS would answer (reference part 2, §2.7). Fixed when the pod starts, as its Service variables
are. Pure: the pod runner writes it and binds it over /etc/hosts in the container's mount
namespace (engine/runtime/volumes.py)."""

from __future__ import annotations

import ipaddress
from typing import Any

from engine.api.checks import d, lst

Obj = dict[str, Any]
CLUSTER_DOMAIN = "cluster.local"
Entry = tuple[str, list[str]]  # (IP, names); lists once through Ray


def _ipv4(value: Any) -> bool:
    try:
        return isinstance(value, str) and ipaddress.ip_address(value).version == 4
    except ValueError:
        return False


def pod_hosts(pod: Obj, services: list[Obj]) -> dict[str, list[Entry]]:
    """What `pod` gets beyond the node's file: its hostAliases, and the Services (any namespace;
    headless and ExternalName ones have no address to give). Empty lists: nothing to add."""
    spec, ns = d(pod.get("spec")), d(pod.get("metadata")).get("namespace") or "default"
    aliases: list[Entry] = []
    for alias in lst(spec.get("hostAliases")):
        names = [str(n) for n in lst(d(alias).get("hostnames")) if isinstance(n, str) and n]
        if names and isinstance(d(alias).get("ip"), str):
            aliases.append((str(alias["ip"]), names))
    keyed = []
    for svc in services:
        meta, svc_spec = d(svc.get("metadata")), d(svc.get("spec"))
        name, svc_ns, ip = meta.get("name"), meta.get("namespace"), svc_spec.get("clusterIP")
        if isinstance(name, str) and isinstance(svc_ns, str) and _ipv4(ip) \
                and svc_spec.get("type") != "ExternalName":
            keyed.append((svc_ns != ns, svc_ns, name, str(ip)))
    found: list[Entry] = []
    for _, svc_ns, name, ip in sorted(keyed):  # the pod's own namespace first
        names = [name] if svc_ns == ns else []
        names += [f"{name}.{svc_ns}", f"{name}.{svc_ns}.svc", f"{name}.{svc_ns}.svc.{CLUSTER_DOMAIN}"]
        found.append((ip, names))
    return {"aliases": aliases, "services": found}


def hosts_text(node_hosts: str, hosts: dict[str, list[Entry]]) -> str:
    """The file: the node's, then the hostAliases, then the Services."""
    lines = [node_hosts.rstrip("\n")] if node_hosts.strip() else ["127.0.0.1\tlocalhost"]
    titles = (("aliases", "Entries added by HostAliases."), ("services", "Services, added by tugboat."))
    for key, title in titles:
        if hosts.get(key):
            lines.append(f"\n# {title}")
            lines += ["\t".join([str(ip), *map(str, names)]) for ip, names in hosts[key]]
    return "\n".join(lines) + "\n"
