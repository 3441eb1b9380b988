"""The Job planner against reference §1's vectors, with an injected time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.clock import format_time
from jobs.indexes import format_indexes, parse_indexes
from jobs.job import TRACKING_FINALIZER, backoff_delay, plan

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return format_time(NOW - timedelta(seconds=seconds))


def job(*, completions: int | None = 1, parallelism: int = 1, backoff: int = 6, restart: str = "Never",
        deadline: int | None = None, suspend: bool = False, status: dict[str, Any] | None = None,
        indexed: bool = False, policy: dict[str, Any] | None = None,
        ttl: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"parallelism": parallelism, "backoffLimit": backoff, "suspend": suspend,
                            "completionMode": "Indexed" if indexed else "NonIndexed",
                            "template": {"spec": {"restartPolicy": restart,
                                                  "containers": [{"name": "main"}]}}}
    if completions is not None:
        spec["completions"] = completions
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    if policy is not None:
        spec["podFailurePolicy"] = policy
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {"metadata": {"name": "j", "namespace": "default", "uid": "job-uid"}, "spec": spec,
            "status": status if status is not None else {"startTime": ago(1)}}


def pod(phase: str, *, n: int = 0, finished: float = 100, restarts: int = 0, index: int | None = None,
        exit_code: int | None = None, conditions: list[dict[str, Any]] | None = None,
        deleting: bool = False, tracked: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"p{n}", "namespace": "default", "uid": f"u{n}",
                            "finalizers": [TRACKING_FINALIZER] if tracked else []}
    if index is not None:
        meta["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
    if deleting:
        meta["deletionTimestamp"] = ago(1)
    cs: dict[str, Any] = {"name": "main", "restartCount": restarts}
    if phase in ("Succeeded", "Failed"):
        cs["state"] = {"terminated": {"exitCode": exit_code if exit_code is not None else
                                      (0 if phase == "Succeeded" else 1), "finishedAt": ago(finished)}}
    return {"metadata": meta, "spec": {"nodeName": "n1"},
            "status": {"phase": phase, "containerStatuses": [cs], "conditions": conditions or []}}


def cond(p: Any, ctype: str) -> dict[str, Any] | None:
    return next((c for c in p.status.get("conditions") or [] if c["type"] == ctype and c["status"] == "True"),
                None)


@pytest.mark.parametrize("succeeded,active,create", [(0, 0, 3), (3, 0, 2), (4, 0, 1)])
def test_completions_5_parallelism_3(succeeded: int, active: int, create: int) -> None:
    p = plan(job(completions=5, parallelism=3, status={"startTime": ago(1), "succeeded": succeeded}), [], NOW)
    assert len(p.create) == create and p.status["active"] == create


def test_five_succeeded_completes_in_two_steps_when_nothing_runs() -> None:
    p = plan(job(completions=5, parallelism=3, status={"startTime": ago(9), "succeeded": 4}),
             [pod("Succeeded", n=4)], NOW)
    assert p.status["succeeded"] == 5 and [x["metadata"]["name"] for x in p.release] == ["p4"]
    assert cond(p, "SuccessCriteriaMet")["reason"] == "CompletionsReached"
    assert cond(p, "Complete") is not None and p.status["completionTime"] == format_time(NOW)


def test_work_queue_mode_stops_making_pods_after_the_first_success() -> None:
    running = [pod("Running", n=1), pod("Running", n=2)]
    p = plan(job(completions=None, parallelism=3), [pod("Succeeded", n=0), *running], NOW)
    assert p.create == [] and p.status["succeeded"] == 1 and cond(p, "Complete") is None
    p = plan(job(completions=None, parallelism=3, status={"startTime": ago(5), "succeeded": 1}),
             [pod("Succeeded", n=1), pod("Succeeded", n=2)], NOW)
    assert cond(p, "Complete") is not None and p.status["succeeded"] == 3


@pytest.mark.parametrize("completions,parallelism,want", [(1, 0, 0), (2, 5, 2)])
def test_parallelism_bounds(completions: int, parallelism: int, want: int) -> None:
    assert len(plan(job(completions=completions, parallelism=parallelism), [], NOW).create) == want


def test_never_counts_failed_pods_strictly_over_the_limit() -> None:
    p = plan(job(backoff=1), [pod("Failed", n=0, finished=2)], NOW)
    assert cond(p, "FailureTarget") is None and p.status["failed"] == 1
    assert p.create == [] and p.requeue_after == pytest.approx(8)  # 10 s backoff from the finish
    p = plan(job(backoff=1, status={"startTime": ago(60), "failed": 1}),
             [pod("Failed", n=0, tracked=False), pod("Failed", n=1)], NOW)
    assert cond(p, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    assert cond(p, "Failed")["message"] == "Job has reached the specified backoff limit"


@pytest.mark.parametrize("limit,restarts,fails", [(1, [0], False), (1, [1], True), (2, [1, 1], True),
                                                  (3, [1, 1], False), (0, [1], True)])
def test_on_failure_counts_container_restarts(limit: int, restarts: list[int], fails: bool) -> None:
    pods = [pod("Running", n=i, restarts=r) for i, r in enumerate(restarts)]
    p = plan(job(backoff=limit, restart="OnFailure", parallelism=len(pods), completions=len(pods)), pods, NOW)
    assert (cond(p, "FailureTarget") is not None) == fails
    if fails:
        assert len(p.delete) == len(pods) and p.status["failed"] == len(pods)


@pytest.mark.parametrize("n,delay", [(1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 320), (7, 600),
                                     (9, 600)])
def test_backoff_delay(n: int, delay: float) -> None:
    assert backoff_delay(n) == delay


def test_deadline_deletes_active_pods_and_counts_them_failed() -> None:
    p = plan(job(deadline=10, status={"startTime": ago(15)}), [pod("Running", n=0)], NOW)
    assert cond(p, "FailureTarget")["reason"] == "DeadlineExceeded" and p.status["failed"] == 1
    assert [x["metadata"]["name"] for x in p.delete] == ["p0"] and cond(p, "Failed") is None
    p = plan(job(deadline=10, status={"startTime": ago(10)}), [], NOW)  # ≥ is past
    assert cond(p, "Failed")["reason"] == "DeadlineExceeded"
    p = plan(job(deadline=10, status={"startTime": ago(4)}), [pod("Running")], NOW)
    assert p.requeue_after == pytest.approx(6)


def test_backoff_limit_is_checked_before_the_deadline() -> None:
    p = plan(job(backoff=0, deadline=10, status={"startTime": ago(15)}), [pod("Failed")], NOW)
    assert cond(p, "Failed")["reason"] == "BackoffLimitExceeded"


def test_indexed_creates_the_lowest_free_indexes_and_writes_completed_ranges() -> None:
    p = plan(job(completions=5, parallelism=2, indexed=True), [], NOW)
    assert p.create == [0, 1]
    p = plan(job(completions=5, parallelism=2, indexed=True, status={"startTime": ago(1),
                                                                     "completedIndexes": "0"}),
             [pod("Running", n=1, index=1)], NOW)
    assert p.create == [2]
    assert format_indexes({0, 1, 2, 4, 5, 7}) == "0-2,4,5,7"
    assert parse_indexes("0-2,4,5,7") == {0, 1, 2, 4, 5, 7}


def test_suspend_stops_pods_without_counting_and_resume_restarts_the_clock() -> None:
    p = plan(job(suspend=True), [pod("Running", n=0)], NOW)
    assert [x["metadata"]["name"] for x in p.delete] == ["p0"]
    assert cond(p, "Suspended")["reason"] == "JobSuspended"
    stopped = pod("Failed", n=0, deleting=True)
    p = plan(job(suspend=True, status=p.status), [stopped], NOW)
    assert p.status["failed"] == 0 and p.release == [stopped]
    p = plan(job(status={**p.status, "startTime": ago(500)}), [], NOW)
    assert p.status["startTime"] == format_time(NOW) and len(p.create) == 1
    resumed = next(c for c in p.status["conditions"] if c["type"] == "Suspended")
    assert resumed["status"] == "False" and resumed["reason"] == "JobResumed"


POLICY = {"rules": [
    {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}


def test_pod_failure_policy_fail_job_ignore_and_count() -> None:
    p = plan(job(policy=POLICY), [pod("Failed", exit_code=42)], NOW)
    target = cond(p, "FailureTarget")
    assert target["reason"] == "PodFailurePolicy"
    assert target["message"] == ("Container main for pod default/p0 failed with exit code 42 matching "
                                 "FailJob rule at index 0")
    evicted = pod("Failed", exit_code=137, conditions=[{"type": "DisruptionTarget", "status": "True"}])
    p = plan(job(policy=POLICY), [evicted], NOW)
    assert p.status["failed"] == 0 and cond(p, "FailureTarget") is None and len(p.create) == 1
    p = plan(job(policy=POLICY), [pod("Failed", exit_code=1)], NOW)
    assert p.status["failed"] == 1 and cond(p, "FailureTarget") is None


def test_ttl_after_finished() -> None:
    done = {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": ago(99)}]}
    assert plan(job(ttl=100, status=done), [], NOW).requeue_after == pytest.approx(1)
    done["conditions"][0]["lastTransitionTime"] = ago(100)
    assert plan(job(ttl=100, status=done), [], NOW).delete_job


def test_pods_stopped_by_the_deadline_are_counted_once() -> None:
    p = plan(job(deadline=10, status={"startTime": ago(15)}), [pod("Running", n=0)], NOW)
    assert p.status["failed"] == 1 and [x["metadata"]["name"] for x in p.release] == ["p0"]
    stopped = pod("Failed", n=0, deleting=True, tracked=False)  # its finalizer went with the count
    p = plan(job(deadline=10, status=p.status), [stopped], NOW)
    assert p.status["failed"] == 1 and cond(p, "Failed")["reason"] == "DeadlineExceeded"


def test_a_finished_job_lets_its_last_pods_go_uncounted() -> None:
    done = {"succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": ago(1)}]}
    p = plan(job(status=done), [pod("Failed", n=3, deleting=True), pod("Running", n=4)], NOW)
    assert [x["metadata"]["name"] for x in p.release] == ["p3"] and p.status == done


def indexed_pod(phase: str, index: int, *, n: int, failures: int = 0,
                finished: float = 100) -> dict[str, Any]:
    p = pod(phase, n=n, index=index, finished=finished)
    p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] = str(failures)
    return p


def per_index_job(**kw: Any) -> dict[str, Any]:
    j = job(completions=3, parallelism=3, indexed=True, **kw)
    j["spec"]["backoffLimitPerIndex"] = 1
    return j


def test_backoff_limit_per_index_fails_the_index_after_its_attempts() -> None:
    # index 1 fails twice (attempts 0 and 1), indexes 0 and 2 succeed → failedIndexes "1", FailedIndexes
    pods = [indexed_pod("Succeeded", 0, n=0), indexed_pod("Failed", 1, n=1, failures=0),
            indexed_pod("Failed", 1, n=2, failures=1), indexed_pod("Succeeded", 2, n=3)]
    p = plan(per_index_job(), pods, NOW)
    assert p.status["failedIndexes"] == "1" and p.status["completedIndexes"] == "0,2"
    assert cond(p, "Failed")["reason"] == "FailedIndexes"


def test_a_failed_index_is_retried_with_its_count_after_its_backoff() -> None:
    p = plan(per_index_job(), [indexed_pod("Failed", 1, n=1, failures=0, finished=3),
                               indexed_pod("Running", 0, n=0), indexed_pod("Running", 2, n=2)], NOW)
    assert p.create == [] and p.requeue_after == pytest.approx(7)  # 10 s after the failure
    p = plan(per_index_job(), [indexed_pod("Failed", 1, n=1, failures=0, finished=30),
                               indexed_pod("Running", 0, n=0), indexed_pod("Running", 2, n=2)], NOW)
    assert p.create == [1] and p.index_failures == {1: 1}


def test_max_failed_indexes_zero_fails_at_the_first() -> None:
    j = per_index_job()
    j["spec"]["maxFailedIndexes"] = 0
    j["spec"]["backoffLimitPerIndex"] = 0
    p = plan(j, [indexed_pod("Failed", 0, n=0)], NOW)
    assert cond(p, "FailureTarget")["reason"] == "MaxFailedIndexesExceeded"


@pytest.mark.parametrize("rule,done,match", [
    ({"succeededIndexes": "0"}, {0}, True),
    ({"succeededIndexes": "0-4", "succeededCount": 3}, {0, 2, 9}, False),
    ({"succeededIndexes": "0-4", "succeededCount": 3}, {0, 2, 3}, True),
    ({"succeededCount": 5}, {1, 3, 5, 7, 8}, True),
])
def test_success_policy(rule: dict[str, Any], done: set[int], match: bool) -> None:
    j = job(completions=10, parallelism=10, indexed=True,
            status={"startTime": ago(5), "completedIndexes": format_indexes(done)})
    j["spec"]["successPolicy"] = {"rules": [rule]}
    running = [pod("Running", n=20)]
    p = plan(j, running, NOW)
    met = cond(p, "SuccessCriteriaMet")
    assert (met is not None) == match
    if match:
        assert met["reason"] == "SuccessPolicy" and met["message"] == "Matched rules at index 0"
        assert p.delete == running  # the rest are stopped, then Complete


def test_after_success_criteria_the_stopped_pods_never_fail_the_job() -> None:
    j = job(completions=10, parallelism=10, indexed=True, backoff=1,
            status={"startTime": ago(5), "completedIndexes": "0"})
    j["spec"]["successPolicy"] = {"rules": [{"succeededIndexes": "0"}]}
    running = [pod("Running", n=i, index=i) for i in range(1, 4)]
    first = plan(j, running, NOW)
    assert cond(first, "SuccessCriteriaMet") and len(first.delete) == 3 and cond(first, "Complete") is None
    stopping = [pod("Failed", n=i, index=i, deleting=True) for i in range(1, 3)] + [
        pod("Running", n=3, index=3, deleting=True)]
    second = plan({**j, "status": first.status}, stopping, NOW)
    assert cond(second, "FailureTarget") is None and cond(second, "Complete") is None  # one still runs
    third = plan({**j, "status": second.status}, [pod("Failed", n=3, index=3, deleting=True)], NOW)
    assert cond(third, "Complete") is not None and cond(third, "Failed") is None


def test_pods_stopped_by_a_suspension_are_let_go_at_once() -> None:
    p = plan(job(suspend=True, backoff=0), [pod("Running", n=0)], NOW)
    assert [x["metadata"]["name"] for x in p.delete] == ["p0"] == [x["metadata"]["name"] for x in p.release]
    # resumed before it stopped: its end, untracked now, is not a failure
    p = plan(job(backoff=0, status=p.status), [pod("Failed", n=0, deleting=True, tracked=False)], NOW)
    assert p.status["failed"] == 0 and cond(p, "FailureTarget") is None


def test_an_ignored_failure_uses_no_attempt_of_its_index() -> None:
    j = per_index_job(policy={"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]})
    evicted = indexed_pod("Failed", 1, n=1, failures=0, finished=30)
    evicted["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True"}]
    p = plan(j, [evicted, indexed_pod("Running", 0, n=0), indexed_pod("Running", 2, n=2)], NOW)
    assert p.status["failed"] == 0 and p.create == [1] and p.index_failures == {1: 0}
