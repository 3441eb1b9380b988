"""The Store: durable Kubernetes-shaped objects on SQLite with resourceVersions and watches."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.clock import Clock, utcnow
from engine.errors import BadRequestError, ConflictError, UnavailableError
from engine.labels import FieldSelector, Selector, parse_field_selector, parse_selector
from engine.store import pages, schema, writes
from engine.store.gc import Collector, GracefulRule, Propagation
from engine.store.objects import Obj, loads, needs_graceful, uid_of
from engine.store.txn import Txn
from engine.store.watch import EventLog, ResourceWatch, WatchFilter, WatchStream, parse_since
from engine.store.writes import ApplyResult, not_found

ApplyOp = tuple[Any, ...]  # (action, resource, obj) or (action, resource, obj, namespaced)

_COMPACT_EVERY = 100

# True in a task (an API request with dryRun=All) whose writes are made in full (checks,
# generated fields, garbage collection) and then rolled back: no change, no event. A context
# variable, so the controllers' tasks write as usual while such a request waits.
DRY_RUN: ContextVar[bool] = ContextVar("tugboat_store_dry_run", default=False)
_ACTIONS = ("create", "update", "update_status", "create_or_update")


class Store:
    """Objects keyed by (resource, namespace, name); every write is on disk before it returns.

    One global resourceVersion counts every change across all resources (like an etcd
    revision); each change is also an event row that watchers read in order.
    Use from one thread (the event loop's); watchers are async iterators.
    """

    def __init__(self, path: Path, *, clock: Clock = utcnow, history: int = 10000,
                 needs_graceful: GracefulRule = needs_graceful) -> None:
        self._conn = schema.connect(path)
        self._clock = clock
        self._history = history
        self._needs_graceful = needs_graceful
        self._writes = 0
        self._log = EventLog(self._conn, rv=schema.read_counter(self._conn, "rv"),
                             compacted=schema.read_counter(self._conn, "compacted"))
        with self._write():
            pass  # the first write compacts what an earlier run left beyond `history`

    def now(self) -> datetime:
        """The store's time (its clock: a fixed one in the TUI's snapshot tests)."""
        return self._clock()

    def close(self) -> None:
        """Close the file; watchers end their iteration."""
        if not self._log.closed:
            self._log.close()
            self._conn.close()

    def resource_version(self) -> str:
        return str(self._log.rv)

    def ping(self) -> None:
        """Raise unless the database answers a query (readiness)."""
        self._db().execute("SELECT 1").fetchone()

    # reads

    def get(self, resource: str, namespace: str | None, name: str) -> Obj:
        row = self._db().execute(
            "SELECT data FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
            (resource, namespace or "", name)).fetchone()
        if row is None:
            raise not_found(resource, name)
        return loads(row[0])

    def list(self, resource: str, namespace: str | None = None, *,
             label_selector: Selector | str | None = None,
             field_selector: FieldSelector | str | None = None) -> tuple[builtins.list[Obj], str]:
        """Objects sorted by (namespace, name), and the store's resourceVersion."""
        flt = _filter(resource, namespace, label_selector, field_selector)
        return [obj for _, obj in self._snapshot(flt)], self.resource_version()

    def list_json(self, resource: str, namespace: str | None = None) -> tuple[builtins.list[str], str]:
        """`list` with no selector, each object as the JSON text it is stored as (not parsed):
        what a server answering a plain list sends on unchanged."""
        sql = "SELECT data FROM objects WHERE resource = ?"
        args = [resource]
        if namespace is not None:
            sql += " AND namespace = ?"
            args.append(namespace)
        rows = self._db().execute(sql + " ORDER BY namespace, name", args)
        return [d for (d,) in rows], self.resource_version()

    def list_page(self, resource: str, namespace: str | None, *, rv: int | None,
                  after: pages.Key | None) -> tuple[builtins.list[tuple[pages.Key, str]], str]:
        """A page's worth of `list_json`: the stored texts with their keys, after `after`, as
        they were at `rv` (None: now); and that resourceVersion (engine/store/pages.py)."""
        now = self._log.rv
        at = now if rv is None else rv
        return pages.texts_at(self._db(), resource, namespace, rv=at, now=now,
                              compacted=self._log.compacted, after=after), str(at)

    # writes

    def create(self, resource: str, obj: Obj, *, namespaced: bool = True) -> Obj:
        with self._write() as tx:
            return writes.create(tx, resource, obj, namespaced=namespaced)

    def update(self, resource: str, obj: Obj) -> Obj:
        """Replace spec and metadata, keeping status; 409 on a stale resourceVersion."""
        with self._write() as tx:
            return writes.update(tx, self._collector(tx), resource, obj)[1]

    def update_status(self, resource: str, obj: Obj) -> Obj:
        """Replace status only; 409 on a stale resourceVersion."""
        with self._write() as tx:
            return writes.update_status(tx, resource, obj)

    def bind(self, bindings: Sequence[tuple[str, str, str, str] | tuple[str, str, str, str, dict[str, str]]]
             ) -> builtins.list[Obj | None]:
        """Bind pods to nodes, (namespace, name, uid, node[, annotations]) each, in one transaction;
        each result is the bound pod, or None where the pod is gone, replaced, bound or no longer
        Pending."""
        with self._write() as tx:
            return [writes.bind(tx, *b) for b in bindings]

    def create_or_update(self, resource: str, obj: Obj, *,
                         namespaced: bool = True) -> tuple[ApplyResult, Obj]:
        return self.apply_all([("create_or_update", resource, obj, namespaced)])[0]

    def apply_all(self, ops: Sequence[ApplyOp]) -> builtins.list[tuple[ApplyResult, Obj]]:
        """Run (action, resource, obj[, namespaced=True]) ops in one transaction: all or none.

        action is "create", "update" (checks resourceVersion), "update_status" (status only;
        checks a given resourceVersion) or "create_or_update" (`kubectl apply`: ignores
        resourceVersion). Returns (result, stored object) per op.
        """
        with self._write() as tx:
            return [self._apply_one(tx, op) for op in ops]

    def delete(self, resource: str, namespace: str | None, name: str, *,
               propagation: str = "Background", grace_seconds: int | None = None,
               graceful: bool | None = None, uid: str | None = None) -> Obj:
        """Delete and cascade to dependents; return the object after (its last state if gone).

        `graceful` None asks the store's rule (pods bound to a node and not finished);
        a graceful or finalized object is only marked with a deletionTimestamp. A second
        delete with a shorter grace (0: "it has stopped") takes it out when no finalizer
        is left.
        """
        policy = Propagation.parse(propagation)
        if grace_seconds is not None and grace_seconds < 0:
            raise BadRequestError("gracePeriodSeconds: must not be negative")
        with self._write() as tx:
            obj = tx.find(resource, namespace or "", name)
            if obj is None:
                raise not_found(resource, name)
            if uid is not None and uid != uid_of(obj):
                raise ConflictError(f"Precondition failed: UID in precondition: {uid}, "
                                    f"UID in object meta: {uid_of(obj)}")
            return self._collector(tx).delete(resource, obj, propagation=policy,
                                              grace=grace_seconds, graceful=graceful)

    def delete_all(self, resource: str, targets: Sequence[tuple[str | None, str, str]], *,
                   propagation: str = "Background", grace_seconds: int | None = None
                   ) -> builtins.list[Obj | None]:
        """Delete every (namespace, name, uid) in one transaction, each as `delete` with the
        store's rule for grace: all or none, so a crash never leaves a delete-collection half
        done. None for a target already gone or replaced (another uid)."""
        policy = Propagation.parse(propagation)
        if grace_seconds is not None and grace_seconds < 0:
            raise BadRequestError("gracePeriodSeconds: must not be negative")
        out: builtins.list[Obj | None] = []
        with self._write() as tx:
            collector = self._collector(tx)
            for namespace, name, uid in targets:
                obj = tx.find(resource, namespace or "", name)
                if obj is None or uid_of(obj) != uid:
                    out.append(None)
                    continue
                out.append(collector.delete(resource, obj, propagation=policy, grace=grace_seconds))
        return out

    # watches

    def watch(self, resource: str, namespace: str | None = None, *, since: str | None = None,
              label_selector: Selector | str | None = None,
              field_selector: FieldSelector | str | None = None) -> ResourceWatch:
        """(type, object) for every change after `since`, from the moment of this call.

        `since` None or "0" first lists the matching objects as ADDED. Raises GoneError here
        when `since` is already compacted; a watcher that falls more than `history` events
        behind gets GoneError from the iterator.
        """
        flt = _filter(resource, namespace, label_selector, field_selector)
        return ResourceWatch(self._stream(flt, since))

    def watch_all(self, since: str | None = None) -> WatchStream:
        """(resource, type, object) for every change of every resource; see `watch`."""
        return self._stream(WatchFilter(), since)

    # internals

    def _stream(self, flt: WatchFilter, since: str | None) -> WatchStream:
        start = parse_since(since)
        self._db()
        return WatchStream(self._log, flt, start, self._snapshot)

    def _snapshot(self, flt: WatchFilter) -> builtins.list[tuple[str, Obj]]:
        sql = "SELECT resource, data FROM objects"
        where, args = [], []
        if flt.resource is not None:
            where.append("resource = ?")
            args.append(flt.resource)
        if flt.namespace is not None:
            where.append("namespace = ?")
            args.append(flt.namespace)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db().execute(sql + " ORDER BY resource, namespace, name", args)
        found = ((r, loads(d)) for r, d in rows)
        return [(r, obj) for r, obj in found if flt.selects(obj)]

    def _apply_one(self, tx: Txn, op: ApplyOp) -> tuple[ApplyResult, Obj]:
        if len(op) not in (3, 4) or op[0] not in _ACTIONS:
            raise BadRequestError(f"apply_all: bad operation {op[:2]!r}: expected "
                                  "(create|update|update_status|create_or_update, resource, obj"
                                  "[, namespaced])")
        action, resource, obj = op[0], str(op[1]), op[2]
        namespaced = bool(op[3]) if len(op) == 4 else True
        if action == "create":
            return ApplyResult.CREATED, writes.create(tx, resource, obj, namespaced=namespaced)
        if action == "update":
            return writes.update(tx, self._collector(tx), resource, obj)
        if action == "update_status":
            stored = writes.update_status(tx, resource, obj)
            return ApplyResult.CONFIGURED, stored
        return writes.create_or_update(tx, self._collector(tx), resource, obj,
                                       namespaced=namespaced)

    def _collector(self, tx: Txn) -> Collector:
        return Collector(tx, needs_graceful=self._needs_graceful)

    def _db(self) -> sqlite3.Connection:
        if self._log.closed:
            raise UnavailableError("the store is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[Txn]:
        """One transaction: committed (and synced) on success, rolled back on any error."""
        conn = self._db()
        tx = Txn(conn, rv=self._log.rv, now=self._clock())
        conn.execute("BEGIN IMMEDIATE")
        if DRY_RUN.get():
            try:
                yield tx
            finally:
                conn.execute("ROLLBACK")
            return
        try:
            yield tx
            compacted = self._log.compacted
            if tx.rv != self._log.rv:
                schema.write_counter(conn, "rv", tx.rv)
            if self._writes % _COMPACT_EVERY == 0:
                compacted = schema.compact(conn, rv=tx.rv, history=self._history) or compacted
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if tx.rv != self._log.rv or compacted != self._log.compacted:
            self._writes += 1
            self._log.committed(rv=tx.rv, compacted=compacted)


def _filter(resource: str, namespace: str | None, labels: Selector | str | None,
            fields: FieldSelector | str | None) -> WatchFilter:
    return WatchFilter(
        resource=resource,
        namespace=namespace,
        labels=parse_selector(labels) if isinstance(labels, str) else labels,
        fields=parse_field_selector(fields) if isinstance(fields, str) else fields)
