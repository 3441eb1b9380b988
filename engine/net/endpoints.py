"""The Endpoints a Service's pods make (reference part 2, §2.3-§2.6): which pods count, the
node port each service port reaches on each of them (both shared with endpointslices.py), ready
and not-ready addresses, subsets packed by port set. Pure: no store, no clock. Pods here share
their node's network, so an address is the node's IP and the port is the host port the runtime
gave the container port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.api.checks import d, integer, lst
from engine.errors import TugError
from engine.labels import Selector, selector_from_labels
from engine.objects import TERMINAL_PHASES

MANAGED_BY = "endpoints.kubernetes.io/managed-by"
CONTROLLER = "endpoint-controller"
HEADLESS = "service.kubernetes.io/headless"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
MAX_ADDRESSES = 1000

Obj = dict[str, Any]


def managed(svc: Obj) -> bool:
    """Whether the controller keeps this Service's Endpoints: it selects pods (ExternalName
    Services and those with no selector keep the Endpoints a user writes)."""
    spec = d(svc.get("spec"))
    return spec.get("type") != "ExternalName" and bool(d(spec.get("selector")))


def _selector(svc: Obj) -> Selector | None:
    """The managed Service's selector; None where there is none or it cannot be read."""
    if not managed(svc):
        return None
    try:
        return selector_from_labels(svc["spec"]["selector"])
    except (TugError, TypeError, AttributeError):  # a selector of non-strings: selects nothing
        return None


def _matches(selector: Selector | None, svc: Obj, pod: Obj) -> bool:
    meta = d(pod.get("metadata"))
    if selector is None or meta.get("namespace") != d(svc.get("metadata")).get("namespace"):
        return False
    try:
        return selector.matches(d(meta.get("labels")))
    except (TugError, TypeError, AttributeError):
        return False


def selects(svc: Obj, pod: Obj) -> bool:
    return _matches(_selector(svc), svc, pod)


def selected(svc: Obj, pods: list[Obj]) -> list[Obj]:
    """The pods among `pods` that `svc` selects (none unless managed), its selector read once."""
    selector = _selector(svc)
    return [pod for pod in pods if _matches(selector, svc, pod)]


def _protocol(port: Obj) -> Any:
    return port.get("protocol") or "TCP"


def target_port(pod: Obj, port: Obj) -> int | None:
    """The node port a service port reaches on `pod` (FindPort, then the runtime's host port):
    a named targetPort is the first container port of that name and protocol; a number is
    the container port with that number where one is declared, else that number on the node.
    None where it cannot be resolved yet (a named port not declared, or not yet given)."""
    target = port.get("targetPort", port.get("port"))
    declared = [(c, p) for c in lst(d(pod.get("spec")).get("containers")) if isinstance(c, dict)
                for p in lst(c.get("ports")) if isinstance(p, dict)]
    if isinstance(target, str) and not target.isdigit():
        match = next(((c, p) for c, p in declared
                      if p.get("name") == target and _protocol(p) == _protocol(port)), None)
    else:
        number = int(target) if isinstance(target, int | str) and not isinstance(target, bool) else None
        match = next(((c, p) for c, p in declared
                      if p.get("containerPort") == number and _protocol(p) == _protocol(port)), None)
        if match is None:
            return number if isinstance(number, int) and 0 < number < 65536 else None
    if match is None:
        return None
    container, declared_port = match
    given = integer(declared_port.get("hostPort"))
    if given is not None and 0 < given < 65536:
        return given
    want = (declared_port.get("containerPort"), _protocol(declared_port))
    for status in lst(d(pod.get("status")).get("containerStatuses")):
        if not isinstance(status, dict) or status.get("name") != container.get("name"):
            continue
        for host in lst(status.get("hostPorts")):
            if isinstance(host, dict) and integer(host.get("hostPort")) is not None \
                    and (host.get("containerPort"), _protocol(host)) == want:
                return int(host["hostPort"])
    return None


def _ready(status: Obj) -> bool:
    return any(isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
               for c in lst(status.get("conditions")))


# A service port resolved on one pod: (name, node port, protocol, appProtocol or "").
ResolvedPort = tuple[str, int, str, str]


@dataclass(frozen=True)
class Member:
    """A pod a Service selects that may stand behind it (§2.3: not Succeeded or Failed, with
    an IP), with what both the Endpoints and the EndpointSlices read of it."""

    pod: Obj
    ip: str  # status.podIP: the node's address
    serving: bool  # its Ready condition is True
    terminating: bool  # it has a deletionTimestamp
    ports: tuple[ResolvedPort, ...]  # the service ports it resolves, in the Service's order


