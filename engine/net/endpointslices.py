"""The EndpointSlices a Service's pods make, and the writes that bring the stored ones there
(reference part 2, §2.5): the pods endpoints.py finds, grouped by the ports they resolve, at
most 100 to a slice, terminating ones included. Pure: the controller gives the Service, the
pods, the slices it manages for that Service and the nodes' zones, and applies the actions."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.api.checks import d, lst
from engine.net.endpoints import (
    HEADLESS,
    Member,
    ResolvedPort,
    hostname,
    managed,
    members,
    node_name,
    port_dicts,
    service_labels,
    target_ref,
)

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
ZONE = "topology.kubernetes.io/zone"
API_VERSION = "discovery.k8s.io/v1"
MAX_PER_SLICE = 100  # kube-controller-manager's --max-endpoints-per-slice default

Obj = dict[str, Any]
PortKey = tuple[ResolvedPort, ...]


@dataclass(frozen=True)
class Create:
    slice: Obj  # metadata.generateName set: the store names it


@dataclass(frozen=True)
class Update:
    slice: Obj  # the stored slice (its resourceVersion) with new labels, ports, endpoints


@dataclass(frozen=True)
class Delete:
    name: str
    uid: str


Action = Create | Update | Delete


def ours(eps: Obj) -> bool:
    """Whether this controller manages the slice (the managed-by label says so)."""
    return d(d(eps.get("metadata")).get("labels")).get(MANAGED_BY) == CONTROLLER


def service_of(eps: Obj) -> str | None:
    """The name of the Service a slice is for (its service-name label), or None."""
    name = d(d(eps.get("metadata")).get("labels")).get(SERVICE_NAME)
    return name if isinstance(name, str) and name else None


def address_type(svc: Obj) -> str:
    """The slices' addressType: the Service's first IP family (IPv4 unless it says IPv6)."""
    families = lst(d(svc.get("spec")).get("ipFamilies"))
    return "IPv6" if families[:1] == ["IPv6"] else "IPv4"


@functools.lru_cache(maxsize=4096)
def _ip_version(ip: str) -> int | None:
    """4 or 6; None for no IP address. Cached: pods share their node's few addresses."""
    try:
        return ipaddress.ip_address(ip).version
    except ValueError:
        return None


def _pod_address(member: Member, family: str) -> str | None:
    """The pod's address of that family: status.podIP, else one of status.podIPs."""
    want = 6 if family == "IPv6" else 4
    if _ip_version(member.ip) == want:
        return member.ip
    for entry in lst(d(member.pod.get("status")).get("podIPs")):
        ip = d(entry).get("ip")
        if isinstance(ip, str) and _ip_version(ip) == want:
            return ip
    return None


def _endpoint(svc: Obj, member: Member, ip: str, zones: Mapping[str, str]) -> Obj:
    publish = d(svc.get("spec")).get("publishNotReadyAddresses") is True
    ready = publish or (member.serving and not member.terminating)
    out: Obj = {"addresses": [ip],
                "conditions": {"ready": ready, "serving": member.serving,
                               "terminating": member.terminating},
                "targetRef": target_ref(member.pod)}
    node, host = node_name(member.pod), hostname(svc, member.pod)
    if node is not None:
        out["nodeName"] = node
        zone = zones.get(node)
        if isinstance(zone, str) and zone:
            out["zone"] = zone
    if host is not None:
        out["hostname"] = host
    return out


def desired_endpoints(svc: Obj, pods: list[Obj], *, zones: Mapping[str, str] | None = None
                      ) -> dict[PortKey, list[Obj]]:
    """The endpoints of `svc` (managed) grouped by the ports they resolve, in pod name order:
    terminating pods too; one whose named ports resolve to nothing still counts, under no port."""
    return _grouped(svc, members(svc, pods), zones or {})


