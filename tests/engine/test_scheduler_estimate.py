"""Start estimates: from running pods' deadlines and the median run time of the same program,
the first ending after which the workload fits; no basis gives no number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.clock import format_time
from engine.scheduler import snapshot
from engine.scheduler.buckets import Placer
from engine.scheduler.estimate import UNKNOWN, Durations, capacity_start, ending, estimate_all, quota_start
from engine.scheduler.queues import Workload, admit, queue_states

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return format_time(NOW + timedelta(seconds=seconds))


def node(name: str, gpus: int) -> dict[str, Any]:
    alloc = {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": str(gpus)}
    return {"metadata": {"name": name, "labels": {}}, "spec": {},
            "status": {"allocatable": alloc, "conditions": [{"type": "Ready", "status": "True"}]}}


def running(name: str, gpus: int, *, on: str = "n0", started: float = -60, deadline: int | None = None,
            image: str = "train:v1", queue: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": on, "containers": [
        {"name": "c", "image": image, "command": ["python", "train.py"],
         "resources": {"requests": {"nvidia.com/gpu": str(gpus)}}}]}
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": name}
    if queue:
        meta["labels"] = {"tugboat.dev/queue": queue}
    return {"kind": "Pod", "metadata": meta, "spec": spec,
            "status": {"phase": "Running", "startTime": at(started)}}


def finished(name: str, seconds: float, image: str = "train:v1") -> dict[str, Any]:
    pod = running(name, 1, image=image, started=-10000)
    pod["status"] = {"phase": "Succeeded", "startTime": at(-10000), "containerStatuses": [
        {"state": {"terminated": {"finishedAt": at(-10000 + seconds)}}}]}
    return pod


def waiting(name: str, gpus: int, queue: str = "default") -> Workload:
    pod = running(name, gpus)
    pod["spec"].pop("nodeName")
    pod["status"] = {"phase": "Pending"}
    return Workload("Pod", "default", name, queue, 0, at(0), [pod], obj=pod)


def test_durations_remember_the_median_per_program() -> None:
    d = Durations()
    for i, secs in enumerate((100, 300, 200)):
        d.observe(finished(f"f{i}", secs))
    d.observe(finished("f0", 9999))  # the same pod again counts once
    d.observe(finished("other", 5, image="eval:v1"))
    assert d.median(running("x", 1)) == (200, 3)
    assert d.median(running("y", 1, image="new:v1")) is None
    e = ending(running("r", 1, started=-50), d, NOW)
    assert e.at == NOW + timedelta(seconds=150) and "median of 3" in e.basis
    e = ending(running("r", 1, started=-50, deadline=600), d, NOW)
    assert e.at == NOW + timedelta(seconds=550) and e.basis == "activeDeadlineSeconds"
    assert ending(running("r", 1, image="new:v1"), d, NOW).at is None


def test_capacity_start_is_the_first_end_that_makes_room() -> None:
    pods = [running("soon", 2, deadline=120), running("later", 2, deadline=600),
            running("open-ended", 4, on="n1")]
    placer = Placer(snapshot([node("n0", 4), node("n1", 4)], pods))
    d = Durations()
    endings = [ending(p, d, NOW) for p in pods]
    two = capacity_start(waiting("two", 2), endings, placer)
    assert two is not None and two.pod["metadata"]["name"] == "soon" and two.at == NOW + timedelta(seconds=60)
    four = capacity_start(waiting("four", 4), endings, placer)
    assert four is not None and four.pod["metadata"]["name"] == "later"
    assert capacity_start(waiting("eight", 8), endings, placer) is None  # needs the open-ended pod gone
    # the trials left the placer as it was
    assert placer.states["n0"].requested["nvidia.com/gpu"] == 4


def test_quota_start_counts_only_the_queues_own_ends() -> None:
    qs = queue_states([{"metadata": {"name": "lab"}, "spec": {"quota": {"nvidia.com/gpu": "2"}}}])
    mine = [running("a", 1, deadline=100, queue="lab"), running("b", 1, deadline=300, queue="lab")]
    admit(qs, [Workload("Pod", "default", p["metadata"]["name"], "lab", 0, "", [p], admitted=True)
               for p in mine], Placer(snapshot([node("n0", 8)], mine)))
    d = Durations()
    end = quota_start(waiting("w", 2, "lab"), qs["lab"], [ending(p, d, NOW) for p in mine])
    assert end is not None and end.pod["metadata"]["name"] == "b"


def test_estimate_all_says_unknown_without_a_basis_and_follows_the_head() -> None:
    pods = [running("busy", 4)]
    placer = Placer(snapshot([node("n0", 4)], pods))
    qs = queue_states([{"metadata": {"name": "default"}, "spec": {"strategy": "StrictFIFO"}}])
    verdicts = admit(qs, [waiting("head", 2), Workload(**{**waiting("next", 1).__dict__, "created": at(5)})],
                     placer)
    d = Durations()
    got = estimate_all(verdicts, qs, pods, placer, d, NOW)
    assert got["Pod/default/head"] == {"estimatedStart": None, "estimateBasis": UNKNOWN}
    assert got["Pod/default/next"]["estimatedStart"] is None
    pods[0]["spec"]["activeDeadlineSeconds"] = 3600
    got = estimate_all(verdicts, qs, pods, placer, d, NOW)
    assert got["Pod/default/head"] == {"estimatedStart": at(3540), "estimateBasis": "activeDeadlineSeconds"}
    assert got["Pod/default/next"] == {"estimatedStart": at(3540),
                                       "estimateBasis": "not before the workload it waits behind"}
