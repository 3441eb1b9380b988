"""`tug bench net`: requests/s and latency through a Service's proxy and through the Ingress
router to a replicated HTTP Deployment (engine/net/whoami.py), beside the same requests sent
straight to one replica's node port in the same run; and how long an endpoint change takes to
reach the node proxies: a pod's label is added to (then taken from) a Service's selector and the
Service's clusterIP is tried every millisecond until it answers (then until it refuses, which
needs every node's proxy to have let go). Runs against the control plane of $TUG_HOME, from
this machine (the addresses are loopback and node IPs)."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from engine.client import Client
from engine.errors import TugError
from engine.stats import percentile

WHOAMI = Path(__file__).with_name("whoami.py")
TIMEOUT_S = 180.0
Obj = dict[str, Any]


def _manifests(name: str, replicas: int) -> list[Obj]:
    label = {"tugboat.dev/bench": name}
    port = [{"name": "http", "port": 8080, "targetPort": "http"}]
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
         "spec": {"replicas": replicas, "selector": {"matchLabels": label},
                  "template": {"metadata": {"labels": label}, "spec": {
                      "terminationGracePeriodSeconds": 1, "containers": [{
                          "name": "web", "image": "python:3.11", "command": [sys.executable, str(WHOAMI)],
                          "env": [{"name": "POD_NAME",
                                   "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                          "ports": [{"name": "http", "containerPort": 8000}],
                          "resources": {"requests": {"cpu": "10m"}},
                          "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
         "spec": {"selector": label, "ports": port}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{name}-flip"},
         "spec": {"selector": {"tugboat.dev/bench-flip": name}, "ports": port}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
         "spec": {"rules": [{"http": {"paths": [{"path": f"/{name}", "pathType": "Prefix", "backend": {
             "service": {"name": name, "port": {"name": "http"}}}}]}}]}},
    ]


def _until(check: Callable[[], Any], what: str, timeout: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (TugError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TugError(f"bench net: timed out waiting for {what}")
        time.sleep(0.05)


async def _burst(session: aiohttp.ClientSession, url: str, requests: int, concurrency: int,
                 took: list[float]) -> float:
    """Seconds for `requests` GETs of `url` from `concurrency` workers on `session`'s keep-alive
    connections; each request's seconds are appended to `took`."""
    left = [requests]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            t0 = time.perf_counter()
            async with session.get(url) as resp:
                await resp.read()
                if resp.status != 200:
                    raise TugError(f"bench net: {url} answered {resp.status}")
            took.append(time.perf_counter() - t0)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def _load(urls: dict[str, str], requests: int, concurrency: int,
                rounds: int) -> dict[str, tuple[float, list[float]]]:
    """Per url key: (requests per second, each request's seconds). Each url has its own
    `concurrency` keep-alive connections, warmed first; the requests go in `rounds` turns that
    alternate between the urls, so a moment of load from elsewhere on the machine falls on
    every measure alike rather than on whichever ran then."""
    sessions = {key: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
                for key in urls}
    try:
        for key, url in urls.items():
            await _burst(sessions[key], url, min(requests, 200), concurrency, [])
        took: dict[str, list[float]] = {key: [] for key in urls}
        spent = dict.fromkeys(urls, 0.0)
        per_round = max(1, requests // rounds)
        done = 0
        while done < requests:
            turn = min(per_round, requests - done)
            for key, url in urls.items():
                spent[key] += await _burst(sessions[key], url, turn, concurrency, took[key])
            done += turn
        return {key: (requests / spent[key], took[key]) for key in urls}
    finally:
        for session in sessions.values():
            await session.close()


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _flip(client: Client, pod: str, name: str, ip: str, on: bool) -> float:
    """Seconds from a label change (added: `on`) to the clusterIP answering (or refusing)."""
    patch = {"metadata": {"labels": {"tugboat.dev/bench-flip": name if on else None}}}
    t0 = time.perf_counter()
    client.patch("pods", pod, patch)
    while _answers(ip, 8080) != on:
        if time.perf_counter() - t0 > 30:
            raise TugError(f"bench net: {ip}:8080 did not {'answer' if on else 'refuse'} within 30 s")
        time.sleep(0.001)
    return time.perf_counter() - t0


def run(client: Client, *, replicas: int = 3, requests: int = 2000, concurrency: int = 8,
        flips: int = 20, rounds: int = 10, progress: Callable[[str], None] = lambda _: None) -> Obj:
    name = f"bench-net-{uuid.uuid4().hex[:6]}"
    made = client.apply(_manifests(name, replicas))["results"]
    try:
        progress(f"waiting for {replicas} replicas of {name} behind its Service")
        def ready() -> list[tuple[Obj, int]] | None:
            ep = client.get("endpoints", name)
            addresses = [(a, s["ports"][0]["port"]) for s in ep.get("subsets") or []
                         for a in s.get("addresses") or []]
            return addresses if len(addresses) == replicas else None
        addresses = _until(ready, "the replicas to be ready")
        svc = client.get("services", name)["spec"]
        def served() -> list[Obj] | None:
            status = client.get("ingresses", name).get("status") or {}
            return (status.get("loadBalancer") or {}).get("ingress")
        lb = _until(served, "the Ingress to be served")
        first, port = addresses[0]
        urls = {"direct": f"http://{first['ip']}:{port}/", "svc": f"http://{svc['clusterIP']}:8080/",
                "ingress": f"http://{lb[0]['ip']}:{lb[0]['ports'][0]['port']}/{name}"}
        for url in urls.values():
            host, _, number = url.split("/")[2].partition(":")
            _until(lambda host=host, number=number: _answers(host, int(number)), f"{url} to answer")
        out: Obj = {"replicas": replicas, "requests": requests, "concurrency": concurrency, "rounds": rounds}
        progress(f"{requests} requests each, {concurrency} at a time, in {rounds} alternating rounds: "
                 + ", ".join(f"{key} ({url})" for key, url in urls.items()))
        for key, (rps, took) in asyncio.run(_load(urls, requests, concurrency, rounds)).items():
            out[f"{key}_rps"] = rps
            out[f"{key}_p50_ms"] = percentile(took, 50) * 1000
            out[f"{key}_p99_ms"] = percentile(took, 99) * 1000
        out["svc_added_p99_ms"] = out["svc_p99_ms"] - out["direct_p99_ms"]
        out["svc_throughput_ratio"] = out["svc_rps"] / out["direct_rps"]
        out["ingress_throughput_ratio"] = out["ingress_rps"] / out["direct_rps"]
        pod = str(first["targetRef"]["name"])
        flip_ip = client.get("services", f"{name}-flip")["spec"]["clusterIP"]
        progress(f"{flips} endpoint changes each way through {name}-flip ({flip_ip}:8080)")
        added, removed = [], []
        for _ in range(flips):
            added.append(_flip(client, pod, name, flip_ip, True))
            removed.append(_flip(client, pod, name, flip_ip, False))
        for key, took in (("endpoint_added", added), ("endpoint_removed", removed)):
            out[f"{key}_p50_ms"] = percentile(took, 50) * 1000
            out[f"{key}_p99_ms"] = percentile(took, 99) * 1000
        return out
    finally:
        for result in reversed(made):
            try:
                client.delete(str(result.get("resource") or ""), str(result["name"]))
            except TugError:
                pass
