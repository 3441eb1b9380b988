"""API discovery as kube-apiserver serves it: the aggregated form (apidiscovery.k8s.io/v2, every
group version in the answer to /api and /apis, what kubectl asks for first) and the legacy one
(/api, /apis, and an APIResourceList per group version), with every kind tugboat serves, its
verbs, scope, short names, the `all` category where Kubernetes puts one, and the subresources
tugboat answers; and /version with Kubernetes' fields. Built from the resource registry, once."""

from __future__ import annotations

import functools
import platform
import sys
from typing import Any

from engine.api.registry import RESOURCES, ResourceInfo, older_versions
from engine.server import selfreview

Obj = dict[str, Any]
TUGBOAT_VERSION = "0.1.0"
KUBE_MINOR = "32"  # the Kubernetes release whose API tugboat follows

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# kubectl get all: what Kubernetes puts in the category
IN_ALL = {"pods", "services", "deployments", "replicasets", "jobs", "cronjobs", "horizontalpodautoscalers"}
NO_STATUS = {"events", "configmaps", "secrets", "endpoints", "endpointslices", "storageclasses",
             "ingressclasses", "priorityclasses", "podrecords"}  # kinds without a status subresource


def version() -> Obj:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {"major": "1", "minor": KUBE_MINOR, "gitVersion": f"v1.{KUBE_MINOR}.0-tugboat.{TUGBOAT_VERSION}",
            "gitCommit": "", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": f"python{sys.version_info.major}.{sys.version_info.minor}", "compiler": "cpython",
            "platform": f"{sys.platform}/{machine}", "tugboat": TUGBOAT_VERSION}


def _groups() -> dict[str, list[ResourceInfo]]:
    out: dict[str, list[ResourceInfo]] = {}
    for info in RESOURCES:
        out.setdefault(info.api_version, []).append(info)
    return out



def core_versions(server_address: str) -> Obj:
    """GET /api."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


@functools.cache
def group_list() -> Obj:
    """GET /apis: every named group and its one served version."""
    groups = []
    for group_version, infos in _groups().items():
        group = infos[0].group
        if not group:
            continue
        gv = {"groupVersion": group_version, "version": infos[0].version}
        older = [{"groupVersion": v, "version": v.rpartition("/")[2]}
                 for v in sorted(older_versions()) if v.rpartition("/")[0] == group]
        groups.append({"name": group, "versions": [gv, *older], "preferredVersion": gv})
    metrics = {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}  # engine/server/metrics_api.py
    groups.append({"name": "metrics.k8s.io", "versions": [metrics], "preferredVersion": metrics})
    groups += selfreview.groups()
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resources(info: ResourceInfo) -> list[Obj]:
    main: Obj = {"name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
                 "kind": info.kind, "verbs": VERBS}
    if info.short_names:
        main["shortNames"] = list(info.short_names)
    if info.plural in IN_ALL:
        main["categories"] = ["all"]
    out = [main]
    if info.plural not in NO_STATUS:
        out.append({"name": f"{info.plural}/status", "singularName": "", "namespaced": info.namespaced,
                    "kind": info.kind, "verbs": ["get", "update"]})
    if info.plural in ("deployments", "replicasets"):
        out.append({"name": f"{info.plural}/scale", "singularName": "", "namespaced": True,
                    "group": "autoscaling", "version": "v1", "kind": "Scale",
                    "verbs": ["get", "patch", "update"]})
    if info.plural == "pods":  # kubectl drain evicts when pods/eviction is here (no policy group is listed:
        # it would be empty without PodDisruptionBudgets, which kubectl api-resources counts as an error)
        out.append({"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
                    "version": "v1", "kind": "Eviction", "verbs": ["create"]})
        out.append({"name": "pods/binding", "singularName": "", "namespaced": True, "kind": "Binding",
                    "verbs": ["create"]})
        out.append({"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions",
                    "verbs": ["create", "get"]})
        out.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                    "verbs": ["get"]})
        out.append({"name": "pods/portforward", "singularName": "", "namespaced": True,
                    "kind": "PodPortForwardOptions", "verbs": ["create", "get"]})
    return out


@functools.cache
def resource_list(group_version: str) -> Obj | None:
    """GET /api/v1, /apis/GROUP/VERSION: the kinds of that group version (None: not served)."""
    infos = _groups().get(group_version)
    if infos is None and group_version in older_versions():
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                "resources": [_resources(info)[0] for info in older_versions()[group_version]]}
    if infos is None:
        return selfreview.resource_list(group_version)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [r for info in infos for r in _resources(info)]}


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> bool:
    """Whether the client takes the aggregated form (kubectl 1.26+ asks for it first)."""
    return any("as=APIGroupDiscoveryList" in part and "v=v2" in part.replace(" ", "").split(";as=")[0]
               and "g=apidiscovery.k8s.io" in part for part in accept.split(","))


def _aggregated_version(found: Obj) -> Obj:
    """One group version's APIResourceList in the aggregated form: subresources under their
    resource, each with the kind it answers."""
    group, _, version = found["groupVersion"].rpartition("/")
    resources: dict[str, Obj] = {}
    for r in found["resources"]:
        name, _, sub = r["name"].partition("/")
        kind = {"group": r.get("group", group), "version": r.get("version", version), "kind": r["kind"]}
        if not sub:
            entry = {"resource": name, "responseKind": kind,
                     "scope": "Namespaced" if r["namespaced"] else "Cluster",
                     "singularResource": r.get("singularName") or name, "verbs": r["verbs"]}
            entry.update({k: r[k] for k in ("shortNames", "categories") if k in r})
            resources[name] = entry
        elif name in resources:
            resources[name].setdefault("subresources", []).append(
                {"subresource": sub, "responseKind": kind, "verbs": r["verbs"]})
    return {"version": version, "resources": list(resources.values()), "freshness": "Current"}


def aggregated(core: bool, extra: dict[str, Obj]) -> Obj:
    """GET /api or /apis as an APIGroupDiscoveryList (apidiscovery.k8s.io/v2): every group
    version's resources in one answer, so kubectl needs no request per group version. `extra`:
    resource lists served elsewhere (metrics.k8s.io), by group version."""
    if core:
        items = [{"metadata": {}, "versions": [_aggregated_version(resource_list("v1") or {})]}]
    else:
        items = []
        for group in group_list()["groups"]:
            versions = [extra.get(v["groupVersion"]) or resource_list(v["groupVersion"])
                        for v in group["versions"]]
            items.append({"metadata": {"name": group["name"]},
                          "versions": [_aggregated_version(found) for found in versions if found]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}
