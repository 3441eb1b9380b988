"""Store CRUD: metadata, generateName, conflicts, generation, status, apply_all, durability."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)
from engine.store import ApplyResult, Store
from engine.store import objects as store_objects

from .store_helpers import T0, FakeClock

ROOT = Path(__file__).resolve().parents[2]


def pod(name: str, ns: str = "default", **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": ns},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    obj["metadata"].update(extra.pop("metadata", {}))
    obj.update(extra)
    return obj


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}}


def test_create_sets_server_metadata(store: Store) -> None:
    created = store.create("pods", pod("a", metadata={"uid": "forged", "generation": 9}))
    md = created["metadata"]
    assert md["uid"] != "forged" and len(md["uid"]) == 36
    assert md["creationTimestamp"] == "2025-01-02T03:04:05Z"
    assert md["generation"] == 1
    assert md["resourceVersion"] == "1"
    assert store.get("pods", "default", "a") == created
    assert store.resource_version() == "1"


def test_resource_version_is_global_across_resources(store: Store) -> None:
    rvs = [store.create("pods", pod("a"))["metadata"]["resourceVersion"],
           store.create("nodes", node("n1"), namespaced=False)["metadata"]["resourceVersion"],
           store.create("pods", pod("b"))["metadata"]["resourceVersion"]]
    assert rvs == ["1", "2", "3"]


def test_create_keeps_status(store: Store) -> None:
    created = store.create("pods", pod("a", status={"phase": "Pending"}))
    assert created["status"] == {"phase": "Pending"}


def test_create_rejects_duplicates_and_missing_namespace(store: Store) -> None:
    store.create("pods", pod("a"))
    with pytest.raises(AlreadyExistsError, match='pods "a" already exists'):
        store.create("pods", pod("a"))
    store.create("pods", pod("a", ns="other"))
    with pytest.raises(BadRequestError, match="metadata.namespace"):
        store.create("pods", {"metadata": {"name": "b"}})
    with pytest.raises(BadRequestError, match="metadata.name"):
        store.create("pods", {"metadata": {"namespace": "default"}})


def test_cluster_scoped_objects_have_no_namespace(store: Store) -> None:
    created = store.create("nodes", {"metadata": {"name": "n1", "namespace": "x"}},
                           namespaced=False)
    assert "namespace" not in created["metadata"]
    assert store.get("nodes", None, "n1") == created
    assert store.list("nodes")[0] == [created]


def test_generate_name(store: Store) -> None:
    a = store.create("pods", pod("", metadata={"name": None, "generateName": "web-"}))
    name = a["metadata"]["name"]
    assert name.startswith("web-") and len(name) == 9
    assert set(name[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert store.get("pods", "default", name)["metadata"]["generateName"] == "web-"


def test_generate_name_retries_on_clash(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    suffixes = iter(["aaaaa", "aaaaa", "bbbbb"])
    monkeypatch.setattr(store_objects, "random_suffix", lambda: next(suffixes))
    gen = {"metadata": {"namespace": "default", "generateName": "x-"}}
    assert store.create("pods", gen)["metadata"]["name"] == "x-aaaaa"
    assert store.create("pods", gen)["metadata"]["name"] == "x-bbbbb"
    monkeypatch.setattr(store_objects, "random_suffix", lambda: "aaaaa")
    with pytest.raises(AlreadyExistsError):
        store.create("pods", gen)


def test_get_missing(store: Store) -> None:
    with pytest.raises(NotFoundError, match='pods "x" not found'):
        store.get("pods", "default", "x")


def test_list_sorted_filtered_with_store_version(store: Store) -> None:
    store.create("pods", pod("b", ns="ns2", metadata={"labels": {"app": "web"}}))
    store.create("pods", pod("b", metadata={"labels": {"app": "db"}}))
    store.create("pods", pod("a", metadata={"labels": {"app": "web"}}))
    store.create("nodes", node("n1"), namespaced=False)
    items, rv = store.list("pods")
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items] == [
        ("default", "a"), ("default", "b"), ("ns2", "b")]
    assert rv == "4"
    assert [o["metadata"]["name"] for o in store.list("pods", "ns2")[0]] == ["b"]
    web, _ = store.list("pods", label_selector="app=web")
    assert [o["metadata"]["namespace"] for o in web] == ["default", "ns2"]
    named, _ = store.list("pods", field_selector="metadata.name=b,metadata.namespace!=ns2")
    assert [o["metadata"]["labels"]["app"] for o in named] == ["db"]
    assert store.list("services") == ([], "4")


def test_update_replaces_spec_and_metadata_keeps_status(store: Store,
                                                         clock: FakeClock) -> None:
    created = store.create("pods", pod("a", status={"phase": "Running"}))
    clock.now = T0 + timedelta(hours=1)
    change = pod("a", metadata={"labels": {"x": "1"}, "uid": "forged",
                                "creationTimestamp": "2000-01-01T00:00:00Z",
                                "deletionTimestamp": "2000-01-01T00:00:00Z"},
                 status={"phase": "Failed"})
    updated = store.update("pods", change)
    md = updated["metadata"]
    assert md["labels"] == {"x": "1"}
    assert md["uid"] == created["metadata"]["uid"]
    assert md["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert "deletionTimestamp" not in md
    assert updated["status"] == {"phase": "Running"}
    assert md["resourceVersion"] == "2"
    assert store.get("pods", "default", "a") == updated


def test_update_conflict_on_stale_version(store: Store) -> None:
    created = store.create("pods", pod("a"))
    first = dict(created, metadata={**created["metadata"], "labels": {"v": "1"}})
    store.update("pods", first)
    stale = dict(created, metadata={**created["metadata"], "labels": {"v": "2"}})
    with pytest.raises(ConflictError) as err:
        store.update("pods", stale)
    assert err.value.code == 409
    assert str(err.value) == (
        'Operation cannot be fulfilled on pods "a": the object has been modified; please '
        "apply your changes to the latest version and try again")
    assert store.get("pods", "default", "a")["metadata"]["labels"] == {"v": "1"}


def test_update_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.update("pods", pod("nope"))


def test_noop_update_keeps_version(store: Store) -> None:
    created = store.create("pods", pod("a", status={"phase": "Running"}))
    again = store.update("pods", pod("a"))
    assert again == created
    assert store.resource_version() == "1"


def test_generation_bumps_only_on_spec_change(store: Store) -> None:
    store.create("pods", pod("a"))
    labelled = store.update("pods", pod("a", metadata={"labels": {"x": "y"}}))
    assert labelled["metadata"]["generation"] == 1
    changed = pod("a", metadata={"labels": {"x": "y"}})
    changed["spec"]["containers"][0]["image"] = "nginx"
    assert store.update("pods", changed)["metadata"]["generation"] == 2
    assert store.update_status("pods", pod("a", status={"phase": "Running"})
                               )["metadata"]["generation"] == 2


def test_generation_for_kinds_without_spec(store: Store) -> None:
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "c", "namespace": "default"},
                          "data": {"k": "1"}}
    store.create("configmaps", cm)
    relabelled = store.update("configmaps", {**cm, "metadata": {**cm["metadata"],
                                                                 "labels": {"a": "b"}}})
    assert relabelled["metadata"]["generation"] == 1
    assert store.update("configmaps", {**cm, "data": {"k": "2"}})["metadata"]["generation"] == 2


def test_update_status_replaces_only_status(store: Store) -> None:
    created = store.create("pods", pod("a", metadata={"labels": {"x": "1"}}))
    given = pod("a", status={"phase": "Running"})
    given["spec"] = {"changed": True}
    given["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    updated = store.update_status("pods", given)
    assert updated["status"] == {"phase": "Running"}
    assert updated["spec"] == created["spec"]
    assert updated["metadata"]["labels"] == {"x": "1"}
    assert updated["metadata"]["resourceVersion"] == "2"
    with pytest.raises(ConflictError):
        store.update_status("pods", given)
    assert store.update_status("pods", pod("a", status={"phase": "Running"})) == updated
    assert store.resource_version() == "2"


def test_apply_all_is_atomic(store: Store) -> None:
    store.create("pods", pod("exists"))
    with pytest.raises(AlreadyExistsError):
        store.apply_all([("create", "pods", pod("new")), ("create", "pods", pod("exists"))])
    with pytest.raises(NotFoundError):
        store.apply_all([("create_or_update", "pods", pod("new2")),
                         ("update", "pods", pod("missing"))])
    assert [o["metadata"]["name"] for o in store.list("pods")[0]] == ["exists"]
    assert store.resource_version() == "1"
    store.create("pods", pod("after"))
    assert store.get("pods", "default", "after")["metadata"]["resourceVersion"] == "2"


def test_apply_all_reports_actions(store: Store) -> None:
    store.create("pods", pod("same", status={"phase": "Running"}))
    store.create("pods", pod("changed"))
    stale = pod("changed", metadata={"resourceVersion": "1", "labels": {"v": "2"}})
    results = store.apply_all([
        ("create_or_update", "pods", pod("same")),
        ("create_or_update", "pods", stale),
        ("create_or_update", "pods", pod("fresh")),
        ("create_or_update", "nodes", node("n1"), False),
        ("create", "pods", {"metadata": {"namespace": "default", "generateName": "g-"}}),
    ])
    assert [r for r, _ in results] == [ApplyResult.UNCHANGED, ApplyResult.CONFIGURED,
                                       ApplyResult.CREATED, ApplyResult.CREATED,
                                       ApplyResult.CREATED]
    assert results[0][1]["status"] == {"phase": "Running"}
    assert results[1][1]["metadata"]["labels"] == {"v": "2"}
    assert "namespace" not in results[3][1]["metadata"]
    assert results[0][0] == "unchanged"


def test_apply_all_rejects_bad_ops(store: Store) -> None:
    with pytest.raises(BadRequestError, match="apply_all"):
        store.apply_all([("replace", "pods", pod("a"))])


def test_finalizers_hold_deletion_until_removed(store: Store, clock: FakeClock) -> None:
    store.create("pods", pod("a", metadata={"finalizers": ["example.com/keep"]}))
    marked = store.delete("pods", "default", "a")
    assert marked["metadata"]["deletionTimestamp"] == "2025-01-02T03:04:05Z"
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    assert store.get("pods", "default", "a") == marked
    with pytest.raises(InvalidError, match="finalizers"):
        store.update("pods", pod("a", metadata={"finalizers": ["example.com/keep", "more"]}))
    relabelled = store.update("pods", pod("a", metadata={"finalizers": ["example.com/keep"],
                                                         "labels": {"x": "y"}}))
    assert relabelled["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    store.update("pods", pod("a"))
    with pytest.raises(NotFoundError):
        store.get("pods", "default", "a")


def test_delete_returns_last_state_and_checks_uid(store: Store) -> None:
    created = store.create("pods", pod("a"))
    with pytest.raises(ConflictError, match="Precondition failed"):
        store.delete("pods", "default", "a", uid="other")
    last = store.delete("pods", "default", "a", uid=created["metadata"]["uid"])
    assert last["metadata"]["name"] == "a"
    assert last["metadata"]["resourceVersion"] == "2"
    with pytest.raises(NotFoundError, match='pods "a" not found'):
        store.delete("pods", "default", "a")
    with pytest.raises(BadRequestError, match="propagationPolicy"):
        store.delete("pods", "default", "a", propagation="Sideways")


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db")
    s.close()
    with pytest.raises(UnavailableError):
        s.get("pods", "default", "a")


def test_reopen_keeps_objects_and_version_monotonic(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db")
    s.create("pods", pod("a"))
    s.create("pods", pod("b"))
    s.delete("pods", "default", "b")
    s.close()
    s = Store(tmp_path / "s.db")
    assert s.resource_version() == "3"
    assert [o["metadata"]["name"] for o in s.list("pods")[0]] == ["a"]
    assert s.create("pods", pod("c"))["metadata"]["resourceVersion"] == "4"
    s.close()


WRITER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from engine.store import Store
    store = Store(Path(sys.argv[1]))
    i = 0
    while True:
        store.create("pods", {"metadata": {"name": f"p{i}", "namespace": "default"}})
        print(f"p{i}", flush=True)
        i += 1
        if sys.argv[2] == "exit" and i == 5:
            os._exit(0)
""")


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_acknowledged_writes_survive_a_crash(tmp_path: Path, how: str) -> None:
    path = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), how],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    acked = []
    for line in proc.stdout:
        acked.append(line.strip())
        if how == "kill" and len(acked) == 20:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    s = Store(path)
    names = {o["metadata"]["name"] for o in s.list("pods")[0]}
    assert set(acked) <= names
    rv = int(s.resource_version())
    assert rv >= len(acked)
    assert s.create("pods", pod("after"))["metadata"]["resourceVersion"] == str(rv + 1)
    s.close()


