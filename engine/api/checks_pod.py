"""Validation rules of a pod spec: containers, ports, env, probes, volumes, scheduling fields."""

from __future__ import annotations

import re
from typing import Any

from engine.api import names
from engine.api.checks import (
    check_node_requirement,
    check_resources,
    d,
    in_range,
    integer,
    lst,
    non_negative,
    port_number_or_name,
    required,
    text,
    unsupported,
)
from engine.api.names import show
from engine.api.pod import VOLUME_SOURCES
from engine.api.problems import join

ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_ENV_FIELD_MAP_RE = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def check_pod_spec(path: str, spec: Any) -> list[str]:
    spec = d(spec)
    problems: list[str] = []
    containers = lst(spec.get("containers"))
    if not containers and "containers" in spec and spec.get("containers") is not None:
        problems.append(f"{join(path, 'containers')}: must have at least one container")
    volumes = _volume_names(path, spec, problems)
    seen: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, container in enumerate(lst(spec.get(key))):
            here = f"{join(path, key)}[{i}]"
            problems += check_container(
                here, d(container), volumes=volumes, init=key == "initContainers"
            )
            name = d(container).get("name")
            if isinstance(name, str):
                if name in seen:
                    problems.append(f"{here}.name: Duplicate value {show(name)}")
                seen.add(name)
    problems += non_negative(
        join(path, "terminationGracePeriodSeconds"), spec.get("terminationGracePeriodSeconds")
    )
    problems += in_range(
        join(path, "activeDeadlineSeconds"), spec.get("activeDeadlineSeconds"), 1, 2**31 - 1
    )
    problems += names.check_labels(join(path, "nodeSelector"), spec.get("nodeSelector"))
    for field in ("hostname", "subdomain"):
        if text(spec.get(field)):
            problems += names.check_name(join(path, field), spec[field], rule="label")
    for field in ("nodeName", "priorityClassName", "serviceAccountName"):
        if text(spec.get(field)):
            problems += names.check_name(join(path, field), spec[field], rule="subdomain")
    for i, alias in enumerate(lst(spec.get("hostAliases"))):
        here = f"{join(path, 'hostAliases')}[{i}]"
        ip = d(alias).get("ip")
        if isinstance(ip, str) and not names.is_ip(ip):
            problems.append(f"{here}.ip: Invalid value: {show(ip)}: must be a valid IP address")
        for j, hostname in enumerate(lst(d(alias).get("hostnames"))):
            if isinstance(hostname, str):
                problems += names.check_name(f"{here}.hostnames[{j}]", hostname, rule="subdomain")
    for i, toleration in enumerate(lst(spec.get("tolerations"))):
        problems += _toleration(f"{join(path, 'tolerations')}[{i}]", d(toleration))
    node_affinity = d(d(spec.get("affinity")).get("nodeAffinity"))
    base = join(path, "affinity.nodeAffinity")
    required_terms = d(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))
    terms = lst(required_terms.get("nodeSelectorTerms"))
    if "nodeSelectorTerms" in required_terms and not terms:
        problems.append(
            f"{base}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: "
            "must have at least one term"
        )
    for i, term in enumerate(terms):
        problems += _node_term(
            f"{base}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]", term
        )
    for i, pref in enumerate(
        lst(node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))
    ):
        here = f"{base}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        problems += in_range(f"{here}.weight", d(pref).get("weight"), 1, 100)
        problems += _node_term(f"{here}.preference", d(pref).get("preference"))
    return problems


def _volume_names(path: str, spec: dict[str, Any], problems: list[str]) -> set[str]:
    seen: set[str] = set()
    for i, volume in enumerate(lst(spec.get("volumes"))):
        here = f"{join(path, 'volumes')}[{i}]"
        volume = d(volume)
        name = volume.get("name")
        if isinstance(name, str):
            problems += names.check_name(f"{here}.name", name, rule="label")
            if name in seen:
                problems.append(f"{here}.name: Duplicate value {show(name)}")
            seen.add(name)
        sources = [key for key in VOLUME_SOURCES if volume.get(key) is not None]
        if not sources:
            problems.append(
                f"{here}: must specify a volume type (emptyDir, configMap, secret, "
                "persistentVolumeClaim, hostPath, ...)"
            )
        elif len(sources) > 1:
            problems.append(
                f"{here}: may not specify more than 1 volume type, got " + ", ".join(sources)
            )
        problems += (
            required(f"{here}.configMap.name", d(volume.get("configMap")).get("name"))
            if volume.get("configMap") is not None
            else []
        )
        problems += (
            required(f"{here}.secret.secretName", d(volume.get("secret")).get("secretName"))
            if volume.get("secret") is not None
            else []
        )
        if volume.get("persistentVolumeClaim") is not None:
            problems += required(
                f"{here}.persistentVolumeClaim.claimName",
                d(volume["persistentVolumeClaim"]).get("claimName"),
            )
        if volume.get("hostPath") is not None:
            problems += required(f"{here}.hostPath.path", d(volume["hostPath"]).get("path"))
        for key in ("configMap", "secret", "downwardAPI"):
            source = d(volume.get(key))
            problems += in_range(f"{here}.{key}.defaultMode", source.get("defaultMode"), 0, 0o777)
            for j, item in enumerate(lst(source.get("items"))):
                item = d(item)
                problems += relative_path(f"{here}.{key}.items[{j}].path", item.get("path"))
                problems += in_range(f"{here}.{key}.items[{j}].mode", item.get("mode"), 0, 0o777)
                sources = [k for k in ("fieldRef", "resourceFieldRef") if item.get(k) is not None]
                if key == "downwardAPI" and len(sources) != 1:
                    problems.append(f"{here}.{key}.items[{j}]: must specify exactly one of "
                                    f"fieldRef and resourceFieldRef")
        host = d(volume.get("hostPath")).get("path")
        if isinstance(host, str) and host and not host.startswith("/"):
            problems.append(f"{here}.hostPath.path: must be an absolute path, got {show(host)}")
    return seen


