"""The Service proxy's UDP routes on real sockets: each client a flow to one backend, flows
spread round robin, replies back to the client that asked, a backend that leaves the table
replaced at the next datagram, no listener without backends, TCP and UDP on one port.
Backends are small asyncio UDP servers that answer with their own name."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.net.proxy import Proxy
from engine.net.routes import route_table


class _Echo(asyncio.DatagramProtocol):
    def __init__(self, name: str) -> None:
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # the selector's is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        assert self.transport is not None
        self.transport.sendto(f"{self.name}:{data.decode()}".encode(), addr)


async def _backend(name: str) -> tuple[asyncio.DatagramTransport, int]:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Echo(name), local_addr=("127.0.0.1", 0))
    return transport, int(transport.get_extra_info("sockname")[1])


def _free_udp_port() -> int:
    with socket.socket(type=socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Client:
    """A connected UDP socket: one flow, as a client program has."""

    def __init__(self, addr: tuple[str, int]) -> None:
        self.sock = socket.socket(type=socket.SOCK_DGRAM)
        self.sock.settimeout(10)
        self.sock.connect(addr)

    def ask(self, text: str = "hi") -> str:
        self.sock.send(text.encode())
        return self.sock.recv(65535).decode()

    def close(self) -> None:
        self.sock.close()


async def _ask(client: _Client, text: str = "hi") -> str:
    return await asyncio.to_thread(client.ask, text)


def _table(listen: tuple[str, int], backends: list[int], **extra: Any) -> list[dict[str, Any]]:
    return [{"service": "default/dns:dns", "listen": [list(listen)], "protocol": "UDP",
             "backends": [["127.0.0.1", b] for b in backends], **extra}]


@pytest.fixture()
async def proxy() -> AsyncIterator[Proxy]:
    p = Proxy()
    yield p
    await p.close()


async def test_flows_spread_round_robin_and_each_keeps_its_backend(proxy: Proxy) -> None:
    (a, pa), (b, pb) = await _backend("a"), await _backend("b")
    vip = ("127.77.251.1", _free_udp_port())
    state = await proxy.apply(_table(vip, [pa, pb]), 1)
    assert state == {"version": 1, "listening": [f"{vip[0]}:{vip[1]}/UDP"], "problems": {}}
    one, two = _Client(vip), _Client(vip)
    first, second = await _ask(one), await _ask(two)
    assert {first, second} == {"a:hi", "b:hi"}  # two clients, two backends in turn
    assert [await _ask(one, str(i)) for i in range(3)] == [f"{first[0]}:{i}" for i in range(3)]
    one.close()
    two.close()
    a.close()
    b.close()


async def test_a_backend_that_leaves_is_replaced_and_none_stops_listening(proxy: Proxy) -> None:
    (a, pa), (b, pb) = await _backend("a"), await _backend("b")
    vip = ("127.77.251.2", _free_udp_port())
    await proxy.apply(_table(vip, [pa]), 1)
    client = _Client(vip)
    assert await _ask(client) == "a:hi"
    await proxy.apply(_table(vip, [pb]), 2)  # a leaves: the same client goes to b
    assert await _ask(client) == "b:hi"
    state = await proxy.apply(_table(vip, []), 3)
    assert state["listening"] == []
    # no listener, so the kernel answers with ICMP port unreachable (rate-limited, so not
    # asserted here); the address is free for anyone to bind
    with socket.socket(type=socket.SOCK_DGRAM) as probe:
        probe.bind(vip)
    client.close()
    a.close()
    b.close()


async def test_tcp_and_udp_share_a_service_port() -> None:
    udp, pu = await _backend("udp")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"tcp:" + await reader.readline())
        await writer.drain()
        writer.close()
    tcp = await asyncio.start_server(serve, "127.0.0.1", 0)
    pt = int(tcp.sockets[0].getsockname()[1])
    port = _free_udp_port()
    svc = {"metadata": {"namespace": "default", "name": "dns"},
           "spec": {"clusterIP": "127.77.251.3", "ports": [
               {"name": "dns", "port": port, "protocol": "UDP"},
               {"name": "dns-tcp", "port": port, "protocol": "TCP"},
               {"name": "sctp", "port": port + 1, "protocol": "SCTP"}]}}
    ep = {"subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                       "ports": [{"name": "dns", "port": pu, "protocol": "UDP"},
                                 {"name": "dns-tcp", "port": pt, "protocol": "TCP"}]}]}
    table = route_table([svc], {"default/dns": ep})
    assert [(e["service"], e.get("protocol", "TCP"), e["backends"]) for e in table] == [
        ("default/dns:dns", "UDP", [["127.0.0.1", pu]]),
        ("default/dns:dns-tcp", "TCP", [["127.0.0.1", pt]])]  # SCTP is not proxied
    proxy = Proxy()
    try:
        state = await proxy.apply(table, 1)
        vip = ("127.77.251.3", port)
        assert state["listening"] == [f"{vip[0]}:{port}", f"{vip[0]}:{port}/UDP"]
        client = _Client(vip)
        assert await _ask(client) == "udp:hi"
        client.close()
        reader, writer = await asyncio.open_connection(*vip)
        writer.write(b"hi\n")
        assert await asyncio.wait_for(reader.readline(), 10) == b"tcp:hi\n"
        writer.close()
    finally:
        await proxy.close()
        udp.close()
        tcp.close()
