"""`kubectl describe` text: nodes, secrets and config maps by hand, other kinds generically."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import yaml

from engine.objects import finished
from engine.printers.describe_hpa import describe_hpa
from engine.printers.describe_job import describe_job
from engine.printers.describe_pod import describe_pod
from engine.printers.fmt import NONE, Obj, aware, rfc1123z
from engine.printers.network import describe_endpointslice, describe_service
from engine.printers.pods import node_roles
from engine.printers.queues import describe_queue
from engine.printers.writer import (
    PrefixWriter,
    clean,
    taint_text,
    write_annotations,
    write_events,
    write_list,
    write_map,
    write_metadata,
)

Describer = Callable[[Obj, Sequence[Obj], datetime], str]

_SKIP_TOP = ("apiVersion", "kind", "metadata")
_NODE_INFO = (("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
              ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
              ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
              ("Container Runtime Version", "containerRuntimeVersion"),
              ("Kubelet Version", "kubeletVersion"), ("Kube-Proxy Version", "kubeProxyVersion"))
_SA_TOKEN_TYPE = "kubernetes.io/service-account-token"


def title_of(key: str) -> str:
    """A camelCase field as a describe title: globalDefault -> Global Default."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return words[:1].upper() + words[1:]


def _yaml(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True,
                              width=1000))


def _write_resources(w: PrefixWriter, title: str, resources: dict[str, Any]) -> None:
    if resources:
        w.write(0, f"{title}:\n")
        for name in sorted(resources):
            w.field(1, name, resources[name])


def _write_node_gpus(w: PrefixWriter, gpus: list[Obj], pods: Sequence[Obj]) -> None:
    """tugboat: each GPU with its health and the pod holding it."""
    held: dict[str, list[str]] = {}
    for pod in pods:
        key = f"{pod['metadata'].get('namespace')}/{pod['metadata'].get('name')}"
        for g in (pod.get("status") or {}).get("gpus") or []:
            held.setdefault(str(g.get("uuid")), []).append(key)
    w.write(0, "GPUs:\n  Index\tUUID\tProduct\tMemory\tHealth\tPod\n")
    w.write(1, "-----\t----\t-------\t------\t------\t---\n")
    for g in gpus:
        total = f"{g['memoryMiB']}Mi" if g.get("memoryMiB") else "<unknown>"
        used = g.get("memoryUsedMiB")
        memory = f"{used}Mi/{total}" if used is not None else total
        product = str(g.get("product", "")) + (" (simulated)" if g.get("simulated") else "")
        health = str(g.get("health", "")) + (f": {g['reason']}" if g.get("reason") else "")
        w.write(1, f"{g.get('index', '')}\t{g.get('uuid', '')}\t{product}\t{memory}\t"
                   f"{health}\t{','.join(held.get(str(g.get('uuid')), [])) or NONE}\n")
    procs = [(g.get("index"), p) for g in gpus for p in g.get("processes") or []]
    if procs:
        w.write(0, "GPU Processes:\n  GPU\tPID\tPod\tMemory\n  ---\t---\t---\t------\n")
        for index, p in procs:
            mem = f"{p['usedMemoryMiB']}Mi" if p.get("usedMemoryMiB") is not None else "n/a"
            w.write(1, f"{index}\t{p.get('pid')}\t{p.get('pod') or NONE}\t{mem}\n")


def _write_node_pods(w: PrefixWriter, pods: Sequence[Obj]) -> None:
    """kubectl's "Non-terminated Pods" table, with the GPUs each holds."""
    live = [p for p in pods if not finished(p)]
    w.write(0, f"Non-terminated Pods:\t({len(live)} in total)\n")
    if not live:
        return
    w.write(1, "Namespace\tName\tCPU Requests\tMemory Requests\tGPUs\n")
    w.write(1, "---------\t----\t------------\t---------------\t----\n")
    for pod in live:
        req: dict[str, str] = {}
        for c in (pod.get("spec") or {}).get("containers") or []:
            req.update((c.get("resources") or {}).get("requests") or {})
        gpus = ",".join(str(g.get("index")) for g in (pod.get("status") or {}).get("gpus") or [])
        w.write(1, f"{pod['metadata'].get('namespace')}\t{pod['metadata'].get('name')}\t"
                   f"{req.get('cpu', '0')}\t{req.get('memory', '0')}\t{gpus or NONE}\n")


