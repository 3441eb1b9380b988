"""The CronJob controller: each CronJob is looked at when it or one of its Jobs changes, and
again just after its next tick (a timer per CronJob, never a poll). It runs the pure planner
(jobs/cronjob.py) and writes: Replace and history deletions, the tick's Job (named by the
tick, so a restart never runs a tick twice), then status and events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from engine.api import validate_object
from engine.clock import Clock, format_time, utcnow
from engine.errors import AlreadyExistsError, ConflictError, NotFoundError, TugError
from engine.events import EventRecorder
from engine.server.admission import admit
from jobs.cronjob import CronPlan, new_job, plan
from jobs.metrics import JobMetrics

log = logging.getLogger("tugboat.cronjobs")

COMPONENT = "cronjob-controller"
RETRY_S = 1.0

Obj = dict[str, Any]


def cronjob_owner(job: Obj) -> str | None:
    for ref in (job.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "CronJob":
            return str(ref.get("uid"))
    return None


class CronJobController:
    def __init__(self, store: Any, *, clock: Clock = utcnow, metrics: JobMetrics | None = None,
                 on_created: Callable[[datetime, datetime], None] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.on_created = on_created  # (scheduled time, created time): the creation skew
        self.events = EventRecorder(store, component=COMPONENT, clock=clock)
        self._cronjobs: dict[str, Obj] = {}
        self._jobs: dict[str, dict[str, Obj]] = {}  # cronjob uid -> job uid -> job
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._follow_cronjobs()), asyncio.create_task(self._follow_jobs()),
                       asyncio.create_task(self._loop())]

    async def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _enqueue(self, uid: str) -> None:
        self._dirty.add(uid)
        self._wake.set()

    def _after(self, uid: str, seconds: float) -> None:
        old = self._timers.pop(uid, None)
        if old is not None:
            old.cancel()
        self._timers[uid] = asyncio.get_running_loop().call_later(max(seconds, 0.0), self._enqueue, uid)

    async def _follow_cronjobs(self) -> None:
        while True:
            try:
                items, rv = self.store.list("cronjobs")
                self._cronjobs = {c["metadata"]["uid"]: c for c in items}
                for uid in self._cronjobs:
                    self._enqueue(uid)
                async for kind, cj in self.store.watch("cronjobs", since=rv):
                    uid = cj["metadata"]["uid"]
                    if kind == "DELETED":
                        self._cronjobs.pop(uid, None)
                        self._jobs.pop(uid, None)
                        timer = self._timers.pop(uid, None)
                        if timer is not None:
                            timer.cancel()
                        continue
                    self._cronjobs[uid] = cj
                    self._enqueue(uid)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - relist and go on
                log.exception("cronjob watch failed; relisting")
                await asyncio.sleep(RETRY_S)

    async def _follow_jobs(self) -> None:
        while True:
            try:
                items, rv = self.store.list("jobs")
                self._jobs = {}
                for job in items:
                    self._remember(job)
                async for kind, job in self.store.watch("jobs", since=rv):
                    owner = cronjob_owner(job)
                    if owner is None:
                        continue
                    if kind == "DELETED":
                        self._jobs.get(owner, {}).pop(job["metadata"]["uid"], None)
                    else:
                        self._remember(job)
                    self._enqueue(owner)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("job watch failed; relisting")
                await asyncio.sleep(RETRY_S)

    def _remember(self, job: Obj) -> None:
        owner = cronjob_owner(job)
        if owner is not None:
            self._jobs.setdefault(owner, {})[job["metadata"]["uid"]] = job

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)
            dirty, self._dirty = self._dirty, set()
            for uid in dirty:
                try:
                    self.sync(uid)
                except Exception:  # noqa: BLE001 - one CronJob never stops the others
                    log.exception("syncing cronjob %s failed", uid)
                    self._after(uid, RETRY_S)

    def sync(self, uid: str) -> CronPlan | None:
        cronjob = self._cronjobs.get(uid)
        if cronjob is None:
            return None
        result = plan(cronjob, list(self._jobs.get(uid, {}).values()), self.clock())
        meta = cronjob["metadata"]
        for name in result.delete:
            with contextlib.suppress(NotFoundError, ConflictError):
                self.store.delete("jobs", meta["namespace"], name, propagation="Background")
                result.events.append(("Normal", "SuccessfulDelete", f"Deleted job {name}"))
        if result.create is not None and not self._create(cronjob, result):
            self._after(uid, RETRY_S)
            return result
        self._write_status(cronjob, result.status)
        self.events.record_all([(cronjob, kind, reason, message) for kind, reason, message in result.events])
        if result.requeue_after is not None:
            self._after(uid, result.requeue_after)
        return result

    def _create(self, cronjob: Obj, result: CronPlan) -> bool:
        assert result.create is not None
        meta = cronjob["metadata"]
        try:
            checked = validate_object(new_job(cronjob, result.create), default_namespace=meta["namespace"])
            job = self.store.create("jobs", admit(self.store, "jobs", checked.obj, None))
            self._remember(job)
            created = self.clock()
            if self.metrics is not None:
                self.metrics.cron_skew.observe(max(0.0, (created - result.create).total_seconds()))
            if self.on_created is not None:
                self.on_created(result.create, created)
            result.events.append(("Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}"))
        except AlreadyExistsError:
            name = new_job(cronjob, result.create)["metadata"]["name"]
            job = self.store.get("jobs", meta["namespace"], name)  # this tick was made already
        except TugError as exc:
            self.events.record(cronjob, "Warning", "FailedCreate", f"Error creating job: {exc}")
            return False
        ref = {"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
               "namespace": meta["namespace"], "uid": job["metadata"]["uid"]}
        if not any(r.get("name") == ref["name"] for r in result.status.get("active") or []):
            result.status.setdefault("active", []).append(ref)
        result.status["lastScheduleTime"] = format_time(result.create)
        return True

    def _write_status(self, cronjob: Obj, status: Obj) -> None:
        if status == (cronjob.get("status") or {}):
            return
        cur = {**cronjob, "status": status,
               "metadata": {k: v for k, v in cronjob["metadata"].items() if k != "resourceVersion"}}
        try:
            self._cronjobs[cronjob["metadata"]["uid"]] = self.store.update_status("cronjobs", cur)
        except NotFoundError:
            pass
