"""pods/NAME/portforward over a WebSocket, in the two protocols clients speak: kubectl 1.32's
SPDY/3.1 tunnelled in binary messages (subprotocol SPDY/3.1+portforward.k8s.io; per local
connection an `error` and a `data` stream sharing a requestID and naming the pod's port), and
the official clients' v4.channel.k8s.io with ?ports= (port i on channels 2i data, 2i+1 error).
Each forwarded connection is a TCP connection from here to the pod's port on its node (its
host port where the runtime gave one, engine/net/endpoints.target_port)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from engine.errors import BadRequestError, TugError
from engine.net import spdy
from engine.net.endpoints import target_port

log = logging.getLogger("tugboat.portforward")

SPDY_PROTOCOL, CHANNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io", "v4.channel.k8s.io"
CHUNK = 32 << 10
MAX_STREAMS = 1024  # open streams per connection; more are refused (REFUSED_STREAM)
MAX_PORTS = 64
CONNECT_TIMEOUT = 10.0

Obj = dict[str, Any]


def _locate(store: Any, namespace: str, name: str) -> Callable[[int], tuple[str, int, str]]:
    """A lookup of (address, port, who) for a pod port, read from the pod as it is now."""
    def locate(port: int) -> tuple[str, int, str]:
        pod = store.get("pods", namespace, name)
        uid = pod["metadata"].get("uid", "")
        status = pod.get("status") or {}
        if status.get("phase") != "Running" or not status.get("podIP"):
            raise BadRequestError(f"pod {namespace}/{name} is not running (phase "
                                  f"{status.get('phase') or 'Pending'})")
        number = target_port(pod, {"port": port, "targetPort": port})
        if number is None:
            raise BadRequestError(f"pod {namespace}/{name} has no host port for {port} yet")
        return str(status["podIP"]), number, f"pod {name}, uid {uid}"
    return locate


def _ports(request: web.Request) -> list[int]:
    ports = []
    for value in request.query.getall("ports", []):
        for part in value.split(","):
            if not part.strip().isdigit() or not 0 < int(part) < 65536:
                raise BadRequestError(f"ports: {part.strip()!r} is not a port number (1-65535)")
            ports.append(int(part))
    if len(ports) > MAX_PORTS:
        raise BadRequestError(f"ports: at most {MAX_PORTS} ports per connection, got {len(ports)}")
    return ports


async def serve(request: web.Request, store: Any, namespace: str, name: str) -> web.StreamResponse:
    pod = store.get("pods", namespace, name)
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if phase != "Running":
        raise BadRequestError(f"unable to forward port because pod is not running. Current status={phase}")
    ports = _ports(request)
    ws = web.WebSocketResponse(protocols=(SPDY_PROTOCOL, CHANNEL_PROTOCOL), autoping=True,
                               max_msg_size=spdy.MAX_FRAME + 16)
    ready = ws.can_prepare(request)
    if not ready.ok or ready.protocol is None:
        raise BadRequestError(f"port-forward is served over a WebSocket with subprotocol {SPDY_PROTOCOL} "
                              f"(kubectl 1.31 and later) or {CHANNEL_PROTOCOL} with ?ports=; upgrade "
                              f"the connection")
    if ready.protocol == CHANNEL_PROTOCOL and not ports:
        raise BadRequestError(f"ports: {CHANNEL_PROTOCOL} needs at least one ports= parameter")
    await ws.prepare(request)
    locate = _locate(store, namespace, name)
    if ready.protocol == SPDY_PROTOCOL:
        await _SpdySession(ws, locate).run()
    else:
        await _channels(ws, locate, ports)
    return ws


async def _connect(locate: Callable[[int], tuple[str, int, str]],
                   port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to the pod's `port`; TugError saying why not, in kubelet's words."""
    try:
        host, number, who = locate(port)
    except TugError as exc:
        raise BadRequestError(f"error forwarding port {port}: {exc}") from exc
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, number), CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        why = f"connect: {os.strerror(exc.errno).lower()}" if isinstance(exc, OSError) and exc.errno \
            else "i/o timeout" if isinstance(exc, TimeoutError) else str(exc)
        raise BadRequestError(f"error forwarding port {port} to {who}: dial tcp {host}:{number}: {why}") \
            from exc


@dataclass
class _Pair:
    """One forwarded connection: its two streams and the bytes the client sent on `data`."""
    port: int
    error: int = 0
    data: int = 0
    inbox: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(64))
    task: asyncio.Task[None] | None = None


