"""The CronJob controller: each CronJob is looked at when it or one of its Jobs changes, and
again just after its next tick (a timer per CronJob, never a poll). It runs the pure planner
(jobs/cronjob.py) and writes: Replace and history deletions, the tick's Job (named by the
tick, so a restart never runs a tick twice), then status and events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from engine.api import validate_object
from engine.clock import Clock, format_time, utcnow
from engine.controllers.loop import MAX_BACKOFF_S, RETRY_S, KeyedLoop
from engine.errors import AlreadyExistsError, ConflictError, NotFoundError, TugError
from engine.events import EventRecorder
from engine.server.admission import admit
from engine.store.objects import clone
from jobs.cronjob import CronPlan, new_job, plan
from jobs.metrics import JobMetrics

COMPONENT = "cronjob-controller"
MAX_RETRY_S = 300.0

Obj = dict[str, Any]


def cronjob_owner(job: Obj) -> str | None:
    for ref in (job.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "CronJob":
            return str(ref.get("uid"))
    return None


class CronJobController(KeyedLoop):
    name = COMPONENT

    def __init__(self, store: Any, *, clock: Clock = utcnow, metrics: JobMetrics | None = None,
                 on_created: Callable[[datetime, datetime], None] | None = None) -> None:
        super().__init__(store)
        self.clock = clock
        self.metrics = metrics
        self.on_created = on_created  # (scheduled time, created time): the creation skew
        self.events = EventRecorder(store, component=COMPONENT, clock=clock)
        self._cronjobs: dict[str, Obj] = {}
        self._jobs: dict[str, dict[str, Obj]] = {}  # cronjob uid -> job uid -> job
        self._templates: dict[tuple[str, Any], Obj] = {}  # (uid, generation) -> defaulted Job
        self._ready: dict[tuple[str, Any, datetime], Obj] = {}  # (uid, generation, tick) -> its Job
        self._refused: dict[str, int] = {}  # uid -> Job creations refused in a row

    async def start(self) -> None:
        self.start_following(("cronjobs", self._on_cronjob), ("jobs", self._on_job))

    def _on_cronjob(self, kind: str, cronjob: Obj) -> None:
        if kind == "RELIST":
            self._cronjobs = {}
            return
        uid = cronjob["metadata"]["uid"]
        if kind == "DELETED":
            self._cronjobs.pop(uid, None)
            self._jobs.pop(uid, None)
            self._refused.pop(uid, None)
            self.forget(uid)
            return
        self._cronjobs[uid] = cronjob
        self.enqueue(uid)

    def _on_job(self, kind: str, job: Obj) -> None:
        if kind == "RELIST":
            self._jobs = {}
            return
        owner = cronjob_owner(job)
        if owner is None:
            return
        if kind == "DELETED":
            self._jobs.get(owner, {}).pop(job["metadata"]["uid"], None)
        else:
            self._remember(job)
        self.enqueue(owner)

    def _remember(self, job: Obj) -> None:
        owner = cronjob_owner(job)
        if owner is not None:
            self._jobs.setdefault(owner, {})[job["metadata"]["uid"]] = job

    def sync_keys(self, keys: list[str]) -> None:
        self.sync_all(keys)
        for uid in keys:
            self.succeeded(uid)

    def on_failure(self, key: str, exc: Exception, retry_in: float) -> None:
        cronjob = self._cronjobs.get(key)
        if cronjob is not None:
            self.events.record(cronjob, "Warning", "SyncFailed",
                               f"the cronjob controller cannot sync this CronJob ({type(exc).__name__}: "
                               f"{exc}); it tries again, less often each time (at most every "
                               f"{MAX_BACKOFF_S:g}s)")

    def sync(self, uid: str) -> CronPlan | None:
        return self.sync_all([uid]).get(uid)

    def sync_all(self, uids: list[str]) -> dict[str, CronPlan]:
        """Plan every CronJob in `uids`; the due ticks' Jobs are created in one transaction (all
        CronJobs due at the same minute wake together), then statuses and events are written."""
        now, planned_at = self.clock(), asyncio.get_running_loop().time()
        plans: dict[str, CronPlan] = {}
        for uid in uids:
            cronjob = self._cronjobs.get(uid)
            if cronjob is not None:
                plans[uid] = plan(cronjob, list(self._jobs.get(uid, {}).values()), now)
        for uid, result in plans.items():
            meta = self._cronjobs[uid]["metadata"]
            for name in result.delete:
                with contextlib.suppress(NotFoundError, ConflictError):
                    self.store.delete("jobs", meta["namespace"], name, propagation="Background")
                    result.events.append(("Normal", "SuccessfulDelete", f"Deleted job {name}"))
        due = [uid for uid, result in plans.items() if result.create is not None]
        for uid in plans.keys() - set(due):  # get the next tick's Job ready now: a tick costs little
            upcoming = plans[uid].upcoming
            if upcoming is not None:
                with contextlib.suppress(TugError):
                    self._prepare(self._cronjobs[uid], upcoming)
        made = self._create_all(due, plans)
        events, statuses = [], []
        for uid, result in plans.items():
            cronjob = self._cronjobs[uid]
            if uid in due and uid not in made:  # its Job was refused: try again, less and less often
                tries = self._refused[uid] = self._refused.get(uid, 0) + 1
                self.after(uid, min(RETRY_S * 2 ** tries, MAX_RETRY_S))
                continue
            self._refused.pop(uid, None)
            if result.status != (cronjob.get("status") or {}):
                meta = {k: v for k, v in cronjob["metadata"].items() if k != "resourceVersion"}
                statuses.append({**cronjob, "status": result.status, "metadata": meta})
            events += [(cronjob, kind, reason, message) for kind, reason, message in result.events]
            if result.requeue_after is not None:
                self.after(uid, result.requeue_after, since=planned_at)
        self._write_statuses(statuses)
        self.events.record_all(events)
        return plans

    def _template(self, cronjob: Obj, tick: datetime) -> Obj:
        """The CronJob's Job validated and defaulted, once per version of the CronJob."""
        key = (cronjob["metadata"]["uid"], cronjob["metadata"].get("generation"))
        if key not in self._templates:
            if len(self._templates) > 4 * max(len(self._cronjobs), 256):
                self._templates.clear()
            self._templates[key] = validate_object(new_job(cronjob, tick),
                                                   default_namespace=cronjob["metadata"]["namespace"]).obj
        return self._templates[key]

    def _prepare(self, cronjob: Obj, tick: datetime) -> None:
        """Make the Job of an upcoming tick now, so that the tick itself only stores it."""
        key = (cronjob["metadata"]["uid"], cronjob["metadata"].get("generation"), tick)
        if key not in self._ready:
            if len(self._ready) > 4 * max(len(self._cronjobs), 256):
                self._ready.clear()
            self._ready[key] = self._build(cronjob, tick)

    def _job_for(self, cronjob: Obj, tick: datetime) -> Obj:
        """The tick's Job, ready to store (made ahead of the tick when it could be)."""
        key = (cronjob["metadata"]["uid"], cronjob["metadata"].get("generation"), tick)
        return self._ready.pop(key, None) or self._build(cronjob, tick)

    def _build(self, cronjob: Obj, tick: datetime) -> Obj:
        """The tick's Job, validated and defaulted (the template's part once per CronJob version)."""
        job = clone(self._template(cronjob, tick))
        fresh = new_job(cronjob, tick)["metadata"]
        job["metadata"]["name"] = fresh["name"]
        job["metadata"]["annotations"] = fresh["annotations"]
        return admit(self.store, "jobs", job, None)

    def _create_all(self, due: list[str], plans: dict[str, CronPlan]) -> set[str]:
        """Create the due Jobs, in one transaction when none is refused; the uids that made theirs."""
        jobs: dict[str, Obj] = {}
        for uid in due:
            try:
                jobs[uid] = self._job_for(self._cronjobs[uid], plans[uid].create)  # type: ignore[arg-type]
            except TugError as exc:
                self._failed(uid, exc)
        if not jobs:
            return set()
        try:
            written = self.store.apply_all([("create", "jobs", j) for j in jobs.values()])
            stored: dict[str, tuple[Obj, bool] | None] = {uid: (obj, True)
                                                         for uid, (_, obj) in zip(jobs, written, strict=True)}
        except TugError:  # one refused (this tick was made already, say): one by one
            stored = {uid: self._create_one(uid, job) for uid, job in jobs.items()}
        created = self.clock()
        made = set()
        for uid, outcome in stored.items():
            if outcome is None:
                continue
            job, fresh = outcome
            made.add(uid)
            result = plans[uid]
            tick = result.create
            assert tick is not None
            self._remember(job)
            if fresh:
                if self.metrics is not None:
                    self.metrics.cron_skew.observe(max(0.0, (created - tick).total_seconds()))
                if self.on_created is not None:
                    self.on_created(tick, created)
                result.events.append(("Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}"))
            meta = self._cronjobs[uid]["metadata"]
            ref = {"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
                   "namespace": meta["namespace"], "uid": job["metadata"]["uid"]}
            if not any(r.get("name") == ref["name"] for r in result.status.get("active") or []):
                result.status.setdefault("active", []).append(ref)
            result.status["lastScheduleTime"] = format_time(tick)
        return made

    def _create_one(self, uid: str, job: Obj) -> tuple[Obj, bool] | None:
        """(the Job, whether it is new) or None when it could not be made."""
        try:
            return self.store.create("jobs", job), True
        except AlreadyExistsError:  # this tick was made already (by a control plane before a crash)
            return self.store.get("jobs", job["metadata"]["namespace"], job["metadata"]["name"]), False
        except TugError as exc:
            self._failed(uid, exc)
            return None

    def _failed(self, uid: str, exc: TugError) -> None:
        self.events.record(self._cronjobs[uid], "Warning", "FailedCreate", f"Error creating job: {exc}")

    def _write_statuses(self, statuses: list[Obj]) -> None:
        """Every changed status in one transaction; one by one when one CronJob went away."""
        try:
            ops = [("update_status", "cronjobs", c) for c in statuses]
            written = [obj for _, obj in self.store.apply_all(ops)]
        except NotFoundError:
            written = []
            for c in statuses:
                with contextlib.suppress(NotFoundError):
                    written.append(self.store.update_status("cronjobs", c))
        for obj in written:
            self._cronjobs[obj["metadata"]["uid"]] = obj
