"""The ConfigMaps and Secrets a pod's env refers to (valueFrom.configMapKeyRef/secretKeyRef,
envFrom), read from the store before the pod starts: their data for the runner, or the
sentence that keeps the pod waiting (CreateContainerConfigError) until they exist. Secret
values are decoded here and reach only the container's environment, never a message."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from engine.api import container_env
from engine.errors import NotFoundError
from engine.runtime.podstatus import waiting_container
from engine.runtime.volumefiles import Files, Missing, volume_files

Obj = dict[str, Any]
Refs = dict[str, dict[str, str]]  # "ConfigMap/name" or "Secret/name" -> key -> value

CONFIG_ERROR = "CreateContainerConfigError"
RETRY_S = (1.0, 2.0, 4.0, 8.0, 10.0)  # the kubelet retries a container it cannot configure


def referenced(pod: Obj) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret the pod's containers' env names."""
    spec = pod.get("spec") or {}
    out: set[tuple[str, str]] = set()
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for source in c.get("envFrom") or []:
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if isinstance(source.get(key), dict):
                    out.add((kind, str(source[key].get("name") or "")))
        for var in c.get("env") or []:
            ref = var.get("valueFrom") or {}
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if isinstance(ref.get(key), dict):
                    out.add((kind, str(ref[key].get("name") or "")))
    return out


def data_of(obj: Obj) -> dict[str, str]:
    """What env sees of a ConfigMap (`data`) or a Secret (`data`, base64-decoded; a value that
    is not UTF-8 is passed as the kubelet does, bytes as text with replacement)."""
    data = obj.get("data")
    data = data if isinstance(data, dict) else {}  # (validated at write; read defensively)
    if obj.get("kind") != "Secret":
        return {str(k): str(v) for k, v in data.items()}
    out = {}
    for key, value in data.items():
        try:
            raw = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raw = b""  # validated at write; an object that got in otherwise reads as empty
        out[str(key)] = raw.decode("utf-8", errors="replace")
    return out


def resolve(pod: Obj, store: Any) -> tuple[Refs, str | None, str | None]:
    """The referenced objects' data, and None twice; or with what is missing (a sentence
    naming the object and key, never a value) and the first container it keeps waiting."""
    namespace = pod["metadata"].get("namespace") or "default"
    plural = {"ConfigMap": "configmaps", "Secret": "secrets"}
    refs: Refs = {}
    for kind, name in sorted(referenced(pod)):
        try:
            refs[f"{kind}/{name}"] = data_of(store.get(plural[kind], namespace, name))
        except NotFoundError:
            pass
    resolver = resolver_of(refs)
    spec = pod.get("spec") or {}
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        try:
            container_env(pod, c, resolver=resolver)
        except ValueError as exc:
            return refs, str(exc), str(c.get("name") or "")
    return refs, None, None


def resolver_of(refs: Mapping[str, Mapping[str, str]]) -> Any:
    """engine/api/env.py's resolver over data `resolve` read."""
    return lambda kind, name: refs.get(f"{kind}/{name}")


def waiting_status(pod: Obj, message: str, container: str) -> Obj:
    """The status of a pod that cannot start yet: Pending, `container` waiting with
    CreateContainerConfigError and `message`, the others waiting behind it, so `kubectl get`
    shows CreateContainerConfigError (or Init:CreateContainerConfigError)."""
    spec = pod.get("spec") or {}
    inits = spec.get("initContainers") or []

    def waiting(c: Obj, behind: str) -> Obj:
        mine = c.get("name") == container
        return waiting_container(c, CONFIG_ERROR, message) if mine else waiting_container(c, behind)
    behind = "PodInitializing" if inits else "ContainerCreating"
    status: Obj = {"phase": "Pending",
                   "containerStatuses": [waiting(c, behind) for c in spec.get("containers") or []]}
    if inits:
        status["initContainerStatuses"] = [waiting(c, "PodInitializing") for c in inits]
    return status


async def configured(pod: Obj, store: Any, *, stopping: Callable[[], bool],
                     tell: Callable[[str, str, Obj], None]) -> tuple[Refs, Files] | None:
    """The data of the pod's env references and the files of its configMap, secret and
    downwardAPI volumes (volumefiles.py) once they all resolve; until then `tell(reason,
    message, status)` once per new message (the pod waits, as the kubelet's does, it does not
    fail: CreateContainerConfigError for env, ContainerCreating and FailedMount for a volume)
    and try again after a capped backoff. None when the pod is stopped meanwhile."""
    told, attempt = None, 0
    while True:
        refs, problem, container = resolve(pod, store)
        reason = "Failed"
        if problem is None:
            try:
                return refs, volume_files(pod, store)
            except Missing as exc:
                problem, container, reason = str(exc), "", "FailedMount"
        if stopping():
            return None
        if problem != told:
            told = problem
            tell(reason, problem, waiting_status(pod, problem, container or ""))
        await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
        attempt += 1
