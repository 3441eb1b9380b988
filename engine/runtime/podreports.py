"""What the runtime writes into a pod from its runner's reports: the status (merged, GPUs
described, host ports annotated once), the events, and the endings no container reported
(NodeLost, PodLost, PodActorDied) as Kubernetes marks containers it cannot locate."""

from __future__ import annotations

import copy
from typing import Any

import ray

from engine.clock import Clock, format_time
from engine.errors import NotFoundError
from engine.events import EventRecorder
from engine.objects import TERMINAL_PHASES
from engine.runtime.nodes import node_name
from engine.runtime.podstatus import annotate_ports, describe_gpus, merge_conditions, unknown_end
from gpu import Inventory


class PodReports:
    """Mixed into engine/runtime/runtime.Runtime, whose state these read."""

    store: Any
    events: EventRecorder
    clock: Clock
    _inventory: dict[str, Inventory]
    _pods: dict[str, Any]

    def _last_event_time(self, pod: dict[str, Any]) -> str:
        meta = pod["metadata"]
        events, _ = self.store.list("events", meta.get("namespace"),
                                    field_selector=f"involvedObject.uid={meta['uid']}")
        return max((str(e.get("lastTimestamp") or "") for e in events
                    if (e.get("source") or {}).get("component") == "kubelet"), default="")

    def _write_status(self, pod: dict[str, Any], status: dict[str, Any],
                      events: list[tuple[str, str, str, str | None]] | None = None) -> bool:
        """Merge `status` into the stored pod's, with `events` (type, reason, message, time) about
        it, in one store transaction; False when the pod is gone (or is another by that name)."""
        meta = pod["metadata"]
        try:
            cur = self.store.get("pods", meta["namespace"], meta["name"])
        except NotFoundError:
            return False
        if cur["metadata"]["uid"] != meta["uid"]:
            return False
        merged = {**(cur.get("status") or {}), **status}
        if merged.get("gpus"):
            merged["gpus"] = describe_gpus(self._inventory.get(cur["spec"].get("nodeName") or ""),
                                           merged["gpus"])
        merged["conditions"] = merge_conditions((cur.get("status") or {}).get("conditions"),
                                                 status.get("conditions"))
        cur["metadata"].pop("resourceVersion", None)
        ops: list[Any] = []
        if annotate_ports(cur, merged):  # once a pod: its node ports, where Services look
            ops.append(("update", "pods", copy.deepcopy(cur)))
        cur["status"] = merged
        ops.append(("update_status", "pods", cur))
        recorded, committed = self.events.ops(pod, events or [], host=cur["spec"].get("nodeName"))
        self.store.apply_all(recorded + ops)
        committed()
        return True

    def _waits(self, pod: dict[str, Any], reason: str, why: str, status: dict[str, Any]) -> None:
        """A pod that cannot be configured yet (engine/runtime/podconfig.py) says why."""
        message = f"Error: {why}" if reason == "Failed" else why
        self.events.record(pod, "Warning", reason, message, host=pod["spec"]["nodeName"])
        self._write_status(pod, status)

    def _fail(self, pod: dict[str, Any], reason: str, message: str) -> None:
        """The pod failed without its containers telling how: mark it, and them, as Kubernetes
        does for containers that cannot be located (ContainerStatusUnknown, 137)."""
        now = format_time(self.clock())
        try:
            current = self.store.get("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        except NotFoundError:
            return
        if (current.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return  # it ended already (its node's loss was seen first)
        self.events.record(pod, "Warning", reason, message, host=pod["spec"].get("nodeName"))
        status: dict[str, Any] = {"phase": "Failed", "reason": reason, "message": message}
        for key in ("containerStatuses", "initContainerStatuses"):
            statuses = (current.get("status") or {}).get(key)
            if statuses:
                status[key] = [unknown_end(c, now) for c in statuses]
        status["conditions"] = [
            {"type": kind, "status": "False", "reason": "PodFailed", "lastTransitionTime": now}
            for kind in ("ContainersReady", "Ready")]
        self._write_status(pod, status)

    def _lose_pods(self, node: str) -> None:
        """A node Ray lost: the pods it ran fail now (NodeLost), before its taint evicts them."""
        for pod in self.store.list("pods", field_selector=f"spec.nodeName={node}")[0]:
            if pod["metadata"]["uid"] in self._pods:
                self._fail(pod, "NodeLost", f"node {node} is gone (Ray reports it dead)")

    def _lost(self, pod: dict[str, Any], exc: Exception) -> None:
        node = pod["spec"]["nodeName"]
        alive = {node_name(e): e.get("Alive") for e in ray.nodes()}
        if not alive.get(node, False):
            self._fail(pod, "NodeLost", f"node {node} is gone (Ray reports it dead)")
        else:
            detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            self._fail(pod, "PodActorDied",
                       f"the pod's Ray actor died ({type(exc).__name__}){': ' + detail if detail else ''}")
