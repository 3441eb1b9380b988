"""Container log files: the time index the pump writes beside each log, rotated with it, and
reads that put each line's time in front as `kubectl logs --timestamps` prints it."""

from __future__ import annotations

import os
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.runtime.logfiles import LogWriter, index_path, pump, read_log, rfc3339, stamp

T0 = 1_796_470_201_123_456_789  # 2026-12-05T11:30:01.123456789Z
STAMP = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$", re.DOTALL)


def records(log: Path) -> list[tuple[int, int]]:
    raw = index_path(log).read_bytes()
    return list(struct.iter_unpack("<QQ", raw))


def line_starts(data: bytes) -> list[int]:
    return [0] + [i + 1 for i, b in enumerate(data) if b == ord("\n") and i + 1 < len(data)] \
        if data else []


@pytest.mark.parametrize(("ns", "text"), [
    (0, "1970-01-01T00:00:00.000000000Z"),
    (5, "1970-01-01T00:00:00.000000005Z"),
    (T0, "2026-12-05T11:30:01.123456789Z"),
])
def test_times_are_rfc3339_with_nine_digits_in_utc(ns: int, text: str) -> None:
    assert rfc3339(ns) == text


def test_each_line_start_gets_the_time_of_the_read_that_brought_it(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    w = LogWriter(log, 1 << 20)
    w.write(b"one\ntw", T0)           # "tw" starts a line in this read ...
    w.write(b"o\nthree\n", T0 + 1)     # ... which ends in the next one
    w.write(b"four\n", T0 + 2)
    w.close()
    assert records(log) == [(0, T0), (4, T0), (8, T0 + 1), (14, T0 + 2)]
    data, nxt = read_log(log, timestamps=True)
    assert nxt == len(b"one\ntwo\nthree\nfour\n")  # the offset counts the file's own bytes
    assert data.decode().splitlines() == [
        "2026-12-05T11:30:01.123456789Z one",
        "2026-12-05T11:30:01.123456789Z two",
        "2026-12-05T11:30:01.123456790Z three",
        "2026-12-05T11:30:01.123456791Z four",
    ]
    assert read_log(log) == (b"one\ntwo\nthree\nfour\n", nxt)


def test_reads_in_pieces_stamp_each_line_once(tmp_path: Path) -> None:
    """A follow reads from the last offset, often in the middle of a line: its rest is not a
    new line, and the pieces put together are the whole log stamped."""
    log = tmp_path / "0.log"
    w = LogWriter(log, 1 << 20)
    for i in range(40):
        w.write(f"line {i}\n".encode() if i % 3 else f"part {i} ".encode(), T0 + i)
    w.close()
    whole, end = read_log(log, timestamps=True)
    for limit in (1, 3, 7, 64):
        pieces, offset = [], 0
        while True:
            data, nxt = read_log(log, offset=offset, limit=limit, timestamps=True)
            assert nxt - offset == min(limit, end - offset)  # raw bytes, never stamped ones
            if not data:
                break
            pieces.append(data)
            offset = nxt
        assert b"".join(pieces) == whole
    lines = whole.splitlines()
    assert all(STAMP.match(line) for line in lines)
    assert lines[0] == b"2026-12-05T11:30:01.123456789Z part 0 line 1"


def test_a_tail_is_stamped_from_its_own_lines(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    w = LogWriter(log, 1 << 20)
    for i in range(5):
        w.write(f"line {i}\n".encode(), T0 + i)
    w.close()
    data, nxt = read_log(log, tail_lines=2, timestamps=True)
    assert nxt == log.stat().st_size
    assert data == (f"{rfc3339(T0 + 3)} line 3\n{rfc3339(T0 + 4)} line 4\n").encode()
    assert read_log(log, tail_lines=0, timestamps=True) == (b"", nxt)


def test_the_index_rotates_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    w = LogWriter(log, 100)
    for i in range(60):
        w.write(f"line-{i}\n".encode(), T0 + i)
    w.write(b"x" * 250 + b"\n", T0 + 100)  # longer than a file: cut, going on in the next
    w.close()
    for path in (log, Path(f"{log}.1")):
        data = path.read_bytes()
        assert len(data) <= 100
        assert [off for off, _ in records(path)] == line_starts(data)
        stamped, _ = read_log(path, timestamps=True)
        assert all(STAMP.match(line) for line in stamped.splitlines())
    assert read_log(log, timestamps=True)[0] == f"{rfc3339(T0 + 100)} {'x' * 50}\n".encode()
    assert not Path(f"{log}.1.1").exists() and not index_path(f"{log}.1.1").exists()


def test_lines_written_by_the_pump_carry_the_time_it_read_them(tmp_path: Path) -> None:
    log = tmp_path / "c" / "0.log"
    log.parent.mkdir()
    r, w = os.pipe()
    os.write(w, b"hello\nworld\n")
    os.close(w)
    pump(r, log, 1 << 20, clock=lambda: T0)
    assert log.read_bytes() == b"hello\nworld\n"
    assert read_log(log, timestamps=True)[0] == \
        f"{rfc3339(T0)} hello\n{rfc3339(T0)} world\n".encode()


def test_a_writer_reopening_a_log_drops_records_past_its_end(tmp_path: Path) -> None:
    """A writer that died between a record and its line left a record for bytes never written;
    the next one goes on from the file as it is."""
    log = tmp_path / "0.log"
    w = LogWriter(log, 1 << 20)
    w.write(b"a\nb", T0)
    w.close()
    with open(index_path(log), "ab") as fh:
        fh.write(struct.pack("<QQ", 3, T0 + 5))  # a line that never came
    w = LogWriter(log, 1 << 20)
    w.write(b"c\nd\n", T0 + 9)  # "c" ends the line "b" began
    w.close()
    assert records(log) == [(0, T0), (2, T0), (5, T0 + 9)]


def test_a_log_without_index_is_not_given_made_up_times(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_bytes(b"old\nlines\n")
    assert read_log(log, timestamps=True) == (b"old\nlines\n", 10)


def test_a_line_without_a_record_takes_the_closest_earlier_time() -> None:
    data = b"a\nb\nc\n"
    assert stamp(data, 100, [(100, T0), (104, T0 + 4)], before=None, at_line_start=True) == \
        f"{rfc3339(T0)} a\n{rfc3339(T0)} b\n{rfc3339(T0 + 4)} c\n".encode()
    assert stamp(data, 100, [], before=T0 - 1, at_line_start=True) == \
        b"".join(f"{rfc3339(T0 - 1)} {c}\n".encode() for c in "abc")
    assert stamp(data, 100, [(102, T0)], before=None, at_line_start=True) == \
        f"a\n{rfc3339(T0)} b\n{rfc3339(T0)} c\n".encode()
    assert stamp(b"rest\nnew", 7, [(12, T0)], before=T0 - 1, at_line_start=False) == \
        f"rest\n{rfc3339(T0)} new".encode()


def test_stamps_parse_back_to_the_recorded_time(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    w = LogWriter(log, 1 << 20)
    w.write(b"x\n", T0)
    w.close()
    match = STAMP.match(read_log(log, timestamps=True)[0])
    assert match is not None
    parsed = datetime.fromisoformat(match.group(1).decode())  # to the microsecond
    assert parsed == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=T0 // 1000)


def test_since_starts_at_the_first_line_written_then(tmp_path: Path) -> None:
    """`kubectl logs --since`: where the first line at or after a time starts; past the last
    line, the end; a log with no index is read whole rather than cut on a guess."""
    from engine.runtime.logfiles import offset_since

    log = tmp_path / "0.log"
    w = LogWriter(log, 1 << 20)
    w.write(b"old\n", T0)
    w.write(b"mid\n", T0 + 1_000)
    w.write(b"new\n", T0 + 2_000)
    w.close()
    assert offset_since(log, T0 - 5) == 0
    assert offset_since(log, T0 + 500) == 4 and read_log(log, offset=4) == (b"mid\nnew\n", 12)
    assert offset_since(log, T0 + 2_000) == 8
    assert offset_since(log, T0 + 9_999) == 12  # nothing since then
    index_path(log).unlink()
    assert offset_since(log, T0 + 500) == 0


def test_since_with_a_tail_keeps_the_last_lines_of_those_since(tmp_path: Path) -> None:
    from engine.runtime.logfiles import read_since

    log = tmp_path / "0.log"
    w = LogWriter(log, 1 << 20)
    for i, line in enumerate((b"a\n", b"b\n", b"c\n", b"d\n")):
        w.write(line, T0 + i * 1_000)
    w.close()
    assert read_since(log, T0 + 500) == (b"b\nc\nd\n", 8)
    assert read_since(log, T0 + 500, tail_lines=2) == (b"c\nd\n", 8)
    assert read_since(log, T0 + 500, tail_lines=9) == (b"b\nc\nd\n", 8)
    assert read_since(log, T0 + 500, tail_lines=0) == (b"", 8)
    # more than one read since then (limit 3 bytes here, 4 MiB in use): the tail still applies
    assert read_since(log, T0 + 500, tail_lines=1, limit=3) == (b"d\n", 8)
    assert read_since(log, T0 + 500, tail_lines=2, limit=3) == (b"c\nd", 7)  # the rest on the next read
