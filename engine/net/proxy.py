"""The Service proxy a node agent runs: one TCP listener per route (a clusterIP:port, a
nodePort), each connection forwarded to one of the route's ready backends, round robin or by
client IP (sessionAffinity: ClientIP); UDP routes are served by engine/net/udp.py. A route
with no ready backend has no listener, so a connection to it is refused at once. A new table
replaces the old in one step; connections in flight finish on the backend they have. One
proxy per machine listens (the runtime picks it), without SO_REUSEPORT: an address another
program holds is refused, never shared. Plain asyncio: no Ray here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from engine.net.routes import NODE_ADDRESS, listen_key
from engine.net.udp import UdpListener, listen_udp

log = logging.getLogger("tugboat.proxy")

CHUNK = 256 * 1024  # a pump pauses the other side when this much waits to be written
CONNECT_TIMEOUT_S = 2.0


@dataclass
class Route:
    """Where one listening address forwards to."""

    listen: tuple[str, int]
    backends: list[tuple[str, int]]
    affinity_s: float = 0.0  # > 0: sessionAffinity ClientIP with this timeout
    service: str = ""  # "namespace/name:port", for what the agent reports
    next: int = 0
    sticky: dict[str, tuple[tuple[str, int], float]] = field(default_factory=dict)

    def pick(self, client: str, now: float) -> list[tuple[str, int]]:
        """The backends to try, in order: the client's own first (affinity), else the next in
        turn, then the others."""
        if not self.backends:
            return []
        first = None
        if self.affinity_s > 0:
            held = self.sticky.get(client)
            if held and held[0] in self.backends and now - held[1] < self.affinity_s:
                first = held[0]
        if first is None:
            first = self.backends[self.next % len(self.backends)]
            self.next += 1
        if self.affinity_s > 0:
            self.sticky[client] = (first, now)
            if len(self.sticky) > 4 * 65536:  # forget the stale ones, so memory follows clients seen lately
                self.sticky = {c: v for c, v in self.sticky.items() if now - v[1] < self.affinity_s}
        return [first] + [b for b in self.backends if b != first]


def routes_from(table: list[dict[str, Any]], node_ip: str,
                protocol: str = "TCP") -> dict[tuple[str, int], Route]:
    """The proxy's routes of `protocol` from the table the runtime sends (engine/net/routes.py);
    a nodePort listens on `node_ip`, the address its node has in the cluster."""
    out: dict[tuple[str, int], Route] = {}
    for entry in table:
        if (entry.get("protocol") or "TCP") != protocol:
            continue
        backends = [(str(ip), int(port)) for ip, port in entry.get("backends") or []]
        affinity, service = float(entry.get("affinity_s") or 0), str(entry.get("service") or "")
        for ip, port in entry.get("listen") or []:
            host = node_ip if ip == NODE_ADDRESS else str(ip)
            out[(host, int(port))] = Route((host, int(port)), backends, affinity, service)
    return out


def _keep_turns(routes: dict[tuple[str, int], Route],
                old: dict[tuple[str, int], Route]) -> dict[tuple[str, int], Route]:
    """`routes`, each keeping the turn and the clients' backends of the route it replaces."""
    for listen, route in routes.items():
        before = old.get(listen)
        if before is not None:
            route.next, route.sticky = before.next, before.sticky
    return routes


class Inflight:
    """How many connections (and Ingress requests) each backend has open through this node, so
    a pod that is to stop can wait until those sent before its removal are done."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, int], int] = {}
        self._changed: set[asyncio.Event] = set()

    def begin(self, backend: tuple[str, int]) -> None:
        self.open[backend] = self.open.get(backend, 0) + 1

    def end(self, backend: tuple[str, int]) -> None:
        left = self.open.get(backend, 0) - 1
        if left > 0:
            self.open[backend] = left
        else:
            self.open.pop(backend, None)
            for event in self._changed:
                event.set()

    async def clear(self, backends: set[tuple[str, int]], timeout: float) -> bool:
        """Wait (at most `timeout` s) until none of `backends` has anything open; whether it came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event = asyncio.Event()
        self._changed.add(event)
        try:
            while any(b in self.open for b in backends):
                left = deadline - loop.time()
                if left <= 0:
                    return False
                event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), left)
            return True
        finally:
            self._changed.discard(event)


class _Pipe(asyncio.Protocol):
    """One side of a proxied connection; what it reads goes to its peer, with backpressure."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Pipe | None = None
        self.pending = b""  # read before the peer was there
        self.ended = False  # this side sent its EOF

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=CHUNK)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None or peer.transport is None:
            self.pending += data
            return
        peer.transport.write(data)

    def eof_received(self) -> bool:
        self.ended = True
        peer = self.peer
        if peer is not None and peer.transport is not None and peer.transport.can_write_eof():
            if peer.ended:  # both ways are done: the connection is over (what is buffered still goes)
                peer.transport.close()
                return False
            peer.transport.write_eof()
            return True  # half-close: the other way may still talk
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _Upstream(_Pipe):
    """The backend's side: counted open until it closes."""

    def __init__(self, inflight: Inflight, backend: tuple[str, int]) -> None:
        super().__init__()
        self.inflight, self.backend = inflight, backend

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.inflight.end(self.backend)


