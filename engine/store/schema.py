"""The SQLite file of the store: connection settings, tables, counters and compaction."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS objects (
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,          -- '' for cluster-scoped objects
    name      TEXT NOT NULL,
    uid       TEXT NOT NULL UNIQUE,
    rv        INTEGER NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owners (   -- ownerReferences, indexed from the owner's side
    owner_uid     TEXT NOT NULL,
    dependent_uid TEXT NOT NULL,
    PRIMARY KEY (owner_uid, dependent_uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS owners_by_dependent ON owners (dependent_uid);
CREATE TABLE IF NOT EXISTS events (   -- one row per resourceVersion, the watch history
    rv        INTEGER PRIMARY KEY,
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    type      TEXT NOT NULL,
    data      TEXT NOT NULL,
    prev      TEXT                    -- the state before a MODIFIED, for selector transitions
);
CREATE INDEX IF NOT EXISTS events_by_resource ON events (resource, rv);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the store file: WAL, and every commit synced to disk. A new
    file is made 0600 (it holds Secrets); SQLite gives its -wal and -shm files the same mode."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(_TABLES)
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
    return conn


def read_counter(conn: sqlite3.Connection, key: str) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def write_counter(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def compact(conn: sqlite3.Connection, *, rv: int, history: int) -> int | None:
    """Drop events older than the last `history`; return the new compacted revision, if any."""
    upto = rv - history
    if upto <= read_counter(conn, "compacted"):
        return None
    conn.execute("DELETE FROM events WHERE rv <= ?", (upto,))
    write_counter(conn, "compacted", upto)
    return upto
