"""The API server over HTTP with the real store: auth, apply atomicity, CRUD, watch, errors."""

from __future__ import annotations

import os
import ssl
import stat
import time
from pathlib import Path

import httpx
import pytest
import yaml

from engine.client import Client
from engine.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    GoneError,
    InvalidError,
    NotFoundError,
    UnauthorizedError,
)
from tests.shared_examples import EXAMPLES, needs_examples

from .conftest import InProcessServer, trust, until

REPO = Path(__file__).resolve().parents[2]
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "labels": {"app": "a"}},
       "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}


def test_config_file_is_private_and_names_the_server(api_server: InProcessServer) -> None:
    path = api_server.home / "config"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    cfg = yaml.safe_load(path.read_text())
    assert cfg["server"].startswith("https://127.0.0.1:") and len(cfg["token"]) >= 32
    assert cfg["ca"] == str(api_server.home / "pki" / "ca.crt")
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE(os.stat(api_server.home / "pki" / key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(api_server.home / "pki").st_mode) == 0o700


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc"])
def test_requests_without_the_token_get_401_and_change_nothing(
        api_server: InProcessServer, header: str | None) -> None:
    cfg = yaml.safe_load((api_server.home / "config").read_text())
    server, ca = cfg["server"], ssl.create_default_context(cafile=cfg["ca"])
    headers = {"Authorization": header} if header else {}
    for method, path in (("GET", "/healthz"), ("GET", "/api/v1/namespaces/default/pods"),
                         ("POST", "/api/v1/namespaces/default/pods")):
        resp = httpx.request(method, server + path, headers=headers, json=POD, verify=ca)
        assert resp.status_code == 401
        assert resp.json()["reason"] == "Unauthorized"
    with api_server.client() as c:
        assert c.list("pods")["items"] == []
    with pytest.raises(UnauthorizedError):
        Client(server, "wrong", ca=cfg["ca"]).list("pods")


def test_bad_multi_document_apply_stores_nothing(api_server: InProcessServer) -> None:
    docs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good"}, "data": {"a": "b"}},
        POD,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": "three", "selector": {"matchLabels": {"a": "b"}},
                  "template": {"metadata": {"labels": {"a": "b"}},
                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}},
    ]
    with api_server.client() as c:
        rv = c.list("pods")["metadata"]["resourceVersion"]
        with pytest.raises(InvalidError) as err:
            c.apply(docs)
        assert any('spec.replicas: expected an integer, got "three"' in d
                   for d in err.value.details)
        assert c.list("configmaps")["items"] == [] and c.list("pods")["items"] == []
        assert c.list("pods")["metadata"]["resourceVersion"] == rv


def test_apply_creates_then_reports_unchanged_and_configured(api_server: InProcessServer) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}}
    with api_server.client() as c:
        assert c.apply([cm])["results"][0]["action"] == "created"
        assert c.apply([cm])["results"][0]["action"] == "unchanged"
        cm["data"]["a"] = "2"
        assert c.apply([cm])["results"][0]["action"] == "configured"
        assert c.get("configmaps", "cm")["data"] == {"a": "2"}
        with pytest.raises(InvalidError) as err:
            c.apply([cm], create_only=True)
        assert err.value.details == ['document 1 (ConfigMap "cm"): configmaps "cm" already exists']


def test_a_pod_applied_again_after_it_was_placed_is_unchanged(api_server: InProcessServer) -> None:
    """The scheduler sets spec.nodeName and admission spec.priority: applying the same manifest
    again keeps them (as kubectl apply's merge does) instead of refusing a pod update."""
    store = api_server.cp.store
    assert store is not None
    alloc = {"cpu": "8", "memory": "8Gi", "pods": "110"}
    api_server.call(store.create, "nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
                                            "status": {"allocatable": alloc, "capacity": alloc,
                                                       "conditions": [{"type": "Ready", "status": "True"}]}},
                    namespaced=False)
    with api_server.client() as c:
        assert c.apply([POD])["results"][0]["action"] == "created"
        until(lambda: c.get("pods", POD["metadata"]["name"])["spec"].get("nodeName"))
        assert c.get("pods", POD["metadata"]["name"])["spec"]["priority"] == 0
        assert c.apply([POD])["results"][0]["action"] == "unchanged"