def _grouped(svc: Obj, found: list[Member], zones: Mapping[str, str]) -> dict[PortKey, list[Obj]]:
    family = address_type(svc)
    groups: dict[PortKey, list[Obj]] = {}
    for member in found:
        ip = _pod_address(member, family)
        if ip is not None:
            groups.setdefault(member.ports, []).append(_endpoint(svc, member, ip, zones))
    return groups


def slice_labels(svc: Obj) -> dict[str, str]:
    """The Service's labels, then the service name, managed-by and (for no clusterIP) headless."""
    labels = {k: v for k, v in service_labels(svc).items()
              if k not in (SERVICE_NAME, MANAGED_BY, HEADLESS)}
    if d(svc.get("spec")).get("clusterIP") in (None, "", "None"):
        labels[HEADLESS] = ""
    labels[SERVICE_NAME] = str(svc["metadata"]["name"])
    labels[MANAGED_BY] = CONTROLLER
    return labels


def owner_reference(svc: Obj) -> Obj:
    meta = svc["metadata"]
    return {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta.get("uid"),
            "controller": True, "blockOwnerDeletion": True}


def _owned(eps: Obj, svc: Obj) -> bool:
    uid = svc["metadata"].get("uid")
    return any(isinstance(ref, dict) and ref.get("kind") == "Service" and ref.get("uid") == uid
               for ref in lst(d(eps.get("metadata")).get("ownerReferences")))


def _port_key(ports: Any) -> PortKey | None:
    """A stored slice's ports as the key desired_endpoints groups by; None if unreadable."""
    if ports is None:
        return ()
    key = []
    for port in ports if isinstance(ports, list) else [None]:
        if not isinstance(port, dict):
            return None
        name, number = port.get("name") or "", port.get("port")
        protocol, app = port.get("protocol") or "TCP", port.get("appProtocol") or ""
        if not all(isinstance(v, str) for v in (name, protocol, app)) \
                or not isinstance(number, int) or isinstance(number, bool):
            return None
        key.append((name, number, protocol, app))
    return tuple(key)


def _endpoint_key(endpoint: Any) -> tuple[Any, Any]:
    """What makes an endpoint the same one across passes: its pod's uid and its address."""
    endpoint = d(endpoint)
    uid = d(endpoint.get("targetRef")).get("uid")
    addresses = endpoint.get("addresses")
    first = addresses[0] if isinstance(addresses, list) and addresses else None
    return (uid if isinstance(uid, str) else None, first if isinstance(first, str) else None)


@dataclass(eq=False)
class _Kept:
    """A stored slice this pass keeps for a port list, and the endpoints it will hold."""

    current: Obj
    key: PortKey
    endpoints: list[Obj]

    @property
    def room(self) -> int:
        return MAX_PER_SLICE - len(self.endpoints)


def _body(svc: Obj, key: PortKey, endpoints: list[Obj]) -> Obj:
    return {"addressType": address_type(svc), "ports": port_dicts(key, empty_name=True),
            "endpoints": endpoints}


def _changed(current: Obj, svc: Obj, body: Obj) -> bool:
    return any(current.get(k) != v for k, v in body.items()) \
        or d(current.get("metadata")).get("labels") != slice_labels(svc)


def _update(current: Obj, svc: Obj, body: Obj) -> Update:
    meta = {**current["metadata"], "labels": slice_labels(svc)}
    return Update({**current, **body, "metadata": meta})


def _create(svc: Obj, body: Obj) -> Create:
    meta = svc["metadata"]
    return Create({"apiVersion": API_VERSION, "kind": "EndpointSlice",
                   "metadata": {"generateName": f"{meta['name']}-", "namespace": meta.get("namespace"),
                                "labels": slice_labels(svc), "ownerReferences": [owner_reference(svc)]},
                   **body})


def plan(svc: Obj | None, pods: list[Obj], slices: list[Obj], *,
         zones: Mapping[str, str] | None = None) -> list[Action]:
    """plan_of, finding the Service's members among `pods` (any pods)."""
    return plan_of(svc, members(svc, pods) if svc is not None else [], slices, zones=zones)


