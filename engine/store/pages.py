"""Lists in pages (`limit` and `continue`): every page of one list is the store as it was at the
first page's resourceVersion (the objects now, with the changes since rolled back from the
event history), so a client that pages and then watches from that version misses nothing.
The continue token says where a list stopped; it is the client's, so it is read as hostile."""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from typing import Any

from engine.errors import BadRequestError, GoneError

Key = tuple[str, str]  # (namespace, name)

EXPIRED = ("The provided continue parameter is too old to display a consistent list result. "
           "You can start a new list without the continue parameter.")


def token(resource: str, rv: int, key: Key) -> str:
    """The continue token of a page that ended at `key`, in a list read at `rv`."""
    raw = json.dumps({"v": 1, "r": resource, "rv": rv, "ns": key[0], "n": key[1]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_token(text: str, resource: str) -> tuple[int, Key]:
    """(rv, key) of a continue token given for `resource`; a 400 naming `continue` if it is not one."""
    bad = BadRequestError("continue: not a continue token of this list (start the list again "
                          "without it)")
    if len(text) > 4096:
        raise bad
    try:
        got = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not (isinstance(got, dict) and got.get("v") == 1 and got.get("r") == resource
            and type(got.get("rv")) is int and got["rv"] >= 0
            and isinstance(got.get("ns"), str) and isinstance(got.get("n"), str)):
        raise bad
    return got["rv"], (got["ns"], got["n"])


def texts_at(conn: sqlite3.Connection, resource: str, namespace: str | None, *, rv: int, now: int,
             compacted: int, after: Key | None) -> list[tuple[Key, str]]:
    """The objects of `resource` (in `namespace`, or all) as stored texts, in (namespace,
    name) order, after `after`, as they were at revision `rv` (<= `now`, the store's)."""
    if rv > now:
        raise BadRequestError(f"continue: names revision {rv}, beyond the store's {now}")
    if rv < compacted:
        raise GoneError(EXPIRED)
    where, args = ["resource = ?"], [resource]
    if namespace is not None:
        where.append("namespace = ?")
        args.append(namespace)
    sql = "SELECT namespace, name, data FROM objects WHERE " + " AND ".join(where)
    if after is not None:
        sql += " AND (namespace, name) > (?, ?)"
        args += [after[0], after[1]]
    rows = {(ns, name): data for ns, name, data in conn.execute(sql + " ORDER BY namespace, name", args)}
    if rv == now:
        return list(rows.items())
    events = conn.execute("SELECT type, data, prev FROM events WHERE " + " AND ".join(where)
                          + " AND rv > ? ORDER BY rv", [*args[:len(where)], rv])
    seen: set[Key] = set()
    for kind, data, prev in events:  # the first change of each object after rv says what it was
        meta = _meta(data)
        key = (meta.get("namespace") or "", meta.get("name") or "")
        if key in seen:
            continue
        seen.add(key)
        if after is not None and key <= after:
            continue
        then = None if kind == "ADDED" else (prev if kind == "MODIFIED" else data)
        if then is None:
            rows.pop(key, None)
        else:
            rows[key] = then
    return sorted(rows.items())


def _meta(text: str) -> dict[str, Any]:
    meta = json.loads(text).get("metadata")
    return meta if isinstance(meta, dict) else {}