def test_apply_warns_about_unimplemented_fields(api_server: InProcessServer) -> None:
    pod = {**POD, "spec": {**POD["spec"], "hostNetwork": True}}
    with api_server.client() as c:
        out = c.apply([pod])
    assert any("spec.hostNetwork" in w for w in out["warnings"])


def test_crud_conflict_and_errors(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        created = c.create(POD)
        assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
        with pytest.raises(AlreadyExistsError):
            c.create(POD)
        stale = dict(created)
        fresh = c.patch("pods", "p1", {"metadata": {"labels": {"app": "b"}}})
        assert fresh["metadata"]["labels"] == {"app": "b"}
        with pytest.raises(ConflictError):
            c.update({**stale, "metadata": {**stale["metadata"], "labels": {"x": "y"}}})
        with pytest.raises(NotFoundError, match='pods "nope" not found'):
            c.get("pods", "nope")
        with pytest.raises(NotFoundError, match='namespaces "elsewhere" not found'):
            c.create(POD, namespace="elsewhere")
        with pytest.raises(BadRequestError, match="labelSelector|selector"):
            c.list("pods", label_selector="a in (")
        assert [p["metadata"]["name"] for p in c.list("pods", label_selector="app=b")["items"]] == ["p1"]
        assert c.list("pods", label_selector="app=a")["items"] == []


def test_unbound_pod_is_removed_at_once(api_server: InProcessServer) -> None:
    pod = {**POD, "spec": {**POD["spec"], "nodeSelector": {"nowhere": "true"}}}
    with api_server.client() as c:
        c.create(pod)
        c.delete("pods", "p1")
        with pytest.raises(NotFoundError):
            c.get("pods", "p1")


def test_watch_streams_changes_in_order_and_410_when_too_old(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        rv = c.list("configmaps")["metadata"]["resourceVersion"]
        for i in range(5):
            c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}"}})
        c.delete("configmaps", "cm0")
        events = []
        for kind, obj in c.watch("configmaps", resource_version=rv, timeout=5):
            events.append((kind, obj["metadata"]["name"]))
            if len(events) == 6:
                break
        assert events == [("ADDED", f"cm{i}") for i in range(5)] + [("DELETED", "cm0")]


def test_watch_from_a_compacted_resource_version_is_410(tmp_path: Path) -> None:
    srv = InProcessServer(tmp_path / "tug", history=5)
    try:
        with srv.client() as c:
            for i in range(120):
                c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"x{i}"}})
            with pytest.raises(GoneError):
                for _ in c.watch("configmaps", resource_version="2", timeout=5):
                    pass
            resp = httpx.get(f"{c.server}/api/v1/namespaces/default/configmaps",
                             params={"watch": "true", "resourceVersion": "2"},
                             headers={"Authorization": f"Bearer {c.token}"}, verify=trust(c))
            assert resp.status_code == 410
    finally:
        srv.close()