def test_a_commit_is_on_disk_before_it_is_acknowledged(tmp_path: Path) -> None:
    """The kill -9 test above shows a crash of the process loses nothing, but a process crash
    never loses what the OS already holds, so it would pass with synchronous=OFF too. What
    keeps a commit through a crash of the machine is the journal mode and the sync level:
    WAL with synchronous=FULL fsyncs the log at every commit. Check them on the store's own
    connection, and that a second connection (another process's view) agrees on the file."""
    s = Store(tmp_path / "s.db")
    try:
        conn = s._db()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL (OFF 0, NORMAL 1)
        s.create("pods", pod("a"))
        other = sqlite3.connect(tmp_path / "s.db")
        try:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # stored in the file
            assert other.execute("SELECT count(*) FROM objects").fetchone()[0] == 1
        finally:
            other.close()
    finally:
        s.close()


def test_apply_keeps_finalizers_and_owners_the_manifest_does_not_name(store: Store) -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1"}
    store.create("pods", pod("a", metadata={"finalizers": ["example.com/x"],
                                            "ownerReferences": [owner]}))
    result, applied = store.create_or_update("pods", pod("a", metadata={"labels": {"v": "1"}}))
    assert result is ApplyResult.CONFIGURED
    assert applied["metadata"]["finalizers"] == ["example.com/x"]
    assert applied["metadata"]["ownerReferences"] == [owner]
    _, cleared = store.create_or_update("pods", pod("a", metadata={"finalizers": []}))
    assert "finalizers" not in cleared["metadata"] or cleared["metadata"]["finalizers"] == []


def test_list_takes_parsed_selectors(store: Store) -> None:
    from engine.labels import parse_field_selector, parse_selector
    store.create("pods", pod("a", metadata={"labels": {"app": "web"}}))
    store.create("pods", pod("b"))
    items, _ = store.list("pods", label_selector=parse_selector("app in (web)"),
                          field_selector=parse_field_selector("metadata.name!=b"))
    assert [o["metadata"]["name"] for o in items] == ["a"]
