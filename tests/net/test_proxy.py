"""The Service proxy on real sockets: round robin over ready backends, refused with none, a
dead backend skipped, client-IP affinity, connections in flight kept across a new table, a
taken port reported. Backends are small asyncio servers that answer with their own name."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.net.proxy import Proxy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _backend(name: str) -> tuple[asyncio.AbstractServer, int]:
    """Answers each line with `name:line`, until the client closes."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(f"{name}:{line.decode()}".encode())
            await writer.drain()
        writer.close()
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def _ask(addr: tuple[str, int], text: str = "hi") -> str:
    reader, writer = await asyncio.open_connection(*addr)
    writer.write(f"{text}\n".encode())
    answer = (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
    writer.close()
    return answer


@pytest.fixture()
async def proxy() -> AsyncIterator[Proxy]:
    p = Proxy()
    yield p
    await p.close()


def _table(listen: tuple[str, int], backends: list[int], **extra: Any) -> list[dict[str, Any]]:
    return [{"service": "default/web:http", "listen": [list(listen)],
             "backends": [["127.0.0.1", b] for b in backends], **extra}]


async def test_round_robin_then_refused_without_backends(proxy: Proxy) -> None:
    (a, pa), (b, pb) = await _backend("a"), await _backend("b")
    vip = ("127.77.250.1", _free_port())
    state = await proxy.apply(_table(vip, [pa, pb]), 1)
    assert state == {"version": 1, "listening": [f"{vip[0]}:{vip[1]}"], "problems": {}}
    answers = [await _ask(vip) for _ in range(4)]
    assert sorted(answers) == ["a:hi", "a:hi", "b:hi", "b:hi"] and answers[0] != answers[1]
    await proxy.apply(_table(vip, []), 2)
    with pytest.raises(ConnectionRefusedError):
        await _ask(vip)
    a.close()
    b.close()


async def test_a_dead_backend_is_skipped_and_affinity_sticks(proxy: Proxy) -> None:
    (a, pa), (b, pb) = await _backend("a"), await _backend("b")
    dead = _free_port()  # nobody listens there
    vip = ("127.77.250.2", _free_port())
    await proxy.apply(_table(vip, [dead, pa, pb]), 1)
    assert {await _ask(vip) for _ in range(6)} == {"a:hi", "b:hi"}
    await proxy.apply(_table(vip, [pa, pb], affinity_s=60), 2)
    first = await _ask(vip)
    assert {await _ask(vip) for _ in range(5)} == {first}
    a.close()
    b.close()


async def test_a_connection_in_flight_outlives_its_backend_leaving_the_table(proxy: Proxy) -> None:
    (a, pa), (b, pb) = await _backend("a"), await _backend("b")
    vip = ("127.77.250.3", _free_port())
    await proxy.apply(_table(vip, [pa]), 1)
    reader, writer = await asyncio.open_connection(*vip)
    writer.write(b"one\n")
    assert await asyncio.wait_for(reader.readline(), 10) == b"a:one\n"
    await proxy.apply(_table(vip, [pb]), 2)  # a leaves: new connections go to b
    assert await _ask(vip) == "b:hi"
    writer.write(b"two\n")  # the old one still talks to a
    assert await asyncio.wait_for(reader.readline(), 10) == b"a:two\n"
    writer.close()
    a.close()
    b.close()


async def test_a_large_body_passes_whole(proxy: Proxy) -> None:
    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # to EOF: the proxy passes the half-close on
        writer.write(str(len(data)).encode())
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    vip = ("127.77.250.4", _free_port())
    await proxy.apply(_table(vip, [int(server.sockets[0].getsockname()[1])]), 1)
    reader, writer = await asyncio.open_connection(*vip)
    body = b"x" * (8 * 1024 * 1024)
    writer.write(body)
    await writer.drain()
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 30) == str(len(body)).encode()
    writer.close()
    server.close()


async def test_a_taken_port_is_reported_and_the_rest_served(proxy: Proxy) -> None:
    a, pa = await _backend("a")
    with socket.socket() as taken:
        taken.bind(("127.77.250.5", 0))  # no SO_REUSEPORT: nobody else may bind it
        taken.listen()
        busy = ("127.77.250.5", int(taken.getsockname()[1]))
        vip = ("127.77.250.6", _free_port())
        state = await proxy.apply(_table(busy, [pa]) + _table(vip, [pa]), 1)
        assert state["listening"] == [f"{vip[0]}:{vip[1]}"]
        assert list(state["problems"]) == [f"{busy[0]}:{busy[1]}"]
        assert await _ask(vip) == "a:hi"
    a.close()


async def test_a_backend_leaving_the_table_is_drained_of_what_it_was_sent(proxy: Proxy) -> None:
    (a, pa), (b, pb) = await _backend("a"), await _backend("b")
    vip = ("127.77.250.7", _free_port())
    await proxy.apply(_table(vip, [pa]), 1)
    reader, writer = await asyncio.open_connection(*vip)
    writer.write(b"one\n")
    assert await asyncio.wait_for(reader.readline(), 10) == b"a:one\n"
    await proxy.apply(_table(vip, [pb]), 2)  # a leaves the table, its connection stays open
    assert proxy.inflight.open == {("127.0.0.1", pa): 1}
    assert await proxy.inflight.clear({("127.0.0.1", pa)}, 0.2) is False  # bounded: it gives up
    waiting = asyncio.ensure_future(proxy.inflight.clear({("127.0.0.1", pa)}, 30))
    assert await _ask(vip) == "b:hi"  # b's connections are not a's
    assert not waiting.done()
    writer.close()  # the client is done: the proxy closes its side to a
    assert await asyncio.wait_for(waiting, 30) is True
    assert ("127.0.0.1", pa) not in proxy.inflight.open
    a.close()
    b.close()