def test_metrics_and_version(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.list("pods")
        text = c.text("/metrics")
        assert "tugboat_apiserver_requests_total" in text and 'tugboat_pods{phase="Running"}' in text
        assert c.version()["gitVersion"].startswith("v1.")


def test_every_example_config_applies(api_server: InProcessServer) -> None:
    from engine.api import read_manifests

    files = sorted(f for f in (REPO / "configs").rglob("*.yaml")
                   if f.parent.name != "clusters")  # cluster configs: test_clusterconfig.py
    assert files, "configs/ has example manifests"
    with api_server.client() as c:
        for f in files:
            docs = [d for _, d in read_manifests(str(f))]
            out = c.apply(docs)
            assert all(r["action"] == "created" for r in out["results"]), f


@needs_examples
def test_every_kubernetes_docs_example_applies(api_server: InProcessServer) -> None:
    from engine.api import read_manifests

    docs = [d for _, d in read_manifests(str(EXAMPLES))]
    with api_server.client() as c:
        out = c.apply(docs)
    kinds = sorted(r["kind"] for r in out["results"])
    assert kinds == ["CronJob", "Deployment", "Job", "Job", "Job", "ReplicaSet"]
    assert any("batch/v1beta1 CronJob is deprecated" in w and "batch/v1" in w
               for w in out["warnings"])


def test_empty_names_never_address_a_whole_collection(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create(POD)
        for call in (lambda: c.delete("pods", ""), lambda: c.get("pods", ""),
                     lambda: c.patch("pods", "", {})):
            with pytest.raises(BadRequestError, match="name: required"):
                call()
        assert [p["metadata"]["name"] for p in c.list("pods")["items"]] == ["p1"]


def test_status_must_be_an_object_and_patches_must_be_objects(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        created = c.create(POD)
        with pytest.raises(InvalidError) as err:
            c.update_status({**created, "status": ["x"]})
        assert err.value.details == ["status: expected an object, got a list"]
        with pytest.raises(BadRequestError):
            c.patch("pods", "p1", {"metadata": "oops"})
        stored = c.get("pods", "p1")
        assert stored["metadata"]["labels"] == {"app": "a"}
        assert isinstance(stored.get("status", {}), dict)


def test_a_status_write_must_have_its_kinds_shape(api_server: InProcessServer) -> None:
    """`phase: 5`, `conditions: "abc"` or a time that is no time would crash every reader of
    the pod (get, describe, the scheduler): a status write is checked against the kind's status
    and refused with each field named, leaving the object as it was."""
    with api_server.client() as c:
        created = c.create({**POD, "status": {"phase": "Succeeded", "bogus": 1}})
        assert "phase" not in (created.get("status") or {})  # a create keeps no status
        before = c.get("pods", "p1")
        bad = {"phase": 5, "conditions": "abc", "startTime": "yesterday",
               "containerStatuses": [{"name": "c", "restartCount": -1,
                                      "state": {"terminated": {"exitCode": "1"}}}]}
        with pytest.raises(InvalidError) as err:
            c.update_status({**before, "status": bad})
        fields = sorted(d.split(":")[0] for d in err.value.details)
        assert fields == ["status.conditions", "status.containerStatuses[0].restartCount",
                          "status.containerStatuses[0].state.terminated.exitCode",
                          "status.phase", "status.startTime"]
        assert c.get("pods", "p1") == before
        good = {"phase": "Running", "startTime": "2026-01-02T03:04:05Z", "podIP": "10.0.0.9",
                "conditions": [{"type": "Ready", "status": "True"}], "extra": {"kept": True}}
        assert c.update_status({**before, "status": good})["status"] == good
        job = c.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                            {"name": "c", "image": "busybox"}]}}}})
        for indexes in ("abc", "3-1", "2,1", "0-99999999999"):
            with pytest.raises(InvalidError) as err:
                c.update_status({**job, "status": {"completedIndexes": indexes}})
            assert err.value.details[0].startswith("status.completedIndexes: "), err.value.details
        job = c.get("jobs", "j")
        assert c.update_status({**job, "status": {"completedIndexes": "0-2,5"}})["status"] == {
            "completedIndexes": "0-2,5"}


def test_a_taken_port_is_a_clear_error(tmp_path: Path, api_server: InProcessServer) -> None:
    import asyncio

    from engine.controlplane import ControlPlane, running_pid
    from engine.errors import UnavailableError

    port = int(yaml.safe_load((api_server.home / "config").read_text())["server"].rsplit(":", 1)[1])
    cp = ControlPlane(tmp_path / "other", ray_address=None, port=port)

    async def start() -> None:
        try:
            await cp.start()
        finally:
            await cp.stop()
    with pytest.raises(UnavailableError, match=f"cannot listen on 127.0.0.1:{port}"):
        asyncio.run(start())
    assert running_pid(tmp_path / "other") is None  # the refused one left no control plane behind


def test_livez_and_healthz_need_no_store_and_readyz_says_what_stopped(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        assert c.text("/readyz") == "ok" and c.text("/livez") == "ok" and c.healthz() == "ok"
        api_server.call(lambda: api_server.cp.scheduler.tasks[-1].cancel())  # the scheduling loop

        def readyz() -> httpx.Response:
            return httpx.get(f"{c.server}/readyz", headers={"Authorization": f"Bearer {c.token}"},
                             verify=trust(c))
        deadline = time.monotonic() + 30
        while readyz().status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        resp = readyz()
        assert resp.status_code == 503 and resp.text.startswith("scheduler: stopped"), resp.text
        assert c.healthz() == "ok"  # alive, though not ready
        api_server.call(api_server.cp.store.close)
        assert c.text("/livez") == "ok"  # never touches the store
        assert "store: " in readyz().text
