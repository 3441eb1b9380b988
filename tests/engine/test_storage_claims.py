"""storage/claims.py and storage/plan.py: binding, provisioning, reclaiming and what the
scheduler learns of a pod's claims, table-tested on plain objects."""

from __future__ import annotations

from typing import Any

import pytest

from storage.claims import (
    DEFAULT_CLASS,
    PV_PROTECTION,
    PVC_PROTECTION,
    SELECTED_NODE,
    VOLUME_BLOCKED,
    VOLUME_NODES,
    VOLUME_STORAGE,
    Claims,
    best_volume,
    default_class,
    fits,
    one_node_per_claim,
    requested,
    scheduling_view,
)
from storage.plan import plan_claim, plan_volume, reclaim_target, volume_node

Obj = dict[str, Any]
BASE = "tug-home/local-path"  # an opaque base: the functions only join names to it


def sc(name: str = "local-path", *, mode: str = "WaitForFirstConsumer",
       provisioner: str = "tugboat.dev/local-path", policy: str = "Delete", default: bool = False,
       created: str = "2026-01-01T00:00:00Z") -> Obj:
    annotations = {DEFAULT_CLASS: "true"} if default else {}
    return {"metadata": {"name": name, "annotations": annotations, "creationTimestamp": created},
            "provisioner": provisioner, "reclaimPolicy": policy, "volumeBindingMode": mode}


def pvc(name: str = "data", *, storage: str = "1Gi", cls: str | None = "local-path",
        modes: list[str] | None = None, volume: str | None = None, phase: str = "Pending",
        uid: str | None = None, **meta: Any) -> Obj:
    spec: Obj = {"accessModes": modes or ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": name, "namespace": "default", "uid": uid or f"uid-{name}",
                         "finalizers": [PVC_PROTECTION], **meta},
            "spec": spec, "status": {"phase": phase}}


def pv(name: str, *, storage: str = "1Gi", cls: str = "manual", modes: list[str] | None = None,
       claim: Obj | None = None, policy: str = "Retain", labels: Obj | None = None, **meta: Any) -> Obj:
    spec: Obj = {"capacity": {"storage": storage}, "accessModes": modes or ["ReadWriteOnce"],
                 "storageClassName": cls, "persistentVolumeReclaimPolicy": policy,
                 "hostPath": {"path": f"/mnt/{name}"}}
    if claim is not None:
        spec["claimRef"] = claim
    return {"metadata": {"name": name, "labels": labels or {}, "finalizers": [PV_PROTECTION], **meta},
            "spec": spec, "status": {"phase": "Available"}}


def pod(name: str, *claims: str, node: str | None = None, phase: str = "Pending",
        created: str = "2026-01-01T00:00:00Z") -> Obj:
    spec: Obj = {"volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]
                 + [{"name": "tmp", "emptyDir": {}}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "creationTimestamp": created},
            "spec": spec, "status": {"phase": phase}}


def claims_of(pvcs: list[Obj] = (), pvs: list[Obj] = (), classes: list[Obj] | None = None,  # type: ignore[assignment]
              pods: list[Obj] = ()) -> Claims:  # type: ignore[assignment]
    return Claims.of(list(pvcs), list(pvs), [sc()] if classes is None else classes, pods)


# -- claims.py --

def test_the_default_class_is_the_newest_marked_one() -> None:
    assert default_class([sc("a"), sc("b")]) is None
    assert default_class([sc("a", default=True), sc("b")]) == "a"
    assert default_class([sc("old", default=True, created="2025-01-01T00:00:00Z"),
                          sc("new", default=True, created="2026-06-01T00:00:00Z")]) == "new"


@pytest.mark.parametrize("raw, expected", [("1Gi", 2**30), ("500M", 500 * 10**6), ("lots", 0), (None, 0)])
def test_requested_reads_the_storage_request(raw: str | None, expected: int) -> None:
    claim = pvc()
    claim["spec"]["resources"]["requests"]["storage"] = raw
    assert requested(claim) == expected


