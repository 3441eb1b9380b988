"""Queue admission: order by priority then age, quotas, BestEffortFIFO against StrictFIFO,
all-or-nothing placement of a Job's pods, and the reasons and positions of those that wait."""

from __future__ import annotations

from typing import Any

from engine.scheduler import snapshot
from engine.scheduler.buckets import Placer
from engine.scheduler.queues import BEHIND, NO_QUEUE, QUOTA, UNSCHEDULABLE, Workload, admit, queue_states


def node(name: str, gpus: int) -> dict[str, Any]:
    alloc = {"cpu": "32", "memory": "128Gi", "pods": "110", "nvidia.com/gpu": str(gpus)}
    return {"metadata": {"name": name, "labels": {}}, "spec": {},
            "status": {"allocatable": alloc, "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(gpus: int) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "resources": {"requests": {"nvidia.com/gpu": str(gpus), "cpu": "1"}}}]}}


def wl(name: str, gpus: int, *, queue: str = "q", priority: int = 0, created: str = "2026-01-01T00:00:00Z",
       pods: int = 1, admitted: bool = False, kind: str = "Pod", gang: bool = False) -> Workload:
    return Workload(kind, "default", name, queue, priority, created, [pod(gpus)] * pods, admitted, gang)


def queues(strategy: str = "BestEffortFIFO", gpus: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"strategy": strategy}
    if gpus is not None:
        spec["quota"] = {"nvidia.com/gpu": gpus}
    return queue_states([{"metadata": {"name": "q"}, "spec": spec},
                         {"metadata": {"name": "other"}, "spec": {}}])


def placer(*gpus: int) -> Placer:
    return Placer(snapshot([node(f"n{i}", g) for i, g in enumerate(gpus)], []))


def by_name(verdicts: list[Any]) -> dict[str, Any]:
    return {v.workload.name: v for v in verdicts}


def test_priority_then_age_decides_who_gets_the_last_gpus() -> None:
    out = by_name(admit(queues(), [wl("old", 4, created="2026-01-01T00:00:00Z"),
                                   wl("new-high", 4, priority=100, created="2026-01-02T00:00:00Z"),
                                   wl("new", 4, created="2026-01-02T00:00:00Z")], placer(8)))
    assert out["new-high"].admitted and out["old"].admitted
    assert out["new"].reason == UNSCHEDULABLE and out["new"].position == 1
    assert "Insufficient nvidia.com/gpu (free 0, need 4)" in out["new"].message


def test_quota_holds_work_back_and_counts_what_is_admitted() -> None:
    qs = queues(gpus="8")
    out = by_name(admit(qs, [wl("running", 6, admitted=True), wl("a", 2), wl("b", 1),
                             wl("elsewhere", 4, queue="other")], placer(16)))
    assert out["a"].admitted and out["elsewhere"].admitted
    assert out["b"].reason == QUOTA and out["b"].position == 1
    assert out["b"].message == "queue q is at its quota: nvidia.com/gpu 8/8 in use (need 1)"
    assert qs["q"].used["nvidia.com/gpu"] == 8 and qs["q"].admitted == 2


def test_best_effort_lets_a_smaller_workload_pass_strict_does_not() -> None:
    work = [wl("big", 8, created="2026-01-01T00:00:00Z"), wl("small", 2, created="2026-01-02T00:00:00Z"),
            wl("small2", 2, created="2026-01-03T00:00:00Z")]
    best = by_name(admit(queues("BestEffortFIFO"), work, placer(4)))
    assert best["small"].admitted and best["small2"].admitted and not best["big"].admitted
    strict = by_name(admit(queues("StrictFIFO"), work, placer(4)))
    assert strict["big"].reason == UNSCHEDULABLE and strict["big"].position == 1
    assert strict["small"].reason == BEHIND and strict["small"].position == 2
    assert strict["small"].message == "waiting behind pod default/big in StrictFIFO queue q"
    assert strict["small2"].position == 3


def test_a_gangs_pods_fit_together_or_not_at_all() -> None:
    p = placer(4, 4)
    out = by_name(admit(queues(), [wl("job", 2, pods=5, kind="Job", gang=True),
                                   wl("after", 4, created="2026-01-02T00:00:00Z")], p))
    assert out["job"].reason == UNSCHEDULABLE
    assert out["job"].message.startswith("gang of 5: only 4 fit together; 0/2 nodes are available")
    assert out["after"].admitted  # the gang's trial placements were released
    fits = by_name(admit(queues(), [wl("job", 2, pods=2, kind="Job", gang=True)], placer(4)))["job"]
    assert fits.admitted and fits.nodes == ("n0", "n0")


def test_a_plain_job_is_admitted_when_some_of_its_pods_fit() -> None:
    out = by_name(admit(queues(), [wl("job", 2, pods=5, kind="Job")], placer(4, 4)))["job"]
    assert out.admitted and len(out.nodes) == 4
    none = by_name(admit(queues(), [wl("job", 8, pods=2, kind="Job")], placer(4, 4)))["job"]
    assert none.reason == UNSCHEDULABLE and none.message.startswith("0/2 nodes are available")


def test_a_missing_queue_is_said() -> None:
    [v] = admit(queues(), [wl("lost", 1, queue="gone")], placer(4))
    assert v.reason == NO_QUEUE and v.message == "queue gone does not exist"
