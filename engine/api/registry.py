"""The resource registry: every kind tugboat serves, its names, scope, model and old apiVersions."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import NotFoundError

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(frozen=True)
class ResourceInfo:
    """One served resource type: the names kubectl accepts for it, the model that validates it."""

    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    namespaced: bool
    model_path: str  # "module:Class", imported on first use so clients need no pydantic

    @property
    def model(self) -> type[BaseModel]:
        module, _, name = self.model_path.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or just `pods` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _info(
    kind: str,
    group: str,
    version: str,
    plural: str,
    short: tuple[str, ...],
    model: str,
    *,
    namespaced: bool = True,
) -> ResourceInfo:
    return ResourceInfo(kind, group, version, plural, kind.lower(), short, namespaced,
                        f"engine.api.{model}")


RESOURCES: tuple[ResourceInfo, ...] = (
    _info("Pod", "", "v1", "pods", ("po",), "pod:Pod"),
    _info("Node", "", "v1", "nodes", ("no",), "core:Node", namespaced=False),
    _info("Event", "", "v1", "events", ("ev",), "core:Event"),
    _info("Namespace", "", "v1", "namespaces", ("ns",), "core:Namespace", namespaced=False),
    _info("Service", "", "v1", "services", ("svc",), "core:Service"),
    _info("Endpoints", "", "v1", "endpoints", ("ep",), "core:Endpoints"),
    _info("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", (), "discovery:EndpointSlice"),
    _info("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", ("pvc",),
          "core:PersistentVolumeClaim"),
    _info("PersistentVolume", "", "v1", "persistentvolumes", ("pv",), "storage:PersistentVolume",
          namespaced=False),
    _info("StorageClass", "storage.k8s.io", "v1", "storageclasses", ("sc",), "storage:StorageClass",
          namespaced=False),
    _info("ConfigMap", "", "v1", "configmaps", ("cm",), "core:ConfigMap"),
    _info("Secret", "", "v1", "secrets", (), "core:Secret"),
    _info("Deployment", "apps", "v1", "deployments", ("deploy",), "apps:Deployment"),
    _info("ReplicaSet", "apps", "v1", "replicasets", ("rs",), "apps:ReplicaSet"),
    _info("Job", "batch", "v1", "jobs", (), "batch:Job"),
    _info("CronJob", "batch", "v1", "cronjobs", ("cj",), "batch:CronJob"),
    _info("Ingress", "networking.k8s.io", "v1", "ingresses", ("ing",), "other:Ingress"),
    _info("IngressClass", "networking.k8s.io", "v1", "ingressclasses", (), "other:IngressClass",
          namespaced=False),
    _info(
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        ("hpa",),
        "other:HorizontalPodAutoscaler",
    ),
    _info(
        "PriorityClass",
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        ("pc",),
        "other:PriorityClass",
        namespaced=False,
    ),
    _info("Queue", "tugboat.dev", "v1", "queues", ("q",), "tugboat:Queue", namespaced=False),
    _info("PodRecord", "tugboat.dev", "v1", "podrecords", (), "tugboat:PodRecord"),
)

# Older apiVersions still accepted with the schema of the current one, mapped to the releases
# that deprecated and removed them, as Kubernetes' warnings name them.
DEPRECATED_APIS: dict[tuple[str, str], tuple[str, str]] = {
    ("batch/v1beta1", "CronJob"): ("v1.21", "v1.25"),
    ("apps/v1beta1", "Deployment"): ("v1.9", "v1.16"),
    ("apps/v1beta2", "Deployment"): ("v1.9", "v1.16"),
    ("extensions/v1beta1", "Deployment"): ("v1.9", "v1.16"),
    ("apps/v1beta2", "ReplicaSet"): ("v1.9", "v1.16"),
    ("extensions/v1beta1", "ReplicaSet"): ("v1.9", "v1.16"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): ("v1.23", "v1.26"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"): ("v1.14", "v1.22"),
}

# Still current in Kubernetes, with another schema: accepted and converted (validation.py).
CONVERTED_APIS: frozenset[tuple[str, str]] = frozenset(
    {("autoscaling/v1", "HorizontalPodAutoscaler")}
)



@functools.cache
def older_versions() -> dict[str, list[ResourceInfo]]:
    """Older versions of a kind's own group still accepted (DEPRECATED_APIS), by group version:
    discovery and OpenAPI list them, so kubectl sends a manifest from older docs as it is."""
    out: dict[str, list[ResourceInfo]] = {}
    for info in RESOURCES:
        for group_version, kind in DEPRECATED_APIS:
            if kind == info.kind and group_version.rpartition("/")[0] == info.group:
                out.setdefault(group_version, []).append(info)
    return out


_BY_KIND: dict[str, ResourceInfo] = {info.kind: info for info in RESOURCES}
_BY_GROUP_PLURAL: dict[tuple[str, str], ResourceInfo] = {
    (info.group, info.plural): info for info in RESOURCES
}


def _names(info: ResourceInfo) -> set[str]:
    return {info.kind.lower(), info.singular, info.plural, *info.short_names}


_BY_NAME: dict[str, ResourceInfo] = {name: info for info in RESOURCES for name in _names(info)}


def resolve(name: str) -> ResourceInfo:
    """The resource a kubectl-style name means: kind, singular, plural, short name, or
    `<name>.<group>` / `<name>.<version>.<group>` (e.g. "deployments.apps"); case-insensitive."""
    key = name.strip().lower()
    if key in _BY_NAME:
        return _BY_NAME[key]
    base, dot, rest = key.partition(".")
    if dot:
        for info in RESOURCES:
            if base in _names(info) and rest in (info.group, f"{info.version}.{info.group}"):
                return info
        if rest in ("", "v1", "core"):  # "pods.v1", "pods." : the core group spelled out
            core = _BY_NAME.get(base)
            if core is not None and not core.group:
                return core
    raise NotFoundError(f'the server doesn\'t have a resource type "{name}"')


def by_plural(group: str, plural: str) -> ResourceInfo:
    """The resource served at /apis/<group>/<version>/<plural> (group "" for /api/v1)."""
    info = _BY_GROUP_PLURAL.get((group, plural))
    if info is None:
        where = f"{plural}.{group}" if group else plural
        raise NotFoundError(f'the server doesn\'t have a resource type "{where}"')
    return info


def by_kind(api_version: str, kind: str) -> ResourceInfo:
    """The resource for a document's apiVersion and kind, accepting deprecated apiVersions."""
    info = _BY_KIND.get(kind)
    if info is None:
        raise NotFoundError(
            f'no matches for kind "{kind}" in version "{api_version}"; supported kinds: '
            + ", ".join(sorted(_BY_KIND))
        )
    if (
        api_version == info.api_version
        or (api_version, kind) in DEPRECATED_APIS
        or (api_version, kind) in CONVERTED_APIS
    ):
        return info
    raise NotFoundError(
        f'no matches for kind "{kind}" in version "{api_version}"; use "{info.api_version}"'
    )


def deprecated_api_warning(api_version: str, kind: str) -> str | None:
    """The warning Kubernetes gives for an accepted but deprecated apiVersion, else None."""
    versions = DEPRECATED_APIS.get((api_version, kind))
    if versions is None:
        return None
    current = _BY_KIND[kind].api_version
    deprecated, removed = versions
    return (
        f"{api_version} {kind} is deprecated in {deprecated}+, unavailable in {removed}+; "
        f"use {current} {kind}"
    )
