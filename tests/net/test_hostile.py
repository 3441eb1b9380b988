"""No Service, Endpoints, EndpointSlice, Ingress, node or pod, however it got into the store,
makes the networking planners raise: each field of a good object, at every depth, is replaced by
values of every JSON type, and each pure function that reads it must still answer; so must the
endpoints controller's caches and its sync, which feeds them to the planners."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from engine.net.endpoints import endpoints_for, pod_backends, target_port
from engine.net.endpoints_controller import EndpointsController
from engine.net.endpointslices import CONTROLLER, MANAGED_BY, SERVICE_NAME, plan
from engine.net.envvars import service_env
from engine.net.ingress import choose, ingress_table
from engine.net.routes import backends_of, route_table
from engine.runtime.podstatus import port_map

JUNK: list[Any] = [None, 0, -1, 70000, True, "x", "", [], {}, [1], ["x"], {"a": 1}, 1.5]

SERVICE = {"metadata": {"name": "web", "namespace": "default", "uid": "s"},
           "spec": {"type": "NodePort", "clusterIP": "127.77.1.0", "selector": {"app": "web"},
                    "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}},
                    "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30100,
                               "protocol": "TCP"}]}}
POD = {"metadata": {"name": "p", "namespace": "default", "uid": "u", "labels": {"app": "web"}},
       "spec": {"nodeName": "n1",
                "containers": [{"name": "main", "ports": [{"name": "http", "containerPort": 8000}]}]},
       "status": {"phase": "Running", "podIP": "127.0.0.1",
                  "conditions": [{"type": "Ready", "status": "True"}],
                  "containerStatuses": [{"name": "main", "hostPorts": [
                      {"name": "http", "containerPort": 8000, "hostPort": 31000, "protocol": "TCP"}]}]}}
ENDPOINTS = {"metadata": {"name": "web", "namespace": "default"},
             "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": 31000}]}]}
SLICE = {"metadata": {"name": "web-abcde", "namespace": "default", "uid": "e", "resourceVersion": "7",
                      "labels": {SERVICE_NAME: "web", MANAGED_BY: CONTROLLER},
                      "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "s",
                                           "controller": True}]},
         "addressType": "IPv4",
         "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True, "serving": True,
                                                                   "terminating": False},
                        "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "p", "uid": "u"}}],
         "ports": [{"name": "http", "port": 31000, "protocol": "TCP"}]}
NODE = {"metadata": {"name": "n1", "uid": "n", "labels": {"topology.kubernetes.io/zone": "z"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
INGRESS = {"metadata": {"name": "i", "namespace": "default", "annotations": {
               "nginx.ingress.kubernetes.io/canary": "true",
               "nginx.ingress.kubernetes.io/canary-weight": "5"}},
           "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
                    "rules": [{"host": "a.example", "http": {"paths": [
                        {"path": "/", "pathType": "Prefix",
                         "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}}


# What the store itself guarantees of every object it holds: these stay as they are.
STORE_OWNED = {("metadata",), ("metadata", "name"), ("metadata", "namespace"), ("metadata", "uid")}


def _mutants(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(where, the object with the value there replaced) for every place and junk value."""
    children = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for key, value in list(children):
        for junk in JUNK if (*path, key) not in STORE_OWNED else []:
            out = copy.deepcopy(obj)
            out[key] = junk
            yield (*path, key), out
        for where, inner in _mutants(value, (*path, key)):
            out = copy.deepcopy(obj)
            out[key] = inner
            yield where, out


def _all(good: dict[str, Any]) -> list[tuple[tuple[Any, ...], Any]]:
    return list(_mutants(good))


def _everything(svc: Any, pod: Any, ep: Any, ing: Any, eps: Any) -> None:
    services = {"default/web": svc}
    endpoints = {"default/web": ep}
    table = route_table([svc], endpoints)
    backends_of(table)
    rules = ingress_table([ing], services, endpoints)
    choose(rules, "a.example", "/", {}, {}, lambda n: 1)
    endpoints_for(svc, [pod])
    plan(svc, [pod], [eps], zones={"n1": "z"})
    plan(None, [pod], [eps])
    target_port(pod, {"port": 80, "targetPort": "http"})
    pod_backends(pod)
    service_env(pod, [svc])
    port_map(pod.get("status") if isinstance(pod, dict) else None)


@pytest.mark.parametrize("which", ["service", "pod", "endpoints", "ingress", "slice"])
def test_junk_anywhere_is_skipped_not_raised(which: str) -> None:
    good = {"service": SERVICE, "pod": POD, "endpoints": ENDPOINTS, "ingress": INGRESS, "slice": SLICE}
    tried = 0
    for where, bad in _all(good[which]):
        objs = {**good, which: bad}
        try:
            _everything(objs["service"], objs["pod"], objs["endpoints"], objs["ingress"], objs["slice"])
        except Exception as exc:  # noqa: BLE001 - the failure names the place
            raise AssertionError(f"{which} with {where} = {bad!r}: {type(exc).__name__}: {exc}") from exc
        tried += 1
    assert tried > 100


class _Store:
    """Takes the controller's writes as the store would, without checking them."""

    def __init__(self) -> None:
        self.written: list[tuple[str, str]] = []

    def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.written.append(("create", resource))
        meta = {**obj["metadata"], "uid": f"new-{len(self.written)}", "resourceVersion": "100"}
        meta.setdefault("name", f"{meta.get('generateName')}xxxxx")
        return {**obj, "metadata": meta}

    def update(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.written.append(("update", resource))
        return obj

    def delete(self, resource: str, namespace: str, name: str, **kw: Any) -> None:
        self.written.append(("delete", resource))


@pytest.mark.parametrize("which", ["service", "pod", "slice", "node"])
def test_the_controller_caches_and_syncs_junk_without_raising(which: str) -> None:
    good = {"service": SERVICE, "pod": POD, "slice": SLICE, "node": NODE}
    tried = 0
    for where, bad in _all(good[which]):
        objs = {**good, which: bad}
        ctl = EndpointsController(_Store())
        try:
            ctl._on_node("ADDED", objs["node"])
            ctl._on_service("ADDED", objs["service"])
            ctl._on_pod("ADDED", objs["pod"])
            ctl._on_slice("ADDED", objs["slice"])
            ctl.sync("default/web")
            ctl._on_node("MODIFIED", NODE if which == "node" else {**NODE, "metadata": {
                **NODE["metadata"], "labels": {"topology.kubernetes.io/zone": "other"}}})
            ctl._on_slice("DELETED", objs["slice"])
            ctl._on_service("DELETED", objs["service"])
            ctl.sync("default/web")
        except Exception as exc:  # noqa: BLE001 - the failure names the place
            raise AssertionError(f"{which} with {where} = {bad!r}: {type(exc).__name__}: {exc}") from exc
        tried += 1
    assert tried > 50