def check_container(
    path: str, container: dict[str, Any], *, volumes: set[str], init: bool
) -> list[str]:
    problems: list[str] = []
    name = container.get("name")
    if isinstance(name, str):
        problems += names.check_name(f"{path}.name", name, rule="label")
    if container.get("image") == "":
        problems.append(f"{path}.image: required")
    port_names: set[str] = set()
    for i, port in enumerate(lst(container.get("ports"))):
        here = f"{path}.ports[{i}]"
        port = d(port)
        problems += in_range(f"{here}.containerPort", port.get("containerPort"), 1, 65535)
        if port.get("hostPort") not in (None, 0):
            problems += in_range(f"{here}.hostPort", port.get("hostPort"), 1, 65535)
        port_name = text(port.get("name"))
        if port_name:
            if not names.is_iana_svc_name(port_name):
                problems.append(
                    f"{here}.name: must be an IANA service name (at most 15 lower "
                    f"case letters, digits or '-', with a letter), got {show(port_name)}"
                )
            if port_name in port_names:
                problems.append(f"{here}.name: Duplicate value {show(port_name)}")
            port_names.add(port_name)
    for i, env in enumerate(lst(container.get("env"))):
        problems += _env_var(f"{path}.env[{i}]", d(env))
    for i, source in enumerate(lst(container.get("envFrom"))):
        source = d(source)
        refs = [k for k in ("configMapRef", "secretRef") if source.get(k) is not None]
        if len(refs) != 1:
            problems.append(
                f"{path}.envFrom[{i}]: must specify exactly one of configMapRef or "
                f"secretRef, got {len(refs)}"
            )
    problems += check_resources(f"{path}.resources", container.get("resources"))
    mount_paths: set[str] = set()
    for i, mount in enumerate(lst(container.get("volumeMounts"))):
        here = f"{path}.volumeMounts[{i}]"
        mount = d(mount)
        mount_name = mount.get("name")
        if isinstance(mount_name, str) and mount_name not in volumes:
            problems.append(
                f"{here}.name: must name a volume of the pod, got {show(mount_name)} (Not found)"
            )
        mount_path = mount.get("mountPath")
        problems += required(f"{here}.mountPath", mount_path)
        if isinstance(mount_path, str) and mount_path:
            if mount_path in mount_paths:
                problems.append(f"{here}.mountPath: must be unique, got {show(mount_path)}")
            mount_paths.add(mount_path)
        if isinstance(mount_path, str) and mount_path and not mount_path.startswith("/"):
            problems.append(f"{here}.mountPath: must be an absolute path, got {show(mount_path)}")
        if mount.get("subPath"):
            problems += relative_path(f"{here}.subPath", mount.get("subPath"))
        if mount.get("subPath") and mount.get("subPathExpr"):
            problems.append(f"{here}.subPathExpr: subPathExpr and subPath are mutually exclusive")
    sidecar = container.get("restartPolicy") == "Always"
    for probe_key in _PROBES:
        probe = container.get(probe_key)
        if probe is None:
            continue
        if init and not sidecar:
            problems.append(
                f"{path}.{probe_key}: may not be set for init containers without "
                "restartPolicy=Always"
            )
            continue
        problems += _probe(
            f"{path}.{probe_key}", d(probe), liveness_like=probe_key != "readinessProbe"
        )
    lifecycle = d(container.get("lifecycle"))
    if lifecycle and init and not sidecar:
        problems.append(
            f"{path}.lifecycle: may not be set for init containers without restartPolicy=Always"
        )
    pre_stop = lifecycle.get("preStop")
    if pre_stop is not None:
        handlers = [
            k for k in ("exec", "httpGet", "tcpSocket", "sleep") if d(pre_stop).get(k) is not None
        ]
        if len(handlers) != 1:
            problems.append(
                f"{path}.lifecycle.preStop: must specify exactly one handler type "
                f"(exec, httpGet, tcpSocket or sleep), got {len(handlers)}"
            )
        if d(pre_stop).get("exec") is not None:
            problems += required(
                f"{path}.lifecycle.preStop.exec.command", d(d(pre_stop).get("exec")).get("command")
            )
    return problems