def test_a_volume_fits_by_class_modes_size_selector_and_freedom() -> None:
    claim = pvc(cls="manual", storage="2Gi")
    assert fits(pv("a", storage="2Gi"), claim)
    assert not fits(pv("a", storage="1Gi"), claim)  # too small
    assert not fits(pv("a", storage="2Gi", cls="fast"), claim)  # another class
    assert not fits(pv("a", storage="2Gi", modes=["ReadOnlyMany"]), claim)  # lacks ReadWriteOnce
    assert not fits(pv("a", storage="2Gi", claim={"name": "other", "namespace": "default"}), claim)  # taken
    assert not fits(pv("a", storage="2Gi", deletionTimestamp="2026-01-01T00:00:00Z"), claim)
    claim["spec"]["selector"] = {"matchLabels": {"tier": "ssd"}}
    assert not fits(pv("a", storage="2Gi"), claim)
    assert fits(pv("a", storage="2Gi", labels={"tier": "ssd"}), claim)


def test_the_best_volume_is_the_smallest_that_fits_or_the_named_one() -> None:
    vols = [pv("big", storage="10Gi"), pv("small", storage="2Gi"), pv("tiny", storage="1Gi")]
    claim = pvc(cls="manual", storage="2Gi")
    assert best_volume(claim, vols)["metadata"]["name"] == "small"  # type: ignore[index]
    claim["spec"]["volumeName"] = "big"
    assert best_volume(claim, vols)["metadata"]["name"] == "big"  # type: ignore[index]
    assert best_volume(pvc(cls="manual", storage="20Gi"), vols) is None


def test_a_pod_without_claims_is_judged_as_it_is() -> None:
    p = pod("p")
    assert scheduling_view(p, claims_of()) is p


@pytest.mark.parametrize("claim, reason", [
    (None, 'persistentvolumeclaim "data" not found'),
    (pvc(deletionTimestamp="2026-01-01T00:00:00Z"), 'persistentvolumeclaim "data" is being deleted'),
    (pvc(cls="manual"), "pod has unbound immediate PersistentVolumeClaims"),
])
def test_a_pod_that_cannot_be_placed_says_why(claim: Obj | None, reason: str) -> None:
    view = scheduling_view(pod("p", "data"), claims_of([claim] if claim else []))
    assert view["spec"][VOLUME_BLOCKED] == reason


def test_a_first_consumer_carries_the_storage_to_provision() -> None:
    view = scheduling_view(pod("p", "data"), claims_of([pvc(storage="3Gi")]))
    assert view["spec"][VOLUME_STORAGE] == 3 * 2**30
    assert VOLUME_BLOCKED not in view["spec"] and VOLUME_NODES not in view["spec"]


