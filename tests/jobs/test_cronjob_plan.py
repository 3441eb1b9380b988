"""The CronJob planner against reference §2's vectors (T0 = 2016-05-19T10:00:00Z, a Thursday)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.clock import format_time
from jobs.cronjob import Schedule, due, job_name, new_job, plan

T0 = datetime(2016, 5, 19, 10, 0, 0, tzinfo=UTC)


def at(**kw: float) -> datetime:
    return T0 + timedelta(**kw)


def cron(schedule: str = "0 * * * *", *, created: datetime = T0, last: datetime | None = None,
         sds: int | None = None, policy: str = "Allow", suspend: bool = False, tz: str | None = None,
         active: list[str] = (), history: tuple[int, int] = (3, 1)) -> dict[str, Any]:  # type: ignore[assignment]
    spec: dict[str, Any] = {"schedule": schedule, "concurrencyPolicy": policy, "suspend": suspend,
                            "successfulJobsHistoryLimit": history[0], "failedJobsHistoryLimit": history[1],
                            "jobTemplate": {"metadata": {"labels": {"team": "a"}},
                                            "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}}
    if sds is not None:
        spec["startingDeadlineSeconds"] = sds
    if tz:
        spec["timeZone"] = tz
    status: dict[str, Any] = {"active": [{"kind": "Job", "name": n} for n in active]}
    if last:
        status["lastScheduleTime"] = format_time(last)
    return {"metadata": {"name": "mycron", "namespace": "default", "uid": "cj-uid",
                         "creationTimestamp": format_time(created)}, "spec": spec, "status": status}


def job(name: str, outcome: str | None = None, start: datetime | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if start:
        status["startTime"] = format_time(start)
    if outcome:
        status["conditions"] = [{"type": outcome, "status": "True"}]
        if outcome == "Complete":
            status["completionTime"] = format_time((start or T0) + timedelta(minutes=1))
    return {"metadata": {"name": name}, "status": status}


@pytest.mark.parametrize("schedule,earliest,now,want,missed", [
    ("0 * * * *", T0, at(seconds=30), None, 0),
    ("0 * * * *", T0, at(minutes=61), at(hours=1), 1),
    ("0 * * * *", at(seconds=10), at(minutes=301), at(hours=5), 5),
    ("30 6-16/4 * * 1-5", at(minutes=30), at(hours=24, minutes=31), at(hours=24, minutes=30), 3),
    ("@every 1h", at(minutes=1), at(days=7), at(days=6, hours=23, minutes=1), 101),
])
def test_most_recent_schedule_time(schedule: str, earliest: datetime, now: datetime,
                                   want: datetime | None, missed: int) -> None:
    assert due(Schedule(schedule, None), earliest, now) == (want, missed)


def test_a_schedule_that_never_fires_is_said() -> None:
    p = plan(cron("59 23 31 2 *"), [], at(days=400))
    assert p.create is None and p.events[0][1] == "InvalidSchedule"


def test_the_deadline_window_moves_earliest_forward() -> None:
    p = plan(cron("*/5 * * * *", last=at(minutes=30), sds=60), [], at(minutes=32))
    assert p.create is None


def test_requeue_is_the_next_tick_plus_100ms() -> None:
    p = plan(cron("0 12 * * 5"), [], at(hours=6))  # created Thu 10:00, now Thu 16:00
    assert p.requeue_after == pytest.approx(20 * 3600 + 0.1)


def test_due_tick_makes_a_job_named_by_minutes() -> None:
    p = plan(cron(), [], at(minutes=61))
    assert p.create == at(hours=1)
    job_obj = new_job(cron(), p.create)
    assert job_obj["metadata"]["name"] == "mycron-24394260" == job_name(cron(), at(hours=1))
    assert job_obj["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        "2016-05-19T11:00:00Z"
    assert job_obj["metadata"]["labels"] == {"team": "a"}
    assert job_obj["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job_name({"metadata": {"name": "mycron"}}, datetime(2024, 1, 1, tzinfo=UTC)) == "mycron-28401120"


def test_too_many_missed_still_runs_the_latest() -> None:
    p = plan(cron("@every 1h", last=at(minutes=1)), [], at(days=7))
    assert p.create == at(days=6, hours=23, minutes=1)
    assert [e[1] for e in p.events] == ["TooManyMissedTimes"]


def test_a_tick_already_made_is_not_made_again() -> None:
    name = "mycron-24394260"
    assert plan(cron(active=[name]), [job(name)], at(minutes=61)).create is None
    assert plan(cron(last=at(hours=1)), [], at(minutes=61)).create is None


def test_concurrency_policies() -> None:
    running = [job("mycron-1")]
    forbid = plan(cron(policy="Forbid", active=["mycron-1"]), running, at(minutes=61))
    assert forbid.create is None and forbid.events[-1][1] == "JobAlreadyActive"
    assert "lastScheduleTime" not in forbid.status
    replace = plan(cron(policy="Replace", active=["mycron-1"]), running, at(minutes=61))
    assert replace.create == at(hours=1) and replace.delete == ["mycron-1"]
    allow = plan(cron(active=["mycron-1"]), running, at(minutes=61))
    assert allow.create == at(hours=1) and allow.delete == []


def test_suspend_makes_nothing_but_keeps_status() -> None:
    p = plan(cron(suspend=True, active=["mycron-1"]), [job("mycron-1", "Complete", T0)], at(minutes=61))
    assert p.create is None and p.status["active"] == [] and p.events[0][1] == "SawCompletedJob"


def test_time_zone_and_unknown_zone() -> None:
    # 9:00 in Tokyo is 00:00 UTC
    p = plan(cron("0 9 * * *", tz="Asia/Tokyo"), [], datetime(2016, 5, 20, 0, 0, 30, tzinfo=UTC))
    assert p.create == datetime(2016, 5, 20, 0, 0, tzinfo=UTC)
    assert new_job(cron(tz="Asia/Tokyo"), p.create)["metadata"]["annotations"][
        "batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2016-05-20T09:00:00+09:00"
    bad = plan(cron(tz="Mars/Olympus"), [], at(minutes=61))
    assert bad.create is None and bad.events[0][1] == "UnknownTimeZone"


def test_history_keeps_the_newest_of_each_kind_and_last_success() -> None:
    jobs = [job(f"ok-{i}", "Complete", at(hours=i)) for i in range(5)]
    jobs += [job(f"bad-{i}", "Failed", at(hours=i)) for i in range(2)]
    p = plan(cron(), jobs, at(minutes=30))
    assert p.delete == ["ok-0", "ok-1", "bad-0"]
    assert p.status["lastSuccessfulTime"] == format_time(at(hours=4, minutes=1))
