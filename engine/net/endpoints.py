"""The Endpoints a Service's pods make (reference part 2, §2.3-§2.6): which pods count, the
node port each service port reaches on each of them, ready and not-ready addresses, subsets
packed by port set. Pure: no store, no clock. Pods here share their node's network, so an
address is the node's IP and the port is the host port the runtime gave the container port."""

from __future__ import annotations

from typing import Any

from engine.api.checks import d, integer, lst
from engine.errors import TugError
from engine.labels import selector_from_labels
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


def selects(svc: Obj, pod: Obj) -> bool:
    meta = d(pod.get("metadata"))
    if not managed(svc) or meta.get("namespace") != d(svc.get("metadata")).get("namespace"):
        return False
    try:
        return selector_from_labels(svc["spec"]["selector"]).matches(d(meta.get("labels")))
    except (TugError, TypeError, AttributeError):  # a selector of non-strings: selects nothing
        return False


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


def _address(pod: Obj, ip: str) -> Obj:
    meta = pod["metadata"]
    address: Obj = {"ip": ip, "targetRef": {"kind": "Pod", "namespace": meta.get("namespace"),
                                            "name": meta.get("name"), "uid": meta.get("uid")}}
    node = d(pod.get("spec")).get("nodeName")
    if isinstance(node, str) and node:
        address["nodeName"] = node
    return address


def endpoints_for(svc: Obj, pods: list[Obj]) -> Obj:
    """The Endpoints object the controller keeps for `svc` (managed) from `pods` (any pods:
    those it does not select are skipped)."""
    meta, spec = svc["metadata"], d(svc.get("spec"))
    publish = spec.get("publishNotReadyAddresses") is True
    ports = [p for p in lst(spec.get("ports")) if isinstance(p, dict)]
    subsets: dict[tuple[tuple[str, int, str], ...], dict[str, list[Obj]]] = {}
    for pod in sorted(pods, key=lambda p: (str(p["metadata"].get("name")), str(p["metadata"].get("uid")))):
        if not selects(svc, pod):
            continue
        status = d(pod.get("status"))
        ip = status.get("podIP")
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        if status.get("phase") in TERMINAL_PHASES or not isinstance(ip, str) or not ip \
                or (terminating and not publish):
            continue
        resolved = tuple((str(p.get("name") or ""), number, str(_protocol(p)))
                         for p in ports if (number := target_port(pod, p)) is not None)
        if ports and not resolved:
            continue  # omitted for each port it cannot resolve: here, all of them
        ready = publish or (_ready(status) and not terminating)
        group = subsets.setdefault(resolved, {"addresses": [], "notReadyAddresses": []})
        group["addresses" if ready else "notReadyAddresses"].append(_address(pod, ip))
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
            subset["ports"] = [{**({"name": name} if name else {}), "port": number, "protocol": protocol}
                               for name, number, protocol in resolved]
        out_subsets.append(subset)
    labels = {k: v for k, v in d(meta.get("labels")).items() if isinstance(v, str)}
    labels[MANAGED_BY] = CONTROLLER
    if spec.get("clusterIP") == "None":
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