def test_a_bound_claim_pins_the_pod_to_its_volumes_node() -> None:
    vol = pv("v", cls="local-path")
    vol["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}]}]}}
    view = scheduling_view(pod("p", "data"), claims_of([pvc(volume="v", phase="Bound")], [vol]))
    [(terms, reason)] = view["spec"][VOLUME_NODES]
    assert terms[0]["matchExpressions"][0]["values"] == ["n2"]
    assert reason == "node(s) had volume node affinity conflict"


def test_an_unbound_claim_with_a_placed_user_pins_the_next_pod_there() -> None:
    placed = pod("first", "data", node="n1")
    view = scheduling_view(pod("second", "data"), claims_of([pvc()], pods=[placed]))
    nodes = [terms[0]["matchExpressions"][0]["values"] for terms, _ in view["spec"][VOLUME_NODES]]
    assert nodes == [["n1"], ["n1"]]  # the volume is made there, and ReadWriteOnce is per node
    why = view["spec"][VOLUME_NODES][1][1]
    assert 'persistentvolumeclaim "data" (ReadWriteOnce, in use on node n1)' in why
    selected = pvc(**{"annotations": {SELECTED_NODE: "n3"}})
    view = scheduling_view(pod("second", "data"), claims_of([selected]))
    assert view["spec"][VOLUME_NODES][0][0][0]["matchExpressions"][0]["values"] == ["n3"]


def test_read_write_once_pod_admits_one_placed_pod() -> None:
    claim = pvc(modes=["ReadWriteOncePod"])
    view = scheduling_view(pod("second", "data"), claims_of([claim], pods=[pod("first", "data", node="n1")]))
    assert "ReadWriteOncePod" in view["spec"][VOLUME_BLOCKED]
    ended = pod("first", "data", node="n1", phase="Succeeded")
    view = scheduling_view(pod("second", "data"), claims_of([claim], pods=[ended]))
    assert VOLUME_BLOCKED not in view["spec"]


def test_pods_placed_in_one_pass_share_a_new_claim_on_one_node() -> None:
    claims = claims_of([pvc("data"), pvc("other")])
    a, b, c = pod("a", "data"), pod("b", "data"), pod("c", "other")
    kept, later = one_node_per_claim([(a, "n1"), (b, "n2"), (c, "n2")], claims)
    assert kept == [(a, "n1"), (c, "n2")] and later == [(b, "n2")]
    kept, later = one_node_per_claim([(a, "n1"), (b, "n1")], claims)
    assert later == []


# -- plan.py: claims --

def test_a_first_consumer_claim_waits_for_its_pod() -> None:
    claim = pvc()
    plan = plan_claim(claim, claims_of([claim]), BASE)
    assert plan.create is None and plan.claim_status is None  # already Pending
    assert [e[2] for e in plan.events] == ["WaitForFirstConsumer"]


def test_a_claim_gets_a_local_path_volume_on_its_first_pods_node() -> None:
    claim = pvc(storage="2Gi")
    later = pod("b", "data", node="n2", created="2026-01-02T00:00:00Z")
    first = pod("a", "data", node="n1", created="2026-01-01T00:00:00Z")
    plan = plan_claim(claim, claims_of([claim], pods=[later, first]), BASE)
    made = plan.create
    assert made is not None and made["metadata"]["name"] == "pvc-uid-data"
    assert volume_node(made) == "n1"
    assert made["spec"]["hostPath"]["path"] == f"{BASE}/pvc-uid-data_default_data"
    assert made["spec"]["capacity"] == {"storage": "2Gi"}
    assert made["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert made["spec"]["claimRef"]["uid"] == "uid-data"
    assert plan.claim is not None and plan.claim["spec"]["volumeName"] == "pvc-uid-data"
    assert plan.claim["metadata"]["annotations"][SELECTED_NODE] == "n1"
    assert plan.claim_status == {"phase": "Bound", "capacity": {"storage": "2Gi"},
                                 "accessModes": ["ReadWriteOnce"]}
    assert plan.volume_status == {"phase": "Bound"}
    assert [e[2] for e in plan.events] == ["ProvisioningSucceeded"]


@pytest.mark.parametrize("classes, cls, reason", [
    ([], "gone", "ProvisioningFailed"),
    ([sc("ebs", provisioner="ebs.csi.aws.com")], "ebs", "ExternalProvisioning"),
    ([sc(mode="Immediate")], "local-path", "ProvisioningFailed"),
    ([], None, "FailedBinding"),
])
def test_a_claim_that_cannot_be_provisioned_says_why(classes: list[Obj], cls: str | None,
                                                     reason: str) -> None:
    claim = pvc(cls=cls)
    plan = plan_claim(claim, claims_of([claim], classes=classes, pods=[pod("a", "data", node="n1")]), BASE)
    assert plan.create is None
    assert [e[2] for e in plan.events] == [reason]


def test_a_claim_binds_the_smallest_static_volume_both_ways() -> None:
    claim = pvc(cls="manual", storage="1Gi")
    vols = [pv("big", storage="5Gi"), pv("fit", storage="1Gi")]
    plan = plan_claim(claim, claims_of([claim], vols), BASE)
    assert plan.create is None
    assert plan.volume is not None and plan.volume["metadata"]["name"] == "fit"
    assert plan.volume["spec"]["claimRef"]["uid"] == "uid-data"
    assert plan.claim is not None and plan.claim["spec"]["volumeName"] == "fit"
    assert plan.claim_status is not None and plan.claim_status["phase"] == "Bound"


def test_a_volume_made_for_a_claim_binds_to_it_before_any_other() -> None:
    claim = pvc(cls="manual", storage="1Gi")
    ref = {"namespace": "default", "name": "data"}
    vols = [pv("fit", storage="1Gi"), pv("mine", storage="9Gi", claim=ref)]
    plan = plan_claim(claim, claims_of([claim], vols), BASE)
    assert plan.claim is not None and plan.claim["spec"]["volumeName"] == "mine"


def test_a_claim_naming_a_volume_bound_elsewhere_waits() -> None:
    claim = pvc(cls="manual", volume="v")
    taken = pv("v", claim={"namespace": "default", "name": "other", "uid": "uid-other"})
    plan = plan_claim(claim, claims_of([claim], [taken]), BASE)
    assert plan.volume is None and plan.claim is None
    assert [e[2] for e in plan.events] == ["FailedBinding"]


def test_a_bound_claim_whose_volume_is_gone_is_lost() -> None:
    claim = pvc(volume="v", phase="Bound")
    plan = plan_claim(claim, claims_of([claim]), BASE)
    assert plan.claim_status is not None and plan.claim_status["phase"] == "Lost"
    assert [e[2] for e in plan.events] == ["ClaimLost"]


def test_a_deleted_claim_keeps_its_finalizer_while_a_pod_uses_it() -> None:
    claim = pvc(deletionTimestamp="2026-01-01T00:00:00Z")
    assert plan_claim(claim, claims_of([claim], pods=[pod("a", "data", node="n1")]), BASE).claim is None
    done = pod("a", "data", node="n1", phase="Succeeded")
    freed = plan_claim(claim, claims_of([claim], pods=[done]), BASE).claim
    assert freed is not None and freed["metadata"]["finalizers"] == []


# -- plan.py: volumes --

def test_a_free_volume_is_available_and_a_bound_one_bound() -> None:
    free = pv("v")
    free["status"] = {}
    assert plan_volume(free, claims_of()).volume_status == {"phase": "Available"}
    claim = pvc(volume="v", phase="Bound")
    held = pv("v", claim={"namespace": "default", "name": "data", "uid": "uid-data"})
    assert plan_volume(held, claims_of([claim])).volume_status == {"phase": "Bound"}


def test_a_volume_whose_claim_is_gone_is_reclaimed_by_its_policy() -> None:
    ref = {"namespace": "default", "name": "data", "uid": "uid-data"}
    kept = plan_volume(pv("v", claim=ref, policy="Retain"), claims_of())
    assert kept.volume_status == {"phase": "Released"} and kept.reclaim is None
    ours = pv("v", claim=ref, policy="Delete",
              annotations={"pv.kubernetes.io/provisioned-by": "tugboat.dev/local-path"})
    gone = plan_volume(ours, claims_of())
    assert gone.reclaim is ours and gone.volume_status == {"phase": "Released"}
    foreign = plan_volume(pv("v", claim=ref, policy="Delete"), claims_of())
    assert foreign.reclaim is None
    assert foreign.volume_status is not None and foreign.volume_status["phase"] == "Failed"
    # a new claim of the same name is not the one the volume was bound to
    renamed = plan_volume(pv("v", claim=ref), claims_of([pvc(uid="uid-new")]))
    assert renamed.volume_status == {"phase": "Released"}


def test_a_deleted_volume_keeps_its_finalizer_while_a_claim_is_bound_to_it() -> None:
    ref = {"namespace": "default", "name": "data", "uid": "uid-data"}
    vol = pv("v", claim=ref, deletionTimestamp="2026-01-01T00:00:00Z")
    assert plan_volume(vol, claims_of([pvc(volume="v", phase="Bound")])).volume is None
    freed = plan_volume(vol, claims_of()).volume
    assert freed is not None and freed["metadata"]["finalizers"] == []


def test_the_reclaim_target_is_the_volumes_node_and_directory() -> None:
    claim = pvc()
    made = plan_claim(claim, claims_of([claim], pods=[pod("a", "data", node="n1")]), BASE).create
    assert made is not None
    assert reclaim_target(made) == ("n1", f"{BASE}/pvc-uid-data_default_data")
    assert reclaim_target(pv("static")) is None  # no node: nothing tugboat may remove
