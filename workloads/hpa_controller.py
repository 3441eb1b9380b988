"""The HorizontalPodAutoscaler controller: follows HPAs through the store's watch and syncs
each one every sync period (15 s, as kube-controller-manager) and whenever its spec changes:
reads the target's scale and pods, the pods' samples from the node agents (telemetry), runs
the pure planner (workloads/hpa.py), and writes the target's replicas, the HPA's status and
its events."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from engine.clock import Clock, utcnow
from engine.controllers.loop import KeyedLoop
from engine.errors import ConflictError, NotFoundError, TugError
from engine.events import EventRecorder
from engine.labels import selector_from_label_selector
from workloads.hpa import History, HpaPlan, Scale, plan, rescale_failed, scale_unknown
from workloads.hpa_metrics import HpaConfig

log = logging.getLogger("tugboat.hpa")

COMPONENT = "horizontal-pod-autoscaler"
SCALABLE = {"Deployment": "deployments", "ReplicaSet": "replicasets"}  # kinds with a scale
NO_AGENTS = "no node agent samples pods: this control plane runs without a Ray cluster"

Obj = dict[str, Any]
Samples = Callable[[list[Obj]], dict[str, Obj]]  # pods -> uid -> sample (Telemetry.pod_samples)


class HpaController(KeyedLoop):
    name = COMPONENT

    def __init__(self, store: Any, *, samples: Samples | None, clock: Clock = utcnow,
                 config: HpaConfig | None = None) -> None:
        super().__init__(store)
        self.samples = samples
        self.clock = clock
        self.config = config or HpaConfig()
        self.events = EventRecorder(store, component=COMPONENT, clock=clock)
        self._hpas: dict[str, Obj] = {}  # uid -> HPA
        self._history: dict[str, History] = {}  # uid -> what it recommended and did lately

    async def start(self) -> None:
        self.start_following(("horizontalpodautoscalers", self._on_hpa))

    def _on_hpa(self, kind: str, hpa: Obj) -> None:
        if kind == "RELIST":
            self._hpas = {}
            return
        uid = hpa["metadata"]["uid"]
        if kind == "DELETED":
            self._hpas.pop(uid, None)
            self._history.pop(uid, None)
            self.forget(uid)
            return
        before = self._hpas.get(uid)
        self._hpas[uid] = hpa
        if before is None or before.get("spec") != hpa.get("spec"):
            self.enqueue(uid)  # new or changed; its own status writes wait for the period

    def sync_keys(self, keys: list[str]) -> None:
        self.sync_each(keys, self.sync)

    def sync(self, uid: str) -> HpaPlan | None:
        hpa = self._hpas.get(uid)
        if hpa is None:
            return None
        self.after(uid, self.config.sync_period_s)
        now = self.clock()
        ns = hpa["metadata"]["namespace"]
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        kind, name = str(ref.get("kind")), str(ref.get("name"))
        resource = SCALABLE.get(kind)
        target = None
        if resource is None:
            result = scale_unknown(hpa, f"{kind} has no scale subresource in tugboat "
                                        f"(Deployment and ReplicaSet have)", now)
        else:
            try:
                target = self.store.get(resource, ns, name)
            except NotFoundError:
                result = scale_unknown(hpa, f'{resource}.apps "{name}" not found', now)
        if target is not None:
            result = self._plan(hpa, target, now)
            if result.replicas is not None:
                self._rescale(hpa, target, result, now)
        self.events.record_all([(hpa, *event) for event in result.events])
        if result.status != (hpa.get("status") or {}):
            try:
                self._hpas[uid] = self.store.update_status("horizontalpodautoscalers",
                                                           {**hpa, "status": result.status})
            except (ConflictError, NotFoundError):
                self.after(uid, 1.0)  # changed meanwhile: its event brings the newer one
        return result

    def _plan(self, hpa: Obj, target: Obj, now: Any) -> HpaPlan:
        spec = target.get("spec") or {}
        selector = spec.get("selector")
        pods: list[Obj] = []
        if selector:
            try:
                pods = self.store.list("pods", hpa["metadata"]["namespace"],
                                       label_selector=selector_from_label_selector(selector))[0]
            except TugError:
                selector = None  # the planner says InvalidSelector
        samples = self.samples(pods) if self.samples is not None and pods else {}
        history = self._history.setdefault(hpa["metadata"]["uid"], History())
        replicas = spec.get("replicas")
        return plan(hpa, Scale(replicas if isinstance(replicas, int) else 1, selector), pods, samples,
                    history, now, self.config, why_none=None if self.samples is not None else NO_AGENTS)

    def _rescale(self, hpa: Obj, target: Obj, result: HpaPlan, now: Any) -> None:
        cur = copy.deepcopy(target)
        cur.setdefault("spec", {})["replicas"] = result.replicas
        resource = SCALABLE[str(target.get("kind"))]
        try:
            self.store.update(resource, cur)
        except TugError as exc:
            rescale_failed(result, str(exc), now)
            return
        if (hpa.get("spec") or {}).get("behavior") is not None:
            self._history[hpa["metadata"]["uid"]].scaled(now.timestamp(), result.before,
                                                          int(result.replicas or 0))
