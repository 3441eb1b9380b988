"""The Ingress router on real sockets: rules to real HTTP backends, round robin, 404 and 503
with one-line bodies, the forwarded headers, a streamed body both ways over one keep-alive
connection, a dead endpoint skipped, and canary weight 20 at 20% within a stated bound."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from engine.net.ingress import ingress_table
from engine.net.router import Router


async def _backend(name: str) -> tuple[web.AppRunner, int]:
    async def echo(request: web.Request) -> web.StreamResponse:
        if request.path == "/stream":
            size = 0
            async for chunk in request.content.iter_any():
                size += len(chunk)
            out = web.StreamResponse()
            await out.prepare(request)
            for _ in range(size // 65536):
                await out.write(b"y" * 65536)
            await out.write_eof()
            return out
        return web.json_response({"name": name, "path": request.path_qs,
                                  "headers": {k.lower(): v for k, v in request.headers.items()}})
    app = web.Application(client_max_size=0)
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]


def _ingress(name: str, rules: list[dict[str, Any]],
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
            "spec": {"rules": rules}}


def _rule(host: str, path: str, service: str, kind: str = "Prefix") -> dict[str, Any]:
    return {"host": host, "http": {"paths": [{"path": path, "pathType": kind, "backend": {
        "service": {"name": service, "port": {"number": 80}}}}]}}


def _world(backends: dict[str, list[int]]) -> tuple[dict[str, Any], dict[str, Any]]:
    services = {f"default/{s}": {"spec": {"ports": [{"name": "http", "port": 80}]}} for s in backends}
    endpoints = {f"default/{s}": {"subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                               "ports": [{"name": "http", "port": p}]} for p in ports]}
                 for s, ports in backends.items()}
    return services, endpoints


@pytest.fixture()
async def router() -> AsyncIterator[Router]:
    r = Router()
    await r.start(0)
    yield r
    await r.close()


async def test_routes_headers_404_503_and_a_dead_endpoint(router: Router) -> None:
    (a, pa), (b, pb), (c, pc) = await _backend("a"), await _backend("b"), await _backend("c")
    dead = 1  # nothing listens on port 1
    services, endpoints = _world({"web": [dead, pa, pb], "api": [pc], "empty": []})
    router.table = ingress_table([_ingress("i", [_rule("web.example", "/", "web"), _rule("", "/api", "api"),
                                                 _rule("", "/empty", "empty")])], services, endpoints)
    base = f"http://127.0.0.1:{router.port}"
    async with aiohttp.ClientSession() as s:
        names = []
        for _ in range(6):
            async with s.get(base + "/x?q=1", headers={"Host": "web.example:8080",
                                                       "X-Forwarded-For": "6.6.6.6"}) as resp:
                assert resp.status == 200
                got = json.loads(await resp.text())
                names.append(got["name"])
        assert sorted(set(names)) == ["a", "b"]  # the dead one skipped (its turns go to the next)
        h = got["headers"]
        assert got["path"] == "/x?q=1" and h["host"] == "web.example:8080"
        assert h["x-forwarded-for"] == "127.0.0.1" and h["x-original-forwarded-for"] == "6.6.6.6"
        assert h["x-forwarded-host"] == "web.example:8080" and h["x-forwarded-proto"] == "http"
        assert h["x-forwarded-port"] == str(router.port) and len(h["x-request-id"]) == 32
        async with s.get(base + "/api/v1", headers={"Host": "other"}) as resp:
            assert resp.status == 200 and json.loads(await resp.text())["name"] == "c"
        async with s.get(base + "/nothing", headers={"Host": "other"}) as resp:
            assert resp.status == 404 and await resp.text() == "no Ingress rule matches other/nothing\n"
        async with s.get(base + "/empty", headers={"Host": "other"}) as resp:
            assert resp.status == 503 and await resp.text() == "service default/empty has no ready endpoint\n"
    for runner in (a, b, c):
        await runner.cleanup()


async def test_a_streamed_body_both_ways_on_one_kept_alive_connection(router: Router) -> None:
    runner, port = await _backend("a")
    services, endpoints = _world({"web": [port]})
    router.table = ingress_table([_ingress("i", [_rule("", "/", "web")])], services, endpoints)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as s:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"x" * 65536
        for _ in range(2):
            async with s.post(f"http://127.0.0.1:{router.port}/stream", data=body()) as resp:
                assert resp.status == 200 and len(await resp.read()) == 64 * 65536
        assert len(connector._conns) == 1  # one connection, kept alive for both
    await runner.cleanup()


async def test_canary_weight_twenty_takes_a_fifth(router: Router) -> None:
    (a, pa), (b, pb) = await _backend("stable"), await _backend("canary")
    services, endpoints = _world({"web": [pa], "web-canary": [pb]})
    canary = {"nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "20"}
    router.table = ingress_table([_ingress("main", [_rule("", "/", "web")]),
                                  _ingress("next", [_rule("", "/", "web-canary")], canary)],
                                 services, endpoints)
    router.rng.seed(7)
    n = 1000
    async with aiohttp.ClientSession() as s:
        hits = 0
        for _ in range(n):
            async with s.get(f"http://127.0.0.1:{router.port}/") as resp:
                hits += json.loads(await resp.text())["name"] == "canary"
    bound = 4 * math.sqrt(n * 0.2 * 0.8)  # four standard deviations of Binomial(1000, 0.2): ±51
    assert abs(hits - 0.2 * n) <= bound, hits
    for runner in (a, b):
        await runner.cleanup()