class _SpdySession:
    def __init__(self, ws: web.WebSocketResponse, locate: Callable[[int], tuple[str, int, str]]) -> None:
        self.ws, self.locate = ws, locate
        self.reader, self.writer = spdy.Reader(), spdy.Writer()
        self.pairs: dict[str, _Pair] = {}
        self.streams: dict[int, str] = {}  # stream id -> its pair's requestID
        self.send_lock = asyncio.Lock()
        self.last_stream = 0

    async def send(self, frame: bytes) -> None:
        async with self.send_lock:
            if not self.ws.closed:
                await self.ws.send_bytes(frame)

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                for frame in self.reader.feed(msg.data):
                    if frame.kind == spdy.GOAWAY:
                        return
                    await self._on(frame)
        except spdy.SpdyError as exc:
            log.info("port-forward: %s", exc)
            await self.send(self.writer.goaway(self.last_stream, spdy.PROTOCOL_ERROR))
        finally:
            for pair in self.pairs.values():
                if pair.task is not None:
                    pair.task.cancel()
            await self.ws.close()

    async def _on(self, frame: spdy.Frame) -> None:
        if frame.kind == spdy.PING:
            await self.send(self.writer.ping(frame.stream))
        elif frame.kind == spdy.SYN_STREAM:
            await self._open(frame)
        elif frame.kind == 0:
            pair = self.pairs.get(self.streams.get(frame.stream, ""))
            if pair is not None and frame.stream == pair.data:
                if frame.data:
                    await pair.inbox.put(frame.data)
                if frame.fin:
                    await pair.inbox.put(None)
        elif frame.kind == spdy.RST_STREAM:
            pair = self.pairs.get(self.streams.get(frame.stream, ""))
            if pair is not None and pair.task is not None:
                pair.task.cancel()

    async def _open(self, frame: spdy.Frame) -> None:
        headers = frame.headers or {}
        if frame.stream in self.streams or frame.stream <= self.last_stream:
            raise spdy.SpdyError(f"stream {frame.stream} was opened before")
        self.last_stream = frame.stream
        kind, port = headers.get("streamtype"), headers.get("port", "")
        request = headers.get("requestid") or str(frame.stream if kind == "error" else frame.stream - 2)
        if len(self.streams) >= MAX_STREAMS:
            await self.send(self.writer.rst_stream(frame.stream, spdy.REFUSED_STREAM))
            return
        pair = self.pairs.get(request)
        if kind not in ("error", "data") or not port.isdigit() or not 0 < int(port) < 65536 \
                or (pair is not None and (getattr(pair, kind) or pair.port != int(port))):
            log.info("port-forward: refused stream %d with headers %s", frame.stream, headers)
            await self.send(self.writer.rst_stream(frame.stream, spdy.CANCEL))
            return
        if pair is None:
            pair = self.pairs[request] = _Pair(int(port))
        setattr(pair, kind, frame.stream)
        self.streams[frame.stream] = request
        await self.send(self.writer.syn_reply(frame.stream))
        if pair.error and pair.data:
            pair.task = asyncio.create_task(self._forward(request, pair))

    async def _forward(self, request: str, pair: _Pair) -> None:
        writer = None
        try:
            try:
                reader, writer = await _connect(self.locate, pair.port)
            except TugError as exc:
                await self.send(self.writer.data(pair.error, exc.message.encode()))
                return
            upstream = asyncio.create_task(self._upstream(pair, writer))
            try:
                while chunk := await reader.read(CHUNK):
                    await self.send(self.writer.data(pair.data, chunk))
            except OSError as exc:
                await self.send(self.writer.data(pair.error, f"reading from the pod: {exc}".encode()))
            finally:
                upstream.cancel()
        finally:
            with contextlib.suppress(ConnectionError):
                await self.send(self.writer.data(pair.data, b"", fin=True))
                await self.send(self.writer.data(pair.error, b"", fin=True))
            if writer is not None:
                writer.close()
            self.pairs.pop(request, None)
            self.streams.pop(pair.error, None)
            self.streams.pop(pair.data, None)

    @staticmethod
    async def _upstream(pair: _Pair, writer: asyncio.StreamWriter) -> None:
        """The client's bytes to the pod; its FIN half-closes the pod's connection."""
        with contextlib.suppress(OSError):
            while (chunk := await pair.inbox.get()) is not None:
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()


async def _channels(ws: web.WebSocketResponse, locate: Callable[[int], tuple[str, int, str]],
                    ports: list[int]) -> None:
    """v4.channel.k8s.io: one connection per asked port; each channel first carries its port
    (2 bytes, little-endian), then data on 2i and a message on 2i+1 if something fails."""
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        async with lock:
            if not ws.closed:
                await ws.send_bytes(bytes([channel]) + data)

    async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | TugError:
        try:
            return await _connect(locate, port)
        except TugError as exc:
            return exc

    async def pump(index: int, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(CHUNK):
                await send(2 * index, chunk)

    writers: dict[int, asyncio.StreamWriter] = {}
    tasks = []
    for index, (port, got) in enumerate(zip(ports, await asyncio.gather(*map(connect, ports)), strict=True)):
        await send(2 * index, port.to_bytes(2, "little"))
        await send(2 * index + 1, port.to_bytes(2, "little"))
        if isinstance(got, TugError):
            await send(2 * index + 1, got.message.encode())
            continue
        writers[index] = got[1]
        tasks.append(asyncio.create_task(pump(index, got[0])))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data or msg.data[0] % 2:
                continue
            writer = writers.get(msg.data[0] // 2)
            if writer is not None and len(msg.data) > 1:
                with contextlib.suppress(OSError):
                    writer.write(msg.data[1:])
                    await writer.drain()
    finally:
        for task in tasks:
            task.cancel()
        for writer in writers.values():
            writer.close()
        await ws.close()
