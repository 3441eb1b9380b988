"""Row cells of `kubectl get` for services, endpoints, endpoint slices, ingresses and horizontal
pod autoscalers; `kubectl describe service` and `kubectl describe endpointslice`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.printers.fmt import (
    NONE,
    UNKNOWN,
    Obj,
    age_of,
    dig,
    format_labels,
    join_host_port,
    lb_ingress,
    scalar,
)
from engine.printers.writer import (
    PrefixWriter,
    clean,
    write_annotations,
    write_events,
    write_map,
    write_metadata,
)

_MAX_ENDPOINTS = 3
_MAX_HOSTS = 3
_MAX_METRICS = 2
NONE_PORT = "<unset>"  # kubectl's word for a port with no name


def _name(obj: Obj) -> str:
    return str(dig(obj, "metadata", "name", default=""))


def service_ports(ports: list[Obj] | None) -> str:
    """`80/TCP` or `80:30080/TCP` per port, comma-joined."""
    pieces = []
    for p in ports or []:
        proto = p.get("protocol") or "TCP"
        node_port = p.get("nodePort")
        pieces.append(f"{p.get('port')}:{node_port}/{proto}" if node_port
                      else f"{p.get('port')}/{proto}")
    return ",".join(pieces)


def service_external_ip(svc: Obj, *, wide: bool) -> str:
    """EXTERNAL-IP as kubectl's getServiceExternalIP."""
    spec: Obj = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    external: list[str] = [str(ip) for ip in spec.get("externalIPs") or []]
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if stype == "LoadBalancer":
        lb = lb_ingress(svc, wide=wide)
        if external:
            return ",".join([*(lb.split(",") if lb else []), *external])
        return lb or "<pending>"
    if stype == "ExternalName":
        return str(spec.get("externalName", ""))
    return UNKNOWN


def service_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE [SELECTOR]."""
    spec: Obj = obj.get("spec") or {}
    cluster_ip = dig(spec, "clusterIPs", 0) or spec.get("clusterIP") or NONE
    row = [_name(obj), str(spec.get("type") or "ClusterIP"), str(cluster_ip),
           service_external_ip(obj, wide=wide), service_ports(spec.get("ports")) or NONE,
           age_of(obj, now)]
    return row + ([format_labels(spec.get("selector"))] if wide else [])


def format_endpoints(endpoints: Obj) -> str:
    """`ip:port` for the first three addresses, then "+ N more...", as kubectl."""
    subsets: list[Obj] = endpoints.get("subsets") or []
    if not subsets:
        return NONE
    shown: list[str] = []
    more = False
    count = 0
    for ss in subsets:
        addresses: list[Obj] = ss.get("addresses") or []
        # Headless services may have no ports: list bare IPs then.
        ports: list[Obj | None] = list(ss.get("ports") or []) or [None]
        for port in ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == _MAX_ENDPOINTS:
                    more = True
                    break
                ip = str(addr.get("ip", ""))
                shown.append(ip if port is None else join_host_port(ip, port.get("port")))
    text = ",".join(shown)
    if more:
        return f"{text} + {count - _MAX_ENDPOINTS} more..."
    return text or NONE


def endpoints_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME ENDPOINTS AGE."""
    return [_name(obj), format_endpoints(obj), age_of(obj, now)]


def _list_with_more(shown: list[str], count: int) -> str:
    """kubectl's listWithMoreString: the first three, then "+ N more..."; "<unset>" for none."""
    text = ",".join(shown[:_MAX_ENDPOINTS])
    if count > _MAX_ENDPOINTS:
        return f"{text} + {count - _MAX_ENDPOINTS} more..."
    return text or NONE_PORT


def discovery_ports(ports: list[Obj] | None) -> str:
    """An EndpointSlice's PORTS: each port's number (its name where it has none, "*" where it
    has neither), as kubectl's formatDiscoveryPorts."""
    shown = []
    for port in ports or []:
        number, name = port.get("port"), port.get("name")
        shown.append(str(number) if number is not None else str(name) if name is not None else "*")
    return _list_with_more(shown, len(shown))


def discovery_endpoints(endpoints: list[Obj] | None) -> str:
    """An EndpointSlice's ENDPOINTS: its addresses, as kubectl's formatDiscoveryEndpoints."""
    shown = [str(address) for endpoint in endpoints or [] for address in endpoint.get("addresses") or []]
    return _list_with_more(shown, len(shown))


