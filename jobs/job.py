"""The Job planner: from a Job, its pods and the time, what the controller must do next
(reference §1: completions, parallelism, backoff, deadlines, suspend, podFailurePolicy,
Indexed mode, two-step conditions, TTL). Pure: no store, no clock but `now`."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.clock import format_time, time_or_none
from jobs.indexes import format_indexes, parse_indexes
from jobs.policy import match_failure_policy

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURES = "batch.kubernetes.io/job-index-failure-count"
BACKOFF_BASE_S = 10.0  # DefaultJobPodFailureBackOff
BACKOFF_MAX_S = 600.0  # MaxJobPodFailureBackOff
MAX_CREATE_DELETE = 500  # MaxPodCreateDeletePerSync

Obj = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)



@dataclass
class JobPlan:
    status: Obj  # the Job's status after this sync
    create: list[int | None] = field(default_factory=list)  # pods to make: completion index or None
    delete: list[Obj] = field(default_factory=list)  # active pods to stop
    release: list[Obj] = field(default_factory=list)  # pods counted now: drop their finalizer
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue_after: float | None = None  # seconds until something changes by time alone
    delete_job: bool = False  # ttlSecondsAfterFinished has run out
    failures: list[str] = field(default_factory=list)  # reasons of the failed pods counted now
    index_failures: dict[int, int] = field(default_factory=dict)  # index -> failures before its new pod


def condition(status: Obj, ctype: str) -> Obj | None:
    return next((c for c in status.get("conditions") or []
                 if c.get("type") == ctype and c.get("status") == "True"), None)


def set_condition(status: Obj, ctype: str, state: str, reason: str, message: str, now: datetime) -> None:
    conditions = status.get("conditions")
    if not isinstance(conditions, list):  # absent, or a null that got into the store
        conditions = status["conditions"] = []
    for c in conditions:
        if c.get("type") == ctype:
            if c.get("status") != state:
                c["lastTransitionTime"] = format_time(now)
            c.update({"status": state, "reason": reason, "message": message,
                      "lastProbeTime": format_time(now)})
            return
    conditions.append({"type": ctype, "status": state, "reason": reason, "message": message,
                       "lastProbeTime": format_time(now), "lastTransitionTime": format_time(now)})


def finished(job: Obj) -> bool:
    status = job.get("status") or {}
    return condition(status, "Complete") is not None or condition(status, "Failed") is not None


def index_of(pod: Obj) -> int | None:
    meta = pod.get("metadata") or {}
    raw = (meta.get("annotations") or {}).get(INDEX_KEY, (meta.get("labels") or {}).get(INDEX_KEY))
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def finish_time(pod: Obj) -> datetime:
    """The latest container finish, else the deletion time less its grace, else creation."""
    meta = pod.get("metadata") or {}
    ends = [time_or_none(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
            for cs in _statuses(pod)]
    known = [e for e in ends if e is not None]
    if known:
        return max(known)
    deleted = time_or_none(meta.get("deletionTimestamp"))
    if deleted is not None:
        return deleted - timedelta(seconds=int(meta.get("deletionGracePeriodSeconds") or 0))
    return time_or_none(meta.get("creationTimestamp")) or EPOCH


def backoff_delay(failures: int) -> float:
    """10 s · 2^(n−1), doubling until it reaches the cap of 600 s (§1.3)."""
    if failures <= 0:
        return 0.0
    delay = BACKOFF_BASE_S
    for _ in range(failures - 1):
        delay *= 2
        if delay >= BACKOFF_MAX_S:
            return BACKOFF_MAX_S
    return min(delay, BACKOFF_MAX_S)


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _restarts(pod: Obj) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in _statuses(pod))


def _statuses(pod: Obj) -> list[Obj]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def _tracked(pod: Obj) -> bool:
    """Still carries the tracking finalizer: its end is not counted yet."""
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def _deleting(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _deletion_order(pod: Obj) -> tuple[int, int, int]:
    """Surplus pods go not-ready, unscheduled, pending ones first."""
    phase = (pod.get("status") or {}).get("phase", "Pending")
    return (int(_ready(pod)), int(bool((pod.get("spec") or {}).get("nodeName"))), int(phase == "Running"))


def plan(job: Obj, pods: Sequence[Obj], now: datetime) -> JobPlan:
    """One sync of `job` given the pods it owns."""
    spec, status = job.get("spec") or {}, copy.deepcopy(job.get("status") or {})
    out = JobPlan(status)
    if finished(job):  # its last pods may still stop: they are let go uncounted
        out.release = [p for p in pods
                       if _tracked(p) and (_deleting(p) or _phase(p) in ("Succeeded", "Failed"))]
        _ttl(spec, status, out, now)
        return out
    indexed = spec.get("completionMode") == "Indexed"
    completions = spec.get("completions")
    parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)
    backoff_limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)
    policy = spec.get("podFailurePolicy")
    only_failed = policy is not None or spec.get("podReplacementPolicy") == "Failed"
    on_failure = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure"
    suspended = bool(spec.get("suspend"))

    def terminal(p: Obj) -> str | None:
        phase = (p.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return phase
        meta = p.get("metadata") or {}
        if meta.get("deletionTimestamp") and (not only_failed or not (p.get("spec") or {}).get("nodeName")):
            return "Failed"  # a pod being deleted counts as failed, unless only failed pods are replaced
        return None

    active = [p for p in pods if terminal(p) is None and not _deleting(p)]
    terminating = [p for p in pods if _deleting(p) and _phase(p) not in ("Succeeded", "Failed")]
    succeeded = int(status.get("succeeded") or 0)
    failed = int(status.get("failed") or 0)
    completed = parse_indexes(status.get("completedIndexes") or "")
    per_index = indexed and spec.get("backoffLimitPerIndex") is not None
    failed_indexes = parse_indexes(status.get("failedIndexes") or "")
    failure: tuple[str, str] | None = None
    target = condition(status, "FailureTarget")
    if target is not None:
        failure = (str(target.get("reason")), str(target.get("message")))

    # count the pods that ended since the last sync, then let them go
    for p in pods:
        outcome = terminal(p)
        if outcome is None or not _tracked(p):
            continue
        out.release.append(p)
        if suspended and outcome == "Failed" and (p.get("metadata") or {}).get("deletionTimestamp"):
            continue  # stopped by a suspension: neither failed nor succeeded
        if outcome == "Succeeded":
            index = index_of(p)
            if indexed:
                if index is not None and completions is not None and 0 <= index < int(completions):
                    completed.add(index)
            else:
                succeeded += 1
            continue
        action, why = match_failure_policy(policy, p)
        if action == "Ignore":
            continue
        failed += 1
        out.failures.append(failure_reason(p))
        if action == "FailJob" and failure is None:
            failure = ("PodFailurePolicy", why)
        index = index_of(p)
        if per_index and index is not None and (
                action == "FailIndex" or _index_failures(p) >= int(spec["backoffLimitPerIndex"])):
            failed_indexes.add(index)  # out of attempts: the index fails, no more pods for it
    if indexed:
        succeeded = len(completed)
        status["completedIndexes"] = format_indexes(completed)
    if per_index:
        status["failedIndexes"] = format_indexes(failed_indexes)

    # suspend / resume / start
    if suspended:
        if condition(status, "Suspended") is None:
            set_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", now)
            out.events.append(("Normal", "Suspended", "Job suspended"))
    else:
        was = next((c for c in status.get("conditions") or [] if c.get("type") == "Suspended"), None)
        if was is not None and was.get("status") == "True":
            set_condition(status, "Suspended", "False", "JobResumed", "Job resumed", now)
            out.events.append(("Normal", "Resumed", "Job resumed"))
            status["startTime"] = format_time(now)  # the deadline clock starts again
        status.setdefault("startTime", format_time(now))

    # the order of §1.2: failure policy, backoff limit, deadline — never once success is met
    succeeding = condition(status, "SuccessCriteriaMet") is not None
    if succeeding:
        failure = None
    if failure is None and not succeeding:
        restarts = sum(_restarts(p) for p in active if _phase(p) in ("Running", "Pending"))
        too_many = restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit
        if failed > backoff_limit or (on_failure and too_many):
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    deadline = spec.get("activeDeadlineSeconds")
    started = time_or_none(status.get("startTime"))
    if failure is None and not succeeding and deadline is not None and started is not None and not suspended:
        elapsed = (now - started).total_seconds()
        if elapsed >= int(deadline):
            failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        else:
            out.requeue_after = int(deadline) - elapsed

    if failure is None and not succeeding and per_index:  # §1.2 step 4
        most = spec.get("maxFailedIndexes")
        if most is not None and len(failed_indexes) > int(most):
            failure = ("MaxFailedIndexesExceeded",
                       "Job has exceeded the specified maximal number of failed indexes")
        elif failed_indexes and len(failed_indexes) + len(completed) >= int(completions or 0):
            failure = ("FailedIndexes", "Job has failed indexes")
    matched = _success_policy(spec, completed) if failure is None and indexed else None
    done = succeeding or matched is not None or (succeeded >= int(completions) if completions is not None
                                                 else succeeded > 0 and not active)
    if failure is not None:
        if condition(status, "FailureTarget") is None:
            set_condition(status, "FailureTarget", "True", failure[0], failure[1], now)
            out.events.append(("Warning", failure[0], failure[1]))
        out.delete = active[:MAX_CREATE_DELETE]
        if not only_failed:  # counted failed now, and never again when they end
            failed += len(out.delete)
            out.release += [p for p in out.delete if _tracked(p)]
        active = []
    elif done:
        out.delete = active[:MAX_CREATE_DELETE]
        active = []
        if condition(status, "SuccessCriteriaMet") is None:
            if matched is not None:
                set_condition(status, "SuccessCriteriaMet", "True", "SuccessPolicy",
                              f"Matched rules at index {matched}", now)
            else:
                set_condition(status, "SuccessCriteriaMet", "True", "CompletionsReached",
                              "Reached expected number of succeeded pods", now)
    else:
        want = _wanted(suspended, completions, parallelism, succeeded, len(active))
        if len(active) > want:
            out.delete = sorted(active, key=_deletion_order)[:len(active) - want]
            active = [p for p in active if p not in out.delete]
            if suspended:  # neither failed nor succeeded, even if the Job resumes before they stop
                out.release += [p for p in out.delete if _tracked(p)]
        elif len(active) < want and not suspended:
            waited = 0.0 if per_index else _backoff_left(pods, terminal, now)
            if waited > 0:
                out.requeue_after = min(waited, out.requeue_after or waited)
            else:
                missing = want - len(active) - (len(terminating) if only_failed else 0)
                if indexed:
                    running = {i for p in active if (i := index_of(p)) is not None}
                    taken = completed | failed_indexes | running
                    # lazily, lowest first: a pass looks at the indexes it creates and the ones
                    # taken before them, never at all of a completions count of 10^9
                    free: Iterable[int] = (i for i in range(int(completions or 0)) if i not in taken)
                    failures: dict[int, int] = {}
                    if per_index:
                        free, failures = _ready_indexes(free, taken, pods, now, out, policy)
                    out.create = list(itertools.islice(free, max(0, min(missing, MAX_CREATE_DELETE))))
                    out.index_failures.update((i, failures[i]) for i in out.create if i in failures)
                else:
                    out.create = [None] * max(0, min(missing, MAX_CREATE_DELETE))

    # status: counts, then the second step of the terminal conditions
    left = [p for p in pods if _deleting(p) and _phase(p) not in ("Succeeded", "Failed")]
    status.update({"active": len(active) + len(out.create), "ready": sum(1 for p in active if _ready(p)),
                   "succeeded": succeeded, "failed": failed,
                   "terminating": len(left) + len(out.delete)})
    still = status["active"] - len(out.create) + status["terminating"]
    if condition(status, "FailureTarget") is not None and still == 0 and not out.delete:
        set_condition(status, "Failed", "True", *failure_of(status), now)
    elif condition(status, "SuccessCriteriaMet") is not None and still == 0 and not out.delete:
        set_condition(status, "Complete", "True", "", "", now)
        status["completionTime"] = format_time(now)
        out.events.append(("Normal", "Completed", "Job completed"))
    if finished({"status": status}):
        status["active"] = status["ready"] = 0
        _ttl(spec, status, out, now)
    return out


def failure_reason(pod: Obj) -> str:
    """Why a pod failed, in one word: its own reason, else its container's, else Error."""
    status = pod.get("status") or {}
    if status.get("reason"):
        return str(status["reason"])
    for cs in _statuses(pod):
        reason = ((cs.get("state") or {}).get("terminated") or {}).get("reason")
        if reason and reason != "Completed":
            return str(reason)
    return "Deleted" if _deleting(pod) else "Error"


