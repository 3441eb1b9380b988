"""The Ingress router: one HTTP/1.1 listener (aiohttp) that sends each request to a ready
backend of the Service its Ingress rules choose (engine/net/ingress.py), round robin, with
the X-Forwarded headers ingress-nginx sets; bodies stream both ways and keep-alive holds on
both sides. 404 when no rule matches, 503 naming the Service when it has no ready endpoint,
502 when none of its endpoints answers. Runs in the head node's agent, on the proxy's loop."""

from __future__ import annotations

import logging
import random
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from engine.net.ingress import choose

if TYPE_CHECKING:
    from engine.net.proxy import Inflight

log = logging.getLogger("tugboat.router")

# Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's own, never passed on.
HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
       "te", "trailer", "transfer-encoding", "upgrade", "proxy"}
CONNECT_TIMEOUT_S = 2.0


def _host(header: str) -> str:
    """The request's host without its port."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Router:
    def __init__(self, inflight: Inflight | None = None) -> None:
        self.inflight = inflight  # each request counted open on its backend until answered
        self.table: list[dict[str, Any]] = []
        self.port: int | None = None
        self._turn: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.rng = random.Random()

    async def start(self, port: int, host: str = "127.0.0.1") -> int:
        """Listen on the node's address `host` at `port` (0: any free one); the port taken."""
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024)  # one router per cluster
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=False),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S),
            auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        return self.port

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _order(self, entry: dict[str, Any]) -> list[tuple[str, int]]:
        backends = [(str(ip), int(port)) for ip, port in entry["backends"]]
        turn = self._turn.get(entry["service"], 0)
        self._turn[entry["service"]] = turn + 1
        start = turn % len(backends)
        return backends[start:] + backends[:start]

    def _headers(self, request: web.Request, host: str) -> dict[str, str]:
        out = {k: v for k, v in request.headers.items() if k.lower() not in HOP
               and not k.lower().startswith("x-forwarded-")}
        peer = request.remote or ""
        out.update({"Host": host or request.headers.get("Host", ""), "X-Forwarded-For": peer,
                    "X-Real-IP": peer, "X-Forwarded-Host": host, "X-Forwarded-Port": str(self.port),
                    "X-Forwarded-Proto": "http", "X-Forwarded-Scheme": "http", "X-Scheme": "http",
                    "X-Request-ID": request.headers.get("X-Request-ID") or uuid.uuid4().hex})
        for name in ("X-Forwarded-For", "X-Forwarded-Host"):
            if request.headers.get(name):
                out[name.replace("X-Forwarded-", "X-Original-Forwarded-")] = request.headers[name]
        return out

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host_header = request.headers.get("Host", "")
        host = _host(host_header)
        entry = choose(self.table, host, request.path, request.headers, request.cookies,
                       lambda n: self.rng.randint(1, n))
        if entry is None:
            return web.Response(status=404, text=f"no Ingress rule matches {host}{request.path}\n")
        if not entry["backends"]:
            return web.Response(status=503, text=f"service {entry['service']} has no ready endpoint\n")
        assert self._session is not None
        headers = self._headers(request, host_header)
        body = request.content if request.body_exists else None
        for ip, port in self._order(entry):
            if self.inflight is not None:
                self.inflight.begin((ip, port))
            try:
                try:
                    upstream = await self._session.request(
                        request.method, f"http://{ip}:{port}{request.rel_url}", headers=headers, data=body,
                        allow_redirects=False,
                        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"))
                except aiohttp.ClientConnectorError:
                    if body is not None and body.total_bytes:
                        break  # the body is partly sent: no other try
                    continue  # that endpoint is gone: the next one
                async with upstream:
                    out = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                    for key, value in upstream.headers.items():
                        if key.lower() not in HOP:
                            out.headers.add(key, value)
                    await out.prepare(request)
                    async for chunk in upstream.content.iter_any():
                        await out.write(chunk)
                    await out.write_eof()
                    return out
            finally:
                if self.inflight is not None:
                    self.inflight.end((ip, port))
        return web.Response(status=502, text=f"no endpoint of service {entry['service']} answered\n")