def endpointslice_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME ADDRESSTYPE PORTS ENDPOINTS AGE."""
    return [_name(obj), str(obj.get("addressType") or ""), discovery_ports(obj.get("ports")),
            discovery_endpoints(obj.get("endpoints")), age_of(obj, now)]


def _unset(value: object) -> str:
    if value is None:
        return NONE_PORT
    return str(value).lower() if isinstance(value, bool) else str(value)


def describe_endpointslice(eps: Obj, events: Sequence[Obj], now: datetime) -> str:
    """`kubectl describe endpointslice`: address type, the ports, each endpoint with its
    conditions (ready, and here serving and terminating too), hostname, pod, node and zone."""
    w = PrefixWriter()
    meta: Obj = eps.get("metadata") or {}
    w.field(0, "Name", meta.get("name", ""))
    w.field(0, "Namespace", meta.get("namespace", ""))
    write_map(w, "Labels", meta.get("labels"))
    write_annotations(w, meta.get("annotations"))
    w.field(0, "AddressType", eps.get("addressType") or "")
    ports: list[Obj] = eps.get("ports") or []
    if not ports:
        w.write(0, f"Ports: {NONE_PORT}\n")
    else:
        w.write(0, "Ports:\n")
        w.write(1, "Name\tPort\tProtocol\n")
        w.write(1, "----\t----\t--------\n")
        for port in ports:
            w.write(1, f"{clean(port.get('name') or NONE_PORT)}\t{clean(_unset(port.get('port')))}\t"
                       f"{clean(port.get('protocol') or '')}\n")
    endpoints: list[Obj] = eps.get("endpoints") or []
    if not endpoints:
        w.write(0, f"Endpoints: {NONE}\n")
    else:
        w.write(0, "Endpoints:\n")
    for endpoint in endpoints:
        w.field(1, "- Addresses", ", ".join(map(str, endpoint.get("addresses") or [])) or NONE)
        conditions: Obj = endpoint.get("conditions") or {}
        w.write(2, "Conditions:\n")
        for title, key in (("Ready", "ready"), ("Serving", "serving"), ("Terminating", "terminating")):
            w.field(3, title, _unset(conditions.get(key)))
        w.field(2, "Hostname", _unset(endpoint.get("hostname")))
        ref: Obj | None = endpoint.get("targetRef")
        if ref is not None:
            w.field(2, "TargetRef", f"{ref.get('kind', '')}/{ref.get('name', '')}")
        w.field(2, "NodeName", _unset(endpoint.get("nodeName")))
        w.field(2, "Zone", _unset(endpoint.get("zone")))
    write_events(w, events, now)
    return w.render()


def ingress_hosts(rules: list[Obj] | None) -> str:
    """The first three rule hosts, "*" when none, "+ N more..." beyond."""
    rules = rules or []
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == _MAX_HOSTS:
            more = True
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - _MAX_HOSTS} more..." if more else text


def ingress_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME CLASS HOSTS ADDRESS PORTS AGE."""
    spec: Obj = obj.get("spec") or {}
    ports = "80, 443" if spec.get("tls") else "80"
    return [_name(obj), str(spec.get("ingressClassName") or NONE), ingress_hosts(spec.get("rules")),
            lb_ingress(obj, wide=wide), ports, age_of(obj, now)]


def _metric(spec: Obj, status: Obj | None) -> str:
    """One autoscaling/v2 metric as `current/target`, as kubectl's formatHPAMetrics."""
    mtype = str(spec.get("type", ""))
    key = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
           "Object": "object", "External": "external"}.get(mtype)
    if key is None:
        return "<unknown type>"
    source: Obj = spec.get(key) or {}
    target: Obj = source.get("target") or {}
    current: Obj = dig(status, key, "current", default={})
    if mtype in ("Resource", "ContainerResource"):
        if target.get("averageValue") is not None:
            now_value = scalar(current.get("averageValue")) or UNKNOWN
            return f"{source.get('name')}: {now_value}/{scalar(target['averageValue'])}"
        util = current.get("averageUtilization")
        now_value = UNKNOWN if util is None else f"{util}%"
        goal = target.get("averageUtilization")
        return f"{source.get('name')}: {now_value}/{'<auto>' if goal is None else f'{goal}%'}"
    if mtype == "Pods" or target.get("averageValue") is not None:
        now_value = scalar(current.get("averageValue")) or UNKNOWN
        suffix = " (avg)" if mtype != "Pods" else ""
        return f"{now_value}/{scalar(target.get('averageValue'))}{suffix}"
    now_value = scalar(current.get("value")) or UNKNOWN
    return f"{now_value}/{scalar(target.get('value'))}"