def failure_of(status: Obj) -> tuple[str, str]:
    target = condition(status, "FailureTarget") or {}
    return str(target.get("reason", "")), str(target.get("message", ""))


def _index_failures(pod: Obj) -> int:
    """Failures of the pod's index before this pod (its job-index-failure-count annotation)."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(INDEX_FAILURES, "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def _ready_indexes(free: Iterable[int], taken: set[int], pods: Sequence[Obj], now: datetime,
                   out: JobPlan, policy: Obj | None) -> tuple[Iterator[int], dict[int, int]]:
    """The free indexes whose per-index backoff has passed (10 s · 2^(n−1) after their last
    failure), lazily, and the failure count of each free index that failed (its next pod
    carries it); the earliest end of a backoff still running goes in `out.requeue_after`."""
    last: dict[int, tuple[datetime, int]] = {}
    for p in pods:
        index = index_of(p)
        if index is None or _phase(p) != "Failed":
            continue
        ignored = match_failure_policy(policy, p)[0] == "Ignore"  # an ignored failure uses no attempt
        when, count = finish_time(p), _index_failures(p) + (0 if ignored else 1)
        if index not in last or (when, count) > last[index]:
            last[index] = (when, count)
    waiting = set()
    for i, (when, count) in last.items():  # what failed is bounded by the pods that exist
        left = backoff_delay(max(count, 1)) - (now - when).total_seconds()
        if i not in taken and left > 0:
            waiting.add(i)
            out.requeue_after = min(left, out.requeue_after or left)
    return (i for i in free if i not in waiting), {i: count for i, (_, count) in last.items()}


def _success_policy(spec: Obj, completed: set[int]) -> int | None:
    """The index of the first successPolicy rule the succeeded indexes meet (§1.9), or None."""
    if not completed:
        return None
    for i, rule in enumerate(((spec.get("successPolicy") or {}).get("rules")) or []):
        wanted = parse_indexes(rule["succeededIndexes"]) if rule.get("succeededIndexes") else None
        count = rule.get("succeededCount")
        if wanted is not None and count is None:
            matched = wanted <= completed
        elif wanted is None and count is not None:
            matched = len(completed) >= int(count)
        elif wanted is not None:
            matched = len(wanted & completed) >= int(count)
        else:
            matched = False
        if matched:
            return i
    return None


def _wanted(suspended: bool, completions: Any, parallelism: int, succeeded: int, active: int) -> int:
    if suspended:
        return 0
    if completions is None:
        return parallelism if succeeded == 0 else active
    return max(0, min(int(completions) - succeeded, parallelism))


def _backoff_left(pods: Sequence[Obj], terminal: Any, now: datetime) -> float:
    """Seconds before a replacement may be made: failures after the last success, by finish time."""
    ended = sorted(((finish_time(p), terminal(p)) for p in pods if terminal(p) is not None),
                   key=lambda x: x[0])
    failures, last = 0, None
    for when, outcome in ended:
        if outcome == "Succeeded":
            failures, last = 0, None
        else:
            failures, last = failures + 1, when
    if failures == 0 or last is None:
        return 0.0
    return max(0.0, backoff_delay(failures) - (now - last).total_seconds())


def _ttl(spec: Obj, status: Obj, out: JobPlan, now: datetime) -> None:
    ttl = spec.get("ttlSecondsAfterFinished")
    if ttl is None:
        return
    end = condition(status, "Complete") or condition(status, "Failed") or {}
    finished_at = time_or_none(end.get("lastTransitionTime"))
    if finished_at is None:
        return
    left = (finished_at - now).total_seconds() + int(ttl)
    if left <= 0:
        out.delete_job = True
    else:
        out.requeue_after = left
