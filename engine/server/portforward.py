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
import re
from collections.abc import AsyncIterator, Callable
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
MAX_FORWARDS = 1024  # forwarded TCP connections open at once, all connections together
MAX_PORTS = 64
MAX_MESSAGE = 1 << 20  # kubectl writes a frame of at most 32 KiB per message
FRAMES_PER_TURN = 64  # frames handled before the event loop gets a turn
CONNECT_TIMEOUT = 10.0
PORT = re.compile(r"[0-9]{1,5}")
_open_forwards = 0

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
            if not PORT.fullmatch(part.strip()) or not 0 < int(part) < 65536:
                raise BadRequestError(f"ports: {part.strip()[:32]!r} is not a port number (1-65535)")
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
                               max_msg_size=MAX_MESSAGE)
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


@contextlib.asynccontextmanager
async def _connect(locate: Callable[[int], tuple[str, int, str]],
                   port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A TCP connection to the pod's `port`, closed on leaving; TugError saying why not, in
    kubelet's words. At most MAX_FORWARDS are open at once."""
    global _open_forwards
    if _open_forwards >= MAX_FORWARDS:
        raise BadRequestError(f"error forwarding port {port}: {MAX_FORWARDS} forwarded connections are "
                              f"open already; try again when one closes")
    _open_forwards += 1
    writer = None
    try:
        reader, writer = await _dial(locate, port)
        yield reader, writer
    finally:
        _open_forwards -= 1
        if writer is not None:
            writer.close()


async def _dial(locate: Callable[[int], tuple[str, int, str]],
                port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
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
    deaf: bool = False  # nothing reads `inbox` any more: the client's bytes are dropped

    def stop_reading(self) -> None:
        self.deaf = True
        while not self.inbox.empty():  # a put the read loop waits on completes
            self.inbox.get_nowait()


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
                self.reader.add(msg.data)
                for i, frame in enumerate(self.reader.frames()):
                    if frame.kind == spdy.GOAWAY:
                        return
                    await self._on(frame)
                    if i % FRAMES_PER_TURN == FRAMES_PER_TURN - 1:
                        await asyncio.sleep(0)  # a message of many small frames never stalls the API
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
            if pair is None or frame.stream != pair.data or pair.deaf:
                return
            for item in ([frame.data] if frame.data else []) + ([None] if frame.fin else []):
                if pair.task is not None:
                    await pair.inbox.put(item)  # backpressure; a pair that ends unblocks it
                elif pair.inbox.full():  # its error stream never came: reset, as for any bad stream
                    await self.send(self.writer.rst_stream(frame.stream, spdy.CANCEL))
                    self._drop(self.streams[frame.stream], pair)
                    return
                else:
                    pair.inbox.put_nowait(item)
                if pair.deaf:
                    return
        elif frame.kind == spdy.RST_STREAM:
            request = self.streams.get(frame.stream, "")
            pair = self.pairs.get(request)
            if pair is not None and pair.task is not None:
                pair.task.cancel()
            elif pair is not None:
                self._drop(request, pair)

    def _drop(self, request: str, pair: _Pair) -> None:
        pair.stop_reading()
        self.pairs.pop(request, None)
        self.streams.pop(pair.error, None)
        self.streams.pop(pair.data, None)

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
        if kind not in ("error", "data") or not PORT.fullmatch(port) or not 0 < int(port) < 65536 \
                or (pair is not None and (getattr(pair, kind) or pair.port != int(port))):
            log.debug("port-forward: refused stream %d (streamtype %.32r, port %.32r, requestid %.32r)",
                      frame.stream, kind, port, headers.get("requestid"))
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
        try:
            async with _connect(self.locate, pair.port) as (reader, writer):
                upstream = asyncio.create_task(self._upstream(pair, writer))
                try:
                    while chunk := await reader.read(CHUNK):
                        await self.send(self.writer.data(pair.data, chunk))
                except OSError as exc:
                    await self.send(self.writer.data(pair.error, f"reading from the pod: {exc}".encode()))
                finally:
                    upstream.cancel()
        except TugError as exc:
            await self.send(self.writer.data(pair.error, exc.message.encode()))
        finally:
            self._drop(request, pair)
            with contextlib.suppress(ConnectionError):
                await self.send(self.writer.data(pair.data, b"", fin=True))
                await self.send(self.writer.data(pair.error, b"", fin=True))

    @staticmethod
    async def _upstream(pair: _Pair, writer: asyncio.StreamWriter) -> None:
        """The client's bytes to the pod; its FIN half-closes the pod's connection."""
        try:
            while (chunk := await pair.inbox.get()) is not None:
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            pass
        finally:
            pair.stop_reading()


async def _channels(ws: web.WebSocketResponse, locate: Callable[[int], tuple[str, int, str]],
                    ports: list[int]) -> None:
    """v4.channel.k8s.io: one connection per asked port; each channel first carries its port
    (2 bytes, little-endian), then data on 2i and a message on 2i+1 if something fails. The
    WebSocket closes once every pod connection has ended."""
    lock = asyncio.Lock()
    writers: dict[int, asyncio.StreamWriter] = {}

    async def send(channel: int, data: bytes) -> None:
        async with lock:
            if not ws.closed:
                await ws.send_bytes(bytes([channel]) + data)

    async def forward(index: int, port: int) -> None:
        await send(2 * index, port.to_bytes(2, "little"))
        await send(2 * index + 1, port.to_bytes(2, "little"))
        try:
            async with _connect(locate, port) as (reader, writer):
                writers[index] = writer
                with contextlib.suppress(OSError):
                    while chunk := await reader.read(CHUNK):
                        await send(2 * index, chunk)
        except TugError as exc:
            await send(2 * index + 1, exc.message.encode())
        finally:
            writers.pop(index, None)

    async def client_to_pods() -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or len(msg.data) < 2 or msg.data[0] % 2:
                continue
            writer = writers.get(msg.data[0] // 2)
            if writer is not None:
                with contextlib.suppress(OSError):
                    writer.write(msg.data[1:])
                    await writer.drain()

    incoming = asyncio.create_task(client_to_pods())
    forwards = [asyncio.create_task(forward(i, port)) for i, port in enumerate(ports)]
    try:
        await asyncio.wait([incoming, asyncio.gather(*forwards)], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in [incoming, *forwards]:
            task.cancel()
        await asyncio.gather(incoming, *forwards, return_exceptions=True)
        await ws.close()
