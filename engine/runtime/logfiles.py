"""Container log files on a node: written with rotation and a time index, read by offset or tail,
optionally with each line's time in front (`kubectl logs --timestamps`).

Beside each log file `X` lies its index `X.times`: one 16-byte record per line start, the line's
byte offset in `X` and the wall-clock time (nanoseconds since the epoch, UTC) at which the pump
read the chunk holding the line's first byte, both unsigned 64-bit little-endian, in offset
order. Records are fixed-size so a reader finds the ones for a byte range by bisection instead
of reading the whole index on every follow poll. The writer appends a chunk's records before
the chunk's bytes, so a reader that reads the log first and the index second finds a record for
every line start it read. Rotation moves `X` to `X.1`, then `X.times` to `X.1.times`, so the
index always travels with its log, and a reader that finds a log's name pointing elsewhere after
opening the index reads again; neither name is ever missing on the way.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

INDEX_SUFFIX = ".times"
_RECORD = struct.Struct("<QQ")
_BLOCK = 4096  # records read at a time past the bisection
_ROTATION_TRIES = 3
READ_LIMIT = 4 * 1024 * 1024


def index_path(log: Path | str) -> Path:
    """Where the time index of the log file `log` lies."""
    return Path(f"{log}{INDEX_SUFFIX}")


class LogWriter:
    """Appends a container's output to its log file and the time of each new line to the
    index; past `max_bytes` both are rotated to `<file>.1` (one old pair kept), cutting at the
    last whole line that fits, so a chatty container cannot fill the node's disk."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self._path, self._max = path, max(max_bytes, 1)
        self._open()

    def _open(self) -> None:
        # The index first: a reader that finds the new log finds its index too.
        self._index = open(index_path(self._path), "ab+", buffering=0)
        self._out = open(self._path, "ab+", buffering=0)
        self._size = self._out.tell()
        # Records past the end of the log are from a writer that died between the two writes.
        records = self._index.tell() // _RECORD.size
        keep = _bisect(self._index.fileno(), records, self._size)
        if keep * _RECORD.size != self._index.tell():
            self._index.truncate(keep * _RECORD.size)
            self._index.seek(0, os.SEEK_END)
        self._at_line_start = self._size == 0 or _last_byte(self._out.fileno(), self._size) == b"\n"

    def write(self, data: bytes, now_ns: int) -> None:
        """Append `data`, which the pump read at `now_ns`: every line it starts gets that time."""
        while data:
            room = self._max - self._size
            if len(data) <= room:
                part, data = data, b""
            else:  # fill the file up to its last whole line that fits, then rotate
                cut = data.rfind(b"\n", 0, room) + 1 or (room if self._size == 0 else 0)
                part, data = data[:cut], data[cut:]
            if part:
                self._append(part, now_ns)
            if data:
                self._rotate()

    def _append(self, part: bytes, now_ns: int) -> None:
        starts = [self._size] if self._at_line_start else []
        pos = part.find(b"\n")
        while 0 <= pos < len(part) - 1:
            starts.append(self._size + pos + 1)
            pos = part.find(b"\n", pos + 1)
        if starts:
            self._index.write(struct.pack(f"<{2 * len(starts)}Q",
                                          *(v for s in starts for v in (s, now_ns))))
        self._out.write(part)
        self._size += len(part)
        self._at_line_start = part.endswith(b"\n")

    def _rotate(self) -> None:
        self.close()
        old = Path(f"{self._path}.1")
        # The log before its index: readers rely on that order to pair them (`_open_index`).
        _move_aside(self._path, old)
        _move_aside(index_path(self._path), index_path(old))
        self._open()
        # A line cut by the rotation goes on in the new file, with the time it is written there.
        self._at_line_start = True

    def close(self) -> None:
        self._out.close()
        self._index.close()


def _move_aside(path: Path, moved: Path) -> None:
    """Move `path` to `moved`, leaving an empty file at `path` that is never missing on the way:
    a reader following the log opens it by name at any moment."""
    fresh, link = Path(f"{path}.new"), Path(f"{moved}.new")
    open(fresh, "wb").close()
    try:
        link.unlink(missing_ok=True)  # left by a writer that died here
        os.link(path, link)
        os.replace(link, moved)
    except FileNotFoundError:  # removed under us: the new file starts clean anyway
        pass
    except OSError:  # no hard links on this file system: a moment without the file it is
        os.replace(path, moved)
    os.replace(fresh, path)


