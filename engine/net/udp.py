"""UDP for the Service proxy: one datagram listener per UDP route (a clusterIP:port, a nodePort).
Each client address is a flow with a socket of its own connected to one ready backend (round
robin, or by client IP under sessionAffinity: ClientIP), so the backend's replies go back to
that client from the address it wrote to, as conntrack does for kube-proxy. A flow idle for
UDP_IDLE_S ends, as does one whose backend left the table (the next datagram picks again).
A route with no ready backend has no listener: the client's datagram is answered with ICMP
port unreachable (ECONNREFUSED on a connected socket). Plain asyncio: no Ray here."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Route(Protocol):
    """What a listener needs of its route (engine/net/proxy.Route)."""

    backends: list[tuple[str, int]]

    def pick(self, client: str, now: float) -> list[tuple[str, int]]: ...

UDP_IDLE_S = 30.0  # Kubernetes' conntrack timeout for UDP
MAX_FLOWS = 4096  # per listener; past it the longest idle flow ends first
SWEEP_S = 5.0
BUFFER = 65535


@dataclass
class _Flow:
    backend: tuple[str, int]
    sock: socket.socket
    seen: float


class UdpListener(asyncio.DatagramProtocol):
    """The listener of one UDP route; `routes()` gives the proxy's current UDP routes, so a new
    table takes effect at the next datagram."""

    def __init__(self, listen: tuple[str, int], routes: Callable[[], dict[tuple[str, int], Route]]) -> None:
        self.listen, self.routes = listen, routes
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], _Flow] = {}
        self._swept = time.monotonic()
        self._closed = asyncio.Event()  # the socket is closed: its address is free again

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # the selector's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed.set()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        now = time.monotonic()
        route = self.routes().get(self.listen)
        if now - self._swept > SWEEP_S:
            self.sweep(now)
        flow = self.flows.get(addr)
        if flow is not None and (route is None or flow.backend not in route.backends):
            self._end(addr)  # its backend left: pick again
            flow = None
        if flow is None:
            flow = self._open(addr, route, now)
            if flow is None:
                return  # no backend answers: the datagram is dropped, as UDP may be
        flow.seen = now
        try:
            flow.sock.send(data)
        except (BlockingIOError, InterruptedError):
            pass  # the socket's buffer is full: dropped, as the network would
        except OSError:
            self._end(addr)  # the backend refused an earlier one: the next datagram picks again

    def _open(self, addr: tuple[str, int], route: Route | None, now: float) -> _Flow | None:
        for backend in route.pick(addr[0], now) if route is not None else []:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.connect(backend)
            except OSError:
                sock.close()
                continue
            if len(self.flows) >= MAX_FLOWS:
                self._end(min(self.flows, key=lambda a: self.flows[a].seen))
            flow = self.flows[addr] = _Flow(backend, sock, now)
            asyncio.get_running_loop().add_reader(sock.fileno(), self._reply, addr, flow)
            return flow
        return None

    def _reply(self, addr: tuple[str, int], flow: _Flow) -> None:
        """What the backend sent back, to the client it came for."""
        for _ in range(64):  # then let the loop breathe; the reader fires again
            try:
                data = flow.sock.recv(BUFFER)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP from the backend: it is gone
                if self.flows.get(addr) is flow:
                    self._end(addr)
                return
            flow.seen = time.monotonic()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.sendto(data, addr)

    def _end(self, addr: tuple[str, int]) -> None:
        flow = self.flows.pop(addr, None)
        if flow is not None:
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                asyncio.get_running_loop().remove_reader(flow.sock.fileno())
            flow.sock.close()

    def sweep(self, now: float) -> None:
        """End flows idle too long, and those whose backend is no longer ready."""
        self._swept = now
        route = self.routes().get(self.listen)
        for addr, flow in list(self.flows.items()):
            if now - flow.seen > UDP_IDLE_S or route is None or flow.backend not in route.backends:
                self._end(addr)

    async def close(self) -> None:
        """End every flow and stop listening; returns once the address is free."""
        for addr in list(self.flows):
            self._end(addr)
        if self.transport is not None:
            self.transport.close()
            await self._closed.wait()


async def listen_udp(listen: tuple[str, int],
                     routes: Callable[[], dict[tuple[str, int], Route]]) -> UdpListener:
    """A listener bound to `listen` (OSError when the address cannot be had)."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(lambda: UdpListener(listen, routes), local_addr=listen)
    return protocol
