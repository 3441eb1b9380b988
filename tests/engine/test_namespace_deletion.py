"""Deleting a namespace: Terminating at once, new content refused, everything in it deleted by
the namespace controller, the namespace gone only when nothing is left, and a deletion that a
crash cut short finished when the control plane starts again. A real control plane and store,
no Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.client import Client
from engine.controllers.namespaces import NAMESPACE_FINALIZER
from engine.errors import ForbiddenError, MethodNotAllowedError, NotFoundError
from engine.store import Store

from .conftest import InProcessServer, until


def _gone(c: Client, name: str) -> bool:
    try:
        c.get("namespaces", name)
    except NotFoundError:
        return True
    return False


def _cm(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
            "data": {"k": "v"}}


def _pod(name: str, ns: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "60"]}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def test_a_deleted_namespace_terminates_refuses_new_content_and_goes_when_empty(
        api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        for i in range(3):
            c.create(_cm(f"cm{i}", "team"))
        c.create(_pod("stopping", "team", node="n1"))  # bound and running: it stops within its grace
        c.create(_cm("stays", "default"))
        marked = c.delete("namespaces", "team")
        assert marked["status"]["phase"] == "Terminating"
        assert NAMESPACE_FINALIZER in marked["metadata"]["finalizers"]
        with pytest.raises(ForbiddenError) as refused:
            c.create(_cm("late", "team"))
        assert "unable to create new content in namespace team because it is being terminated" in str(
            refused.value)
        # the config maps go at once; the pod is marked and holds the namespace while it stops
        until(lambda: c.list("configmaps", namespace="team")["items"] == [])
        ns = until(lambda: (c.get("namespaces", "team").get("status") or {}).get("conditions")
                    and c.get("namespaces", "team"))
        [remaining] = ns["status"]["conditions"]
        assert remaining["type"] == "NamespaceContentRemaining"
        assert remaining["message"] == "Some resources are remaining: pods has 1 object"
        assert c.get("pods", "stopping", namespace="team")["metadata"]["deletionTimestamp"]
        c.delete("pods", "stopping", namespace="team", grace_seconds=0)  # as the node agent, once stopped
        until(lambda: _gone(c, "team"))
        assert c.get("configmaps", "stays")["data"] == {"k": "v"}  # other namespaces untouched
        again = c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        assert again["metadata"]["name"] == "team"  # the name is free again, and the new one is empty
        assert c.list("configmaps", namespace="team")["items"] == []


@pytest.mark.parametrize("name", ["default", "kube-system"])
def test_the_systems_namespaces_cannot_be_deleted(api_server: InProcessServer, name: str) -> None:
    with api_server.client() as c:
        with pytest.raises(ForbiddenError):
            c.delete("namespaces", name)
        assert not c.get("namespaces", name)["metadata"].get("deletionTimestamp")


def test_a_deletion_a_crash_cut_short_is_finished_at_start(tmp_path: Path) -> None:
    home = tmp_path / "tug"
    home.mkdir(mode=0o700)
    store = Store(home / "store.db")
    store.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": "half", "finalizers": [NAMESPACE_FINALIZER]}},
                 namespaced=False)
    for i in range(4):
        store.create("configmaps", _cm(f"cm{i}", "half"))
    store.delete("namespaces", None, "half")  # marked, then the control plane died
    assert store.get("namespaces", None, "half")["metadata"]["deletionTimestamp"]
    store.close()
    srv = InProcessServer(home)
    try:
        with srv.client() as c:
            until(lambda: _gone(c, "half"))
            assert c.list("configmaps", namespace="half")["items"] == []
    finally:
        srv.close()


def test_a_delete_collection_is_one_transaction(api_server: InProcessServer) -> None:
    """Another reader of the store file sees all of them or none: a crash part-way through
    cannot leave the collection half deleted."""
    import sqlite3
    import threading

    store = api_server.cp.store
    assert store is not None
    count = 400
    api_server.call(store.apply_all, [("create", "configmaps", _cm(f"cm{i}", "default"))
                                      for i in range(count)])
    seen: set[int] = set()
    done = threading.Event()

    def read() -> None:
        db = sqlite3.connect(f"file:{api_server.home / 'store.db'}?mode=ro", uri=True)
        try:
            while not done.is_set():
                row = db.execute("SELECT count(*) FROM objects WHERE resource = 'configmaps'").fetchone()
                seen.add(row[0])
        finally:
            db.close()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with api_server.client() as c:
            until(lambda: count in seen)
            out = c.delete_collection("configmaps")
            assert len(out["items"]) == count
            until(lambda: 0 in seen)
    finally:
        done.set()
        reader.join(10)
    assert seen == {count, 0}
    with api_server.client() as c:
        with pytest.raises(MethodNotAllowedError) as refused:
            c.delete_collection("namespaces", namespace=None)
        assert "cannot be deleted as a collection" in str(refused.value)
        assert not c.get("namespaces", "default")["metadata"].get("deletionTimestamp")
