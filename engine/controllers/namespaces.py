"""The namespace controller: a deleted namespace is Terminating (it holds NAMESPACE_FINALIZER)
until everything in it is gone. Level-based: each look deletes what is left and counts what is
still stopping, so a deletion cut short by a crash is finished from the store when the control
plane starts again."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from typing import Any

from engine.clock import Clock, format_time, utcnow
from engine.controllers.loop import KeyedLoop
from engine.errors import ConflictError, NotFoundError

Obj = dict[str, Any]

NAMESPACE_FINALIZER = "kubernetes"  # as Kubernetes names the namespace controller's finalizer
LOOK_AGAIN_S = 1.0  # while what is left is still stopping (pods within their grace period)
PROTECTED = ("default", "kube-system")


def remaining_message(left: Mapping[str, int]) -> str:
    """Kubernetes' NamespaceContentRemaining wording: "Some resources are remaining: pods has 2 objects"."""
    parts = ", ".join(f"{plural} has {count} object{'s' if count != 1 else ''}"
                      for plural, count in sorted(left.items()))
    return f"Some resources are remaining: {parts}"


def terminating_status(left: Mapping[str, int], now: str) -> Obj:
    """The status of a Terminating namespace with `left` objects (plural -> count) still in it."""
    status: Obj = {"phase": "Terminating"}
    if left:
        status["conditions"] = [{"type": "NamespaceContentRemaining", "status": "True",
                                 "lastTransitionTime": now, "reason": "SomeResourcesRemain",
                                 "message": remaining_message(left)}]
    return status


class NamespaceController(KeyedLoop):
    name = "namespace-controller"

    def __init__(self, store: Any, *, clock: Clock = utcnow) -> None:
        super().__init__(store)
        self.clock = clock
        self._namespaces: dict[str, Obj] = {}

    async def start(self) -> None:
        self.start_following(("namespaces", self._on_namespace))

    def _on_namespace(self, kind: str, ns: Obj) -> None:
        if kind == "RELIST":
            self._namespaces = {}
            return
        name = ns["metadata"]["name"]
        if kind == "DELETED":
            self._namespaces.pop(name, None)
            self.forget(name)
            return
        self._namespaces[name] = ns
        if ns["metadata"].get("deletionTimestamp"):
            self.enqueue(name)

    def sync_keys(self, keys: list[str]) -> None:
        self.sync_each(keys, self.sync)

    def sync(self, name: str) -> int | None:
        """Delete what is left in a Terminating namespace; drop the finalizer once nothing is.
        The number of objects still there (None: not Terminating)."""
        ns = self._namespaces.get(name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return None
        from engine.api import RESOURCES

        left: dict[str, int] = {}
        for info in RESOURCES:
            if not info.namespaced:
                continue
            for obj in self.store.list(info.plural, name)[0]:
                meta = obj["metadata"]
                if not meta.get("deletionTimestamp"):
                    with contextlib.suppress(NotFoundError, ConflictError):
                        obj = self.store.delete(info.plural, name, meta["name"], uid=meta.get("uid"))
                if obj["metadata"].get("deletionTimestamp"):  # still stopping, or held by a finalizer
                    left[info.plural] = left.get(info.plural, 0) + 1
        total = sum(left.values())
        if total:
            self._set_status(ns, terminating_status(left, format_time(self.clock())))
            self.after(name, LOOK_AGAIN_S)
            return total
        cur = copy.deepcopy(ns)
        cur["metadata"]["finalizers"] = [f for f in cur["metadata"].get("finalizers") or []
                                         if f != NAMESPACE_FINALIZER]
        cur["metadata"].pop("resourceVersion", None)
        with contextlib.suppress(NotFoundError):
            self.store.update("namespaces", cur)
        return 0

    def _set_status(self, ns: Obj, status: Obj) -> None:
        old = ns.get("status") or {}
        same = old.get("phase") == status.get("phase") and [
            c.get("message") for c in old.get("conditions") or []] == [
            c.get("message") for c in status.get("conditions") or []]
        if same:
            return
        with contextlib.suppress(NotFoundError, ConflictError):
            self._namespaces[ns["metadata"]["name"]] = self.store.update_status(
                "namespaces", {**ns, "status": status})
