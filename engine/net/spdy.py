"""SPDY/3.1 framing, the part kubectl's port-forward speaks (client-go through moby/spdystream):
control frames (SYN_STREAM, SYN_REPLY, RST_STREAM, PING, GOAWAY and the ones to ignore) and
data frames, with header blocks compressed by one zlib stream per direction that starts from
the protocol's preset dictionary. Pure: bytes in, frames out, and frames to bytes."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
PROTOCOL_ERROR, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 3, 5, 6
MAX_FRAME = (1 << 24) - 1
MAX_HEADERS = 64 << 10  # a header block inflated past this ends the connection (a zlib bomb)

# The preset dictionary of SPDY/3 (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): these header names
# and values, each with a 4-byte big-endian length, then a run of common status lines and values.
_WORDS = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
          "accept-ranges age allow authorization cache-control connection content-base "
          "content-encoding content-language content-length content-location content-md5 "
          "content-range content-type date etag expect expires from host if-match if-modified-since "
          "if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
          "proxy-authenticate proxy-authorization range referer retry-after server te trailer "
          "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status "
          "200_OK version HTTP/1.1 url public set-cookie keep-alive origin").split()
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
         "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
         "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
         "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
         "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
         "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(len(w).to_bytes(4, "big") + w.replace("_", " ").encode() for w in _WORDS) \
    + _TAIL.encode()


class SpdyError(ValueError):
    """The peer broke the protocol; the connection ends (GOAWAY PROTOCOL_ERROR)."""


@dataclass
class Frame:
    """One frame: `kind` is a control type (SYN_STREAM...) or 0 for data; `stream` the stream
    id (PING: its id; GOAWAY: the last good stream); `headers` parsed for SYN_STREAM/SYN_REPLY/
    HEADERS; `data` a data frame's bytes; `status` RST_STREAM's and GOAWAY's code."""
    kind: int
    flags: int
    stream: int
    data: bytes = b""
    headers: dict[str, str] | None = None
    status: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class Reader:
    """Frames out of a byte stream fed in pieces of any size (WebSocket messages)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def add(self, data: bytes) -> None:
        self._buffer += data

    def frames(self) -> Iterator[Frame]:
        """The whole frames added so far, one at a time (a caller may pause between them)."""
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                return
            head, payload = bytes(self._buffer[:8]), bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            frame = self._parse(head, payload)
            if frame is not None:
                yield frame

    def feed(self, data: bytes) -> list[Frame]:
        """`add`, then every whole frame."""
        self.add(data)
        return list(self.frames())

    def _parse(self, head: bytes, payload: bytes) -> Frame | None:
        first, flags = struct.unpack(">I", head[:4])[0], head[4]
        if not first & 0x80000000:
            stream = first & 0x7FFFFFFF
            if stream == 0:
                raise SpdyError("a data frame on stream 0")
            return Frame(0, flags, stream, data=payload)
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyError(f"SPDY version {version}; this server speaks {VERSION}")
        if kind in (SYN_STREAM, SYN_REPLY, HEADERS):
            skip = 10 if kind == SYN_STREAM else 4
            if len(payload) < skip:
                raise SpdyError(f"control frame {kind} of {len(payload)} bytes is too short")
            stream = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if stream == 0:
                raise SpdyError("stream id 0 is not allowed")
            return Frame(kind, flags, stream, headers=self._headers(payload[skip:]))
        if kind in (RST_STREAM, GOAWAY):
            if len(payload) != 8:
                raise SpdyError(f"control frame {kind} must be 8 bytes, got {len(payload)}")
            stream, status = struct.unpack(">II", payload)
            return Frame(kind, flags, stream & 0x7FFFFFFF, status=status)
        if kind == PING:
            if len(payload) != 4:
                raise SpdyError(f"PING must be 4 bytes, got {len(payload)}")
            return Frame(kind, flags, int.from_bytes(payload, "big"))
        return None  # SETTINGS, WINDOW_UPDATE and unknown types: nothing to do (spdystream ignores them too)

    def _headers(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block, MAX_HEADERS + 1)
        except zlib.error as exc:
            raise SpdyError(f"header block does not inflate: {exc}") from exc
        if len(raw) > MAX_HEADERS or self._inflate.unconsumed_tail:
            raise SpdyError(f"header block inflates past {MAX_HEADERS} bytes")
        return parse_headers(raw)


def parse_headers(raw: bytes) -> dict[str, str]:
    """A header block: a count, then that many (name, value) each with a 4-byte length; names
    are lowercase, values of one name joined by NUL (kept joined here)."""
    def take(at: int) -> tuple[bytes, int]:
        if at + 4 > len(raw):
            raise SpdyError("header block ends inside a length")
        size = int.from_bytes(raw[at:at + 4], "big")
        if at + 4 + size > len(raw):
            raise SpdyError("header block ends inside a name or value")
        return raw[at + 4:at + 4 + size], at + 4 + size

    if len(raw) < 4:
        raise SpdyError("header block without a count")
    count, at, headers = int.from_bytes(raw[:4], "big"), 4, {}
    if count > len(raw) // 8:
        raise SpdyError(f"header block claims {count} headers in {len(raw)} bytes")
    for _ in range(count):
        name, at = take(at)
        value, at = take(at)
        headers[name.decode("latin-1").lower()] = value.decode("latin-1")
    return headers


class Writer:
    """Frames to bytes; header blocks share one compressor, as the protocol requires."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zdict=DICTIONARY)

    def _control(self, kind: int, flags: int, payload: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload

    def _block(self, headers: dict[str, str]) -> bytes:
        pairs = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw = len(pairs).to_bytes(4, "big") + b"".join(
            len(k).to_bytes(4, "big") + k + len(v).to_bytes(4, "big") + v for k, v in pairs)
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream: int, headers: dict[str, str] | None = None, fin: bool = False) -> bytes:
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0,
                             stream.to_bytes(4, "big") + self._block(headers or {}))

    def syn_stream(self, stream: int, headers: dict[str, str], fin: bool = False) -> bytes:
        """What a client sends to open a stream (tests speak as kubectl with it)."""
        return self._control(SYN_STREAM, FLAG_FIN if fin else 0,
                             struct.pack(">IIBB", stream, 0, 0, 0) + self._block(headers))

    def rst_stream(self, stream: int, status: int) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream, status))

    def ping(self, ident: int) -> bytes:
        return self._control(PING, 0, ident.to_bytes(4, "big"))

    def goaway(self, last_stream: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream, status))

    @staticmethod
    def data(stream: int, data: bytes, fin: bool = False) -> bytes:
        return struct.pack(">II", stream, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data
