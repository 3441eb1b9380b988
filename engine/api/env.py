"""The environment a container process gets, and `$(VAR)` expansion, by the kubelet's rules."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from engine.api.quantity import parse_quantity

# (kind, name) -> the object's data as text (Secret values already decoded), or None if absent.
RefResolver = Callable[[str, str], Mapping[str, str] | None]

_MAP_FIELD_RE = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand `$(VAR)` from env; `$$` is a literal `$`; unknown or unclosed references stay as is.

    The kubelet's third_party/forked/golang/expansion, step for step.
    """
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            if nxt == "$":  # escaped operator
                out.append("$")
                advance = 1
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close == -1:  # incomplete reference: keep "$(" and go on after it
                    out.append("$(")
                    advance = 1
                else:
                    name = text[cursor + 2 : close]
                    out.append(env.get(name, f"$({name})"))
                    advance = close - cursor
            else:
                out.append("$" + nxt)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def expand_command(args: list[str], env: Mapping[str, str]) -> list[str]:
    """A container's command or args with `$(VAR)` references expanded from its env."""
    return [expand(arg, env) for arg in args]


def container_env(
    pod: dict[str, Any],
    container: dict[str, Any],
    *,
    extra: dict[str, str] | None = None,
    resolver: RefResolver | None = None,
) -> dict[str, str]:
    """The environment of one container of a pod (both JSON dicts), in Kubernetes order:
    HOSTNAME, then `extra` (e.g. JOB_COMPLETION_INDEX), then envFrom, then env, each entry able
    to refer to the ones before it with `$(VAR)`.

    configMapKeyRef, secretKeyRef and envFrom need `resolver`; without one they raise ValueError
    so that the caller can look the objects up and call again.
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    env: dict[str, str] = {"HOSTNAME": str(spec.get("hostname") or meta.get("name") or "")}
    env.update(extra or {})
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(key)
            if ref is not None:
                data = _lookup(resolver, kind, ref, key=None, where=f"envFrom {key}")
                for name, value in (data or {}).items():
                    env[prefix + name] = value
    for var in container.get("env") or []:
        name = var["name"]
        source = var.get("valueFrom")
        if source is None:
            env[name] = expand(var.get("value") or "", env)
            continue
        resolved = _value_from(pod, container, source, resolver=resolver, var=name)
        if resolved is not None:
            env[name] = resolved
    return env


def _value_from(
    pod: dict[str, Any],
    container: dict[str, Any],
    source: dict[str, Any],
    *,
    resolver: RefResolver | None,
    var: str,
) -> str | None:
    if source.get("fieldRef") is not None:
        return field_value(pod, source["fieldRef"]["fieldPath"])
    if source.get("resourceFieldRef") is not None:
        return resource_value(pod, container, source["resourceFieldRef"])
    for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
        ref = source.get(key)
        if ref is not None:
            data = _lookup(resolver, kind, ref, key=ref.get("key"), where=f"env {var}")
            if data is None:
                return None
            return data[ref["key"]]
    raise ValueError(f"env {var}: valueFrom names no source tugboat can resolve")


def _lookup(
    resolver: RefResolver | None, kind: str, ref: dict[str, Any], *, key: str | None, where: str
) -> Mapping[str, str] | None:
    """The referenced object's data, or None when it (or the key) is missing but optional."""
    name = ref.get("name") or ""
    if resolver is None:
        raise ValueError(
            f"{where}: needs {kind} {name!r}"
            + (f" key {key!r}" if key else "")
            + ", which must be looked up first"
        )
    data = resolver(kind, name)
    optional = bool(ref.get("optional"))
    if data is None:
        if optional:
            return None
        raise ValueError(f"{where}: {kind} {name!r} not found")
    if key is not None and key not in data:
        if optional:
            return None
        raise ValueError(f"{where}: couldn't find key {key!r} in {kind} {name!r}")
    return data


def field_value(pod: dict[str, Any], field_path: str) -> str:
    """The value of a downward-API fieldRef path (metadata.name, status.podIP, ...)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    simple: dict[str, Any] = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(ip.get("ip", "") for ip in status.get("podIPs") or []),
        "status.hostIPs": ",".join(ip.get("ip", "") for ip in status.get("hostIPs") or []),
    }
    if field_path in simple:
        value = simple[field_path]
        return "" if value is None else str(value)
    match = _MAP_FIELD_RE.fullmatch(field_path)
    if match:
        return str((meta.get(match[1]) or {}).get(match[2], ""))
    raise ValueError(f"fieldRef: unsupported fieldPath {field_path!r}")


def resource_value(pod: dict[str, Any], container: dict[str, Any], ref: dict[str, Any]) -> str:
    """resourceFieldRef: ceil(quantity / divisor), as kubelet's ExtractContainerResourceValue."""
    target: dict[str, Any] = container
    if ref.get("containerName"):
        spec = pod.get("spec") or {}
        everyone = (spec.get("containers") or []) + (spec.get("initContainers") or [])
        target = next((c for c in everyone if c.get("name") == ref["containerName"]), {})
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    raw = ((target.get("resources") or {}).get(kind) or {}).get(resource)
    if raw is None:
        raise ValueError(
            f"resourceFieldRef {ref.get('resource')}: not set on the container; "
            "the node's allocatable is needed"
        )
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor.is_zero():
        raise ValueError("resourceFieldRef: divisor must not be 0")
    return str(math.ceil(parse_quantity(raw).amount / divisor.amount))
