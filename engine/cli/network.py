"""`tug expose` (a Service for a workload, its selector taken from it) and `tug port-forward`
(a local port to a pod, or to a ready pod behind a Service, through engine/net/proxy.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
from typing import Any

from engine.cli.objects import _ns
from engine.cli.rollout import target
from engine.client import Client
from engine.errors import BadRequestError, NotFoundError
from engine.net.endpoints import target_port
from engine.net.proxy import Proxy

Obj = dict[str, Any]


def _selector(obj: Obj) -> dict[str, str]:
    """The labels a Service for `obj` selects by, as kubectl expose takes them."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        labels = (obj.get("metadata") or {}).get("labels") or {}
    elif kind == "Service":
        labels = spec.get("selector") or {}
    elif kind in ("Deployment", "ReplicaSet"):
        selector = spec.get("selector") or {}
        if selector.get("matchExpressions"):
            raise BadRequestError(f"couldn't retrieve selectors via --selector flag or introspection: "
                                  f"{kind} {obj['metadata']['name']} selects by matchExpressions")
        labels = selector.get("matchLabels") or {}
    else:
        raise BadRequestError(f"cannot expose a {kind} (pods, services, deployments and replicasets)")
    if not labels:
        raise BadRequestError("couldn't retrieve selectors via --selector flag or introspection")
    return dict(labels)


def _given_selector(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise BadRequestError(f"--selector: expected k=v[,k=v...], got {text!r}")
        out[key.strip()] = value.strip()
    return out


def _ports(obj: Obj) -> list[Obj]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Service":
        return [{"port": p.get("port"), "targetPort": p.get("targetPort"), "name": p.get("name")}
                for p in spec.get("ports") or []]
    pod_spec = spec if obj.get("kind") == "Pod" else (spec.get("template") or {}).get("spec") or {}
    return [{"port": p["containerPort"], "targetPort": p["containerPort"], "name": p.get("name")}
            for c in pod_spec.get("containers") or [] for p in c.get("ports") or [] if p.get("containerPort")]


def expose(args: argparse.Namespace) -> int:
    """`tug expose deployment/X --port P [--target-port T] [--type NodePort] [--name N]`."""
    info, name = target(args.target, args.name_arg)
    with Client.from_config() as client:
        obj = client.get(info, name, namespace=_ns(args))
        selector = _given_selector(args.selector) if args.selector else _selector(obj)
        if args.port is not None:
            ports = [{"port": args.port, "targetPort": args.target_port or args.port}]
        else:
            ports = [{k: v for k, v in p.items() if v is not None} for p in _ports(obj)]
            if not ports:
                raise BadRequestError("couldn't find port via --port flag or introspection")
            if args.target_port:
                ports = [{**ports[0], "targetPort": args.target_port}]
        if len(ports) > 1:
            ports = [{**p, "name": p.get("name") or f"port-{i + 1}"} for i, p in enumerate(ports)]
        for p in ports:
            text = str(p["targetPort"])
            p["targetPort"] = int(text) if text.isdigit() else text
            p["protocol"] = args.protocol
        svc = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": args.service_name or name, "namespace": _ns(args)},
               "spec": {"type": args.type, "selector": selector, "ports": ports}}
        if obj["metadata"].get("labels"):
            svc["metadata"]["labels"] = dict(obj["metadata"]["labels"])
        made = client.create(svc)
    print(f"service/{made['metadata']['name']} exposed")
    return 0


def _backend(client: Client, info_plural: str, obj: Obj, port: str,
             namespace: str) -> tuple[str, int, str]:
    """(node IP, node port, pod name) that local connections go to for remote `port`."""
    if info_plural == "services":
        svc_port = next((p for p in (obj.get("spec") or {}).get("ports") or []
                         if str(p.get("port")) == port or p.get("name") == port), None)
        if svc_port is None:
            raise BadRequestError(f"service {obj['metadata']['name']} does not have a service port {port}")
        try:
            ep = client.get("endpoints", obj["metadata"]["name"], namespace=namespace)
        except NotFoundError:
            ep = {}
        for subset in ep.get("subsets") or []:
            for p in subset.get("ports") or []:
                if (p.get("name") or "") == (svc_port.get("name") or "") and subset.get("addresses"):
                    address = subset["addresses"][0]
                    pod = str((address.get("targetRef") or {}).get("name"))
                    return str(address["ip"]), int(p["port"]), pod
        raise BadRequestError(f"service {obj['metadata']['name']} has no ready pod to forward to")
    if (obj.get("status") or {}).get("phase") != "Running":
        raise BadRequestError(f"unable to forward port because pod is not running. Current status="
                              f"{(obj.get('status') or {}).get('phase') or 'Pending'}")
    number = target_port(obj, {"port": 0, "targetPort": int(port) if port.isdigit() else port})
    ip = (obj.get("status") or {}).get("podIP")
    if number is None or not ip:
        raise BadRequestError(f"pod {obj['metadata']['name']} has no port {port} yet")
    return str(ip), number, str(obj["metadata"]["name"])


def _free(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def port_forward(args: argparse.Namespace) -> int:
    """`tug port-forward pod/X|svc/X [LOCAL:]PORT ...`, until interrupted."""
    info, name = target(args.target)
    if info.plural not in ("pods", "services"):
        raise BadRequestError(f"port-forward: pods or services, got {info.plural}")
    table = []
    with Client.from_config() as client:
        obj = client.get(info, name, namespace=_ns(args))
        for spec in args.ports:
            local, sep, remote = spec.rpartition(":") if ":" in spec else (spec, ":", spec)
            if not remote or (local and not local.isdigit()):
                raise BadRequestError(f"expected [LOCAL:]PORT, got {spec!r}")
            ip, port, pod = _backend(client, info.plural, obj, remote, _ns(args))
            listen = [args.address, int(local) if local else _free(args.address)]
            table.append({"service": remote, "listen": [listen], "backends": [[ip, port]], "pod": pod})
    return asyncio.run(_forward(info.plural, name, table))


async def _forward(plural: str, name: str, table: list[Obj]) -> int:
    proxy = Proxy()
    state = await proxy.apply(table, 1)
    if state["problems"]:
        await proxy.close()
        raise BadRequestError("unable to listen on " +
                              "; ".join(f"{a}: {why}" for a, why in state["problems"].items()))
    for entry in table:
        (host, port), = entry["listen"]
        print(f"Forwarding from {host}:{port} -> {entry['service']}", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()
    await proxy.close()
    return 0