def _describe_node(node: Obj, events: Sequence[Obj], now: datetime,
                   pods: Sequence[Obj] = ()) -> str:
    spec: Obj = node.get("spec") or {}
    status: Obj = node.get("status") or {}
    meta: Obj = node.get("metadata") or {}
    w = PrefixWriter()
    w.field(0, "Name", meta.get("name", ""))
    w.field(0, "Roles", node_roles(node))
    write_map(w, "Labels", meta.get("labels"))
    write_annotations(w, meta.get("annotations"))
    w.field(0, "CreationTimestamp", rfc1123z(meta.get("creationTimestamp"), now))
    write_list(w, "Taints", [taint_text(t) for t in spec.get("taints") or []])
    w.field(0, "Unschedulable", bool(spec.get("unschedulable")))
    conditions: list[Obj] = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\t"
                   "Message\n")
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            w.write(1, f"{clean(c.get('type'))} \t{clean(c.get('status'))} \t"
                       f"{rfc1123z(c.get('lastHeartbeatTime'), now)} \t"
                       f"{rfc1123z(c.get('lastTransitionTime'), now)} \t"
                       f"{clean(c.get('reason'))} \t{clean(c.get('message'))}\n")
    w.write(0, "Addresses:\n")
    for addr in status.get("addresses") or []:
        w.field(1, clean(addr.get("type")), addr.get("address", ""))
    _write_resources(w, "Capacity", status.get("capacity") or {})
    _write_resources(w, "Allocatable", status.get("allocatable") or {})
    info: Obj = status.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for title, key in _NODE_INFO:
        w.field(1, title, info.get(key, ""))
    if spec.get("podCIDR"):
        w.field(0, "PodCIDR", spec["podCIDR"])
    if spec.get("podCIDRs"):
        w.field(0, "PodCIDRs", ",".join(spec["podCIDRs"]))
    if spec.get("providerID"):
        w.field(0, "ProviderID", spec["providerID"])
    if status.get("gpus"):
        _write_node_gpus(w, status["gpus"], pods)
    _write_node_pods(w, pods)
    write_events(w, events, now)
    return w.render()


def _secret_size(value: Any) -> int:
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(str(value))


def _describe_secret(secret: Obj, events: Sequence[Obj], now: datetime) -> str:
    """Names and sizes only: describe never shows a secret's values."""
    w = PrefixWriter()
    write_metadata(w, secret, now, created=False)
    stype = str(secret.get("type") or "Opaque")
    w.write(0, "\n")
    w.field(0, "Type", stype)
    w.write(0, "\nData\n====\n")
    data: dict[str, Any] = secret.get("data") or {}
    for key in sorted(data):
        if key == "token" and stype == _SA_TOKEN_TYPE:
            w.field(0, key, base64.b64decode(str(data[key])).decode(errors="replace"))
        else:
            w.field(0, key, f"{_secret_size(data[key])} bytes")
    for key in sorted(set(secret.get("stringData") or {}) - set(data)):
        w.field(0, key, f"{len(str(secret['stringData'][key]).encode())} bytes")
    return w.render()


def _describe_configmap(cm: Obj, events: Sequence[Obj], now: datetime) -> str:
    w = PrefixWriter()
    write_metadata(w, cm, now, created=False)
    w.write(0, "\nData\n====\n")
    data: dict[str, Any] = cm.get("data") or {}
    for key in sorted(data):
        w.write(0, f"{clean(key)}:\n----\n")
        w.raw(0, str(data[key]))
        w.write(0, "\n")
    w.write(0, "\nBinaryData\n====\n")
    binary: dict[str, Any] = cm.get("binaryData") or {}
    for key in sorted(binary):
        w.write(0, f"{clean(key)}: {_secret_size(binary[key])} bytes\n")
    w.write(0, "\n")
    write_events(w, events, now)
    return w.render()


def _describe_generic(obj: Obj, events: Sequence[Obj], now: datetime) -> str:
    """Metadata, then each top-level field: scalars inline, maps and lists as YAML blocks."""
    w = PrefixWriter()
    write_metadata(w, obj, now)
    for key, value in obj.items():
        if key in _SKIP_TOP:
            continue
        if isinstance(value, (dict, list)):
            if not value:
                w.field(0, title_of(key), NONE)
                continue
            w.write(0, f"{title_of(key)}:\n")
            w.raw(1, _yaml(value))
        else:
            w.field(0, title_of(key), value)
    write_events(w, events, now)
    return w.render()


_DESCRIBERS: dict[str, Describer] = {
    "nodes": _describe_node,
    "queues": describe_queue,
    "secrets": _describe_secret,
    "configmaps": _describe_configmap,
    "endpointslices": describe_endpointslice,
    "horizontalpodautoscalers": describe_hpa,
}


def describe(resource: str, obj: Obj, *, events: Sequence[Obj], now: datetime,
             pods: Sequence[Obj] = (), endpoints: Obj | None = None) -> str:
    """The text `kubectl describe <resource> <name>` prints, without a trailing newline.

    `events` are the events already selected for this object (involvedObject matches);
    they are shown oldest first. For a node, `pods` are the pods bound to it; for a Job, the pods
    it ran (deleted ones marked with the describe_job.DELETED annotation); for a Service, its
    Endpoints.
    """
    now = aware(now)
    resource = resource.lower()
    try:
        if resource == "pods":
            return describe_pod(obj, events=events, now=now)
        if resource == "nodes":
            return _describe_node(obj, events, now, pods)
        if resource == "jobs":
            return describe_job(obj, events, now, pods)
        if resource == "services":
            return describe_service(obj, endpoints, events, now)
        return _DESCRIBERS.get(resource, _describe_generic)(obj, events, now)
    except Exception as exc:  # noqa: BLE001 - a malformed stored object is shown as stored
        note = (f"Warning:  this object could not be read ({type(exc).__name__}: {exc}); "
                "shown as stored")
        return note + "\n" + _describe_generic(obj, events, now)
