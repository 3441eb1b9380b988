"""`kubectl describe pod`: pod header, containers with their states, volumes, QoS and events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engine.printers.fmt import NONE, Obj, aware, dig, format_age, parse_quantity, rfc1123z, to_time
from engine.printers.writer import (
    PrefixWriter,
    clean,
    controller_of,
    toleration_text,
    write_annotations,
    write_events,
    write_list,
    write_map,
)

_QOS_RESOURCES = ("cpu", "memory")
_VOLUME_TYPES = {
    "hostPath": ("HostPath (bare host directory volume)",
                 (("Path", "path"), ("HostPathType", "type"))),
    "emptyDir": ("EmptyDir (a temporary directory that shares a pod's lifetime)",
                 (("Medium", "medium"), ("SizeLimit", "sizeLimit"))),
    "configMap": ("ConfigMap (a volume populated by a ConfigMap)",
                  (("Name", "name"), ("Optional", "optional"))),
    "secret": ("Secret (a volume populated by a Secret)",
               (("SecretName", "secretName"), ("Optional", "optional"))),
    "persistentVolumeClaim": ("PersistentVolumeClaim (a reference to a PersistentVolumeClaim in "
                              "the same namespace)", (("ClaimName", "claimName"),
                                                      ("ReadOnly", "readOnly"))),
}
_VOLUME_DEFAULTS = {"optional": "false", "readOnly": "false", "sizeLimit": "<unset>"}


def _bool(value: Any) -> str:
    return "True" if value else "False"


def pod_qos(pod: Obj) -> str:
    """status.qosClass, else computed like the kubelet: Guaranteed, Burstable or BestEffort."""
    if dig(pod, "status", "qosClass"):
        return str(pod["status"]["qosClass"])
    containers = [*dig(pod, "spec", "containers", default=[]),
                  *dig(pod, "spec", "initContainers", default=[])]
    requests: dict[str, float] = {}
    limits: dict[str, float] = {}
    guaranteed = True
    for c in containers:
        c_limits: dict[str, Any] = dig(c, "resources", "limits", default={})
        # The API server defaults a missing request to its limit.
        c_requests = {**c_limits, **dig(c, "resources", "requests", default={})}
        for name in _QOS_RESOURCES:
            if parse_quantity(c_requests.get(name, 0)) > 0:
                requests[name] = requests.get(name, 0.0) + parse_quantity(c_requests[name])
            if parse_quantity(c_limits.get(name, 0)) > 0:
                limits[name] = limits.get(name, 0.0) + parse_quantity(c_limits[name])
        if not all(parse_quantity(c_limits.get(name, 0)) > 0 for name in _QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(k) == v for k, v in requests.items()):
        return "Guaranteed"
    return "Burstable"


def describe_probe(probe: Obj) -> str:
    """`http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3`."""
    attrs = (f"delay={probe.get('initialDelaySeconds', 0)}s "
             f"timeout={probe.get('timeoutSeconds', 1)}s period={probe.get('periodSeconds', 10)}s "
             f"#success={probe.get('successThreshold', 1)} "
             f"#failure={probe.get('failureThreshold', 3)}")
    if probe.get("exec") is not None:
        command = " ".join(str(a) for a in dig(probe, "exec", "command", default=[]))
        return f"exec [{command}] {attrs}"
    if probe.get("httpGet") is not None:
        get: Obj = probe["httpGet"]
        scheme = str(get.get("scheme") or "HTTP").lower()
        host = str(get.get("host") or "")
        hostport = f"[{host}]:{get.get('port')}" if ":" in host else f"{host}:{get.get('port')}"
        return f"http-get {scheme}://{hostport}{get.get('path', '')} {attrs}"
    if probe.get("tcpSocket") is not None:
        sock: Obj = probe["tcpSocket"]
        return f"tcp-socket {sock.get('host', '')}:{sock.get('port')} {attrs}"
    if probe.get("grpc") is not None:
        service = dig(probe, "grpc", "service", default="")
        return f"grpc <pod>:{dig(probe, 'grpc', 'port')} {service} {attrs}"
    return f"unknown {attrs}"


def _write_state(w: PrefixWriter, title: str, state: Obj, now: datetime) -> None:
    if state.get("running") is not None:
        w.field(2, title, "Running")
        w.field(3, "Started", rfc1123z(dig(state, "running", "startedAt"), now))
    elif state.get("terminated") is not None:
        term: Obj = state["terminated"]
        w.field(2, title, "Terminated")
        if term.get("reason"):
            w.field(3, "Reason", term["reason"])
        if term.get("message"):
            w.field(3, "Message", term["message"])
        w.field(3, "Exit Code", term.get("exitCode", 0))
        if term.get("signal"):
            w.field(3, "Signal", term["signal"])
        w.field(3, "Started", rfc1123z(term.get("startedAt"), now))
        w.field(3, "Finished", rfc1123z(term.get("finishedAt"), now))
    else:
        w.field(2, title, "Waiting")
        if dig(state, "waiting", "reason"):
            w.field(3, "Reason", state["waiting"]["reason"])
        if dig(state, "waiting", "message"):
            w.field(3, "Message", state["waiting"]["message"])


def _env_value(pod: Obj, container: Obj, env: Obj) -> str:
    source: Obj = env.get("valueFrom") or {}
    if "fieldRef" in source:
        ref: Obj = source["fieldRef"] or {}
        path = str(ref.get("fieldPath", ""))
        value = dig(pod, *path.split(".")) if "[" not in path else None
        return f"{scalar_or_empty(value)} ({ref.get('apiVersion', 'v1')}:{path})"
    if "resourceFieldRef" in source:
        res = str(dig(source, "resourceFieldRef", "resource", default=""))
        value = dig(container, "resources", *res.split("."))
        return f"{scalar_or_empty(value)} ({res})"
    for key, what in (("secretKeyRef", "in secret"), ("configMapKeyRef", "of config map")):
        if key in source:
            ref = source[key] or {}
            optional = "true" if ref.get("optional") else "false"
            return (f"<set to the key '{ref.get('key', '')}' {what} '{ref.get('name', '')}'>"
                    f"\tOptional: {optional}")
    return ""


def scalar_or_empty(value: Any) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else clean(value)


def _write_env(w: PrefixWriter, pod: Obj, container: Obj) -> None:
    env_from: list[Obj] = container.get("envFrom") or []
    if env_from:
        w.write(2, "Environment Variables from:\n")
        for ref in env_from:
            kind, src = ("ConfigMap", ref["configMapRef"]) if ref.get("configMapRef") else (
                "Secret", ref.get("secretRef") or {})
            prefix = f" with prefix '{ref['prefix']}'" if ref.get("prefix") else ""
            optional = "true" if src.get("optional") else "false"
            w.write(3, f"{src.get('name', '')}\t{kind}{prefix}\tOptional: {optional}\n")
    env: list[Obj] = container.get("env") or []
    w.write(2, "Environment:" + ("\t<none>\n" if not env else "\n"))
    for var in env:
        if var.get("valueFrom") is None:
            lines = str(var.get("value", "")).split("\n")
            w.write(3, f"{var.get('name', '')}:\t{lines[0]}\n")
            for more in lines[1:]:
                w.write(3, f"\t{more}\n")
        else:
            w.write(3, f"{var.get('name', '')}:\t{_env_value(pod, container, var)}\n")


def _write_container(w: PrefixWriter, pod: Obj, c: Obj, st: Obj | None, now: datetime) -> None:
    w.write(1, f"{c.get('name', '')}:\n")
    if st is not None:
        w.field(2, "Container ID", st.get("containerID", ""))
    w.field(2, "Image", c.get("image", ""))
    if st is not None:
        w.field(2, "Image ID", st.get("imageID", ""))
    ports: list[Obj] = c.get("ports") or []
    given = (st or {}).get("hostPorts")  # the node ports the runtime gave the container
    for title, key, listed in (("Port", "containerPort", ports),
                               ("Host Port", "hostPort", given if isinstance(given, list) else ports)):
        text = ", ".join(f"{p.get(key, 0)}/{p.get('protocol') or 'TCP'}"
                         for p in listed if isinstance(p, dict))
        w.field(2, title + ("s" if len(ports) > 1 else ""), text or NONE)
    for title, key in (("Command", "command"), ("Args", "args")):
        if c.get(key):
            w.write(2, f"{title}:\n")
            for part in c[key]:
                for line in str(part).split("\n"):
                    w.write(3, clean(line) + "\n")
    if st is not None:
        _write_state(w, "State", st.get("state") or {}, now)
        if dig(st, "lastState", "terminated") is not None:
            _write_state(w, "Last State", st["lastState"], now)
        w.field(2, "Ready", _bool(st.get("ready")))
        w.field(2, "Restart Count", st.get("restartCount", 0))
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        quantities: dict[str, Any] = dig(c, "resources", key, default={})
        if quantities:
            w.write(2, f"{title}:\n")
            for name in sorted(quantities):
                w.field(3, name, quantities[name])
    for title, key in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"),
                       ("Startup", "startupProbe")):
        if c.get(key):
            w.field(2, title, describe_probe(c[key]))
    _write_env(w, pod, c)
    mounts = sorted(c.get("volumeMounts") or [], key=lambda m: str(m.get("mountPath", "")))
    w.write(2, "Mounts:" + ("\t<none>\n" if not mounts else "\n"))
    for m in mounts:
        flags = ["ro" if m.get("readOnly") else "rw"]
        if m.get("subPath"):
            flags.append(f'path="{m["subPath"]}"')
        w.write(3, f"{m.get('mountPath', '')} from {m.get('name', '')} ({','.join(flags)})\n")


def _write_containers(w: PrefixWriter, title: str, pod: Obj, containers: list[Obj],
                      statuses: list[Obj], now: datetime) -> None:
    by_name = {s.get("name"): s for s in statuses}
    w.write(0, f"{title}:{'' if containers else ' <none>'}\n")
    for c in containers:
        _write_container(w, pod, c, by_name.get(c.get("name")), now)


def _write_volumes(w: PrefixWriter, volumes: list[Obj]) -> None:
    if not volumes:
        w.field(0, "Volumes", NONE)
        return
    w.write(0, "Volumes:\n")
    for vol in volumes:
        w.write(1, f"{vol.get('name', '')}:\n")
        kind = next((k for k in vol if k != "name"), "")
        source: Obj = vol.get(kind) or {}
        if kind in _VOLUME_TYPES:
            label, fields = _VOLUME_TYPES[kind]
            w.field(2, "Type", label)
            for title, key in fields:
                w.field(2, title, source.get(key, _VOLUME_DEFAULTS.get(key, "")))
        elif kind == "projected":
            w.field(2, "Type", "Projected (a volume that contains injected data from multiple "
                               "sources)")
            for src in source.get("sources") or []:
                if "serviceAccountToken" in src:
                    w.field(2, "TokenExpirationSeconds",
                            dig(src, "serviceAccountToken", "expirationSeconds", default=3607))
                elif "configMap" in src:
                    w.field(2, "ConfigMapName", dig(src, "configMap", "name", default=""))
                elif "secret" in src:
                    w.field(2, "SecretName", dig(src, "secret", "name", default=""))
                elif "downwardAPI" in src:
                    w.field(2, "DownwardAPI", "true")
        else:
            w.field(2, "Type", kind or "<unknown>")


def describe_pod(pod: Obj, *, events: Sequence[Obj], now: datetime) -> str:
    """The text of `kubectl describe pod`, without a trailing newline."""
    now = aware(now)
    meta: Obj = pod.get("metadata") or {}
    spec: Obj = pod.get("spec") or {}
    status: Obj = pod.get("status") or {}
    w = PrefixWriter()
    w.field(0, "Name", meta.get("name", ""))
    w.field(0, "Namespace", meta.get("namespace", ""))
    w.field(0, "Priority", spec.get("priority", 0))
    for title, key in (("Priority Class Name", "priorityClassName"),
                       ("Runtime Class Name", "runtimeClassName"),
                       ("Service Account", "serviceAccountName")):
        if spec.get(key):
            w.field(0, title, spec[key])
    node = spec.get("nodeName")
    host_ip = status.get("hostIP")
    w.field(0, "Node", f"{node}/{host_ip}" if node and host_ip else node or NONE)
    if status.get("startTime"):
        w.field(0, "Start Time", rfc1123z(status["startTime"], now))
    write_map(w, "Labels", meta.get("labels"))
    write_annotations(w, meta.get("annotations"))
    phase = str(status.get("phase") or "Pending")
    deleted_at = to_time(meta.get("deletionTimestamp"))
    if deleted_at is not None and phase not in ("Succeeded", "Failed"):
        lasts = format_age((deleted_at - now).total_seconds())
        w.field(0, "Status", f"Terminating (lasts {lasts})")
        if meta.get("deletionGracePeriodSeconds") is not None:
            w.field(0, "Termination Grace Period", f"{meta['deletionGracePeriodSeconds']}s")
    else:
        w.field(0, "Status", phase)
    for title, key in (("Reason", "reason"), ("Message", "message")):
        if status.get(key):
            w.field(0, title, status[key])
    w.field(0, "IP", status.get("podIP", ""))
    ips = [str(i.get("ip", "")) for i in status.get("podIPs") or []]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    if not ips:
        w.field(0, "IPs", NONE)
    else:
        w.write(0, "IPs:\n")
        for ip in ips:
            w.field(1, "IP", ip)
    gpus = status.get("gpus") or []
    if gpus:  # tugboat: which of the node's GPUs this pod holds (CUDA_VISIBLE_DEVICES)
        w.write(0, "GPUs:\n  Index\tUUID\tProduct\tMemory Used By Pod\n"
                   "  -----\t----\t-------\t------------------\n")
        for g in gpus:
            used = g.get("podMemoryUsedMiB")
            w.write(1, f"{g.get('index', '')}\t{g.get('uuid') or '<unknown>'}\t"
                       f"{g.get('product') or '<unknown>'}\t"
                       f"{f'{used}Mi' if used is not None else 'n/a'}\n")
    if controller_of(pod):
        w.field(0, "Controlled By", controller_of(pod))
    if status.get("nominatedNodeName"):
        w.field(0, "NominatedNodeName", status["nominatedNodeName"])
    if spec.get("initContainers"):
        _write_containers(w, "Init Containers", pod, spec["initContainers"],
                          status.get("initContainerStatuses") or [], now)
    _write_containers(w, "Containers", pod, spec.get("containers") or [],
                      status.get("containerStatuses") or [], now)
    conditions: list[Obj] = status.get("conditions") or []
    if spec.get("readinessGates"):
        w.write(0, "Readiness Gates:\n  Type\tStatus\n")
        found = {c.get("type"): c.get("status") for c in reversed(conditions)}
        for gate in spec["readinessGates"]:
            gtype = gate.get("conditionType", "")
            w.write(1, f"{clean(gtype)} \t{clean(found.get(gtype) or '<none>')} \n")
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for cond in conditions:
            w.write(1, f"{clean(cond.get('type'))} \t{clean(cond.get('status'))} \n")
    _write_volumes(w, spec.get("volumes") or [])
    w.field(0, "QoS Class", pod_qos(pod))
    write_map(w, "Node-Selectors", spec.get("nodeSelector"))
    write_list(w, "Tolerations", [toleration_text(t) for t in spec.get("tolerations") or []])
    write_events(w, events, now)
    return w.render()
