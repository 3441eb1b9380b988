"""Deletion inside a transaction: finalizers, grace periods and ownerReference cascades."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum

from engine.clock import format_time
from engine.errors import BadRequestError
from engine.store.objects import (
    FOREGROUND_FINALIZER,
    MAX_GRACE_SECONDS,
    Obj,
    clone,
    drop_owner,
    finalizers,
    grace_of,
    is_removable,
    is_terminating,
    metadata,
    owner_uids,
    set_finalizers,
    uid_of,
)
from engine.store.txn import Txn

GracefulRule = Callable[[str, Obj], bool]


class Propagation(StrEnum):
    BACKGROUND = "Background"
    FOREGROUND = "Foreground"
    ORPHAN = "Orphan"

    @classmethod
    def parse(cls, value: str) -> Propagation:
        try:
            return cls(value)
        except ValueError:
            raise BadRequestError(f"propagationPolicy: unsupported value {value!r}: expected "
                                  "one of Background, Foreground, Orphan") from None


class Collector:
    """Deletes objects in one transaction and collects what they owned.

    An object goes away at once unless it has finalizers or needs a graceful stop; then it is
    marked (deletionTimestamp) and goes when the last finalizer is dropped, or, with no
    finalizers, when the caller deletes it again with a grace period of 0.
    """

    def __init__(self, tx: Txn, *, needs_graceful: GracefulRule) -> None:
        self.tx = tx
        self.needs_graceful = needs_graceful

    def delete(self, resource: str, obj: Obj, *, propagation: Propagation,
               grace: int | None = None, graceful: bool | None = None) -> Obj:
        """Delete `obj`; return its state afterwards (the last state when it is gone)."""
        uid = uid_of(obj)
        if propagation is Propagation.ORPHAN:
            self._orphan_dependents(uid)
            obj = self._current(uid) or obj
        if is_terminating(obj):
            return self._delete_again(resource, obj, grace)
        if graceful is None:
            graceful = self.needs_graceful(resource, obj)
        period = (grace if grace is not None else grace_of(obj)) if graceful else 0
        if propagation is Propagation.FOREGROUND and self.tx.has_dependents(uid):
            return self._delete_foreground(resource, obj, period)
        if finalizers(obj) or period > 0:
            return self.tx.replace(resource, self._marked(obj, period), obj)
        return self.remove(resource, obj)

    def remove(self, resource: str, obj: Obj) -> Obj:
        """Take the object out of the store, then settle its owners and its dependents."""
        uid = uid_of(obj)
        last = self.tx.remove(resource, obj)
        self.release_owners(owner_uids(obj))
        for dep_resource, dep in self.tx.dependents(uid):
            self._collect(dep_resource, dep, uid, Propagation.BACKGROUND)
        return last

    def release_owners(self, uids: set[str]) -> None:
        """Finish foreground deletions that were waiting only for dependents now gone."""
        for uid in sorted(uids):
            found = self.tx.find_uid(uid)
            if found is None:
                continue
            resource, owner = found
            if (not is_terminating(owner) or FOREGROUND_FINALIZER not in finalizers(owner)
                    or self.tx.has_dependents(uid)):
                continue
            new = clone(owner)
            set_finalizers(new, [f for f in finalizers(new) if f != FOREGROUND_FINALIZER])
            if is_removable(new):
                self.remove(resource, new)
            else:
                self.tx.replace(resource, new, owner)

    def _delete_again(self, resource: str, obj: Obj, grace: int | None) -> Obj:
        """A delete of a terminating object may only shorten its grace period."""
        current = int(metadata(obj).get("deletionGracePeriodSeconds") or 0)
        if grace is None or grace >= current:
            return obj
        new = self._marked(obj, grace)
        if is_removable(new):
            return self.remove(resource, new)
        return self.tx.replace(resource, new, obj)

    def _delete_foreground(self, resource: str, obj: Obj, period: int) -> Obj:
        uid = uid_of(obj)
        new = self._marked(obj, period)
        set_finalizers(new, [*finalizers(new), FOREGROUND_FINALIZER])
        self.tx.replace(resource, new, obj)
        for dep_resource, dep in self.tx.dependents(uid):
            current = self._current(uid_of(dep))
            if current is not None:
                self._collect(dep_resource, current, uid, Propagation.FOREGROUND)
        self.release_owners({uid})
        return self._current(uid) or self.tx.removed[uid]

    def _collect(self, resource: str, dep: Obj, owner_uid: str,
                 propagation: Propagation) -> None:
        """A dependent of a deleted owner: deleted too, unless another owner still holds it."""
        others = owner_uids(dep) - {owner_uid}
        if any(self.tx.find_uid(o) is not None for o in others):
            new = clone(dep)
            drop_owner(new, owner_uid)
            self.tx.replace(resource, new, dep)
            return
        self.delete(resource, dep, propagation=propagation)

    def _orphan_dependents(self, owner_uid: str) -> None:
        for resource, dep in self.tx.dependents(owner_uid):
            new = clone(dep)
            drop_owner(new, owner_uid)
            self.tx.replace(resource, new, dep)

    def _current(self, uid: str) -> Obj | None:
        found = self.tx.find_uid(uid)
        return found[1] if found else None

    def _marked(self, obj: Obj, grace: int) -> Obj:
        """A copy with deletionTimestamp = now + grace (never later than an earlier mark)."""
        grace = min(grace, MAX_GRACE_SECONDS)
        new = clone(obj)
        md = metadata(new)
        stamp = format_time(self.tx.now + timedelta(seconds=grace))
        if not md.get("deletionTimestamp") or stamp < md["deletionTimestamp"]:
            md["deletionTimestamp"] = stamp
        md["deletionGracePeriodSeconds"] = grace
        return new