def pump(fd: int, path: Path, max_bytes: int, *,
         clock: Callable[[], int] = time.time_ns) -> None:
    """Copy what `fd` yields into the log at `path` until end of input; closes `fd`. Lines in one
    read share that read's time."""
    try:
        writer = LogWriter(path, max_bytes)
        try:
            while data := os.read(fd, 65536):
                writer.write(data, clock())
        finally:
            writer.close()
    finally:
        os.close(fd)


# ----- reading -------------------------------------------------------------------------------

def _last_byte(fd: int, size: int) -> bytes:
    return os.pread(fd, 1, size - 1) if size > 0 else b""


def _offset_at(fd: int, i: int) -> int:
    return int(_RECORD.unpack(os.pread(fd, _RECORD.size, i * _RECORD.size))[0])


def _bisect(fd: int, records: int, offset: int) -> int:
    """The number of the first record whose line starts at or past `offset`."""
    lo, hi = 0, records
    while lo < hi:
        mid = (lo + hi) // 2
        if _offset_at(fd, mid) < offset:
            lo = mid + 1
        else:
            hi = mid
    return lo


def offset_since(path: Path, since_ns: int) -> int:
    """Where the first line written at or after `since_ns` starts in the log at `path` (the
    log's size when none was; 0 when it has no index, so nothing is left out on a guess):
    `kubectl logs --since`. Lines are written in time order, so their records are too."""
    try:
        fd = os.open(index_path(path), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return 0
    try:
        records = os.fstat(fd).st_size // _RECORD.size
        lo, hi = 0, records
        while lo < hi:
            mid = (lo + hi) // 2
            if _RECORD.unpack(os.pread(fd, _RECORD.size, mid * _RECORD.size))[1] < since_ns:
                lo = mid + 1
            else:
                hi = mid
        if lo < records:
            return int(_offset_at(fd, lo))
    finally:
        os.close(fd)
    return os.stat(path).st_size


def read_since(path: Path, since_ns: int, *, tail_lines: int = -1, limit: int = READ_LIMIT,
               timestamps: bool = False) -> tuple[bytes, int]:
    """`read_log` from the first line written at or after `since_ns`, and of those lines the last
    `tail_lines` (when 0 or more), as kubectl logs --since --tail asks."""
    start = offset_since(path, since_ns)
    if tail_lines >= 0:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            start = max(start, size - len(_read_tail(fh, size, tail_lines)))
    return read_log(path, offset=start, limit=limit, timestamps=timestamps)


def read_times(fd: int, lo: int, hi: int) -> tuple[list[tuple[int, int]], int | None]:
    """From an open index: the (offset, time) records of the lines starting in [lo, hi), and the
    time of the last line that starts before `lo` (None if there is none)."""
    records = os.fstat(fd).st_size // _RECORD.size  # a record being written is not yet one
    first = _bisect(fd, records, lo)
    before = int(_RECORD.unpack(os.pread(fd, _RECORD.size, (first - 1) * _RECORD.size))[1]) \
        if first > 0 else None
    found: list[tuple[int, int]] = []
    i = first
    while i < records:
        count = min(_BLOCK, records - i)
        block = os.pread(fd, count * _RECORD.size, i * _RECORD.size)
        for off, t in _RECORD.iter_unpack(block[:len(block) - len(block) % _RECORD.size]):
            if off >= hi:
                return found, before
            found.append((off, t))
        i += count
    return found, before


def rfc3339(ns: int) -> str:
    """`ns` since the epoch as RFC 3339 in UTC with nine fraction digits, as kubectl's
    `--timestamps` prints it: 2026-12-05T11:30:01.123456789Z."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def stamp(data: bytes, start: int, records: list[tuple[int, int]], *, before: int | None,
          at_line_start: bool) -> bytes:
    """`data` (the log's bytes from offset `start`) with each line that starts in it prefixed
    by its time and a space. A line with no record of its own (a log written before the index
    existed, or one whose record was lost) takes the time of the closest record before it, and
    stays bare when there is none: a time is never made up. The bytes of a line that started
    before `start` (`at_line_start` false) are not prefixed: they continue a line already sent."""
    out: list[bytes] = []
    pos = 0
    if not at_line_start:
        pos = data.find(b"\n") + 1 or len(data)
        out.append(data[:pos])
    last, i = before, 0
    cached: tuple[int, bytes] | None = None
    while pos < len(data):
        while i < len(records) and records[i][0] <= start + pos:
            last = records[i][1]
            i += 1
        end = data.find(b"\n", pos) + 1 or len(data)
        if last is not None:
            if cached is None or cached[0] != last:
                cached = (last, rfc3339(last).encode() + b" ")
            out.append(cached[1])
        out.append(data[pos:end])
        pos = end
    return b"".join(out)


def _read_tail(fh: BinaryIO, size: int, lines: int) -> bytes:
    """The last `lines` lines of the first `size` bytes of the open file `fh`."""
    chunk = 64 * 1024
    data = b""
    pos = size
    while pos > 0 and data.count(b"\n") <= lines:
        step = min(chunk, pos)
        pos -= step
        fh.seek(pos)
        data = fh.read(step) + data
    parts = data.split(b"\n")
    trailing = parts[-1] == b""
    body = parts[:-1] if trailing else parts
    body = body[-lines:] if lines > 0 else []
    return b"\n".join(body) + (b"\n" if trailing and body else b"")


class _Rotated(Exception):
    """The log was rotated between opening it and opening its index."""


def _open_index(path: Path, log_fd: int) -> int | None:
    """The index that belongs to the open log `log_fd`; None when the log has none (written
    before indexes existed). Raises `_Rotated` when `path` no longer names that log."""
    try:  # never through a symlink: what is read stays inside the log's own directory
        fd: int | None = os.open(index_path(path), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        fd = None
    # The log is moved before its index: while `path` still names the open log, the index
    # opened just now is the log's own.
    try:
        same = os.stat(path).st_ino == os.fstat(log_fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        if fd is not None:
            os.close(fd)
        raise _Rotated
    return fd


def _read_once(path: Path, offset: int, tail_lines: int, limit: int, timestamps: bool,
               pair: bool) -> tuple[bytes, int]:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if tail_lines >= 0 and offset == 0:
            data = _read_tail(fh, size, tail_lines)
            start, nxt, at_line_start = size - len(data), size, True
        else:
            if offset > size:
                offset = 0
            at_line_start = offset == 0 or _last_byte(fh.fileno(), offset) == b"\n"
            fh.seek(offset)
            data = fh.read(limit)
            start, nxt = offset, offset + len(data)
        if not timestamps or not data:
            return data, nxt
        # The index is read after the log: every line start read has its record by now.
        index = _open_index(path, fh.fileno()) if pair else None
    if index is None:
        return stamp(data, start, [], before=None, at_line_start=at_line_start), nxt
    try:
        records, before = read_times(index, start, start + len(data))
    finally:
        os.close(index)
    return stamp(data, start, records, before=before, at_line_start=at_line_start), nxt


def read_log(path: Path, *, offset: int = 0, tail_lines: int = -1, limit: int = READ_LIMIT,
             timestamps: bool = False) -> tuple[bytes, int]:
    """Bytes of the log at `path` from `offset` (or, from offset 0, its last `tail_lines` lines
    when that is 0 or more; at most `limit` bytes otherwise) and the offset to read from next.
    The offset is always one into the raw file; with `timestamps` only the returned bytes get
    each line's time in front (see `stamp`). An offset past the end (the file was rotated since
    the last read) reads from the start of the new file; a read that a rotation cut between the
    log and its index is read again, and after a few such tries its lines go out bare."""
    for _ in range(_ROTATION_TRIES):
        try:
            return _read_once(path, offset, tail_lines, limit, timestamps, pair=True)
        except _Rotated:
            continue
    return _read_once(path, offset, tail_lines, limit, timestamps, pair=False)
