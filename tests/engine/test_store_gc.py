"""Store deletion: graceful pods, finalizers, and ownerReference cascades (all three policies)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from engine.errors import NotFoundError
from engine.store import Store

from .store_helpers import T0, FakeClock


def owned_by(*owners: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
             "uid": o["metadata"]["uid"], "controller": True} for o in owners]


def make(store: Store, resource: str, kind: str, name: str, *owners: dict[str, Any],
         spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    api = "v1" if kind == "Pod" else "apps/v1"
    md: dict[str, Any] = {"name": name, "namespace": "default", **meta}
    if owners:
        md["ownerReferences"] = owned_by(*owners)
    return store.create(resource, {"apiVersion": api, "kind": kind, "metadata": md,
                                   "spec": spec or {}})


def bound(node: str = "n1", grace: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return spec


def tree(store: Store, *, bound_pods: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deployment web -> ReplicaSet web-1 -> pods web-1-a, web-1-b."""
    dep = make(store, "deployments", "Deployment", "web")
    rs = make(store, "replicasets", "ReplicaSet", "web-1", dep)
    for name in ("web-1-a", "web-1-b"):
        make(store, "pods", "Pod", name, rs, spec=bound() if bound_pods else {})
    return dep, rs


def exists(store: Store, resource: str, name: str) -> bool:
    try:
        store.get(resource, "default", name)
        return True
    except NotFoundError:
        return False


def state(store: Store) -> dict[str, str]:
    """name -> 'live' | 'terminating' for everything in the tree."""
    out = {}
    for resource in ("deployments", "replicasets", "pods"):
        for obj in store.list(resource)[0]:
            md = obj["metadata"]
            out[md["name"]] = "terminating" if md.get("deletionTimestamp") else "live"
    return out


async def drain(store: Store, since: str) -> list[tuple[str, str]]:
    w = store.watch_all(since=since)
    out: list[tuple[str, str]] = []
    while True:
        try:
            _, kind, obj = await asyncio.wait_for(anext(w), timeout=0.05)
        except TimeoutError:
            return out
        out.append((str(kind), obj["metadata"]["name"]))


def test_background_cascade_removes_the_tree(store: Store) -> None:
    tree(store, bound_pods=False)
    last = store.delete("deployments", "default", "web")
    assert last["metadata"]["name"] == "web"
    assert state(store) == {}


def test_background_cascade_marks_running_pods(store: Store) -> None:
    tree(store, bound_pods=True)
    store.delete("deployments", "default", "web")
    assert state(store) == {"web-1-a": "terminating", "web-1-b": "terminating"}
    pod = store.get("pods", "default", "web-1-a")
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
    assert pod["metadata"]["deletionTimestamp"] == "2025-01-02T03:04:35Z"
    store.delete("pods", "default", "web-1-a", grace_seconds=0)
    assert state(store) == {"web-1-b": "terminating"}


async def test_foreground_cascade_waits_for_the_last_pod(store: Store) -> None:
    tree(store, bound_pods=True)
    since = store.resource_version()
    marked = store.delete("deployments", "default", "web", propagation="Foreground")
    assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert state(store) == {"web": "terminating", "web-1": "terminating",
                            "web-1-a": "terminating", "web-1-b": "terminating"}
    assert store.get("replicasets", "default", "web-1")["metadata"]["finalizers"] == [
        "foregroundDeletion"]
    store.delete("pods", "default", "web-1-a", grace_seconds=0)
    assert set(state(store)) == {"web", "web-1", "web-1-b"}
    mid = store.resource_version()
    store.delete("pods", "default", "web-1-b", grace_seconds=0)
    assert state(store) == {}
    assert await drain(store, mid) == [("DELETED", "web-1-b"), ("DELETED", "web-1"),
                                       ("DELETED", "web")]
    events = await drain(store, since)
    assert events[:4] == [("MODIFIED", "web"), ("MODIFIED", "web-1"),
                          ("MODIFIED", "web-1-a"), ("MODIFIED", "web-1-b")]


def test_foreground_with_unbound_pods_finishes_at_once(store: Store) -> None:
    tree(store, bound_pods=False)
    last = store.delete("deployments", "default", "web", propagation="Foreground")
    assert state(store) == {}
    assert last["metadata"]["name"] == "web"


def test_foreground_without_dependents_is_a_plain_delete(store: Store) -> None:
    make(store, "deployments", "Deployment", "lonely")
    store.delete("deployments", "default", "lonely", propagation="Foreground")
    assert not exists(store, "deployments", "lonely")


def test_foreground_owner_released_when_dependent_is_disowned(store: Store) -> None:
    rs = make(store, "replicasets", "ReplicaSet", "rs")
    make(store, "pods", "Pod", "p", rs, spec=bound())
    store.delete("replicasets", "default", "rs", propagation="Foreground")
    assert exists(store, "replicasets", "rs")
    pod = store.get("pods", "default", "p")
    del pod["metadata"]["ownerReferences"]
    store.update("pods", pod)
    assert not exists(store, "replicasets", "rs")
    assert exists(store, "pods", "p")


