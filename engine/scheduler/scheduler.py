"""The scheduler loop: keeps a cache of nodes and pods from the store's watch, and binds each
pending pod to a node (or records, once, why it waits). It never calls Ray."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from engine.clock import Clock, format_time, utcnow
from engine.clusterconfig import SchedulerConfig
from engine.controllers.loop import backoff, follow
from engine.disruption import disrupt
from engine.errors import ConflictError, NotFoundError
from engine.events import EventRecorder
from engine.objects import (
    ADMISSION,
    ADMITTED,
    GPU,
    GPUS_ANNOTATION,
    PENDING,
    bound_gpus,
    finished,
    job_owner,
    queue_of,
    queued,
)
from engine.scheduler import gang
from engine.scheduler.buckets import Placer
from engine.scheduler.estimate import Durations, estimate_all
from engine.scheduler.filters import gpu_match, gpu_memory_request, run_filters
from engine.scheduler.gpus import awaits_naming, format_indexes
from engine.scheduler.gpus import choose as choose_gpus
from engine.scheduler.placement import FullScan, NodeState, Usage, snapshot, usage_of
from engine.scheduler.preemption import Candidate, choose, eligible, priority_of
from engine.scheduler.queues import BEHIND, UNSCHEDULABLE, QueueState, Verdict, Workload, admit, queue_states
from engine.scheduler.screen import unreadable
from engine.scheduler.workloads import collect, queue_status, template_pod
from storage.claims import Claims, claim_names, one_node_per_claim, scheduling_view

log = logging.getLogger("tugboat.scheduler")

SCHEDULER_NAME = "default-scheduler"
BATCH = 256  # pods bound (or marked unschedulable) per store transaction
ESTIMATE_EVERY = 5.0  # seconds between start estimates while the same workloads wait


def _pending(pod: dict[str, Any]) -> bool:
    spec, meta = pod.get("spec") or {}, pod["metadata"]
    return (not spec.get("nodeName") and not meta.get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase", "Pending") == "Pending"
            and spec.get("schedulerName", SCHEDULER_NAME) == SCHEDULER_NAME)


def _gpu_annotation(state: NodeState, pod: dict[str, Any]) -> dict[str, str]:
    """The binding's annotation naming the GPUs placement chose for `pod` on this node, if any."""
    chosen = state.gpus_of(pod)
    return {GPUS_ANNOTATION: format_indexes(chosen)} if chosen else {}


def _scheduled(pod: dict[str, Any], condition: dict[str, Any]) -> dict[str, Any]:
    """The pod's status, still Pending, with `condition` as its PodScheduled condition."""
    status = {**(pod.get("status") or {}), "phase": "Pending"}
    status["conditions"] = [condition] + [c for c in status.get("conditions") or []
                                          if c.get("type") != "PodScheduled"]
    return status