def members(svc: Obj, pods: list[Obj]) -> list[Member]:
    """The pods among `pods` that `svc` (managed) selects and that may be endpoints, sorted by
    name; terminating ones included (Endpoints and EndpointSlices treat them differently)."""
    ports = [p for p in lst(d(svc.get("spec")).get("ports")) if isinstance(p, dict)]
    chosen = selected(svc, pods)
    out = []
    for pod in sorted(chosen, key=lambda p: (str(p["metadata"].get("name")), str(p["metadata"].get("uid")))):
        status = d(pod.get("status"))
        ip = status.get("podIP")
        if status.get("phase") in TERMINAL_PHASES or not isinstance(ip, str) or not ip:
            continue
        resolved = tuple((str(p.get("name") or ""), number, str(_protocol(p)), _app_protocol(p))
                         for p in ports if (number := target_port(pod, p)) is not None)
        out.append(Member(pod, ip, _ready(status), bool(pod["metadata"].get("deletionTimestamp")),
                          resolved))
    return out


def _app_protocol(port: Obj) -> str:
    app = port.get("appProtocol")
    return app if isinstance(app, str) else ""


def target_ref(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"),
            "uid": meta.get("uid")}


def node_name(pod: Obj) -> str | None:
    node = d(pod.get("spec")).get("nodeName")
    return node if isinstance(node, str) and node else None


def hostname(svc: Obj, pod: Obj) -> str | None:
    """The pod's spec.hostname where its spec.subdomain names the Service (§2.4), else None."""
    spec = d(pod.get("spec"))
    name, subdomain = spec.get("hostname"), spec.get("subdomain")
    if isinstance(name, str) and name and subdomain == d(svc.get("metadata")).get("name"):
        return name
    return None


def headless(svc: Obj) -> bool:
    return d(svc.get("spec")).get("clusterIP") == "None"


def service_labels(svc: Obj) -> dict[str, str]:
    """The Service's labels that are strings (both objects copy them)."""
    return {k: v for k, v in d(d(svc.get("metadata")).get("labels")).items()
            if isinstance(k, str) and isinstance(v, str)}


def _address(svc: Obj, member: Member) -> Obj:
    address: Obj = {"ip": member.ip, "targetRef": target_ref(member.pod)}
    node, host = node_name(member.pod), hostname(svc, member.pod)
    if node is not None:
        address["nodeName"] = node
    if host is not None:
        address["hostname"] = host
    return address


def port_dicts(resolved: tuple[ResolvedPort, ...], *, empty_name: bool) -> list[Obj]:
    """The ports of a subset or slice; `empty_name` keeps `name: ""` (as EndpointSlices do)."""
    return [{**({"name": name} if name or empty_name else {}), "port": number, "protocol": protocol,
             **({"appProtocol": app} if app else {})}
            for name, number, protocol, app in resolved]


def endpoints_for(svc: Obj, pods: list[Obj]) -> Obj:
    """The Endpoints object the controller keeps for `svc` (managed) from `pods` (any pods:
    those it does not select are skipped)."""
    return endpoints_of(svc, members(svc, pods))


def endpoints_of(svc: Obj, found: list[Member]) -> Obj:
    """endpoints_for, from the Service's members already found (the controller finds them
    once for the Endpoints and the EndpointSlices)."""
    meta, spec = svc["metadata"], d(svc.get("spec"))
    publish = spec.get("publishNotReadyAddresses") is True
    ports = [p for p in lst(spec.get("ports")) if isinstance(p, dict)]
    subsets: dict[tuple[ResolvedPort, ...], dict[str, list[Obj]]] = {}
    for member in found:
        if member.terminating and not publish:
            continue
        if ports and not member.ports:
            continue  # omitted for each port it cannot resolve: here, all of them
        ready = publish or (member.serving and not member.terminating)
        group = subsets.setdefault(member.ports, {"addresses": [], "notReadyAddresses": []})
        group["addresses" if ready else "notReadyAddresses"].append(_address(svc, member))
    out_subsets = []
    room = MAX_ADDRESSES
    truncated = False
    for resolved, group in sorted(subsets.items()):
        subset: Obj = {}
        for key in ("addresses", "notReadyAddresses"):
            kept = group[key][:room]
            truncated |= len(kept) < len(group[key])
            room -= len(kept)
            if kept:
                subset[key] = kept
        if not subset:
            continue
        if resolved:
            subset["ports"] = port_dicts(resolved, empty_name=False)
        out_subsets.append(subset)
    labels = service_labels(svc)
    labels[MANAGED_BY] = CONTROLLER
    if headless(svc):
        labels[HEADLESS] = ""
    out: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "labels": labels}}
    if truncated:
        out["metadata"]["annotations"] = {OVER_CAPACITY: "truncated"}
    if out_subsets:
        out["subsets"] = out_subsets
    return out


def pod_backends(pod: Obj) -> set[tuple[str, int]]:
    """(node IP, host port) for each port the runtime gave the pod's containers: where a proxy
    may be sending it connections."""
    ip = d(pod.get("status")).get("podIP")
    if not isinstance(ip, str) or not ip:
        return set()
    out = set()
    for status in lst(d(pod.get("status")).get("containerStatuses")):
        for port in lst(d(status).get("hostPorts")):
            if isinstance(port, dict) and isinstance(port.get("hostPort"), int):
                out.add((ip, port["hostPort"]))
    return out
