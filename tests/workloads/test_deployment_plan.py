"""The Deployment planner against reference §3's vectors (fenceposts, the rolling steps,
Recreate, proportional scaling, revisions and history, progress), with an injected time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.clock import format_time
from workloads.deployment import (
    DESIRED,
    HASH_LABEL,
    MAX_REPLICAS,
    REVISION,
    REVISION_HISTORY,
    FencepostError,
    fenceposts,
    max_unavailable,
    plan,
    template_hash,
)

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
OLD_TEMPLATE = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "v1"}]}}
NEW_TEMPLATE = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "v2"}]}}


def ago(seconds: float) -> str:
    return format_time(NOW - timedelta(seconds=seconds))


def deploy(replicas: int = 10, *, surge: Any = "25%", unavailable: Any = "25%", recreate: bool = False,
           template: dict[str, Any] | None = None, status: dict[str, Any] | None = None,
           paused: bool = False, history: int = 10, pds: int | None = 600, generation: int = 1,
           annotations: dict[str, str] | None = None) -> dict[str, Any]:
    strategy: dict[str, Any] = ({"type": "Recreate"} if recreate else
                                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge,
                                                                             "maxUnavailable": unavailable}})
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                            "template": template or NEW_TEMPLATE, "strategy": strategy,
                            "revisionHistoryLimit": history, "paused": paused, "minReadySeconds": 0}
    if pds is not None:
        spec["progressDeadlineSeconds"] = pds
    return {"metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": generation,
                         "annotations": annotations or {}},
            "spec": spec, "status": status or {}}


def rs(name: str, replicas: int, *, available: int | None = None, template: dict[str, Any] | None = None,
       created: float = 100, revision: int = 1, desired: int | None = None, most: int | None = None,
       actual: int | None = None) -> dict[str, Any]:
    notes = {REVISION: str(revision)}
    if desired is not None:
        notes[DESIRED] = str(desired)
    if most is not None:
        notes[MAX_REPLICAS] = str(most)
    avail = replicas if available is None else available
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": 1,
                         "creationTimestamp": ago(created), "annotations": notes},
            "spec": {"replicas": replicas, "minReadySeconds": 0, "template": template or OLD_TEMPLATE},
            "status": {"replicas": replicas if actual is None else actual, "readyReplicas": avail,
                       "availableReplicas": avail, "observedGeneration": 1}}


def sizes(out: Any) -> dict[str, int]:
    got = {r["metadata"]["name"]: r["spec"]["replicas"] for r in out.update}
    if out.create is not None:
        got["NEW"] = out.create["spec"]["replicas"]
    return got


@pytest.mark.parametrize(("surge", "unavailable", "replicas", "want"), [
    ("25%", "25%", 10, (3, 2)), ("25%", "25%", 4, (1, 1)), ("25%", "25%", 3, (1, 0)),
    ("25%", "25%", 1, (1, 0)), ("39%", "39%", 10, (4, 3)), (None, "39%", 10, (0, 3)),
    ("39%", None, 10, (4, 0)), (None, None, 10, (0, 1)),
    ("0%", "0%", 0, (0, 1)), ("0%", "1%", 10, (0, 1)), (2, 0, 5, (2, 0))])
def test_fenceposts(surge: Any, unavailable: Any, replicas: int, want: tuple[int, int]) -> None:
    assert fenceposts(surge, unavailable, replicas) == want


def test_fencepost_errors_and_the_max_unavailable_clamp() -> None:
    with pytest.raises(FencepostError):
        fenceposts("oops", "39%", 10)
    assert max_unavailable(deploy(5, unavailable=10)) == 5
    assert max_unavailable(deploy(0)) == 0
    assert max_unavailable(deploy(10, unavailable="50%")) == 5
    assert max_unavailable(deploy(5, unavailable="100%")) == 5
    assert max_unavailable(deploy(5, recreate=True)) == 0


def test_a_fresh_rollout_of_four_with_defaults_goes_step_by_step() -> None:
    d = deploy(4, status={"observedGeneration": 1, "replicas": 4, "updatedReplicas": 4, "readyReplicas": 4,
                          "availableReplicas": 4})  # surge 1, unavailable 1; the template just changed
    out = plan(d, [rs("old", 4)], NOW)
    assert out.create is not None and sizes(out) == {"NEW": 1}  # sync 1: 0 -> 1, total 5, nothing else
    made = out.create
    digest = template_hash(NEW_TEMPLATE, 0)
    assert made["metadata"]["name"] == f"web-{digest}"
    assert made["spec"]["template"]["metadata"]["labels"][HASH_LABEL] == digest
    assert made["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: digest}
    assert made["metadata"]["annotations"][REVISION] == "2" and out.revision == "2"
    notes = made["metadata"]["annotations"]
    assert notes[DESIRED] == "4" and notes[MAX_REPLICAS] == "5"
    assert ("Normal", "ScalingReplicaSet", f"Scaled up replica set web-{digest} from 0 to 1") in out.events
    progressing = next(c for c in out.status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetCreated"

    new = rs(made["metadata"]["name"], 1, available=0, template=made["spec"]["template"], created=10,
             revision=2)
    out = plan(d, [rs("old", 4), new], NOW)  # sync 2: 5 - 3 - 1 = 1 may go; available 4 > 3
    assert sizes(out) == {"old": 3}
    new = rs(new["metadata"]["name"], 1, template=made["spec"]["template"], created=10, revision=2)
    out = plan(d, [rs("old", 3), new], NOW)  # the new pod is available: the new set grows to 2
    assert sizes(out) == {new["metadata"]["name"]: 2}


@pytest.mark.parametrize(("unavailable", "surge", "old", "new", "want"), [
    (0, 0, rs("old", 10), 0, {"old": 9}),  # both 0: unavailable forced to 1
    (2, 0, rs("old", 10), 0, {"old": 8}),
    (2, 0, rs("old", 10, available=8), 0, {"old": 8}),  # the 2 unhealthy go first
    (2, 0, rs("old", 8), 2, {}),  # 10 - 8 - 2 = 0: nothing more may go
])
def test_rolling_scale_down_vectors(unavailable: int, surge: int, old: dict[str, Any], new: int,
                                    want: dict[str, int]) -> None:
    d = deploy(10, surge=surge, unavailable=unavailable)
    out = plan(d, [old, rs("web-new", new, available=0, template=NEW_TEMPLATE, created=10, revision=2)], NOW)
    assert out.create is None and sizes(out) == want


def test_crash_looping_new_set_blocks_further_scale_down() -> None:
    d = deploy(10, surge=3, unavailable=2)
    new = rs("web-new", 5, available=0, template=NEW_TEMPLATE, created=10, revision=2)
    out = plan(d, [rs("old", 8), new], NOW)
    assert sizes(out) == {}  # 13 pods, min available 8, 5 unavailable new: nothing to do


def test_new_set_above_the_deployment_is_scaled_down_to_it() -> None:
    d = deploy(1, surge=1)
    out = plan(d, [rs("old", 5), rs("web-new", 5, template=NEW_TEMPLATE, created=10, revision=2,
                                    desired=1)], NOW)
    assert sizes(out)["web-new"] == 1


def test_recreate_scales_old_to_zero_waits_for_their_pods_then_makes_the_new_at_full_size() -> None:
    d = deploy(3, recreate=True)
    out = plan(d, [rs("old", 3)], NOW)
    assert sizes(out) == {"old": 0} and out.create is None
    out = plan(d, [rs("old", 0, actual=0)], NOW, old_pods_running=True)  # a pod still terminating
    assert out.create is None and sizes(out) == {}
    out = plan(d, [rs("old", 0, actual=0)], NOW)
    assert out.create is not None and out.create["spec"]["replicas"] == 3


@pytest.mark.parametrize(("before", "after", "want"), [
    (10, 12, {"only": 12}), (10, 5, {"only": 5})])
def test_a_single_set_is_simply_resized(before: int, after: int, want: dict[str, int]) -> None:
    d = deploy(after, surge=0, unavailable=0, template=OLD_TEMPLATE)
    out = plan(d, [rs("only", before, desired=before, most=before)], NOW)
    assert sizes(out) == want


@pytest.mark.parametrize(("replicas", "want"), [(10, {"web-new": 4, "old": 6}),
                                                (3, {"web-new": 1, "old": 2})])
def test_proportional_scaling_mid_rollout(replicas: int, want: dict[str, int]) -> None:
    d = deploy(replicas, surge=0, unavailable=1)
    sets = [rs("old", 3, desired=5, most=5), rs("web-new", 2, available=0, template=NEW_TEMPLATE, created=10,
                                                    revision=2, desired=5, most=5)]
    out = plan(d, sets, NOW)
    assert sizes(out) == want
    for r in out.update:
        assert r["metadata"]["annotations"][DESIRED] == str(replicas)


def test_undo_reuses_the_old_set_with_a_new_revision_and_history() -> None:
    d = deploy(2, template=OLD_TEMPLATE, annotations={REVISION: "2"})
    out = plan(d, [rs("web-one", 0, template=OLD_TEMPLATE, created=200, revision=1),
                   rs("web-two", 2, template=NEW_TEMPLATE, created=100, revision=2)], NOW)
    one = next(r for r in out.update if r["metadata"]["name"] == "web-one")
    assert one["metadata"]["annotations"][REVISION] == "3"
    assert one["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert out.revision == "3" and out.create is None


def test_history_cleanup_deletes_the_lowest_revisions_beyond_the_limit() -> None:
    done = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
    d = deploy(1, history=2, status=done, template=OLD_TEMPLATE)
    olds = [rs(f"web-r{i}", 0, actual=0, revision=i, created=1000 - i,
               template={**NEW_TEMPLATE, "spec": {"containers": [{"name": "c", "image": f"old{i}"}]}})
            for i in range(1, 6)]
    olds[1]["status"]["replicas"] = 1  # still has a pod: kept
    current = rs("web-cur", 1, template=OLD_TEMPLATE, revision=6, created=10, desired=1, most=2)
    out = plan(d, [*olds, current], NOW)
    assert sorted(r["metadata"]["name"] for r in out.delete) == ["web-r1", "web-r3"]


def test_progress_deadline_times_out_strictly_after_it() -> None:
    def progressing(updated: float) -> dict[str, Any]:
        return {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1,
                "readyReplicas": 1, "conditions": [
                    {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                     "lastUpdateTime": ago(updated), "lastTransitionTime": ago(100)}]}
    sets = [rs("old", 1), rs("web-new", 1, available=0, template=NEW_TEMPLATE, created=10, revision=2)]
    for updated, timed_out in ((11, True), (9, False)):
        d = deploy(1, surge=1, unavailable=0, pds=10, status=progressing(updated))
        out = plan(d, sets, NOW)
        cond = next(c for c in out.status["conditions"] if c["type"] == "Progressing")
        assert (cond["reason"] == "ProgressDeadlineExceeded") == timed_out, updated
        if not timed_out:
            assert out.requeue_after == pytest.approx(2.0)  # 9 s ago + 10 s + 1 s


def test_complete_rollout_says_so_and_available_follows_max_unavailable() -> None:
    sets = [rs("web-new", 4, template=NEW_TEMPLATE, revision=2, desired=4, most=5)]
    d = deploy(4, annotations={REVISION: "2"},
               status={"observedGeneration": 1, "replicas": 4, "updatedReplicas": 4, "availableReplicas": 4})
    out = plan(d, sets, NOW)
    conds = {c["type"]: c for c in out.status["conditions"]}
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Available"]["status"] == "True"
    assert out.status["updatedReplicas"] == 4 and out.status["unavailableReplicas"] == 0
    low = [rs("web-new", 4, available=2, template=NEW_TEMPLATE, revision=2, desired=4, most=5)]
    out = plan(d, low, NOW)
    assert {c["type"]: c for c in out.status["conditions"]}["Available"]["status"] == "False"  # 2 < 4 - 1


def test_paused_does_not_roll_out_but_says_so() -> None:
    d = deploy(3, paused=True)
    out = plan(d, [rs("old", 3, desired=3, most=4)], NOW)
    assert out.create is None and sizes(out) == {}
    cond = next(c for c in out.status["conditions"] if c["type"] == "Progressing")
    assert (cond["status"], cond["reason"]) == ("Unknown", "DeploymentPaused")
