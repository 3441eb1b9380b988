"""The scheduler loop: keeps a cache of nodes and pods from the store's watch, and binds each
pending pod to a node (or records, once, why it waits). It never calls Ray."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from engine.clock import Clock, format_time, utcnow
from engine.clusterconfig import SchedulerConfig
from engine.errors import ConflictError, NotFoundError
from engine.events import EventRecorder
from engine.scheduler.placement import place, snapshot

log = logging.getLogger("tugboat.scheduler")

SCHEDULER_NAME = "default-scheduler"


def _pending(pod: dict[str, Any]) -> bool:
    spec, meta = pod.get("spec") or {}, pod["metadata"]
    return (not spec.get("nodeName") and not meta.get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase", "Pending") == "Pending"
            and spec.get("schedulerName", SCHEDULER_NAME) == SCHEDULER_NAME)


def _scheduled(pod: dict[str, Any], condition: dict[str, Any]) -> dict[str, Any]:
    """The pod's status, still Pending, with `condition` as its PodScheduled condition."""
    status = {**(pod.get("status") or {}), "phase": "Pending"}
    status["conditions"] = [condition] + [c for c in status.get("conditions") or []
                                          if c.get("type") != "PodScheduled"]
    return status


class Scheduler:
    def __init__(self, store: Any, *, clock: Clock = utcnow,
                 config: SchedulerConfig | None = None) -> None:
        self.store = store
        self.config = config or SchedulerConfig()
        self.clock = clock
        self.events = EventRecorder(store, component=SCHEDULER_NAME, clock=clock)
        self._pods: dict[str, dict[str, Any]] = {}
        self._nodes: dict[str, dict[str, Any]] = {}
        self._dirty = asyncio.Event()
        self._told: dict[str, str] = {}  # pod uid -> the last unschedulable message recorded
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._follow("nodes", self._nodes)),
                       asyncio.create_task(self._follow("pods", self._pods)),
                       asyncio.create_task(self._loop())]

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _follow(self, resource: str, cache: dict[str, dict[str, Any]]) -> None:
        while True:
            try:
                items, rv = self.store.list(resource)
                cache.clear()
                cache.update({o["metadata"]["uid"]: o for o in items})
                self._dirty.set()
                async for kind, obj in self.store.watch(resource, since=rv):
                    uid = obj["metadata"]["uid"]
                    if kind == "DELETED":
                        cache.pop(uid, None)
                        self._told.pop(uid, None)
                    else:
                        cache[uid] = obj
                    self._dirty.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - relist and go on
                log.exception("%s watch failed; relisting", resource)
                await asyncio.sleep(0.5)

    async def _loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                self.schedule_pending()
            except Exception:  # noqa: BLE001 - the loop never dies
                log.exception("scheduling pass failed")
                await asyncio.sleep(0.5)
                self._dirty.set()

    def schedule_pending(self) -> int:
        """One pass: bind every pending pod that fits, highest priority then oldest first."""
        pending = sorted((p for p in self._pods.values() if _pending(p)),
                         key=lambda p: (-int((p.get("spec") or {}).get("priority") or 0),
                                        p["metadata"].get("creationTimestamp", ""),
                                        p["metadata"]["name"]))
        if not pending:
            return 0
        states = snapshot(list(self._nodes.values()), list(self._pods.values()))
        bound = 0
        for pod in pending:
            decision = place(pod, states, strategy=self.config.strategy,
                             resources=list(self.config.resources))
            if decision.node is None:
                self._unschedulable(pod, decision.message)
                continue
            if self._bind(pod, decision.node):
                states[decision.node].add(pod)
                bound += 1
        return bound

    def _bind(self, pod: dict[str, Any], node: str) -> bool:
        meta = pod["metadata"]
        now = format_time(self.clock())
        try:
            cur = self.store.get("pods", meta["namespace"], meta["name"])
            if cur["metadata"]["uid"] != meta["uid"] or not _pending(cur):
                return False
            cur["spec"]["nodeName"] = node
            cur = self.store.update("pods", cur)
            status = _scheduled(cur, {"type": "PodScheduled", "status": "True",
                                      "lastTransitionTime": now})
            status.pop("reason", None)
            status.pop("message", None)
            cur["status"] = status
            cur["metadata"].pop("resourceVersion", None)
            cur = self.store.update_status("pods", cur)
        except (ConflictError, NotFoundError):
            self._dirty.set()
            return False
        self._pods[meta["uid"]] = cur
        self._told.pop(meta["uid"], None)
        self.events.record(cur, "Normal", "Scheduled",
                           f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}")
        return True

    def _unschedulable(self, pod: dict[str, Any], message: str) -> None:
        uid = pod["metadata"]["uid"]
        if self._told.get(uid) == message:
            return
        self._told[uid] = message
        meta = pod["metadata"]
        try:
            cur = self.store.get("pods", meta["namespace"], meta["name"])
        except NotFoundError:
            return
        cur["status"] = _scheduled(cur, {
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message, "lastTransitionTime": format_time(self.clock())})
        cur["metadata"].pop("resourceVersion", None)
        self.store.update_status("pods", cur)
        self.events.record(cur, "Warning", "FailedScheduling", message)
