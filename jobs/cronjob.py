"""The CronJob planner (reference §2, cronjob_controllerv2): which tick is due, whether it runs
(suspend, concurrencyPolicy, startingDeadlineSeconds), the Job it makes, status and history,
and when to look again. Ticks come from croniter in the CronJob's timeZone. Pure."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterBadDateError

from engine.api.schedule import parse_go_duration
from engine.clock import format_time, parse_time

SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
TOO_MANY_MISSED = 100
REQUEUE_SLACK_S = 0.1

Obj = dict[str, Any]


@dataclass
class CronPlan:
    status: Obj
    create: datetime | None = None  # the tick to make a Job for
    delete: list[str] = field(default_factory=list)  # Job names to delete (Replace, history)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    requeue_after: float | None = None
    upcoming: datetime | None = None  # the next tick after now


class Schedule:
    """A CronJob schedule in a time zone: ticks after a time (croniter; @every by hand, as
    robfig's constant delay counts from the window start)."""

    def __init__(self, text: str, zone: str | None) -> None:
        self.zone = ZoneInfo(zone) if zone else UTC
        text = text.strip()
        self.every = parse_go_duration(text[len("@every "):].strip()) if text.startswith("@every ") else None
        if self.every is not None:
            self.every = max(timedelta(seconds=int(self.every.total_seconds())), timedelta(seconds=1))
        self.text = text
        # parsed once and moved to each start (croniter's parse is most of its cost)
        self._iter = None if self.every is not None else croniter(text, datetime.now(self.zone))
        self._next: dict[datetime, datetime] = {}

    def next(self, after: datetime) -> datetime:
        """The first tick strictly after `after` (raises ValueError for a schedule that never fires)."""
        if self.every is not None:
            return after.replace(microsecond=0) + self.every
        if after in self._next:
            return self._next[after]
        assert self._iter is not None
        self._iter.set_current(after.astimezone(self.zone), force=True)
        try:
            tick = self._iter.get_next(datetime).astimezone(UTC)
        except CroniterBadDateError as exc:
            raise ValueError(f"the schedule {self.text!r} never fires") from exc
        if len(self._next) > 1024:
            self._next.clear()
        self._next[after] = tick  # CronJobs that share a schedule mostly ask for the same starts
        return tick

    def prev(self, before: datetime) -> datetime:
        """The last tick at or before `before`."""
        assert self._iter is not None
        self._iter.set_current((before + timedelta(microseconds=1)).astimezone(self.zone), force=True)
        return self._iter.get_prev(datetime).astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def schedule_for(text: str, zone: str | None) -> Schedule:
    """One parsed Schedule per (schedule, time zone): CronJobs often share them."""
    return Schedule(text, zone)


def due(schedule: Schedule, earliest: datetime, now: datetime) -> tuple[datetime | None, int]:
    """The most recent tick in (earliest, now] and how many ticks were missed (more than
    TOO_MANY_MISSED counts as TOO_MANY_MISSED + 1)."""
    tick = schedule.next(earliest)
    if tick > now:
        return None, 0
    missed, last = 0, tick
    while tick <= now:
        missed, last = missed + 1, tick
        if missed > TOO_MANY_MISSED:
            break
        tick = schedule.next(tick)
    if missed > TOO_MANY_MISSED:  # jump to the last tick at or before now without counting them all
        last = _last_before(schedule, last, now)
    return last, missed


def _last_before(schedule: Schedule, start: datetime, now: datetime) -> datetime:
    if schedule.every is not None:
        steps = int((now - start) / schedule.every)
        return start + steps * schedule.every
    return schedule.prev(now)


def job_name(cronjob: Obj, scheduled: datetime) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def _condition(job: Obj, ctype: str) -> Obj | None:
    return next((c for c in (job.get("status") or {}).get("conditions") or []
                 if c.get("type") == ctype and c.get("status") == "True"), None)


def job_finished(job: Obj) -> str | None:
    """"Complete" or "Failed" once the Job has ended, else None."""
    for ctype in ("Complete", "Failed"):
        if _condition(job, ctype) is not None:
            return ctype
    return None


def _history(jobs: list[Obj], keep: int) -> list[str]:
    """Names of the oldest finished Jobs beyond `keep`: by startTime (none last), then name."""
    def order(j: Obj) -> tuple[bool, str, str]:
        start = (j.get("status") or {}).get("startTime")
        return (start is None, start or "", j["metadata"]["name"])

    ordered = sorted(jobs, key=order)
    return [j["metadata"]["name"] for j in ordered[:max(0, len(ordered) - keep)]]


def plan(cronjob: Obj, jobs: list[Obj], now: datetime) -> CronPlan:
    """One sync of `cronjob` given the Jobs it owns."""
    spec = cronjob.get("spec") or {}
    status = copy.deepcopy(cronjob.get("status") or {})
    out = CronPlan(status)
    by_name = {j["metadata"]["name"]: j for j in jobs}

    active = []
    for ref in status.get("active") or []:
        job = by_name.get(ref.get("name"))
        if job is None:
            out.events.append(("Normal", "MissingJob", f"Active job went missing: {ref.get('name')}"))
        elif job_finished(job):
            out.events.append(("Normal", "SawCompletedJob",
                               f"Saw completed job: {ref.get('name')}, condition: {job_finished(job)}"))
        else:
            active.append(ref)
    status["active"] = active
    succeeded = [j for j in jobs if job_finished(j) == "Complete"]
    times = [t for j in succeeded if (t := (j.get("status") or {}).get("completionTime"))]
    if times:
        status["lastSuccessfulTime"] = max(times)
    out.delete += _history(succeeded, int(spec.get("successfulJobsHistoryLimit", 3)))
    out.delete += _history([j for j in jobs if job_finished(j) == "Failed"],
                           int(spec.get("failedJobsHistoryLimit", 1)))
    if cronjob["metadata"].get("deletionTimestamp"):
        return out

    try:
        schedule = schedule_for(str(spec.get("schedule", "")), spec.get("timeZone"))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        reason = "UnknownTimeZone" if isinstance(exc, ZoneInfoNotFoundError) else "InvalidSchedule"
        out.events.append(("Warning", reason, f"invalid timeZone {spec.get('timeZone')!r}: {exc}"
                           if reason == "UnknownTimeZone" else f"invalid schedule: {exc}"))
        return out
    last = status.get("lastScheduleTime")
    earliest = parse_time(last) if last else parse_time(cronjob["metadata"]["creationTimestamp"])
    window = earliest
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        window = max(earliest, now - timedelta(seconds=int(deadline)))
    try:
        tick, missed = due(schedule, window, now)
        # the next look: just after the tick that follows (both are later than now)
        out.upcoming = schedule.next(tick or window)
        out.requeue_after = (out.upcoming - now).total_seconds() + REQUEUE_SLACK_S
    except ValueError as exc:
        out.events.append(("Warning", "InvalidSchedule", f"invalid schedule: {exc}"))
        return out
    if spec.get("suspend") or tick is None:
        return out
    if missed > TOO_MANY_MISSED:
        out.events.append(("Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
                           ".spec.startingDeadlineSeconds or check clock skew"))
    name = job_name(cronjob, tick)
    if any(ref.get("name") == name for ref in active) or last == format_time(tick):
        return out
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and active:
        out.events.append(("Normal", "JobAlreadyActive", "Not starting job because prior execution is "
                           "running and concurrency policy is Forbid"))
        return out
    if policy == "Replace":
        out.delete += [ref["name"] for ref in active]
        status["active"] = []
    out.create = tick
    return out


def new_job(cronjob: Obj, scheduled: datetime) -> Obj:
    """The Job for one tick: the template's labels and annotations, the scheduled-time
    annotation in the CronJob's zone, and the CronJob as its controller."""
    meta, spec = cronjob["metadata"], cronjob.get("spec") or {}
    template = copy.deepcopy(spec.get("jobTemplate") or {})
    tmeta = template.get("metadata") or {}
    zone = ZoneInfo(spec["timeZone"]) if spec.get("timeZone") else UTC
    annotations = {**(tmeta.get("annotations") or {}),
                   SCHEDULED_ANNOTATION: scheduled.astimezone(zone).isoformat().replace("+00:00", "Z")}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job_name(cronjob, scheduled), "namespace": meta.get("namespace", "default"),
                         "labels": dict(tmeta.get("labels") or {}), "annotations": annotations,
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                              "name": meta["name"], "uid": meta["uid"],
                                              "controller": True, "blockOwnerDeletion": True}]},
            "spec": template.get("spec") or {}}