def test_orphan_keeps_dependents_without_the_reference(store: Store) -> None:
    dep, rs = tree(store, bound_pods=True)
    store.delete("deployments", "default", "web", propagation="Orphan")
    assert state(store) == {"web-1": "live", "web-1-a": "live", "web-1-b": "live"}
    assert "ownerReferences" not in store.get("replicasets", "default", "web-1")["metadata"]
    pod = store.get("pods", "default", "web-1-a")
    assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]


def test_dependent_with_another_living_owner_survives(store: Store) -> None:
    a = make(store, "replicasets", "ReplicaSet", "a")
    b = make(store, "replicasets", "ReplicaSet", "b")
    make(store, "pods", "Pod", "shared", a, b)
    store.delete("replicasets", "default", "a")
    refs = store.get("pods", "default", "shared")["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["b"]
    store.delete("replicasets", "default", "b")
    assert not exists(store, "pods", "shared")


def test_owner_with_finalizer_collects_dependents_when_it_goes(store: Store) -> None:
    rs = make(store, "replicasets", "ReplicaSet", "rs", finalizers=["example.com/hold"])
    make(store, "pods", "Pod", "p", rs)
    store.delete("replicasets", "default", "rs")
    assert state(store) == {"rs": "terminating", "p": "live"}
    held = store.get("replicasets", "default", "rs")
    del held["metadata"]["finalizers"]
    store.update("replicasets", held)
    assert state(store) == {}


def test_graceful_delete_shortens_and_finishes(store: Store, clock: FakeClock) -> None:
    make(store, "pods", "Pod", "p", spec=bound(grace=60))
    first = store.delete("pods", "default", "p")
    assert first["metadata"]["deletionTimestamp"] == "2025-01-02T03:05:05Z"
    assert first["metadata"]["deletionGracePeriodSeconds"] == 60
    clock.now = T0 + timedelta(seconds=10)
    rv = store.resource_version()
    assert store.delete("pods", "default", "p") == first  # again: no change
    assert store.delete("pods", "default", "p", grace_seconds=90) == first  # never longer
    assert store.resource_version() == rv
    shorter = store.delete("pods", "default", "p", grace_seconds=5)
    assert shorter["metadata"]["deletionTimestamp"] == "2025-01-02T03:04:20Z"
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 5
    gone = store.delete("pods", "default", "p", grace_seconds=0)
    assert gone["metadata"]["deletionGracePeriodSeconds"] == 0
    assert not exists(store, "pods", "p")


def test_graceful_choice_by_caller_and_by_phase(store: Store) -> None:
    make(store, "pods", "Pod", "unbound")
    make(store, "pods", "Pod", "forced", spec=bound())
    make(store, "pods", "Pod", "asked", spec={})
    done = make(store, "pods", "Pod", "done", spec=bound())
    store.update_status("pods", {**done, "status": {"phase": "Succeeded"}})
    store.delete("pods", "default", "unbound")
    store.delete("pods", "default", "forced", graceful=False)
    store.delete("pods", "default", "asked", graceful=True, grace_seconds=3)
    store.delete("pods", "default", "done")
    assert state(store) == {"asked": "terminating"}


def test_finalizers_outlast_the_grace_period(store: Store) -> None:
    make(store, "pods", "Pod", "p", spec=bound(), finalizers=["example.com/x"])
    store.delete("pods", "default", "p")
    store.delete("pods", "default", "p", grace_seconds=0)
    pod = store.get("pods", "default", "p")
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 0
    del pod["metadata"]["finalizers"]
    store.update("pods", pod)
    assert not exists(store, "pods", "p")


def test_removing_finalizer_before_grace_ends_keeps_graceful_pod(store: Store) -> None:
    make(store, "pods", "Pod", "p", spec=bound(), finalizers=["example.com/x"])
    store.delete("pods", "default", "p")
    pod = store.get("pods", "default", "p")
    del pod["metadata"]["finalizers"]
    store.update("pods", pod)
    assert state(store) == {"p": "terminating"}
    store.update_status("pods", {**store.get("pods", "default", "p"),
                                 "status": {"phase": "Running"}})
    assert state(store) == {"p": "terminating"}
    store.delete("pods", "default", "p", grace_seconds=0)
    assert state(store) == {}


def test_owner_index_is_kept_in_step(store: Store) -> None:
    rs = make(store, "replicasets", "ReplicaSet", "rs")
    other = make(store, "replicasets", "ReplicaSet", "other")
    pod = make(store, "pods", "Pod", "p", rs)
    pod["metadata"]["ownerReferences"] = owned_by(other)
    store.update("pods", pod)
    store.delete("replicasets", "default", "rs")
    assert exists(store, "pods", "p")
    store.delete("replicasets", "default", "other")
    assert not exists(store, "pods", "p")
