"""The ReplicaSet planner against k8s-semantics-2 §1's rules and vectors, with an injected time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.clock import format_time
from workloads.replicaset import _bucket, deletion_order, plan

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return format_time(NOW - timedelta(seconds=seconds))


def rs(replicas: int = 3, *, min_ready: int = 0, deleting: bool = False, generation: int = 2,
       status: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web", "namespace": "default", "uid": "rs-uid", "generation": generation}
    if deleting:
        meta["deletionTimestamp"] = ago(1)
    return {"metadata": meta, "status": status or {},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                     "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "front"}},
                                  "spec": {"containers": [{"name": "c"}]}}}}


def pod(name: str, *, owner: str | None = "rs-uid", labels: dict[str, str] | None = None,
        phase: str = "Running", node: str = "n1", ready: float | None = None, restarts: int = 0,
        created: float = 100, deleting: bool = False, cost: str | None = None,
        ns: str = "default") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"uid-{name}",
                            "labels": {"app": "web", "tier": "front"} if labels is None else labels,
                            "creationTimestamp": ago(created)}
    if owner is not None:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web", "uid": owner, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = ago(0)
    if cost is not None:
        meta["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": cost}
    conditions = [{"type": "Ready", "status": "True" if ready is not None else "False",
                   **({"lastTransitionTime": ago(ready)} if ready is not None else {})}]
    return {"metadata": meta, "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


def names(pods: list[dict[str, Any]]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_too_few_creates_the_difference_and_too_many_deletes_it() -> None:
    out = plan(rs(3), [pod("a", ready=60)], NOW)
    assert (out.create, out.delete) == (2, [])
    out = plan(rs(1), [pod("a", ready=60), pod("b", ready=50), pod("c", ready=40)], NOW)
    assert out.create == 0 and len(out.delete) == 2
    out = plan(rs(0), [pod("a"), pod("b")], NOW)  # every pod goes: no order needed
    assert sorted(names(out.delete)) == ["a", "b"]


def test_a_huge_replicas_creates_no_more_while_a_burst_of_its_pods_waits_for_a_node() -> None:
    assert plan(rs(2**31 - 1), [], NOW).create == 500  # one burst
    waiting = [pod(f"w{i}", node="") for i in range(500)]
    assert plan(rs(2**31 - 1), waiting, NOW).create == 0  # its cost follows what can be placed
    placed = [pod(f"p{i}", ready=60) for i in range(300)]
    assert plan(rs(2**31 - 1), waiting[:200] + placed, NOW).create == 300
    assert plan(rs(210), waiting[:200] + placed[:5], NOW).create == 5  # the difference, as ever


def test_finished_and_terminating_pods_count_as_gone_and_are_replaced_at_once() -> None:
    pods = [pod("ok", ready=60), pod("done", phase="Succeeded"), pod("dead", phase="Failed"),
            pod("going", deleting=True, ready=60)]
    out = plan(rs(3), pods, NOW)
    assert out.create == 2 and out.delete == []
    assert out.status["replicas"] == 1


def test_the_reference_worked_example_deletes_p1_to_p4() -> None:
    pods = [pod("p1", node="", phase="Pending"), pod("p2", phase="Pending"), pod("p3"),
            pod("p4", ready=10), pod("p5", node="n2", ready=3600, restarts=2),
            pod("p6", node="n2", ready=3600)]
    ranks = {"": 1, "n1": 3, "n2": 2}
    assert names(deletion_order(pods, ranks, NOW)) == ["p1", "p2", "p3", "p4", "p5", "p6"]
    out = plan(rs(2), pods, NOW)
    assert sorted(names(out.delete)) == ["p1", "p2", "p3", "p4"]


def test_deletion_order_rules_one_by_one() -> None:
    # lower deletion cost first, before rank
    assert names(deletion_order([pod("a", cost="5"), pod("b", cost="-1")], {}, NOW)) == ["b", "a"]
    # an invalid cost counts as 0
    assert names(deletion_order([pod("a", cost="x"), pod("b", cost="1")], {}, NOW)) == ["a", "b"]
    # more related pods on the node first
    on_two = deletion_order([pod("a", node="n1"), pod("b", node="n2")], {"n1": 1, "n2": 4}, NOW)
    assert names(on_two) == ["b", "a"]
    # both ready at different times: the more recently ready first (log buckets)
    assert names(deletion_order([pod("old", ready=3600), pod("new", ready=10)], {}, NOW)) == ["new", "old"]
    # same bucket (100 s and 120 s): the smaller uid first
    assert names(deletion_order([pod("b", ready=100), pod("a", ready=120)], {}, NOW)) == ["a", "b"]
    # then more restarts first, then newer first
    assert names(deletion_order([pod("a", restarts=0), pod("b", restarts=3)], {}, NOW)) == ["b", "a"]
    newer = deletion_order([pod("old", created=7200), pod("new", created=10)], {}, NOW)
    assert names(newer) == ["new", "old"]


@pytest.mark.parametrize(("seconds", "bucket"), [(10, 33), (50, 35), (100, 36), (120, 36), (130, 36),
                                                 (3000, 41), (3600, 41), (7200, 42)])
def test_log_buckets_match_the_reference(seconds: int, bucket: int) -> None:
    assert _bucket(NOW - timedelta(seconds=seconds), NOW) == bucket


def test_adopts_matching_orphans_releases_unmatched_and_ignores_others() -> None:
    pods = [pod("mine", ready=60), pod("orphan", owner=None), pod("stray", labels={"app": "db"}),
            pod("theirs", owner="someone-else"), pod("elsewhere", owner=None, ns="team"),
            pod("orphan-going", owner=None, deleting=True)]
    out = plan(rs(2), pods, NOW)
    assert names(out.adopt) == ["orphan"] and names(out.release) == ["stray"]
    assert out.create == 0 and out.status["replicas"] == 2  # the adopted orphan counts


def test_a_deleted_replicaset_adopts_releases_creates_and_deletes_nothing() -> None:
    out = plan(rs(5, deleting=True), [pod("mine"), pod("orphan", owner=None), pod("stray", labels={})], NOW)
    assert (out.create, out.delete, out.adopt, out.release) == (0, [], [], [])
    assert out.status["replicas"] == 1


def test_status_counts_ready_available_after_min_ready_seconds_strictly_and_labels() -> None:
    pods = [pod("a", ready=30), pod("b", ready=10), pod("c"), pod("d", ready=5, labels={"app": "web"})]
    out = plan(rs(4, min_ready=10), pods, NOW)
    assert out.status == {"replicas": 4, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                          "availableReplicas": 1, "observedGeneration": 2}
    # b is ready exactly 10 s: not yet (strict); d becomes available in 5 s
    assert out.requeue_after == pytest.approx(0.001, abs=0.01)
    out = plan(rs(4), pods, NOW)
    assert out.status["availableReplicas"] == 3 and out.requeue_after is None


def test_hostile_fields_do_not_crash() -> None:
    bad = rs(2)
    bad["spec"]["replicas"] = "many"
    bad["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "Bogus"}]}
    out = plan(bad, [pod("a", owner=None)], NOW)
    assert out.adopt == [] and out.create == 1  # a broken selector selects nothing; replicas as 1


def test_ended_pods_beyond_five_are_forgotten_oldest_first() -> None:
    ended = [pod(f"e{i}", phase="Failed", created=100 - i) for i in range(8)]
    out = plan(rs(1), [pod("live", ready=60), *ended], NOW)
    assert names(out.forget) == ["e0", "e1", "e2"] and out.create == 0
    assert plan(rs(1), [pod("live", ready=60), *ended[:5]], NOW).forget == []