class Scheduler:
    def __init__(self, store: Any, *, clock: Clock = utcnow,
                 config: SchedulerConfig | None = None, placer: type[Placer | FullScan] = Placer) -> None:
        self.store = store
        self.placer = placer  # FullScan only for the benchmark's baseline
        self.config = config or SchedulerConfig()
        self.clock = clock
        self.events = EventRecorder(store, component=SCHEDULER_NAME, clock=clock)
        self._pods: dict[str, dict[str, Any]] = {}
        self._nodes: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, dict[str, Any]] = {}
        self._queues: dict[str, dict[str, Any]] = {}
        self._classes: dict[str, dict[str, Any]] = {}
        # claims, volumes and storage classes: where a pod with claims may go
        self._storage: dict[str, dict[str, dict[str, Any]]] = {
            "persistentvolumeclaims": {}, "persistentvolumes": {}, "storageclasses": {}}
        self._dirty = asyncio.Event()
        self._told: dict[str, str] = {}  # pod uid -> the last unschedulable message recorded
        self._usage: dict[str, Usage] = {}  # pod uid -> its requests, read once
        self.durations = Durations()  # run times of succeeded pods, for start estimates
        self._estimates: dict[str, dict[str, Any]] = {}
        self._estimated: tuple[datetime, frozenset[str]] | None = None  # when, for which workloads
        self._tasks: list[asyncio.Task[None]] = []
        self._gang_timer: asyncio.TimerHandle | None = None
        self._preempting: dict[str, set[str]] = {}  # Job uid -> its victims' uids while they stop
        # Job uid -> (node, stand-in pod) for each room its preemption freed (a gang's: several)
        self._job_nominations: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self._whole: dict[str, bool] = {}  # resource -> its cache holds a complete list
        self._skipped: dict[str, str] = {}  # uid -> why it was left out of the cache (said once)

    async def start(self) -> None:
        caches = [("nodes", self._nodes), ("pods", self._pods), ("jobs", self._jobs),
                  ("queues", self._queues), ("priorityclasses", self._classes), *self._storage.items()]
        self._whole = {resource: False for resource, _ in caches}
        self._tasks = [asyncio.create_task(self._follow(resource, cache)) for resource, cache in caches]
        self._tasks.append(asyncio.create_task(self._loop()))

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The loops this runs (for readiness: one that is done has stopped)."""
        return list(self._tasks)

    async def close(self) -> None:
        if self._gang_timer is not None:
            self._gang_timer.cancel()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _follow(self, resource: str, cache: dict[str, dict[str, Any]]) -> None:
        def forget(uid: str) -> None:
            cache.pop(uid, None)
            self._told.pop(uid, None)
            self._usage.pop(uid, None)

        def handle(kind: str, obj: dict[str, Any]) -> None:
            if kind == "RELIST":
                cache.clear()
                return
            uid = obj["metadata"]["uid"]
            if kind == "DELETED":
                forget(uid)
                self._skipped.pop(uid, None)
            elif (why := unreadable(resource, obj)) is not None:
                forget(uid)  # one object the passes cannot read must not fail every pass
                self._skip(obj, why)
            else:
                self._skipped.pop(uid, None)
                cache[uid] = obj
                if resource == "pods":
                    self.durations.observe(obj)
            self._dirty.set()

        def synced(whole: bool) -> None:
            self._whole[resource] = whole
            if whole:
                self._dirty.set()

        await follow(self.store, resource, handle, who=SCHEDULER_NAME, synced=synced)

    def _skip(self, obj: dict[str, Any], why: str) -> None:
        """Say once, on the object, that the scheduler leaves it out and why."""
        uid = obj["metadata"]["uid"]
        if self._skipped.get(uid) == why:
            return
        self._skipped[uid] = why
        meta = obj["metadata"]
        log.warning("leaving out %s/%s, which cannot be read: %s", meta.get("namespace") or "-",
                    meta.get("name"), why)
        try:
            self.events.record(obj, "Warning", "Unreadable",
                               f"The scheduler leaves this object out until it can be read: {why}")
        except Exception:  # noqa: BLE001 - saying so must not stop the watch
            log.exception("recording that %s cannot be read failed", meta.get("name"))

    async def _loop(self) -> None:
        failures = 0
        while True:
            await self._dirty.wait()
            for _ in range(3):  # let the watches hand over what already arrived: fewer, fuller passes
                await asyncio.sleep(0)
            self._dirty.clear()
            if not all(self._whole.values()):
                continue  # a partial cache would look like free nodes: wait for the relist
            try:
                self.schedule_pending()
            except Exception:  # noqa: BLE001 - the loop never dies
                failures += 1
                log.exception("scheduling pass failed (%d in a row)", failures)
                await asyncio.sleep(backoff(failures))
                self._dirty.set()
            else:
                failures = 0

    def schedule_pending(self) -> int:
        """One pass. Pods that controllers own are placed first (their workload was admitted);
        then queue admission for Jobs and bare Pods, whose admitted bare pods are bound here."""
        pods = self._pods
        if any(claim_names(p) for p in pods.values() if _pending(p)):  # where a pod with claims may go
            store = {kind: list(objs.values()) for kind, objs in self._storage.items()}
            claims = Claims.of(store["persistentvolumeclaims"], store["persistentvolumes"],
                               store["storageclasses"], pods=pods.values())
            pods = {uid: scheduling_view(p, claims) if _pending(p) else p for uid, p in pods.items()}
        pending = sorted((p for p in pods.values() if _pending(p)),
                         key=lambda p: (-int((p.get("spec") or {}).get("priority") or 0),
                                        p["metadata"].get("creationTimestamp", ""),
                                        p["metadata"]["name"]))
        by_job: dict[str, list[dict[str, Any]]] = {}
        for p in self._pods.values():
            owner = job_owner(p)
            if owner is not None:
                by_job.setdefault(owner, []).append(p)
        slots = self._gangs(by_job)
        self._assign_gpus()
        workloads = collect(pods.values(), self._jobs.values(),
                            {c["metadata"]["name"]: c for c in self._classes.values()},
                            {p["metadata"]["uid"] for p in pending}, usage=self._usage_of)
        if not pending and not any(not w.admitted for w in workloads):
            self._write_queues(queue_states(list(self._queues.values())), workloads, [], None)
            return 0
        placer = self.placer(snapshot(list(self._nodes.values()), list(self._pods.values()),
                                      usage=self._usage_of),
                             strategy=self.config.strategy, resources=list(self.config.resources))
        binds, waits = self._place_owned(pending, placer, slots)
        queues = queue_states(list(self._queues.values()))
        verdicts = admit(queues, workloads, placer)
        jobs: list[Verdict] = []
        for v in verdicts:
            if v.workload.kind == "Job":
                jobs.append(v)
            elif v.admitted:
                binds.append((v.workload.obj, v.nodes[0]))
            else:
                waits.append((v.workload.obj, v.reason, v.message))
        if pods is not self._pods:
            binds, later = one_node_per_claim(binds, claims)
            if later:  # a pod that shares a new volume with one bound now: placed once it is made
                self._dirty.set()
        bound = sum(self._bind(binds[i:i + BATCH], placer.states) for i in range(0, len(binds), BATCH))
        for i in range(0, len(waits), BATCH):
            self._unschedulable(waits[i:i + BATCH])
        preemptors = [(pod, None) for pod, reason, _ in waits if reason == UNSCHEDULABLE and eligible(pod)]
        self._preempt(preemptors + self._job_preemptors(jobs, placer.states), placer.states)
        self._write_jobs(jobs)
        self._write_queues(queues, workloads, verdicts, placer)
        return bound

    def _assign_gpus(self) -> None:
        """Pods bound without this scheduler (spec.nodeName set at create) to a node that lists its
        GPUs, and not started: choose their GPUs too, so that one allocator hands out each GPU.
        The runtime starts them once they are named."""
        # the cheap part of awaits_naming first: bound, none named, asking for GPUs (remembered)
        candidates = [p for p in self._pods.values() if (p.get("spec") or {}).get("nodeName")
                      and bound_gpus(p) is None and self._usage_of(p)[0].get(GPU)]
        if not candidates:
            return
        nodes = {n["metadata"]["name"]: n for n in self._nodes.values()}
        unnamed = [p for p in candidates if awaits_naming(p, nodes.get(p["spec"]["nodeName"]))]
        if not unnamed:
            return
        states = snapshot(list(self._nodes.values()), list(self._pods.values()), usage=self._usage_of)
        for pod in unnamed:
            state, usage = states[pod["spec"]["nodeName"]], self._usage_of(pod)
            count = int(usage[0][GPU])
            state.remove(pod, usage)  # the snapshot counted it on whatever was free: choose properly
            chosen = state.choose_gpus(pod, count)
            state.add(pod, usage, chosen)
            if chosen is None:
                self._gpus_unavailable(pod, state, count)
                continue
            cur = copy.deepcopy(pod)
            cur["metadata"].setdefault("annotations", {}).update(_gpu_annotation(state, pod))
            try:
                self._pods[cur["metadata"]["uid"]] = self.store.update("pods", cur)
            except (ConflictError, NotFoundError):
                self._dirty.set()

    def _gpus_unavailable(self, pod: dict[str, Any], state: NodeState, count: int) -> None:
        """Say once why a pod bound at create waits for its GPUs (or can never have them there)."""
        node = state.name
        match = gpu_match(pod, state.node, state.gpu_kinds)
        need = gpu_memory_request(pod)
        if choose_gpus(state.gpu_units or (), (), count, min_bytes=need, match=match) is None:  # all free
            message = (f"node {node}, named by the pod itself (spec.nodeName), has no {count} healthy GPU(s) "
                       f"that fit it; it cannot start there: delete it, or let the scheduler place it")
        else:
            message = (f"node {node}, named by the pod itself (spec.nodeName), has no {count} free GPU(s) "
                       f"that fit it now; it starts when they are free")
        if self._told.get(pod["metadata"]["uid"]) != message:
            self._told[pod["metadata"]["uid"]] = message
            self.events.record(pod, "Warning", "GPUsUnavailable", message)

    def _place_owned(self, pending: list[dict[str, Any]], placer: Placer | FullScan,
                     slots: dict[str, list[str]]) -> tuple[list[tuple[dict[str, Any], str]],
                                                          list[tuple[dict[str, Any], str, str]]]:
        """Place the pending pods that controllers own (their workload was admitted), keeping
        admitted gangs' slots and the room freed for preemptors; (binds, waits)."""
        binds: list[tuple[dict[str, Any], str]] = []
        waits: list[tuple[dict[str, Any], str, str]] = []
        slots = {uid: [n for n in nodes if n in placer.states]  # a reserved node may be gone
                 for uid, nodes in slots.items()}
        templates = {uid: template_pod(self._jobs[uid]) for uid in slots}
        for uid, nodes in slots.items():  # an admitted gang's room is its own
            for node in nodes:
                placer.assume(templates[uid], node)
        # room freed by preemption is kept for whoever preempted for it, until it is placed
        held = [(p, node) for p in pending
                if (node := (p.get("status") or {}).get("nominatedNodeName")) in placer.states]
        self._job_nominations = {uid: n for uid, n in self._job_nominations.items() if uid in self._jobs}
        held += [(pod, node) for rooms in self._job_nominations.values() for node, pod in rooms
                 if node in placer.states]
        for pod, node in held:
            placer.assume(pod, node)
        mine = {id(pod): (pod, node) for pod, node in held}
        for pod in (p for p in pending if not queued(p)):
            if id(pod) in mine:
                placer.release(*mine.pop(id(pod)))
            owner = job_owner(pod)
            if owner in slots and slots[owner]:
                node = slots[owner].pop(0)
                placer.release(templates[owner], node)
                state = placer.states[node]
                if run_filters(pod, state.node, state) is None:
                    placer.assume(pod, node)
                    binds.append((pod, node))
                    continue
                placer.assume(templates[owner], node)  # the slot no longer fits it: place anew
            decision = placer.place(pod)
            if decision.node is None:
                waits.append((pod, UNSCHEDULABLE, decision.message))
            else:
                placer.assume(pod, decision.node)
                binds.append((pod, decision.node))
        for pod, node in mine.values():  # admission goes by priority: the preemptors come first there
            placer.release(pod, node)
        return binds, waits

    def _usage_of(self, pod: dict[str, Any]) -> Usage:
        uid = pod["metadata"]["uid"]
        if uid not in self._usage:
            self._usage[uid] = usage_of(pod)
        return self._usage[uid]

    def _bind(self, binds: list[tuple[dict[str, Any], str]], states: dict[str, NodeState]) -> int:
        """Bind a batch in one store transaction (with the GPUs chosen for each pod, on nodes that
        list theirs), then record their Scheduled events together."""
        results = self.store.bind([(p["metadata"]["namespace"], p["metadata"]["name"],
                                    p["metadata"]["uid"], node, _gpu_annotation(states[node], p))
                                   for p, node in binds])
        events = []
        for (pod, node), cur in zip(binds, results, strict=True):
            meta = pod["metadata"]
            if cur is None:
                self._dirty.set()  # it changed under us: the next pass sees it as it is
                continue
            self._pods[meta["uid"]] = cur
            self._told.pop(meta["uid"], None)
            events.append((cur, "Normal", "Scheduled",
                           f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}"))
        self.events.record_all(events)
        return len(events)

    def _unschedulable(self, waits: list[tuple[dict[str, Any], str, str]]) -> None:
        """Write each waiting pod's PodScheduled=False condition (reason, message) and event, once
        per new message."""
        now = format_time(self.clock())
        told = []
        for pod, reason, message in waits:
            uid = pod["metadata"]["uid"]
            if self._told.get(uid) == message:
                continue
            self._told[uid] = message
            cur = copy.deepcopy(pod)
            cur["status"] = _scheduled(cur, {
                "type": "PodScheduled", "status": "False", "reason": reason,
                "message": message, "lastTransitionTime": now})
            cur["metadata"].pop("resourceVersion", None)
            told.append((cur, reason, message))
        if not told:
            return
        try:
            self.store.apply_all([("update_status", "pods", p) for p, _, _ in told])
        except NotFoundError:  # one went away meanwhile: write the rest one by one
            for p, _, _ in told:
                with contextlib.suppress(NotFoundError):
                    self.store.update_status("pods", p)
        self.events.record_all([(p, "Warning", "FailedScheduling" if reason == UNSCHEDULABLE else reason,
                                 message) for p, reason, message in told])

    def _job_preemptors(self, verdicts: list[Verdict],
                        states: dict[str, NodeState]) -> list[tuple[dict[str, Any], Workload]]:
        """Pods that stand for the Jobs that capacity keeps waiting: one for a plain Job (once one
        pod fits it is admitted, and its own pods preempt from then on), all for a gang. None
        while the victims of an earlier preemption for that Job are still stopping."""
        out = []
        capacity = sum(int(state.max_pods()) for state in states.values())
        self._preempting = {uid: victims for uid, victims in self._preempting.items() if uid in self._jobs}
        for v in verdicts:
            w = v.workload
            if v.admitted or v.reason != UNSCHEDULABLE:
                continue
            uid = w.obj["metadata"]["uid"]
            if any(victim in self._pods for victim in self._preempting.get(uid, ())):
                continue
            self._preempting.pop(uid, None)
            if w.gang and w.count > capacity:
                continue  # more pods than the nodes could ever hold: evicting cannot help
            for template in w.all_pods(w.count if w.gang else 1):
                pod = copy.deepcopy(template)
                pod["metadata"].update({"name": w.name, "namespace": w.namespace})
                pod["spec"]["priority"] = w.priority
                if eligible(pod):
                    out.append((pod, w))
        return out

    def _preempt(self, preemptors: list[tuple[dict[str, Any], Workload | None]],
                 states: dict[str, NodeState]) -> None:
        """For each pod that fits nowhere (or stands for a waiting Job), highest priority first:
        evict the fewest lower-priority pods on the best node (gracefully, marked
        DisruptionTarget) and nominate that node. Each choice sees the ones before it in this
        pass (victims gone, preemptors placed), so the pods of one gang share the room that one
        eviction makes instead of each evicting on a node of its own."""
        if not preemptors:
            return
        bound: dict[str, list[dict[str, Any]]] = {}
        for p in self._pods.values():
            node = (p.get("spec") or {}).get("nodeName")
            if node and not finished(p):
                bound.setdefault(node, []).append(p)
        lowest = min((priority_of(p) for pods in bound.values() for p in pods), default=None)
        trial = dict(states)  # the nodes this pass evicts on become copies, changed as it goes
        freed: list[str] = []
        for _, job in preemptors:  # a Job preempting again holds only the rooms of this round
            if job is not None:
                self._job_nominations.pop(job.obj["metadata"]["uid"], None)
        for pod, job in sorted(preemptors, key=lambda pj: -priority_of(pj[0])):
            if lowest is None or priority_of(pod) <= lowest:
                break  # nobody has a lower priority than this one (nor than those after it)
            nominated = (pod.get("status") or {}).get("nominatedNodeName")
            if nominated and any(p["metadata"].get("deletionTimestamp") for p in bound.get(nominated, ())):
                continue  # its victims are still stopping
            room = next((n for n in freed if run_filters(pod, trial[n].node, trial[n]) is None), None)
            if room is not None:  # what an earlier eviction in this pass frees is enough
                trial[room].add(pod)
                self._evict(pod, Candidate(room, ()), job)
                continue
            chosen = choose(pod, trial, bound)
            if chosen is None:
                continue
            if chosen.node not in freed:
                trial[chosen.node] = copy.deepcopy(states[chosen.node])
                freed.append(chosen.node)
            gone = {v["metadata"]["uid"] for v in chosen.victims}
            for victim in chosen.victims:
                trial[chosen.node].remove(victim, self._usage_of(victim))
            trial[chosen.node].add(pod)
            bound[chosen.node] = [p for p in bound[chosen.node] if p["metadata"]["uid"] not in gone]
            self._evict(pod, chosen, job)

    def _evict(self, preemptor: dict[str, Any], chosen: Candidate, job: Workload | None = None) -> None:
        meta = preemptor["metadata"]
        who = f"{'job ' if job else ''}{meta['namespace']}/{meta['name']}"
        if job is not None:
            self._preempting.setdefault(job.obj["metadata"]["uid"], set()).update(
                v["metadata"]["uid"] for v in chosen.victims)
            self._job_nominations.setdefault(job.obj["metadata"]["uid"], []).append((chosen.node, preemptor))
        now = format_time(self.clock())
        for victim in chosen.victims:
            message = f"{SCHEDULER_NAME}: preempting to accommodate a higher priority pod ({who})"
            cur = disrupt(self.store, victim, reason="PreemptionByScheduler", message=message, now=now)
            if cur is not None:
                self.events.record(cur, "Normal", "Preempted", f"Preempted by {who} on node {chosen.node}")
        if job is not None:
            if chosen.victims:
                self.events.record(job.obj, "Normal", "Preempting", f"preempting {len(chosen.victims)} "
                                   f"lower-priority pod(s) on node {chosen.node} to make room")
            return
        said = (f"preempting {len(chosen.victims)} lower-priority pod(s) on node {chosen.node}"
                if chosen.victims else f"the room preemption frees on node {chosen.node} is held for it")
        with contextlib.suppress(NotFoundError):
            cur = self.store.get("pods", meta["namespace"], meta["name"])
            cur.setdefault("status", {})["nominatedNodeName"] = chosen.node
            cur["metadata"].pop("resourceVersion", None)
            self.store.update_status("pods", cur)
            self.events.record(cur, "Normal", "Nominated", said)

    def _gangs(self, by_job: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        """Admitted gangs: those that started keep no reservation; those past their timeout
        are given back to their queue (suspended again); the rest keep their free slots."""
        now = self.clock()
        slots: dict[str, list[str]] = {}
        wake: float | None = None
        for uid, job in list(self._jobs.items()):
            if not gang.planned(job):
                continue
            pods = by_job.get(uid, [])
            if gang.started(job, pods):
                self._update_job(job, gang.unreserve)
                continue
            due = gang.deadline(job)
            if due is not None and now >= due:
                running = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
                total = len(gang.planned(job))
                if self._update_job(job, requeue):
                    self.events.record(job, "Warning", "GangTimeout",
                                       f"gang of {total} did not start within {gang.timeout_s(job):g}s "
                                       f"({running}/{total} pods running); its reservation is released "
                                       f"and it waits in queue {queue_of(job)} again")
                continue
            slots[uid] = gang.free_slots(job, pods)
            if due is not None:
                left = (due - now).total_seconds()
                wake = left if wake is None else min(wake, left)
        if self._gang_timer is not None:
            self._gang_timer.cancel()
            self._gang_timer = None
        if wake is not None:
            self._gang_timer = asyncio.get_running_loop().call_later(wake + 0.1, self._dirty.set)
        return slots

    def _update_job(self, job: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> bool:
        cur = copy.deepcopy(job)
        change(cur)
        try:
            self._jobs[cur["metadata"]["uid"]] = self.store.update("jobs", cur)
        except (ConflictError, NotFoundError):
            self._dirty.set()
            return False
        return True

    def _write_jobs(self, verdicts: list[Verdict]) -> None:
        """Admitted Jobs are unsuspended (their controller then creates the pods); the others get
        an event when the reason they wait changes."""
        events = []
        for v in verdicts:
            job = v.workload.obj
            uid = job["metadata"]["uid"]
            if not v.admitted:
                if self._told.get(uid) != v.message:
                    self._told[uid] = v.message
                    events.append((job, "Normal" if v.reason == BEHIND else "Warning", v.reason, v.message))
                continue
            cur = copy.deepcopy(job)
            cur["spec"]["suspend"] = False
            cur["metadata"].setdefault("annotations", {})[ADMISSION] = ADMITTED
            if v.workload.gang:
                gang.reserve(cur, v.nodes, self.clock())
            try:
                cur = self.store.update("jobs", cur)
            except (ConflictError, NotFoundError):
                self._dirty.set()  # changed under us: judged again in the next pass
                continue
            self._jobs[uid] = cur
            self._told.pop(uid, None)
            self._job_nominations.pop(uid, None)
            events.append((cur, "Normal", "Admitted", f"Admitted by queue {v.workload.queue}"))
        self.events.record_all(events)

    def _write_queues(self, queues: dict[str, QueueState], workloads: list[Workload],
                      verdicts: list[Verdict], placer: Placer | FullScan | None) -> None:
        """Each Queue's status, written only when it changed. Start estimates are worked out again
        when other workloads wait, or every ESTIMATE_EVERY seconds."""
        now = self.clock()
        waiting = frozenset(v.workload.key for v in verdicts if not v.admitted)
        if placer is not None and (self._estimated is None or self._estimated[1] != waiting
                                   or (now - self._estimated[0]).total_seconds() >= ESTIMATE_EVERY):
            running = [p for p in self._pods.values()
                       if (p.get("spec") or {}).get("nodeName") and not finished(p)]
            self._estimates = estimate_all(verdicts, queues, running, placer, self.durations, now)
            self._estimated = (now, waiting)
        for uid, obj in list(self._queues.items()):
            state = queues.get(obj["metadata"]["name"])
            if state is None:
                continue
            status = queue_status(state, workloads, verdicts, self._estimates)
            if obj.get("status") == status:
                continue
            cur = {**obj, "status": status, "metadata": {k: v for k, v in obj["metadata"].items()
                                                          if k != "resourceVersion"}}
            with contextlib.suppress(NotFoundError):
                self._queues[uid] = self.store.update_status("queues", cur)


def requeue(job: dict[str, Any]) -> None:
    """Give an admitted Job back to its queue: suspended by it again, its reservation dropped."""
    job["spec"]["suspend"] = True
    job["metadata"].setdefault("annotations", {})[ADMISSION] = PENDING
    gang.unreserve(job)