def _env_var(path: str, env: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    name = env.get("name")
    if isinstance(name, str) and (
        not name or "=" in name or not name.isprintable() or not name.isascii()
    ):
        problems.append(
            f"{path}.name: must be printable ASCII characters other than '=', got {show(name)}"
        )
    source = env.get("valueFrom")
    if source is None:
        return problems
    if env.get("value"):
        problems.append(f"{path}.valueFrom: may not be specified when `value` is not empty")
    source = d(source)
    kinds = [
        k
        for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
        if source.get(k) is not None
    ]
    if len(kinds) != 1:
        problems.append(
            f"{path}.valueFrom: must specify exactly one of fieldRef, "
            f"resourceFieldRef, configMapKeyRef or secretKeyRef, got {len(kinds)}"
        )
    field_path = d(source.get("fieldRef")).get("fieldPath")
    if isinstance(field_path, str) and not (
        field_path in ENV_FIELD_PATHS or _ENV_FIELD_MAP_RE.fullmatch(field_path)
    ):
        problems += unsupported(
            f"{path}.valueFrom.fieldRef.fieldPath",
            field_path,
            (*ENV_FIELD_PATHS, "metadata.labels['<KEY>']", "metadata.annotations['<KEY>']"),
        )
    api_version = d(source.get("fieldRef")).get("apiVersion")
    problems += unsupported(f"{path}.valueFrom.fieldRef.apiVersion", api_version, ("v1",))
    resource = d(source.get("resourceFieldRef")).get("resource")
    problems += unsupported(
        f"{path}.valueFrom.resourceFieldRef.resource",
        resource,
        (
            "limits.cpu",
            "limits.memory",
            "limits.ephemeral-storage",
            "requests.cpu",
            "requests.memory",
            "requests.ephemeral-storage",
        ),
    )
    for key in ("configMapKeyRef", "secretKeyRef"):
        ref = source.get(key)
        if ref is not None:
            problems += required(f"{path}.valueFrom.{key}.key", d(ref).get("key"))
    return problems


def _probe(path: str, probe: dict[str, Any], *, liveness_like: bool) -> list[str]:
    problems: list[str] = []
    handlers = [k for k in _PROBE_HANDLERS if probe.get(k) is not None]
    if not handlers:
        problems.append(f"{path}: must specify a handler type (exec, httpGet, tcpSocket or grpc)")
    elif len(handlers) > 1:
        problems.append(
            f"{path}: may not specify more than 1 handler type, got " + ", ".join(handlers)
        )
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        problems += non_negative(f"{path}.{key}", probe.get(key))
    for key in ("timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        if integer(probe.get(key)) == 0:
            problems.append(f"{path}.{key}: must be greater than or equal to 1, got 0")
    if liveness_like and integer(probe.get("successThreshold")) not in (None, 1):
        problems.append(f"{path}.successThreshold: must be 1, got {probe['successThreshold']}")
    grace = integer(probe.get("terminationGracePeriodSeconds"))
    if grace is not None and grace <= 0:
        problems.append(
            f"{path}.terminationGracePeriodSeconds: must be greater than 0, got {grace}"
        )
    if probe.get("exec") is not None:
        problems += required(f"{path}.exec.command", d(probe["exec"]).get("command"))
    for key in ("httpGet", "tcpSocket"):
        if probe.get(key) is not None:
            problems += port_number_or_name(f"{path}.{key}.port", d(probe[key]).get("port"))
    if probe.get("grpc") is not None:
        problems += in_range(f"{path}.grpc.port", d(probe["grpc"]).get("port"), 1, 65535)
    return problems


def _toleration(path: str, toleration: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    key, op = toleration.get("key"), toleration.get("operator") or "Equal"
    if isinstance(key, str) and key and not names.is_qualified_name(key):
        problems.append(f"{path}.key: must be {names.QUALIFIED_NAME_RULE}, got {show(key)}")
    if not key and op != "Exists":
        problems.append(
            f"{path}.operator: must be Exists when `key` is empty (which means "
            f'"match all values and all keys"), got {show(op)}'
        )
    if op == "Exists" and toleration.get("value"):
        problems.append(
            f"{path}.value: must be empty when `operator` is 'Exists', "
            f"got {show(toleration['value'])}"
        )
    if toleration.get("tolerationSeconds") is not None and toleration.get("effect") != "NoExecute":
        problems.append(
            f"{path}.effect: must be 'NoExecute' when `tolerationSeconds` is set, "
            f"got {show(toleration.get('effect'))}"
        )
    return problems


def _node_term(path: str, term: Any) -> list[str]:
    problems: list[str] = []
    for key in ("matchExpressions", "matchFields"):
        for i, expr in enumerate(lst(d(term).get(key))):
            problems += check_node_requirement(f"{path}.{key}[{i}]", expr)
    return problems


def relative_path(where: str, value: Any) -> list[str]:
    """A path inside a volume: relative, and never leaving it through '..'."""
    if not isinstance(value, str) or not value:
        return [f"{where}: Required value"]
    if value.startswith("/"):
        return [f"{where}: must be a relative path, got {show(value)}"]
    if ".." in value.split("/"):
        return [f"{where}: must not contain '..', got {show(value)}"]
    return []
