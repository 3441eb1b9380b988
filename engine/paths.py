"""Kubernetes-shaped API paths: which resource, namespace, name and subresource a URL names."""

from __future__ import annotations

from dataclasses import dataclass

from engine.api import ResourceInfo, by_plural
from engine.errors import NotFoundError


@dataclass(frozen=True)
class Target:
    info: ResourceInfo
    namespace: str | None  # None: all namespaces (list) or a cluster-scoped resource
    name: str | None
    sub: str | None  # "status", "log" or None


def parse_target(group: str, version: str, tail: str) -> Target:
    """Parse the part of a path after `/api/v1/` or `/apis/{group}/{version}/`."""
    segs = [s for s in tail.split("/") if s]
    namespace = None
    if len(segs) >= 3 and segs[0] == "namespaces":
        namespace, segs = segs[1], segs[2:]
    if not segs or len(segs) > 3:
        raise NotFoundError(f"the server could not find the requested resource: {tail!r}")
    info = by_plural(group, segs[0])
    if info.version != version:
        raise NotFoundError(
            f"the server could not find the requested resource: {info.plural} is served as "
            f"{info.api_version}, not {group + '/' if group else ''}{version}")
    if namespace is not None and not info.namespaced:
        raise NotFoundError(f"{info.plural} are cluster-scoped, not in a namespace")
    name = segs[1] if len(segs) > 1 else None
    sub = segs[2] if len(segs) > 2 else None
    if sub not in (None, "status", "log"):
        raise NotFoundError(f"the server could not find the requested resource: {info.plural}/{sub}")
    if sub == "log" and info.plural != "pods":
        raise NotFoundError("only pods have logs")
    return Target(info, namespace, name, sub)


def object_path(info: ResourceInfo, namespace: str | None, name: str | None = None) -> str:
    """The URL path of a resource collection or one object (the client builds them the same way)."""
    base = f"/api/{info.version}" if not info.group else f"/apis/{info.group}/{info.version}"
    if info.namespaced and namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{info.plural}"
    return f"{base}/{name}" if name else base