def plan_of(svc: Obj | None, found: list[Member], slices: list[Obj], *,
            zones: Mapping[str, str] | None = None) -> list[Action]:
    """The writes that make `slices` (the stored ones labelled with the Service's name) hold
    the endpoints of `svc`: creates, then updates, then deletes. Slices it does not manage are
    never touched; with no Service, or one that selects nothing, all of its own are deleted.
    Stable: an endpoint stays in the slice that holds it, a slice no longer needed is reused
    before a new one is made, and a slice that is already right is not written."""
    mine = sorted((s for s in slices if isinstance(s, dict) and ours(s)),
                  key=lambda s: str(s["metadata"].get("name")))
    if svc is None or not managed(svc):
        return [Delete(str(s["metadata"]["name"]), str(s["metadata"].get("uid"))) for s in mine]
    desired = _grouped(svc, found, zones or {})
    wanted = {key: {(e["targetRef"]["uid"], e["addresses"][0]): e for e in group}  # _endpoint_key
              for key, group in desired.items()}
    kept: list[_Kept] = []
    spare: list[Obj] = []  # owned slices of the right type this pass may rewrite or delete
    stale: list[Obj] = []  # another owner's (an older Service of that name) or another type
    placed: set[Any] = set()
    for current in mine:
        if not _owned(current, svc) or current.get("addressType") != address_type(svc):
            stale.append(current)
            continue
        key = _port_key(current.get("ports"))
        holds: list[Obj] = []
        for endpoint in lst(current.get("endpoints")):
            ident = _endpoint_key(endpoint)
            if key in wanted and ident in wanted[key] and ident not in placed:
                holds.append(wanted[key][ident])
                placed.add(ident)
        if key is not None and holds:
            kept.append(_Kept(current, key, holds))
        else:
            spare.append(current)
    creates: list[Obj] = []
    reused: list[_Kept] = []
    for key, group in wanted.items():
        rest = [e for ident, e in group.items() if ident not in placed]
        rest = _fill(svc, [k for k in kept if k.key == key], rest)
        while rest:
            chunk, rest = rest[:MAX_PER_SLICE], rest[MAX_PER_SLICE:]
            if spare:
                reused.append(_Kept(spare.pop(0), key, chunk))
            else:
                creates.append(_body(svc, key, chunk))
    if not kept and not reused and not creates:  # an empty service keeps one placeholder
        empty = next((s for s in spare if not lst(s.get("endpoints"))), spare[0] if spare else None)
        if empty is None:
            creates.append(_body(svc, (), []))
        else:
            spare.remove(empty)
            reused.append(_Kept(empty, (), []))
    actions: list[Action] = [_create(svc, body) for body in creates]
    for k in kept + reused:
        body = _body(svc, k.key, k.endpoints)
        if _changed(k.current, svc, body):
            actions.append(_update(k.current, svc, body))
    actions += [Delete(str(s["metadata"]["name"]), str(s["metadata"].get("uid")))
                for s in stale + spare]
    return actions


def _fill(svc: Obj, slices: list[_Kept], rest: list[Obj]) -> list[Obj]:
    """Put new endpoints into kept slices of their port list, as Kubernetes does: first those
    already being rewritten (fullest first), then, if all the rest fit, the one unchanged slice
    closest to full; what is left needs slices of its own."""
    changing = [k for k in slices if _changed(k.current, svc, _body(svc, k.key, k.endpoints))]
    for k in sorted(changing, key=lambda k: -len(k.endpoints)):
        take, rest = rest[:k.room], rest[k.room:]
        k.endpoints.extend(take)
    if rest:
        fits = [k for k in slices if k not in changing and k.room >= len(rest)]
        if fits:
            min(fits, key=lambda k: k.room).endpoints.extend(rest)
            rest = []
    return rest
