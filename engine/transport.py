"""HTTP to the API server on the standard library's http.client, for engine/client.py.

A CLI call is one short process: importing httpx took 55 ms of the 0.17 s a `tug get pods`
took, more than everything else tugboat does in it, while http.client is loaded with Python's
own modules. One connection per request keeps it simple (no pool to go stale); on loopback
or a LAN a connection costs well under a millisecond."""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from engine.errors import BadRequestError, UnavailableError

CONNECT_TIMEOUT_S = 10.0
_CHUNK = 65536


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Transport:
    """Requests to one server (`http://HOST:PORT`, or https), each on a new connection."""

    def __init__(self, server: str, *, headers: dict[str, str], timeout: float,
                 ca: str | None = None) -> None:
        url = urlsplit(server)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise BadRequestError(f"server {server!r}: expected http://HOST:PORT or https://HOST:PORT")
        try:
            self._port = url.port or (443 if url.scheme == "https" else 80)
        except ValueError:
            raise BadRequestError(f"server {server!r}: the port is not a number from 1 to 65535") from None
        self.server = server
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._prefix = url.path.rstrip("/")
        self._headers = headers
        self.timeout = timeout
        self._ca = ca
        self._tls: Any = None  # the ssl context, made on the first https connection

    def _context(self) -> Any:
        """TLS that trusts the config's CA (tugboat's own, from `tug up`), else the system's."""
        if self._tls is None:
            import ssl

            try:
                self._tls = ssl.create_default_context(cafile=self._ca)
            except (OSError, ssl.SSLError) as exc:
                raise UnavailableError(f"cannot read the CA file {self._ca}: {exc}") from None
        return self._tls

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        wait = min(CONNECT_TIMEOUT_S, timeout or CONNECT_TIMEOUT_S)
        conn = (http.client.HTTPSConnection(self._host, self._port, timeout=wait, context=self._context())
                if self._https else http.client.HTTPConnection(self._host, self._port, timeout=wait))
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            import ssl

            if isinstance(exc, ssl.SSLCertVerificationError):
                raise UnavailableError(
                    f"the server at {self.server} has a certificate this client does not trust "
                    f"({exc.verify_message or exc.reason}): is {self._ca or 'the CA file'} the one "
                    f"its `tug up` made?") from None
            raise self._unreachable(exc) from None
        assert conn.sock is not None
        conn.sock.settimeout(timeout)  # after the connect: reads wait `timeout` (None: forever)
        return conn

    def _unreachable(self, exc: BaseException) -> UnavailableError:
        return UnavailableError(f"cannot reach the tugboat server at {self.server} "
                                f"({exc.__class__.__name__}): is it running? start it with `tug up`")

    def _lost(self, exc: BaseException) -> UnavailableError:
        """A request that connected and then failed (the server went away mid-answer)."""
        return UnavailableError(f"the tugboat server at {self.server} did not answer in full "
                                f"({exc.__class__.__name__}: {exc})")

    def _target(self, path: str, params: dict[str, Any] | None) -> str:
        """The request target: the path percent-encoded where it must be (its escapes kept),
        and the parameters that are set (booleans as true/false, lists repeated)."""
        query = {k: (str(v).lower() if isinstance(v, bool) else v)
                 for k, v in (params or {}).items() if v is not None}
        target = quote(self._prefix + path, safe="/%:@!$&'()*+,;=-._~")
        return target + (f"?{urlencode(query, doseq=True)}" if query else "")

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
        conn = self._connect(self.timeout)
        try:
            conn.request(method, self._target(path, params), body=body,
                         headers={**self._headers, **(headers or {})})
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        except (OSError, http.client.HTTPException) as exc:
            raise self._lost(exc) from None
        finally:
            conn.close()

    @contextmanager
    def stream(self, path: str, *, params: dict[str, Any] | None = None,
               timeout: float | None = None, on_open: Callable[[Callable[[], None]], None] | None = None
               ) -> Iterator[tuple[Response, Iterator[bytes]]]:
        """A GET whose body is read as it arrives: the response (status and headers; the body
        too when the status is an error) and an iterator over the body's bytes. `on_open` gets
        a function that ends the stream from another thread (the reader then sees it end)."""
        conn = self._connect(timeout)
        if on_open is not None:
            on_open(lambda: _shut(conn))
        try:
            try:
                conn.request("GET", self._target(path, params), headers=self._headers)
                resp = conn.getresponse()
                error = resp.read() if resp.status >= 400 else None
            except (OSError, http.client.HTTPException) as exc:
                raise self._lost(exc) from None
            if error is not None:
                yield Response(resp.status, resp.headers, error), iter(())
                return

            def chunks() -> Iterator[bytes]:
                try:
                    while chunk := resp.read1(_CHUNK):
                        yield chunk
                except (OSError, http.client.HTTPException) as exc:  # a read timeout too
                    raise UnavailableError(f"lost the stream from {self.server}: {exc}") from None
            yield Response(resp.status, resp.headers, b""), chunks()
        finally:
            conn.close()


def _shut(conn: http.client.HTTPConnection) -> None:
    """End a connection another thread may be reading: its read returns at once."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
