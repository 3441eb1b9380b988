"""One write transaction of the store: row reads and writes, revisions, events, owner index."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from enum import StrEnum

from engine.store.objects import Obj, dumps, loads, metadata, namespace_of, owner_uids, uid_of


class EventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


class Txn:
    """Reads see the transaction's own writes; every write takes the next resourceVersion."""

    def __init__(self, conn: sqlite3.Connection, *, rv: int, now: datetime) -> None:
        self.conn = conn
        self.rv = rv
        self.now = now
        self.removed: dict[str, Obj] = {}  # uid -> last state, for callers that need it

    def find(self, resource: str, namespace: str, name: str) -> Obj | None:
        row = self.conn.execute(
            "SELECT data FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
            (resource, namespace, name)).fetchone()
        return loads(row[0]) if row else None

    def find_uid(self, uid: str) -> tuple[str, Obj] | None:
        row = self.conn.execute("SELECT resource, data FROM objects WHERE uid = ?",
                                (uid,)).fetchone()
        return (row[0], loads(row[1])) if row else None

    def dependents(self, owner_uid: str) -> list[tuple[str, Obj]]:
        rows = self.conn.execute(
            "SELECT o.resource, o.data FROM owners w JOIN objects o ON o.uid = w.dependent_uid "
            "WHERE w.owner_uid = ? ORDER BY o.resource, o.namespace, o.name",
            (owner_uid,)).fetchall()
        return [(r[0], loads(r[1])) for r in rows]

    def has_dependents(self, owner_uid: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM owners w JOIN objects o ON o.uid = w.dependent_uid "
            "WHERE w.owner_uid = ? LIMIT 1", (owner_uid,)).fetchone()
        return row is not None

    def insert(self, resource: str, obj: Obj) -> Obj:
        self._stamp(obj)
        data = dumps(obj)  # the row and its event hold the same text
        md = metadata(obj)
        self.conn.execute(
            "INSERT INTO objects (resource, namespace, name, uid, rv, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (resource, namespace_of(obj), str(md["name"]), str(md["uid"]), self.rv, data))
        self._index_owners(obj, added=owner_uids(obj), removed=set())
        self._event(resource, EventType.ADDED, obj, None, data=data)
        return obj

    def replace(self, resource: str, obj: Obj, prev: Obj) -> Obj:
        self._stamp(obj)
        data = dumps(obj)
        self.conn.execute(
            "UPDATE objects SET rv = ?, data = ? "
            "WHERE resource = ? AND namespace = ? AND name = ?",
            (self.rv, data, resource, namespace_of(obj), metadata(obj)["name"]))
        old, new = owner_uids(prev), owner_uids(obj)
        self._index_owners(obj, added=new - old, removed=old - new)
        self._event(resource, EventType.MODIFIED, obj, prev, data=data)
        return obj

    def remove(self, resource: str, obj: Obj) -> Obj:
        """Delete the row; the DELETED event carries the last state at a new resourceVersion."""
        self._stamp(obj)
        self.conn.execute(
            "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
            (resource, namespace_of(obj), metadata(obj)["name"]))
        self.conn.execute("DELETE FROM owners WHERE dependent_uid = ?", (uid_of(obj),))
        self._event(resource, EventType.DELETED, obj, None)
        self.removed[uid_of(obj)] = obj
        return obj

    def _stamp(self, obj: Obj) -> None:
        self.rv += 1
        metadata(obj)["resourceVersion"] = str(self.rv)

    def _index_owners(self, obj: Obj, *, added: set[str], removed: set[str]) -> None:
        uid = uid_of(obj)
        self.conn.executemany("INSERT OR IGNORE INTO owners (owner_uid, dependent_uid) "
                              "VALUES (?, ?)", [(o, uid) for o in sorted(added)])
        self.conn.executemany("DELETE FROM owners WHERE owner_uid = ? AND dependent_uid = ?",
                              [(o, uid) for o in sorted(removed)])

    def _event(self, resource: str, kind: EventType, obj: Obj, prev: Obj | None, *,
               data: str | None = None) -> None:
        self.conn.execute(
            "INSERT INTO events (rv, resource, namespace, type, data, prev) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.rv, resource, namespace_of(obj), kind.value, data if data is not None else dumps(obj),
             dumps(prev) if prev is not None else None))
