"""Validation rules of the non-workload kinds: Service, Endpoints, ConfigMap, Secret, PVC, Ingress,
HorizontalPodAutoscaler, PriorityClass, Node, Event and Queue."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from engine.api import names
from engine.api.checks import (
    check_quantity_map,
    check_selector,
    d,
    in_range,
    integer,
    lst,
    port_number_or_name,
    required,
    text,
)
from engine.api.names import show

HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2_000_001_000,
    "system-cluster-critical": 2_000_000_000,
}


# -- services, endpoints, data, claims ----------------------------------------------------------
def check_service(obj: dict[str, Any]) -> list[str]:
    spec = d(obj.get("spec"))
    problems = names.check_labels("spec.selector", spec.get("selector"))
    kind = spec.get("type")
    ports = lst(spec.get("ports"))
    if kind == "ExternalName":
        name = spec.get("externalName")
        problems += required("spec.externalName", name, "for type ExternalName")
        if isinstance(name, str) and name and not names.is_dns1123_subdomain(name.rstrip(".")):
            problems.append(
                f"spec.externalName: must be {names.DNS1123_SUBDOMAIN_RULE}, got {show(name)}"
            )
    elif not ports and spec.get("clusterIP") != "None":
        problems.append("spec.ports: required (at least one port)")
    seen: set[str] = set()
    for i, port in enumerate(ports):
        here = f"spec.ports[{i}]"
        port = d(port)
        problems += in_range(f"{here}.port", port.get("port"), 1, 65535)
        problems += port_number_or_name(f"{here}.targetPort", port.get("targetPort"))
        name = port.get("name")
        if len(ports) > 1 and not name:
            problems.append(f"{here}.name: required when there is more than one port")
        if isinstance(name, str) and name:
            if not names.is_dns1123_label(name):
                problems += names.check_name(f"{here}.name", name, rule="label")
            if name in seen:
                problems.append(f"{here}.name: Duplicate value {show(name)}")
            seen.add(name)
        if port.get("nodePort") is not None:
            if kind not in ("NodePort", "LoadBalancer"):
                problems.append(
                    f"{here}.nodePort: may only be set for type NodePort or "
                    f"LoadBalancer, got type {show(kind)}"
                )
            problems += in_range(f"{here}.nodePort", port.get("nodePort"), 30000, 32767)
    return problems


def check_endpoints(obj: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for i, subset in enumerate(lst(obj.get("subsets"))):
        for j, port in enumerate(lst(d(subset).get("ports"))):
            problems += in_range(f"subsets[{i}].ports[{j}].port", d(port).get("port"), 1, 65535)
    return problems


def _data_keys(path: str, data: Any, *, base64_values: bool) -> list[str]:
    problems: list[str] = []
    for key, value in d(data).items():
        if not names.is_config_key(str(key)):
            problems.append(f"{path}: key must be {names.CONFIG_KEY_RULE}, got {show(key)}")
        if base64_values and isinstance(value, str):
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                problems.append(
                    f"{names.key_path(path, str(key))}: expected base64-encoded "
                    f"bytes, got {show(value[:40])}"
                )
    return problems


def check_configmap(obj: dict[str, Any]) -> list[str]:
    problems = _data_keys("data", obj.get("data"), base64_values=False)
    problems += _data_keys("binaryData", obj.get("binaryData"), base64_values=True)
    for key in set(d(obj.get("data"))) & set(d(obj.get("binaryData"))):
        problems.append(f"data[{key}]: Duplicate value: the key is also in binaryData")
    return problems


def check_secret(obj: dict[str, Any]) -> list[str]:
    problems = _data_keys("data", obj.get("data"), base64_values=True)
    size = sum(len(v) * 3 // 4 for v in d(obj.get("data")).values() if isinstance(v, str))
    if size > 1024 * 1024:
        problems.append(f"data: must have at most 1048576 bytes, got about {size}")
    return problems


def check_pvc(obj: dict[str, Any]) -> list[str]:
    spec = d(obj.get("spec"))
    problems = required("spec.accessModes", spec.get("accessModes"), "at least one access mode")
    requests = d(d(spec.get("resources")).get("requests"))
    problems += required("spec.resources.requests[storage]", requests.get("storage"))
    problems += check_quantity_map("spec.resources.requests", requests)
    problems += check_quantity_map("spec.resources.limits", d(spec.get("resources")).get("limits"))
    if spec.get("selector") is not None:
        problems += check_selector("spec.selector", spec["selector"])
    return problems


def check_pv(obj: dict[str, Any]) -> list[str]:
    spec = d(obj.get("spec"))
    problems = required("spec.accessModes", spec.get("accessModes"), "at least one access mode")
    capacity = d(spec.get("capacity"))
    problems += required("spec.capacity[storage]", capacity.get("storage"))
    problems += check_quantity_map("spec.capacity", capacity)
    sources = [k for k in ("hostPath", "local", "csi", "nfs", "iscsi", "fc") if spec.get(k) is not None]
    if not sources:
        problems.append("spec: must specify a volume type (hostPath or local)")
    elif len(sources) > 1:
        problems.append(f"spec: may not specify more than 1 volume type, got {', '.join(sources)}")
    for key in ("hostPath", "local"):
        path = d(spec.get(key)).get("path")
        if spec.get(key) is not None and not (isinstance(path, str) and path.startswith("/")):
            problems.append(f"spec.{key}.path: must be an absolute path, got {show(path)}")
    if spec.get("local") is not None and spec.get("nodeAffinity") is None:
        problems.append("spec.nodeAffinity: Required value: local volume requires node affinity")
    return problems


def check_storage_class(obj: dict[str, Any]) -> list[str]:
    problems = required("provisioner", obj.get("provisioner"))
    provisioner = obj.get("provisioner")
    if isinstance(provisioner, str) and provisioner and not names.is_qualified_name(provisioner):
        problems.append(f"provisioner: must be a qualified name, got {show(provisioner)}")
    return problems


def check_ingress(obj: dict[str, Any]) -> list[str]:
    spec = d(obj.get("spec"))
    problems: list[str] = []
    rules = lst(spec.get("rules"))
    if spec.get("defaultBackend") is None and not rules:
        problems.append("spec: must specify defaultBackend or at least one rule")
    if spec.get("defaultBackend") is not None:
        problems += _backend("spec.defaultBackend", d(spec["defaultBackend"]))
    for i, rule in enumerate(rules):
        here = f"spec.rules[{i}]"
        host = d(rule).get("host")
        if isinstance(host, str) and host:
            bare = host.removeprefix("*.")
            if not names.is_dns1123_subdomain(bare):
                problems.append(
                    f"{here}.host: must be a DNS name, optionally starting with '*.', "
                    f"got {show(host)}"
                )
        for j, entry in enumerate(lst(d(d(rule).get("http")).get("paths"))):
            path_here = f"{here}.http.paths[{j}]"
            entry = d(entry)
            path = entry.get("path")
            if entry.get("pathType") in ("Exact", "Prefix") and not (
                isinstance(path, str) and path.startswith("/")
            ):
                problems.append(
                    f"{path_here}.path: must be an absolute path for pathType "
                    f"{entry['pathType']}, got {show(path)}"
                )
            problems += _backend(f"{path_here}.backend", d(entry.get("backend")))
    return problems


def _backend(path: str, backend: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    kinds = [k for k in ("service", "resource") if backend.get(k) is not None]
    if len(kinds) != 1:
        problems.append(
            f"{path}: must specify exactly one of service or resource, got {len(kinds)}"
        )
    service = backend.get("service")
    if service is not None:
        port = d(d(service).get("port"))
        given = [k for k in ("name", "number") if port.get(k) not in (None, "", 0)]
        if len(given) != 1:
            problems.append(
                f"{path}.service.port: must specify exactly one of name or number, got {len(given)}"
            )
        problems += in_range(f"{path}.service.port.number", port.get("number"), 1, 65535)
    return problems


_METRIC_MEMBER = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def check_hpa(obj: dict[str, Any]) -> list[str]:
    spec = d(obj.get("spec"))
    problems: list[str] = []
    low, high = integer(spec.get("minReplicas")), integer(spec.get("maxReplicas"))
    problems += in_range("spec.minReplicas", low, 1, 2**31 - 1)
    problems += in_range("spec.maxReplicas", high, 1, 2**31 - 1)
    if low is not None and high is not None and high < low:
        problems.append(
            f"spec.maxReplicas: must be greater than or equal to minReplicas ({low}), got {high}"
        )
    ref = d(spec.get("scaleTargetRef"))
    problems += required("spec.scaleTargetRef.kind", ref.get("kind"))
    problems += required("spec.scaleTargetRef.name", ref.get("name"))
    for i, metric in enumerate(lst(spec.get("metrics"))):
        here = f"spec.metrics[{i}]"
        metric = d(metric)
        member = _METRIC_MEMBER.get(str(metric.get("type")))
        if member is None:
            continue
        others = [k for k in _METRIC_MEMBER.values() if k != member and metric.get(k) is not None]
        if metric.get(member) is None:
            problems.append(f"{here}.{member}: required when type is {metric['type']}")
        if others:
            problems.append(
                f"{here}: must populate only {member} for type {metric['type']}, "
                f"got {', '.join(others)}"
            )
        problems += _metric_target(
            f"{here}.{member}.target",
            d(d(metric.get(member)).get("target")),
            resource=member in ("resource", "containerResource"),
        )
    behavior = d(spec.get("behavior"))
    for key in ("scaleUp", "scaleDown"):
        rules = d(behavior.get(key))
        here = f"spec.behavior.{key}"
        problems += in_range(
            f"{here}.stabilizationWindowSeconds", rules.get("stabilizationWindowSeconds"), 0, 3600
        )
        for j, policy in enumerate(lst(rules.get("policies"))):
            problems += in_range(
                f"{here}.policies[{j}].value", d(policy).get("value"), 1, 2**31 - 1
            )
            problems += in_range(
                f"{here}.policies[{j}].periodSeconds", d(policy).get("periodSeconds"), 1, 1800
            )
    return problems


def _metric_target(path: str, target: dict[str, Any], *, resource: bool) -> list[str]:
    kind = target.get("type")
    if kind == "Utilization":
        if not resource:
            return [f"{path}.type: Utilization is only for Resource and ContainerResource metrics"]
        value = integer(target.get("averageUtilization"))
        if value is None:
            return [f"{path}.averageUtilization: required when type is Utilization"]
        return in_range(f"{path}.averageUtilization", value, 1, 2**31 - 1)
    if kind == "AverageValue":
        return required(
            f"{path}.averageValue", target.get("averageValue"), "when type is AverageValue"
        )
    if kind == "Value":
        return required(f"{path}.value", target.get("value"), "when type is Value")
    return []


def check_priority_class(obj: dict[str, Any]) -> list[str]:
    name = text(d(obj.get("metadata")).get("name")) or ""
    value = integer(obj.get("value"))
    if name in SYSTEM_PRIORITY_CLASSES:
        if value is not None and value != SYSTEM_PRIORITY_CLASSES[name]:
            return [f"value: must be {SYSTEM_PRIORITY_CLASSES[name]} for {name}, got {value}"]
        return []
    if name.startswith("system-"):
        return [
            (
                f"metadata.name: the 'system-' prefix is reserved for "
                f"{' and '.join(sorted(SYSTEM_PRIORITY_CLASSES))}, got {show(name)}"
            )
        ]
    if value is not None and value > HIGHEST_USER_PRIORITY:
        return [f"value: must be less than or equal to {HIGHEST_USER_PRIORITY}, got {value}"]
    return []


def check_node(obj: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for i, taint in enumerate(lst(d(obj.get("spec")).get("taints"))):
        key = d(taint).get("key")
        if isinstance(key, str) and not names.is_qualified_name(key):
            problems.append(
                f"spec.taints[{i}].key: must be {names.QUALIFIED_NAME_RULE}, got {show(key)}"
            )
        value = d(taint).get("value")
        if isinstance(value, str) and not names.is_label_value(value):
            problems.append(
                f"spec.taints[{i}].value: must be {names.LABEL_VALUE_RULE}, got {show(value)}"
            )
    return problems


def check_event(obj: dict[str, Any]) -> list[str]:
    return required("involvedObject.kind", d(obj.get("involvedObject")).get("kind"))


OTHER_CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "Service": check_service,
    "Endpoints": check_endpoints,
    "ConfigMap": check_configmap,
    "Secret": check_secret,
    "PersistentVolumeClaim": check_pvc,
    "PersistentVolume": check_pv,
    "StorageClass": check_storage_class,
    "Ingress": check_ingress,
    "HorizontalPodAutoscaler": check_hpa,
    "PriorityClass": check_priority_class,
    "Node": check_node,
    "Event": check_event,
    "Queue": lambda obj: check_quantity_map("spec.quota", d(obj.get("spec")).get("quota")),
}
