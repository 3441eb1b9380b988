"""Kubernetes-shaped API paths: which resource, namespace, name and subresource a URL names.

Names and namespaces are checked where a path is built (the client) and where one is read
(the server), and each is one escaped path segment: no name can stand for a collection, its
parent or another object."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from engine.api import ResourceInfo, by_plural
from engine.api.names import check_object_name
from engine.api.registry import DEPRECATED_APIS
from engine.errors import BadRequestError, NotFoundError


@dataclass(frozen=True)
class Target:
    info: ResourceInfo
    namespace: str | None  # None: all namespaces (list) or a cluster-scoped resource
    name: str | None
    sub: str | None  # "status", "log", "scale", "eviction", "exec", "binding" or None


def check_names(info: ResourceInfo, namespace: str | None, name: str | None, *,
                what: str = "") -> None:
    """A BadRequestError naming the argument when `namespace` or `name` cannot name one
    namespace or one object of `info`'s kind."""
    problems = []
    if namespace is not None:
        problems += check_object_name(f"{what}namespace", namespace, kind="Namespace")
    if name is not None:
        problems += check_object_name(f"{what}{info.singular} name", name, kind=info.kind)
    if problems:
        raise BadRequestError("; ".join(problems))


def parse_target(group: str, version: str, segments: list[str]) -> Target:
    """Parse the path segments after `/api/v1/` or `/apis/{group}/{version}/`, each one
    already unescaped on its own (so an escaped '/' stays inside its segment)."""
    segs = [s for s in segments if s]
    namespace = None
    if len(segs) >= 3 and segs[0] == "namespaces":
        namespace, segs = segs[1], segs[2:]
    if not segs or len(segs) > 3:
        raise NotFoundError(f"the server could not find the requested resource: {'/'.join(segments)!r}")
    info = by_plural(group, segs[0])
    if info.version != version and (f"{group}/{version}", info.kind) not in DEPRECATED_APIS:
        raise NotFoundError(
            f"the server could not find the requested resource: {info.plural} is served as "
            f"{info.api_version}, not {group + '/' if group else ''}{version}")
    if namespace is not None and not info.namespaced:
        raise NotFoundError(f"{info.plural} are cluster-scoped, not in a namespace")
    name = segs[1] if len(segs) > 1 else None
    sub = segs[2] if len(segs) > 2 else None
    if sub not in (None, "status", "log", "scale", "eviction", "exec", "binding", "portforward"):
        raise NotFoundError(f"the server could not find the requested resource: {info.plural}/{sub}")
    if sub == "scale" and info.plural not in ("deployments", "replicasets"):
        raise NotFoundError(f"{info.plural} have no scale subresource")
    if sub in ("log", "eviction", "exec", "binding", "portforward") and info.plural != "pods":
        raise NotFoundError(f"only pods have the {sub} subresource")
    check_names(info, namespace, name, what="path: ")
    return Target(info, namespace, name, sub)


def object_path(info: ResourceInfo, namespace: str | None, name: str | None = None) -> str:
    """The URL path of a resource collection or one object, every segment checked and escaped.
    An empty `namespace` (or a cluster-scoped kind) leaves it out; a `name` of "" is refused
    (it would address the whole collection): None is how to ask for the collection."""
    check_names(info, namespace if info.namespaced and namespace else None, name)
    base = f"/api/{info.version}" if not info.group else f"/apis/{info.group}/{info.version}"
    if info.namespaced and namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{info.plural}"
    return f"{base}/{quote(name, safe='')}" if name is not None else base
