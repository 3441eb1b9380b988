"""pods/NAME/portforward: the real kubectl (SPDY/3.1 over a WebSocket) and the official Python
client (v4.channel.k8s.io) reach a pod's port through the control plane; broken frames end the
connection with GOAWAY, bad streams are reset, and what cannot be forwarded is said plainly.
The pod is a stored one marked Running whose host port is a local echo server (no runtime)."""

from __future__ import annotations

import asyncio
import re
import socket
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.stream import portforward

from engine.errors import TugError
from engine.net import spdy

from .conftest import InProcessServer, kubeconfig_of, trust
from .test_kubectl_api import needs_kubectl


class _Upper(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data.upper())


@pytest.fixture()
def echo() -> Iterator[int]:
    """A TCP server on 127.0.0.1 answering each chunk in capitals: its port."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Upper)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _running_pod(srv: InProcessServer, name: str, host_port: int) -> None:
    """A pod declaring containerPort 80, marked Running on 127.0.0.1 with 80 at `host_port`."""
    with srv.client() as c:
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "9"],
                            "ports": [{"containerPort": 80}]}]}})
        pod = c.get("pods", name)
        pod["status"] = {"phase": "Running", "podIP": "127.0.0.1", "containerStatuses": [
            {"name": "c", "hostPorts": [{"containerPort": 80, "hostPort": host_port, "protocol": "TCP"}]}]}
        c.request("PUT", f"/api/v1/namespaces/default/pods/{name}/status", body=pod)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _forwarded(proc: subprocess.Popen[str], remote: int) -> int:
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.match(rf"Forwarding from 127\.0\.0\.1:(\d+) -> {remote}$", line.strip())
        if found:
            return int(found.group(1))
    raise AssertionError(f"kubectl said no forwarding for {remote}")


@needs_kubectl
def test_kubectl_port_forward_reaches_the_pods_port(api_server: InProcessServer, echo: int,
                                                      tmp_path: Path) -> None:
    _running_pod(api_server, "pf", echo)
    kubeconfig = kubeconfig_of(api_server, tmp_path / "kubeconfig")
    closed = _free_port()  # nothing listens there: the pod's undeclared port is that port on the node
    proc = subprocess.Popen(["kubectl", "--kubeconfig", str(kubeconfig), "port-forward", "pod/pf", "0:80",
                             f"0:{closed}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        local = _forwarded(proc, 80)
        big = bytes(range(97, 123)) * 20000  # 520 kB: many data frames each way
        for text in (b"hello", big):  # one connection after another, each its own pair of streams
            with socket.create_connection(("127.0.0.1", local), timeout=30) as sock:
                sock.sendall(text)
                sock.shutdown(socket.SHUT_WR)  # the client's FIN reaches the pod; the pod's ends the copy
                got = b""
                while chunk := sock.recv(65536):
                    got += chunk
                assert got == text.upper()
        socks = [socket.create_connection(("127.0.0.1", local), timeout=30) for _ in range(3)]
        for i, sock in enumerate(socks):  # three at once over the one WebSocket
            sock.sendall(b"conn %d" % i)
        assert [sock.recv(100) for sock in socks] == [b"CONN 0", b"CONN 1", b"CONN 2"]
        for sock in socks:
            sock.close()
        refused = _forwarded(proc, closed)
        with socket.create_connection(("127.0.0.1", refused), timeout=30) as sock:
            assert sock.recv(100) == b""  # kubectl closes it when the pod's side fails
        _, err = proc.communicate(timeout=30)  # and exits: kubectl 1.32 treats it as a lost connection
        assert f"error forwarding port {closed} to pod pf" in err and "connection refused" in err, err
    finally:
        proc.kill()
        proc.wait()


def test_the_official_client_forwards_over_channels(api_server: InProcessServer, echo: int,
                                                      tmp_path: Path) -> None:
    _running_pod(api_server, "pf", echo)
    api = config.new_client_from_config(str(kubeconfig_of(api_server, tmp_path / "kubeconfig")))
    core = k8s.CoreV1Api(api)
    forward = portforward(core.connect_get_namespaced_pod_portforward, "pf", "default", ports="80")
    sock = forward.socket(80)
    sock.settimeout(30)
    sock.sendall(b"from python")
    assert sock.recv(100) == b"FROM PYTHON"
    sock.close()
    forward.close()
    assert forward.error(80) is None
    api.close()


async def _spdy(srv: InProcessServer, pod: str, frames: list[bytes], *, until_close: bool = True,
                until: int | None = None) -> list[spdy.Frame]:
    """Open the SPDY tunnel as kubectl does, send `frames`, read what comes back until close
    (or the first frame, without `until_close`; or the first of kind `until`)."""
    with srv.client() as c:
        url, token, ssl = c.server, c.token, trust(c)
    got: list[spdy.Frame] = []
    reader = spdy.Reader()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session, \
            session.ws_connect(f"{url}/api/v1/namespaces/default/pods/{pod}/portforward",
                               protocols=["SPDY/3.1+portforward.k8s.io"], ssl=ssl) as ws:
        for frame in frames:
            await ws.send_bytes(frame)
        while True:
            msg = await asyncio.wait_for(ws.receive(), 30)
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            got += reader.feed(msg.data)
            if (not until_close and got) or (until is not None and any(f.kind == until for f in got)):
                break
    return got


def test_broken_frames_end_the_tunnel_with_goaway_and_bad_streams_are_reset(
        api_server: InProcessServer, echo: int) -> None:
    _running_pod(api_server, "pf", echo)
    w = spdy.Writer  # a fresh one per connection: each has its own zlib stream
    cases: list[tuple[list[bytes], int]] = [
        ([b"\x80\x02\x00\x01\x00\x00\x00\x00"], spdy.GOAWAY),  # SPDY/2: refused
        ([b"\x00\x00\x00\x00\x00\x00\x00\x00"], spdy.GOAWAY),  # data on stream 0
        ([b"\x80\x03\x00\x01\x00\x00\x00\x0c" + b"\x00" * 10 + b"zz"], spdy.GOAWAY),  # headers not zlib
        ([w().syn_stream(1, {"x": "y" * 70000})], spdy.GOAWAY),  # inflates past the limit
        ([(one := w()).syn_stream(1, {"streamtype": "error", "port": "80", "requestid": "0"}),
          one.syn_stream(1, {"streamtype": "data", "port": "80", "requestid": "0"})], spdy.GOAWAY),
    ]
    for frames, last in cases:
        got = asyncio.run(_spdy(api_server, "pf", frames))
        assert got and got[-1].kind == last and got[-1].status == spdy.PROTOCOL_ERROR, (frames, got)
    for headers in ({"streamtype": "data", "port": "x", "requestid": "0"},  # not a port
                    {"streamtype": "data", "port": "\u00b2", "requestid": "0"},  # isdigit(), yet no int
                    {"streamtype": "data", "port": "9" * 5000, "requestid": "0"},
                    {"streamtype": "stdin", "port": "80", "requestid": "0"},  # not a port-forward stream
                    {"port": "80", "requestid": "0"}):
        got = asyncio.run(_spdy(api_server, "pf", [w().syn_stream(1, headers)], until_close=False))
        assert [(f.kind, f.stream, f.status) for f in got] == [(spdy.RST_STREAM, 1, spdy.CANCEL)]
    got = asyncio.run(_spdy(api_server, "pf", [w().ping(7)], until_close=False))
    assert [(f.kind, f.stream) for f in got] == [(spdy.PING, 7)]


def test_what_cannot_be_forwarded_is_refused_before_the_upgrade(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pending"}, "spec": {
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "9"]}]}})
        path = "/api/v1/namespaces/default/pods/pending/portforward"
        with pytest.raises(TugError, match="pod is not running. Current status=Pending") as err:
            c.request("GET", path)
        assert err.value.code == 400
    _running_pod(api_server, "pf", 1)
    with api_server.client() as c:
        path = "/api/v1/namespaces/default/pods/pf/portforward"
        with pytest.raises(TugError, match="upgrade the connection"):
            c.request("GET", path)
        for bad in ("80,abc", "\u00b2", "9" * 5000, "0", "65536"):
            with pytest.raises(TugError, match=r"ports: .* is not a port number") as err:
                c.request("GET", path, params={"ports": bad})
            assert err.value.code == 400
        with pytest.raises(TugError, match="only pods have the portforward subresource"):
            c.request("GET", "/api/v1/namespaces/default/configmaps/pf/portforward")


def test_frames_survive_any_split_and_header_blocks_share_one_zlib_stream() -> None:
    w, r = spdy.Writer(), spdy.Reader()
    wire = (w.syn_stream(1, {"streamtype": "error", "port": "80", "requestid": "0"})
            + w.syn_stream(3, {"streamtype": "data", "port": "80", "requestid": "0"})
            + w.data(3, b"abc", fin=True) + w.rst_stream(3, spdy.CANCEL) + w.ping(9) + w.goaway(3))
    frames: list[Any] = []
    for i in range(len(wire)):  # one byte at a time, as a WebSocket may cut it
        frames += r.feed(wire[i:i + 1])
    assert [(f.kind, f.stream) for f in frames] == [(spdy.SYN_STREAM, 1), (spdy.SYN_STREAM, 3), (0, 3),
                                                    (spdy.RST_STREAM, 3), (spdy.PING, 9), (spdy.GOAWAY, 3)]
    assert frames[1].headers == {"streamtype": "data", "port": "80", "requestid": "0"}
    assert frames[2].data == b"abc" and frames[2].fin and frames[3].status == spdy.CANCEL
    with pytest.raises(spdy.SpdyError, match="claims 1000 headers"):
        spdy.parse_headers((1000).to_bytes(4, "big") + b"\x00" * 8)
    assert len(spdy.DICTIONARY) == 1423  # the SPDY/3 preset dictionary's size


class _Deaf(socketserver.BaseRequestHandler):
    def handle(self) -> None:  # reads nothing, then hangs up
        threading.Event().wait(1.0)


def test_a_pod_that_stops_reading_and_hangs_up_leaves_the_tunnel_answering(
        api_server: InProcessServer) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Deaf)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _running_pod(api_server, "deaf", int(server.server_address[1]))
        w = spdy.Writer()
        pair = [w.syn_stream(1, {"streamtype": "error", "port": "80", "requestid": "0"}),
                w.syn_stream(3, {"streamtype": "data", "port": "80", "requestid": "0"})]
        flood = [w.data(3, b"x" * 65536) * 15 for _ in range(14)]  # 13 MB the pod never reads
        lone = [w.syn_stream(5, {"streamtype": "data", "port": "80", "requestid": "9"})] + [
            w.data(5, b"y") * 70]  # a data stream whose error stream never comes, past its inbox
        got = asyncio.run(_spdy(api_server, "deaf", pair + flood + lone + [w.ping(11)], until=spdy.PING))
    finally:
        server.shutdown()
        server.server_close()
    seen = [(f.kind, f.stream, f.fin) for f in got]
    assert (0, 3, True) in seen and (0, 1, True) in seen  # the pair ended when the pod hung up
    assert (spdy.RST_STREAM, 5, False) in seen and seen[-1] == (spdy.PING, 11, False)  # and it still answers


def test_the_channel_protocol_closes_when_the_pod_hangs_up(api_server: InProcessServer) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Deaf)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _running_pod(api_server, "deaf", int(server.server_address[1]))

        async def session() -> list[Any]:
            with api_server.client() as c:
                url, token, ssl = c.server, c.token, trust(c)
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http, \
                    http.ws_connect(f"{url}/api/v1/namespaces/default/pods/deaf/portforward",
                                    protocols=["v4.channel.k8s.io"], ssl=ssl, params={"ports": "80"}) as ws:
                messages = []
                while True:
                    msg = await asyncio.wait_for(ws.receive(), 30)
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        return messages
                    messages.append(msg.data)
                    await ws.send_bytes(b"\x00more")  # writes after the pod hung up are dropped
        messages = asyncio.run(session())
    finally:
        server.shutdown()
        server.server_close()
    assert messages[:2] == [b"\x00\x50\x00", b"\x01\x50\x00"]  # each channel's port first (80)
