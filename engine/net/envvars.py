"""The variables a pod's containers get for the Services of its namespace (reference part 2,
§2.7, as the kubelet sets them): `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT[_{NAME}]` and the
Docker-link style `{SVC}_PORT...`; only Services with a clusterIP, fixed when the pod starts."""

from __future__ import annotations

from typing import Any

from engine.api.checks import d, integer, lst

Obj = dict[str, Any]


def _upper(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(pod: Obj, services: list[Obj]) -> dict[str, str]:
    """The service variables for `pod` from `services` (any: those of other namespaces and
    those without a clusterIP are skipped); none when the pod says enableServiceLinks: false."""
    if d(pod.get("spec")).get("enableServiceLinks") is False:
        return {}
    ns = d(pod.get("metadata")).get("namespace")
    env: dict[str, str] = {}
    for svc in sorted(services, key=lambda s: str((s.get("metadata") or {}).get("name"))):
        meta, spec = d(svc.get("metadata")), d(svc.get("spec"))
        ip = spec.get("clusterIP")
        ports = [p for p in lst(spec.get("ports")) if isinstance(p, dict) and integer(p.get("port"))]
        if meta.get("namespace") != ns or not isinstance(ip, str) or ip in ("", "None") or not ports:
            continue
        name = _upper(str(meta.get("name")))
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                env[f"{name}_SERVICE_PORT_{_upper(str(port['name']))}"] = str(port["port"])
        first = ports[0]
        env[f"{name}_PORT"] = f"{str(first.get('protocol') or 'TCP').lower()}://{ip}:{first['port']}"
        for port in ports:
            proto = str(port.get("protocol") or "TCP")
            prefix = f"{name}_PORT_{port['port']}_{proto}"
            env[prefix] = f"{proto.lower()}://{ip}:{port['port']}"
            env[f"{prefix}_PROTO"] = proto.lower()
            env[f"{prefix}_PORT"] = str(port["port"])
            env[f"{prefix}_ADDR"] = ip
    return env
