"""The files of a pod's configMap, secret and downwardAPI volumes, made on the control plane's
side from the store: each volume's relative paths with their bytes (base64) and modes, as the
kubelet projects them (keys or `items`, `defaultMode`, `optional`); or the sentence that keeps
the pod waiting while a ConfigMap, Secret or key it needs is missing. The node writes them
(engine/runtime/volumes.py) and rewrites them when they change."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from engine.api.env import field_value, resource_value
from engine.errors import NotFoundError
from storage.claims import CLAIM_KEY, volume_path

Obj = dict[str, Any]
Files = dict[str, dict[str, dict[str, Any]]]  # volume -> relative path -> {"data": b64, "mode": int}

DEFAULT_MODE = 0o644  # the API's default for configMap, secret and downwardAPI volumes


class Missing(Exception):
    """What a volume needs and does not find (the pod waits with it)."""


def projected_volumes(pod: Obj, *, claims: bool = False) -> list[Obj]:
    """The pod's volumes whose files the control plane makes (and, with `claims`, those whose
    claim it resolves to a node path)."""
    kinds = ("configMap", "secret", "downwardAPI", *(("persistentVolumeClaim",) if claims else ()))
    return [v for v in (pod.get("spec") or {}).get("volumes") or []
            if isinstance(v, dict) and any(v.get(k) is not None for k in kinds)]


def _object_bytes(obj: Obj) -> dict[str, bytes]:
    """key -> bytes of a ConfigMap (data and binaryData) or a Secret (data, decoded)."""
    out: dict[str, bytes] = {}
    secret = obj.get("kind") == "Secret"
    for key, value in (obj.get("data") or {}).items():
        out[str(key)] = _decode(value) if secret else str(value).encode()
    for key, value in (obj.get("binaryData") or {}).items() if not secret else ():
        out[str(key)] = _decode(value)
    return out


def _decode(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return b""  # validated at write; an object that got in otherwise reads as empty


def _keys(name: str, kind: str, data: dict[str, bytes] | None, source: Obj) -> dict[str, tuple[bytes, int]]:
    mode = source.get("defaultMode")
    mode = mode if isinstance(mode, int) else DEFAULT_MODE
    optional = bool(source.get("optional"))
    if data is None:
        if optional:
            return {}
        raise Missing(f'{kind.lower()} "{name}" not found')
    items = source.get("items")
    if not items:
        return {key: (value, mode) for key, value in data.items()}
    out = {}
    for item in items:
        key = str(item.get("key"))
        if key not in data:
            if optional:
                continue
            what = "configmap references non-existent config key" if kind == "ConfigMap" else \
                f"couldn't find key {key!r} in Secret {name!r}; the secret references non-existent key"
            raise Missing(f"{what}: {key}")
        item_mode = item.get("mode")
        out[str(item.get("path"))] = (data[key], item_mode if isinstance(item_mode, int) else mode)
    return out


def _map_text(mapping: Any) -> str:
    """labels or annotations as the kubelet writes them: sorted `key="value"` lines."""
    pairs = sorted((mapping or {}).items()) if isinstance(mapping, dict) else []
    return "\n".join(f"{k}={json.dumps(str(v))}" for k, v in pairs)


def _downward(pod: Obj, source: Obj) -> dict[str, tuple[bytes, int]]:
    mode = source.get("defaultMode")
    mode = mode if isinstance(mode, int) else DEFAULT_MODE
    out = {}
    meta = pod.get("metadata") or {}
    for item in source.get("items") or []:
        ref, resource = item.get("fieldRef"), item.get("resourceFieldRef")
        try:
            if isinstance(ref, dict):
                path = str(ref.get("fieldPath"))
                if path in ("metadata.labels", "metadata.annotations"):
                    text = _map_text(meta.get(path.split(".")[1]))
                else:
                    text = field_value(pod, path)
            elif isinstance(resource, dict):
                spec = pod.get("spec") or {}
                every = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
                container = next((c for c in every if c.get("name") == resource.get("containerName")), None)
                if container is None:
                    raise ValueError(f"resourceFieldRef: no container {resource.get('containerName')!r}")
                text = resource_value(pod, container, resource)
            else:
                raise ValueError("an item needs fieldRef or resourceFieldRef")
        except ValueError as exc:
            raise Missing(f"downwardAPI item {item.get('path')!r}: {exc}") from None
        item_mode = item.get("mode")
        out[str(item.get("path"))] = (text.encode(), item_mode if isinstance(item_mode, int) else mode)
    return out


def _claim(namespace: str, name: str, store: Any) -> dict[str, dict[str, Any]]:
    """The node path behind a claim, once it is bound to a volume ({CLAIM_KEY: {"path": ...}})."""
    try:
        pvc = store.get("persistentvolumeclaims", namespace, name)
    except NotFoundError:
        raise Missing(f'persistentvolumeclaim "{name}" not found') from None
    volume = (pvc.get("spec") or {}).get("volumeName")
    if not volume or (pvc.get("status") or {}).get("phase") != "Bound":
        raise Missing(f'persistentvolumeclaim "{name}" is not bound yet')
    try:
        path = volume_path(store.get("persistentvolumes", None, str(volume)))
    except NotFoundError:
        raise Missing(f'persistentvolume "{volume}" not found') from None
    if path is None:
        raise Missing(f'persistentvolume "{volume}" has no hostPath or local path tugboat can mount')
    return {CLAIM_KEY: {"path": path}}


def volume_files(pod: Obj, store: Any) -> Files:
    """Every projected volume's files now, and the node path of each claim's volume; raises
    Missing with the first thing missing."""
    namespace = pod["metadata"].get("namespace") or "default"
    out: Files = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        claim = volume.get("persistentVolumeClaim") if isinstance(volume, dict) else None
        if isinstance(claim, dict):
            try:
                out[str(volume.get("name"))] = _claim(namespace, str(claim.get("claimName")), store)
            except Missing as exc:
                raise Missing(f'MountVolume.SetUp failed for volume "{volume.get("name")}" : {exc}') from None
    for volume in projected_volumes(pod):
        name = str(volume.get("name"))
        try:
            if volume.get("downwardAPI") is not None:
                files = _downward(pod, volume["downwardAPI"])
            else:
                kind, source = (("ConfigMap", volume["configMap"]) if volume.get("configMap") is not None
                                else ("Secret", volume["secret"]))
                obj_name = str(source.get("name") if kind == "ConfigMap" else source.get("secretName"))
                plural = "configmaps" if kind == "ConfigMap" else "secrets"
                try:
                    data: dict[str, bytes] | None = _object_bytes(store.get(plural, namespace, obj_name))
                except NotFoundError:
                    data = None
                files = _keys(obj_name, kind, data, source)
        except Missing as exc:
            raise Missing(f'MountVolume.SetUp failed for volume "{name}" : {exc}') from None
        out[name] = {path: {"data": base64.b64encode(body).decode(), "mode": mode}
                     for path, (body, mode) in files.items()}
    return out
