"""The Endpoints a Service's pods make (reference part 2, §2.3-§2.6): which pods count, the
node port each service port reaches on each of them, ready and not-ready addresses, subsets
packed by port set. Pure: no store, no clock. Pods here share their node's network, so an
address is the node's IP and the port is the host port the runtime gave the container port."""

from __future__ import annotations

from typing import Any

from engine.errors import TugError
from engine.labels import selector_from_labels
from engine.objects import TERMINAL_PHASES, is_ready

MANAGED_BY = "endpoints.kubernetes.io/managed-by"
CONTROLLER = "endpoint-controller"
HEADLESS = "service.kubernetes.io/headless"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
MAX_ADDRESSES = 1000

Obj = dict[str, Any]


def managed(svc: Obj) -> bool:
    """Whether the controller keeps this Service's Endpoints: it selects pods (ExternalName
    Services and those with no selector keep the Endpoints a user writes)."""
    spec = svc.get("spec") if isinstance(svc.get("spec"), dict) else {}
    return spec.get("type") != "ExternalName" and isinstance(spec.get("selector"), dict) \
        and bool(spec.get("selector"))


def selects(svc: Obj, pod: Obj) -> bool:
    meta = pod.get("metadata") or {}
    if not managed(svc) or meta.get("namespace") != svc["metadata"].get("namespace"):
        return False
    try:
        return selector_from_labels(svc["spec"]["selector"]).matches(meta.get("labels"))
    except TugError:
        return False


def target_port(pod: Obj, port: Obj) -> int | None:
    """The node port a service port reaches on `pod` (FindPort, then the runtime's host port):
    a named targetPort is the first container port of that name and protocol; a number is
    the container port with that number where one is declared, else that number on the node.
    None where it cannot be resolved yet (a named port not declared, or not yet given)."""
    target = port.get("targetPort", port.get("port"))
    protocol = port.get("protocol") or "TCP"
    declared = [(c, p) for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)
                for p in c.get("ports") or [] if isinstance(p, dict)]
    if isinstance(target, str) and not target.isdigit():
        match = next(((c, p) for c, p in declared
                      if p.get("name") == target and (p.get("protocol") or "TCP") == protocol), None)
    else:
        number = int(target) if isinstance(target, int | str) else None
        match = next(((c, p) for c, p in declared if p.get("containerPort") == number
                      and (p.get("protocol") or "TCP") == protocol), None)
        if match is None:
            return number if isinstance(number, int) and 0 < number < 65536 else None
    if match is None:
        return None
    container, declared_port = match
    if isinstance(declared_port.get("hostPort"), int) and declared_port["hostPort"] > 0:
        return int(declared_port["hostPort"])
    want = (declared_port.get("containerPort"), declared_port.get("protocol") or "TCP")
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if not isinstance(status, dict) or status.get("name") != container.get("name"):
            continue
        for given in status.get("hostPorts") or []:
            if isinstance(given, dict) and isinstance(given.get("hostPort"), int) \
                    and (given.get("containerPort"), given.get("protocol") or "TCP") == want:
                return int(given["hostPort"])
    return None


def endpoints_for(svc: Obj, pods: list[Obj]) -> Obj:
    """The Endpoints object the controller keeps for `svc` (managed) from `pods` (any pods:
    those it does not select are skipped)."""
    meta, spec = svc["metadata"], svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    subsets: dict[tuple[tuple[str, int, str], ...], dict[str, list[Obj]]] = {}
    for pod in sorted(pods, key=lambda p: (str(p["metadata"].get("name")), str(p["metadata"].get("uid")))):
        if not selects(svc, pod):
            continue
        status = pod.get("status") or {}
        ip = status.get("podIP")
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        if status.get("phase") in TERMINAL_PHASES or not ip or (terminating and not publish):
            continue
        resolved = tuple((str(p.get("name") or ""), number, str(p.get("protocol") or "TCP"))
                         for p in ports if (number := target_port(pod, p)) is not None)
        if ports and not resolved:
            continue  # omitted for each port it cannot resolve: here, all of them
        address: Obj = {"ip": ip, "targetRef": {"kind": "Pod", "namespace": pod["metadata"].get("namespace"),
                                                "name": pod["metadata"].get("name"),
                                                "uid": pod["metadata"].get("uid")}}
        if (pod.get("spec") or {}).get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        ready = publish or (is_ready(pod) and not terminating)
        group = subsets.setdefault(resolved, {"addresses": [], "notReadyAddresses": []})
        group["addresses" if ready else "notReadyAddresses"].append(address)
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
    labels = {**(meta.get("labels") or {}), MANAGED_BY: CONTROLLER}
    if spec.get("clusterIP") == "None":
        labels[HEADLESS] = ""
    out: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "labels": labels}}
    if truncated:
        out["metadata"]["annotations"] = {OVER_CAPACITY: "truncated"}
    if out_subsets:
        out["subsets"] = out_subsets
    return out


def ready_addresses(endpoints: Obj) -> list[tuple[str, int, str]]:
    """(ip, port, port name) for each ready address and port of an Endpoints object: what a
    proxy forwards to."""
    out = []
    for subset in endpoints.get("subsets") or []:
        for address in subset.get("addresses") or []:
            for port in subset.get("ports") or []:
                out.append((str(address.get("ip")), int(port.get("port") or 0), str(port.get("name") or "")))
    return out


def pod_backends(pod: Obj) -> set[tuple[str, int]]:
    """(node IP, host port) for each port the runtime gave the pod's containers: where a proxy
    may be sending it connections."""
    ip = (pod.get("status") or {}).get("podIP")
    if not isinstance(ip, str) or not ip:
        return set()
    out = set()
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        for port in (status.get("hostPorts") if isinstance(status, dict) else None) or []:
            if isinstance(port, dict) and isinstance(port.get("hostPort"), int):
                out.add((ip, port["hostPort"]))
    return out
