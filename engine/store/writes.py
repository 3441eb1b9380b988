"""Create, update, status update and apply of single objects inside a transaction."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from engine.clock import format_time
from engine.errors import AlreadyExistsError, NotFoundError
from engine.store import generated, objects
from engine.store.gc import Collector
from engine.store.objects import (
    Obj,
    check_version,
    finalizers,
    is_removable,
    keep_managed,
    merge_status,
    merge_update,
    metadata,
    name_of,
    namespace_of,
    owner_uids,
    prepare_create,
)
from engine.store.txn import Txn

_GENERATE_TRIES = 8


class ApplyResult(StrEnum):
    """What a write did, as `kubectl apply` reports it."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"


def not_found(resource: str, name: str) -> NotFoundError:
    return NotFoundError(f'{resource} "{name}" not found')


def create(tx: Txn, resource: str, obj: Obj, *, namespaced: bool) -> Obj:
    new = prepare_create(resource, obj, namespaced=namespaced)
    md = metadata(new)
    md["uid"] = objects.new_uid()
    md["creationTimestamp"] = format_time(tx.now)
    if md.get("name"):
        if tx.find(resource, namespace_of(new), md["name"]) is not None:
            raise AlreadyExistsError(f'{resource} "{md["name"]}" already exists')
        generated.on_create(resource, new)
        return tx.insert(resource, new)
    for _ in range(_GENERATE_TRIES):
        md["name"] = f"{md['generateName']}{objects.random_suffix()}"
        if tx.find(resource, namespace_of(new), md["name"]) is None:
            generated.on_create(resource, new)
            return tx.insert(resource, new)
    raise AlreadyExistsError(f'{resource} "{md["name"]}" already exists: could not generate '
                             f'a unique name from "{md["generateName"]}"')


def update(tx: Txn, gc: Collector, resource: str, obj: Obj, *,
           check: bool = True) -> tuple[ApplyResult, Obj]:
    """Replace all but status; with `check`, a given resourceVersion must match (409)."""
    stored = _stored(tx, resource, obj)
    if check:
        check_version(resource, stored, obj)
    given = objects.clone(obj)
    generated.on_update(resource, stored, given)
    new = merge_update(resource, stored, given)
    if new == stored:
        return ApplyResult.UNCHANGED, stored
    if finalizers(stored) and is_removable(new):
        return ApplyResult.CONFIGURED, gc.remove(resource, new)
    saved = tx.replace(resource, new, stored)
    gc.release_owners(owner_uids(stored) - owner_uids(new))
    return ApplyResult.CONFIGURED, saved


def update_status(tx: Txn, resource: str, obj: Obj) -> Obj:
    stored = _stored(tx, resource, obj)
    check_version(resource, stored, obj)
    new = merge_status(stored, obj)
    if new == stored:
        return stored
    return tx.replace(resource, new, stored)


def bind(tx: Txn, namespace: str, name: str, uid: str, node: str,
         annotations: dict[str, str] | None = None) -> Obj | None:
    """The pods/binding subresource: set spec.nodeName and PodScheduled=True in one change (with
    the binding's annotations copied onto the pod, as Kubernetes does), only while the pod (same
    uid) is unbound, not being deleted and Pending; None when it is not."""
    stored = tx.find("pods", namespace, name)
    if stored is None or metadata(stored).get("uid") != uid:
        return None
    spec, status = stored.get("spec") or {}, stored.get("status") or {}
    if spec.get("nodeName") or metadata(stored).get("deletionTimestamp") \
            or status.get("phase", "Pending") != "Pending":
        return None
    new = objects.clone(stored)
    new.setdefault("spec", {})["nodeName"] = node
    if annotations:
        new["metadata"]["annotations"] = {**(new["metadata"].get("annotations") or {}), **annotations}
    cond = {"type": "PodScheduled", "status": "True", "lastTransitionTime": format_time(tx.now)}
    status = {k: v for k, v in status.items() if k not in ("reason", "message")}
    status["phase"] = "Pending"
    conditions = status.get("conditions")
    kept: list[Any] = conditions if isinstance(conditions, list) else []
    status["conditions"] = [cond, *(c for c in kept  # a malformed stored list is not kept
                                    if isinstance(c, dict) and c.get("type") != "PodScheduled")]
    new["status"] = status
    return tx.replace("pods", new, stored)


def create_or_update(tx: Txn, gc: Collector, resource: str, obj: Obj, *,
                     namespaced: bool) -> tuple[ApplyResult, Obj]:
    """`kubectl apply`: update what exists (any resourceVersion), create the rest."""
    stored = tx.find(resource, namespace_of(obj), name_of(resource, obj))
    if stored is None:
        return ApplyResult.CREATED, create(tx, resource, obj, namespaced=namespaced)
    return update(tx, gc, resource, keep_managed(stored, obj), check=False)


def _stored(tx: Txn, resource: str, obj: Obj) -> Obj:
    name = name_of(resource, obj)
    stored = tx.find(resource, namespace_of(obj), name)
    if stored is None:
        raise not_found(resource, name)
    return stored