class _Client(_Pipe):
    def __init__(self, proxy: Proxy, listen: tuple[str, int]) -> None:
        super().__init__()
        self.proxy, self.listen = proxy, listen

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()  # until the backend answers
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        assert self.transport is not None
        route = self.proxy.routes.get(self.listen)
        client = str((self.transport.get_extra_info("peername") or ("",))[0])
        loop = asyncio.get_running_loop()
        inflight = self.proxy.inflight
        for backend in route.pick(client, time.monotonic()) if route else []:
            inflight.begin(backend)  # from the choice on: a stopping pod waits for it
            try:
                _, upstream = await asyncio.wait_for(
                    loop.create_connection(lambda b=backend: _Upstream(inflight, b), *backend),  # type: ignore[misc]
                    CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError):
                inflight.end(backend)
                continue  # a backend that went away: the next one
            if self.transport.is_closing():  # the client left while we connected
                if upstream.transport is not None:
                    upstream.transport.close()
                return
            upstream.peer, self.peer = self, upstream
            if self.pending and upstream.transport is not None:
                upstream.transport.write(self.pending)
                self.pending = b""
            self.transport.resume_reading()
            return
        self.transport.abort()  # no backend answered


class Proxy:
    """Listeners for a table of routes, on the running loop."""

    def __init__(self, node_ip: str = "127.0.0.1") -> None:
        self.node_ip = node_ip  # where nodePorts and the router listen
        self.routes: dict[tuple[str, int], Route] = {}
        self.udp_routes: dict[tuple[str, int], Route] = {}
        self._servers: dict[tuple[str, int], asyncio.AbstractServer] = {}
        self._udp: dict[tuple[str, int], UdpListener] = {}
        self.version = 0
        self.problems: dict[str, str] = {}  # listen address (routes.listen_key) -> why it is not served
        self.router: Any = None  # engine/net/router.Router, on the node that serves Ingresses
        self.inflight = Inflight()
        self.ingress_problem = ""

    async def apply(self, table: list[dict[str, Any]], version: int,
                    ingress: dict[str, Any] | None = None) -> dict[str, Any]:
        """Serve `table` from now on (and `ingress`: the router's port and rules, on the node
        that serves Ingresses); what is served and what could not be (a port taken, a port
        below 1024 without the right to bind it)."""
        self.routes = _keep_turns(routes_from(table, self.node_ip), self.routes)
        self.udp_routes = _keep_turns(routes_from(table, self.node_ip, "UDP"), self.udp_routes)
        wanted = {listen for listen, route in self.routes.items() if route.backends}
        for listen in set(self._servers) - wanted:
            self._servers.pop(listen).close()  # no backend (or no route): refused from now on
        wanted_udp = {listen for listen, route in self.udp_routes.items() if route.backends}
        for listen in set(self._udp) - wanted_udp:
            await self._udp.pop(listen).close()
        for listener in self._udp.values():
            listener.sweep(time.monotonic())  # flows to backends that left end now
        self.problems = {}
        loop = asyncio.get_running_loop()
        for listen in sorted(wanted - set(self._servers)):
            try:
                self._servers[listen] = await loop.create_server(
                    lambda listen=listen: _Client(self, listen), *listen, backlog=1024)
            except OSError as exc:
                self._problem(listen, "TCP", exc)
        for listen in sorted(wanted_udp - set(self._udp)):
            try:
                self._udp[listen] = await listen_udp(listen, lambda: self.udp_routes)
            except OSError as exc:
                self._problem(listen, "UDP", exc)
        if ingress is not None:
            await self._route(int(ingress.get("port") or 0), list(ingress.get("rules") or []))
        self.version = version
        return self.state()

    def _problem(self, listen: tuple[str, int], protocol: str, exc: OSError) -> None:
        key = listen_key(*listen, protocol)
        self.problems[key] = exc.strerror or str(exc)
        log.warning("proxy: cannot listen on %s: %s", key, self.problems[key])

    async def _route(self, port: int, rules: list[dict[str, Any]]) -> None:
        from engine.net.router import Router  # aiohttp: only where Ingresses are served

        if self.router is not None and port and self.router.port != port:
            await self.router.close()  # another port asked for
            self.router = None
        if self.router is None:
            router = Router(self.inflight)
            try:
                await router.start(port, self.node_ip)
            except OSError as exc:
                self.ingress_problem = f"cannot listen on port {port}: {exc.strerror or exc}"
                await router.close()
                return
            self.router, self.ingress_problem = router, ""
        self.router.table = rules

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "listening": sorted([listen_key(h, p) for h, p in self._servers]
                                + [listen_key(h, p, "UDP") for h, p in self._udp]),
            "problems": dict(self.problems)}
        if self.router is not None or self.ingress_problem:
            out["ingress"] = {"port": self.router.port if self.router else None,
                              "problem": self.ingress_problem}
        return out

    async def close(self) -> None:
        for server in self._servers.values():
            server.close()
        for listener in self._udp.values():
            await listener.close()
        self._servers, self._udp = {}, {}
        if self.router is not None:
            await self.router.close()
            self.router = None
