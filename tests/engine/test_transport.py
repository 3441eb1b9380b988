"""The client's HTTP (engine/transport.py) against a raw socket server that answers exactly
what each test says: broken answers are UnavailableError, never a traceback; Warning headers
keep their UTF-8; paths and parameters are encoded."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from engine.client import Client
from engine.errors import NotFoundError, UnavailableError


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[bytes], list[bytes]]]:
    """(url, answers to send one per connection, requests received)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    answers: list[bytes] = []
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                seen.append(data)
                if answers:
                    conn.sendall(answers.pop(0))
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", answers, seen
    sock.close()


def _answer(status: str, body: bytes, *headers: bytes, length: int | None = None) -> bytes:
    head = [f"HTTP/1.1 {status}".encode(), b"Content-Type: application/json",
            b"Content-Length: " + str(len(body) if length is None else length).encode(), *headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def test_warning_headers_keep_their_utf8(raw_server: tuple[str, list[bytes], list[bytes]]) -> None:
    url, answers, _ = raw_server
    answers.append(_answer("200 OK", b"{}", 'Warning: 299 - "spec.café: not implemented"'.encode()))
    c = Client(url, "t")
    assert c.request("GET", "/x") == {}
    assert c.warnings == ["spec.café: not implemented"]


def test_an_error_answer_cut_short_is_unavailable(raw_server: tuple[str, list[bytes], list[bytes]]) -> None:
    url, answers, _ = raw_server
    answers.append(_answer("500 Internal Server Error", b'{"kind"', length=100))
    with pytest.raises(UnavailableError, match="did not answer in full"):
        Client(url, "t").request("GET", "/x")
    answers.append(_answer("500 Internal Server Error", b'{"kind"', length=100))
    with pytest.raises(UnavailableError, match="did not answer in full"):
        list(Client(url, "t").stream("/x"))


def test_an_error_status_on_a_stream_is_the_servers_error(
        raw_server: tuple[str, list[bytes], list[bytes]]) -> None:
    url, answers, _ = raw_server
    body = b'{"kind": "Status", "reason": "NotFound", "message": "pods \\"p\\" not found", "code": 404}'
    answers.append(_answer("404 Not Found", body))
    with pytest.raises(NotFoundError, match='pods "p" not found'):
        list(Client(url, "t").stream("/x"))


def test_paths_and_parameters_are_encoded(raw_server: tuple[str, list[bytes], list[bytes]]) -> None:
    url, answers, seen = raw_server
    answers.append(_answer("200 OK", b"{}"))
    Client(url, "t").request("GET", "/a b/é/%2F", params={"watch": True, "x": None, "l": ["1", "2"]})
    line = seen[-1].split(b"\r\n", 1)[0]
    assert line == b"GET /a%20b/%C3%A9/%2F?watch=true&l=1&l=2 HTTP/1.1"


def test_nothing_listening_is_unavailable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(UnavailableError, match="cannot reach the tugboat server"):
        Client(f"http://127.0.0.1:{port}", "t").request("GET", "/x")
