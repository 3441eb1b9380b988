"""The CronJob controller on a real store with a driven clock: a Job each minute, history
trimmed, Forbid while one runs, and a restart between creating a tick's Job and writing the
status never makes the tick twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.api import validate_object
from engine.store import Store
from jobs.cron_controller import CronJobController
from jobs.cronjob import new_job

from ..engine.store_helpers import FakeClock

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


class Clock(FakeClock):
    """The store tests' clock, started at this file's T0."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0


def cronjob(policy: str = "Allow") -> dict[str, Any]:
    doc = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick", "namespace": "default"},
           "spec": {"schedule": "* * * * *", "concurrencyPolicy": policy, "successfulJobsHistoryLimit": 2,
                    "jobTemplate": {"spec": {"template": {"spec": {
                        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
                                                                  "command": ["true"]}]}}}}}}
    return validate_object(doc, default_namespace="default").obj


def controller(store: Store, clock: Clock) -> CronJobController:
    c = CronJobController(store, clock=clock)
    for cj in store.list("cronjobs")[0]:
        c._on_cronjob("LISTED", cj)  # what the watch would hand over
    for job in store.list("jobs")[0]:
        c._on_job("LISTED", job)
    return c


def complete(store: Store, name: str, clock: Clock) -> None:
    job = store.get("jobs", "default", name)
    stamp = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    job["status"] = {"startTime": stamp, "completionTime": stamp,
                     "conditions": [{"type": "Complete", "status": "True"}]}
    store.update_status("jobs", job)


def sync(store: Store, clock: Clock) -> None:
    c = controller(store, clock)
    for uid in list(c._cronjobs):
        c.sync(uid)


async def test_a_job_each_minute_with_history_trimmed(tmp_path: Path) -> None:
    clock = Clock()
    store = Store(tmp_path / "s.db", clock=clock)
    store.create("cronjobs", cronjob())
    made = []
    for minute in range(1, 6):
        clock.now = T0 + timedelta(minutes=minute, seconds=1)
        sync(store, clock)
        jobs = {j["metadata"]["name"] for j in store.list("jobs")[0]}
        new = sorted(jobs - set(made))
        assert len(new) == 1, (minute, jobs)
        made += new
        assert store.get("jobs", "default", new[0])["spec"]["suspend"] is True  # it waits in its queue
        complete(store, new[0], clock)
        sync(store, clock)  # sees it complete
    left = sorted(j["metadata"]["name"] for j in store.list("jobs")[0])
    assert left == made[-2:]  # successfulJobsHistoryLimit 2
    status = store.get("cronjobs", "default", "tick")["status"]
    assert status["active"] == [] and status["lastScheduleTime"] == "2026-03-02T08:05:00Z"
    assert status["lastSuccessfulTime"]
    expected = int((T0 + timedelta(minutes=5)).timestamp()) // 60
    assert made[-1] == f"tick-{expected}"


async def test_forbid_skips_while_a_run_is_active(tmp_path: Path) -> None:
    clock = Clock()
    store = Store(tmp_path / "s.db", clock=clock)
    store.create("cronjobs", cronjob("Forbid"))
    clock.now = T0 + timedelta(minutes=1, seconds=1)
    sync(store, clock)
    clock.now = T0 + timedelta(minutes=2, seconds=1)
    sync(store, clock)
    assert len(store.list("jobs")[0]) == 1
    reasons = [e["reason"] for e in store.list("events")[0]]
    assert "JobAlreadyActive" in reasons


async def test_a_restart_between_job_and_status_does_not_run_the_tick_twice(tmp_path: Path) -> None:
    clock = Clock()
    store = Store(tmp_path / "s.db", clock=clock)
    cj = store.create("cronjobs", cronjob())
    clock.now = T0 + timedelta(minutes=1, seconds=1)
    # the first control plane created the tick's Job and died before writing the CronJob's status
    store.create("jobs", validate_object(new_job(cj, T0 + timedelta(minutes=1)),
                                         default_namespace="default").obj)
    sync(store, clock)  # the next control plane
    assert len(store.list("jobs")[0]) == 1
    status = store.get("cronjobs", "default", "tick")["status"]
    assert [a["name"] for a in status["active"]] == [store.list("jobs")[0][0]["metadata"]["name"]]


async def test_a_cronjob_it_cannot_read_is_reported_and_the_others_still_fire(tmp_path: Path) -> None:
    """A malformed CronJob written under the API (as an older version might have left it) fails
    only its own sync: it says so in an event and is retried with backoff, the others fire."""
    clock = Clock()
    store = Store(tmp_path / "s.db", clock=clock)
    store.create("cronjobs", cronjob())
    broken = cronjob()
    broken["metadata"]["name"] = "broken"
    broken["status"] = {"lastScheduleTime": 5}  # not a time: planning it throws
    store.create("cronjobs", broken)
    clock.now = T0 + timedelta(minutes=1, seconds=1)
    c = CronJobController(store, clock=clock)
    await c.start()
    try:
        async def settled() -> tuple[list[str], list[dict[str, Any]]]:
            for _ in range(500):
                jobs = [j["metadata"]["name"] for j in store.list("jobs")[0]]
                failed = [e for e in store.list("events")[0] if e["reason"] == "SyncFailed"]
                if jobs and failed:
                    return jobs, failed
                await asyncio.sleep(0.02)
            raise AssertionError("the good CronJob did not fire, or the broken one was not reported")

        jobs, failed = await settled()
        assert all(name.startswith("tick-") for name in jobs)
        assert {e["involvedObject"]["name"] for e in failed} == {"broken"}
        assert failed[0]["type"] == "Warning" and "cannot sync this CronJob" in failed[0]["message"]
    finally:
        await c.close()