def hpa_targets(hpa: Obj) -> str:
    """The TARGETS cell: at most two metrics, then "+ N more..."."""
    specs: list[Obj] = dig(hpa, "spec", "metrics", default=[])
    if not specs:
        return NONE
    statuses: list[Obj] = dig(hpa, "status", "currentMetrics", default=[])
    shown = [_metric(s, statuses[i] if i < len(statuses) else None) for i, s in enumerate(specs)]
    text = ", ".join(shown[:_MAX_METRICS])
    if len(shown) > _MAX_METRICS:
        return f"{text} + {len(shown) - _MAX_METRICS} more..."
    return text


def hpa_row(obj: Obj, now: datetime, wide: bool) -> list[str]:
    """NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE."""
    spec: Obj = obj.get("spec") or {}
    ref: Obj = spec.get("scaleTargetRef") or {}
    min_pods = spec.get("minReplicas")
    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", hpa_targets(obj),
            "<unset>" if min_pods is None else str(min_pods), str(spec.get("maxReplicas", 0)),
            str(dig(obj, "status", "currentReplicas", default=0)), age_of(obj, now)]


def _port_endpoints(endpoints: Obj | None, name: str) -> str:
    """The ready `ip:port`s of the Endpoints' ports named `name`, as kubectl's describe."""
    if endpoints is None:
        return NONE
    subsets = [{**ss, "ports": [p for p in ss.get("ports") or [] if (p.get("name") or "") == name]}
               for ss in endpoints.get("subsets") or [] if isinstance(ss, dict)]
    return format_endpoints({"subsets": [ss for ss in subsets if ss["ports"]]})


def describe_service(svc: Obj, endpoints: Obj | None, events: Sequence[Obj], now: datetime) -> str:
    """`kubectl describe service`: addresses, each port with its target, node port and the
    ready endpoints behind it."""
    spec: Obj = svc.get("spec") or {}
    w = PrefixWriter()
    write_metadata(w, svc, now, created=False)
    w.field(0, "Selector", format_labels(spec.get("selector")) if spec.get("selector") else NONE)
    w.field(0, "Type", spec.get("type") or "ClusterIP")
    if spec.get("ipFamilyPolicy"):
        w.field(0, "IP Family Policy", spec["ipFamilyPolicy"])
    if spec.get("ipFamilies"):
        w.field(0, "IP Families", ",".join(map(str, spec["ipFamilies"])))
    if spec.get("clusterIP"):
        w.field(0, "IP", spec["clusterIP"])
        w.field(0, "IPs", ",".join(map(str, spec.get("clusterIPs") or [spec["clusterIP"]])))
    if spec.get("externalName"):
        w.field(0, "External Name", spec["externalName"])
    ingress = lb_ingress(svc, wide=True)
    if ingress:
        w.field(0, "LoadBalancer Ingress", ingress)
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        name = str(port.get("name") or "")
        protocol = port.get("protocol") or "TCP"
        w.field(0, "Port", f"{name or NONE_PORT}  {port.get('port')}/{protocol}")
        w.field(0, "TargetPort", f"{port.get('targetPort', port.get('port'))}/{protocol}")
        if port.get("nodePort"):
            w.field(0, "NodePort", f"{name or NONE_PORT}  {port['nodePort']}/{protocol}")
        if spec.get("type") != "ExternalName":
            w.field(0, "Endpoints", _port_endpoints(endpoints, name))
    w.field(0, "Session Affinity", spec.get("sessionAffinity") or "None")
    if spec.get("externalTrafficPolicy"):
        w.field(0, "External Traffic Policy", spec["externalTrafficPolicy"])
    if spec.get("internalTrafficPolicy"):
        w.field(0, "Internal Traffic Policy", spec["internalTrafficPolicy"])
    write_events(w, events, now)
    return w.render()
