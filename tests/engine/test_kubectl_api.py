"""What kubectl reads from the server: discovery (/api, /apis, each group version, /version)
built from the registry, and `kubectl get`'s Table from the same printers as `tug get`; then
the real kubectl (where installed) lists, prints and deletes through them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.api.registry import RESOURCES
from engine.errors import NotFoundError, TugError
from tests.shared_examples import EXAMPLE_FILES, needs_examples

from .conftest import InProcessServer, kubeconfig_of, trust, until

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None,
                                   reason="kubectl is not installed on this machine")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io," \
        "application/json"


def test_discovery_lists_every_kind_in_its_group_version(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        assert c.request("GET", "/api")["versions"] == ["v1"]
        groups = {g["name"]: g["preferredVersion"]["groupVersion"]
                  for g in c.request("GET", "/apis")["groups"]}
        assert groups["apps"] == "apps/v1" and groups["batch"] == "batch/v1" and "" not in groups
        for info in RESOURCES:
            path = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
            found = {r["name"]: r for r in c.request("GET", path)["resources"]}
            mine = found[info.plural]
            assert (mine["kind"], mine["namespaced"], mine.get("shortNames", [])) == \
                (info.kind, info.namespaced, list(info.short_names))
            assert {"get", "list", "watch", "create", "delete", "patch", "update"} <= set(mine["verbs"])
        core = {r["name"]: r for r in c.request("GET", "/api/v1")["resources"]}
        assert core["pods"]["categories"] == ["all"] and core["pods/log"]["verbs"] == ["get"]
        assert "categories" not in core["configmaps"]
        with pytest.raises(NotFoundError):
            c.request("GET", "/apis/nope.example.com/v1")
        version = c.version()
        assert version["major"] == "1" and version["gitVersion"].startswith("v1.32.0-tugboat.")
        assert {"gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"} <= set(version)


def _table(c: Any, path: str, **params: str) -> httpx.Response:
    return httpx.get(c.server + path, params=params, verify=trust(c),
                     headers={"Authorization": f"Bearer {c.token}", "Accept": TABLE})


def test_a_table_has_tug_gets_columns_and_each_rows_metadata(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}})
        table = _table(c, "/api/v1/namespaces/default/configmaps").json()
        assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
        assert [d["name"] for d in table["columnDefinitions"]] == ["NAME", "DATA", "AGE"]
        [row] = table["rows"]
        assert row["cells"][:2] == ["a", "1"]
        assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "a"
        pods = _table(c, "/api/v1/namespaces/default/pods", includeObject="None").json()
        wide = [d["name"] for d in pods["columnDefinitions"] if d["priority"] == 1]
        assert wide == ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
        assert "object" not in pods["rows"][0] and pods["rows"][0]["cells"][0] == "p"
        one = _table(c, "/api/v1/namespaces/default/pods/p", includeObject="Object").json()
        assert one["rows"][0]["object"]["spec"]["containers"][0]["name"] == "c"
        paged = _table(c, "/api/v1/namespaces/default/configmaps", limit="1").json()
        assert paged["kind"] == "Table" and len(paged["rows"]) == 1
        bad = _table(c, "/api/v1/namespaces/default/pods", includeObject="Everything")
        assert bad.status_code == 400 and "includeObject" in bad.json()["message"]
        # without the Table header: the List, as before
        assert c.request("GET", "/api/v1/namespaces/default/configmaps")["kind"] == "ConfigMapList"


def _kubectl(api_server: InProcessServer, tmp_path: Path) -> Callable[..., str]:
    """kubectl with the kubeconfig `tug kubeconfig` prints for this control plane: its output
    (and error), after checking it succeeded (or failed, with ok=False)."""
    kubeconfig = kubeconfig_of(api_server, tmp_path / "kubeconfig")

    def kubectl(*args: str, ok: bool = True) -> str:
        out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True,
                             text=True, timeout=60)
        assert (out.returncode == 0) == ok, out.stderr
        return out.stdout + (out.stderr if not ok else "")
    return kubectl


@needs_kubectl
def test_kubectl_gets_lists_and_deletes(api_server: InProcessServer, tmp_path: Path) -> None:
    kubectl = _kubectl(api_server, tmp_path)
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "y"}},
                  "data": {"k": "v"}})
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "other"},
                  "data": {"k": "v", "l": "w"}})
    assert "Server Version: v1.32.0-tugboat." in kubectl("version")
    resources = [line.split() for line in kubectl("api-resources").splitlines()]
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in resources
    lines = [line.split() for line in kubectl("get", "configmaps", "-A", "--show-labels").splitlines()]
    assert lines[0] == ["NAMESPACE", "NAME", "DATA", "AGE", "LABELS"]
    assert [(row[0], row[1], row[2], row[-1]) for row in lines[1:]] == [
        ("default", "a", "1", "x=y"), ("other", "b", "2", "<none>")]
    assert kubectl("get", "cm", "a", "-o", "jsonpath={.data.k}") == "v"
    assert kubectl("delete", "cm", "a").strip() == 'configmap "a" deleted'
    with api_server.client() as c, pytest.raises(NotFoundError):
        c.get("configmaps", "a")


def _patch(c: Any, path: str, body: str, ctype: str, **params: str) -> httpx.Response:
    return httpx.patch(c.server + path, content=body, params=params, verify=trust(c),
                       headers={"Authorization": f"Bearer {c.token}", "Content-Type": ctype})


def test_patch_kinds_by_content_type_and_what_is_refused(api_server: InProcessServer) -> None:
    path = "/api/v1/namespaces/default/configmaps/a"
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        ok = _patch(c, path, '[{"op": "add", "path": "/data/j", "value": "w"}]',
                    "application/json-patch+json")
        assert ok.status_code == 200 and ok.json()["data"] == {"k": "v", "j": "w"}
        ok = _patch(c, path, '{"data": {"k": null}}', "application/strategic-merge-patch+json",
                    fieldValidation="Strict", fieldManager="kubectl-edit")
        assert ok.status_code == 200 and ok.json()["data"] == {"j": "w"}
        for body, ctype, params, code, needle in [
            ("kind: ConfigMap", "application/apply-patch+yaml", {}, 422, "fieldManager: Required value"),
            ("kind: ConfigMap", "application/apply-patch+yaml", {"fieldManager": "me"}, 400, "must be JSON"),
            ("{}", "text/plain", {}, 415, "Content-Type 'text/plain'"),
            ('{"data": {"x": "y"}}', "application/merge-patch+json", {"dryRun": "Some"}, 400,
             "dryRun: must be All, got 'Some'"),
            ('{"data": {"x": "y"}}', "application/merge-patch+json", {"fieldValidation": "Loose"}, 400,
             "fieldValidation: must be Strict, Warn or Ignore"),
            ('[{"op": "remove", "path": "/data/nope"}]', "application/json-patch+json", {}, 400,
             "the path does not exist"),
        ]:
            resp = _patch(c, path, body, ctype, **params)
            assert resp.status_code == code and needle in resp.json()["message"], resp.text
        assert c.get("configmaps", "a")["data"] == {"j": "w"}  # every refusal changed nothing
        openapi = c.request("GET", "/openapi/v3")["paths"]
        doc = c.request("GET", "/openapi/v3/apis/apps/v1")
        assert openapi["apis/apps/v1"]["serverRelativeURL"].startswith("/openapi/v3/apis/apps/v1?hash=")
        patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
        assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
        containers = doc["components"]["schemas"]["PodSpec"]["properties"]["containers"]
        assert containers["x-kubernetes-patch-merge-key"] == "name"


def test_a_dry_run_answers_what_would_be_stored_and_changes_nothing(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        rv = c.list("configmaps")["metadata"]["resourceVersion"]
        seen: list[Any] = []
        dry = {"dryRun": "All"}
        with httpx.Client(verify=trust(c), headers={"Authorization": f"Bearer {c.token}"}) as http:
            base = c.server + "/api/v1/namespaces/default/configmaps"
            made = http.post(base, params=dry, json={"apiVersion": "v1", "kind": "ConfigMap",
                                                     "metadata": {"generateName": "b-"}, "data": {}})
            assert made.status_code == 201 and made.json()["metadata"]["name"].startswith("b-")
            assert made.json()["metadata"]["uid"]
            patched = http.patch(base + "/a", params=dry, content='{"data": {"k": "w"}}',
                                 headers={"Content-Type": "application/merge-patch+json"})
            assert patched.status_code == 200 and patched.json()["data"] == {"k": "w"}
            bad = http.patch(base + "/a", params=dry, content='{"data": {"k": 1}}',
                             headers={"Content-Type": "application/merge-patch+json"})
            # the same checks as a real write
            assert bad.status_code == 422 and bad.json()["details"]["causes"][0]["field"] == "data[k]"
            gone = http.delete(base + "/a", params=dry)
            assert gone.status_code == 200 and gone.json()["metadata"]["name"] == "a"
            # the same keep-alive connection, no dryRun: a real write (the mark does not stay)
            real = http.patch(base + "/a", content='{"data": {"k": "x"}}',
                              headers={"Content-Type": "application/merge-patch+json"})
            assert real.status_code == 200
            seen = [i["metadata"]["name"] for i in c.list("configmaps")["items"]]
        assert seen == ["a"] and c.get("configmaps", "a")["data"] == {"k": "x"}
        # events come in order: had a dry run written anything, it would come before the real one
        kind, first = next(iter(c.watch("configmaps", resource_version=rv, timeout_seconds=30)))
        assert (kind, first["data"]) == ("MODIFIED", {"k": "x"})


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        command: ["sleep", "1000"]
        env:
        - {name: A, value: "1"}
        - {name: B, value: "2"}
      - name: side
        image: busybox
        command: ["sleep", "1000"]
"""


@needs_kubectl
def test_kubectl_applies_edits_and_patches(api_server: InProcessServer, tmp_path: Path) -> None:
    kubectl = _kubectl(api_server, tmp_path)
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT)
    assert kubectl("apply", "-f", str(manifest)).strip() == "deployment.apps/web created"
    assert kubectl("apply", "-f", str(manifest)).strip() == "deployment.apps/web unchanged"
    manifest.write_text(DEPLOYMENT.replace("nginx:1.25", "nginx:1.26")
                        .replace('        - {name: B, value: "2"}\n', ""))
    assert kubectl("apply", "-f", str(manifest)).strip() == "deployment.apps/web configured"
    kubectl("set", "image", "deployment/web", "side=busybox:2")
    kubectl("label", "deployment", "web", "tier=front")
    kubectl("annotate", "deployment", "web", "note=hi")
    kubectl("patch", "deployment", "web", "--type=json", "-p",
            '[{"op":"replace","path":"/spec/replicas","value":3}]')
    kubectl("patch", "deployment", "web", "--type=merge", "-p", '{"spec":{"minReadySeconds":5}}')
    kubectl("patch", "deployment", "web", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"C","value":"3"}]}]}}}}')
    with api_server.client() as c:
        d = c.get("deployments", "web")
    web, side = d["spec"]["template"]["spec"]["containers"]
    assert (web["image"], side["image"]) == ("nginx:1.26", "busybox:2")
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]  # B gone, C merged in
    assert d["spec"]["replicas"] == 3 and d["spec"]["minReadySeconds"] == 5
    assert d["metadata"]["labels"] == {"tier": "front"} and d["metadata"]["annotations"]["note"] == "hi"
    assert "FIELD: backoffLimit <integer>" in kubectl("explain", "job.spec.backoffLimit")
    typo = tmp_path / "typo.yaml"
    typo.write_text(DEPLOYMENT.replace("replicas: 2", "replicaz: 2")
                    .replace("name: web\n", "name: typo\n", 1))
    assert "replicaz" in kubectl("apply", "-f", str(typo), ok=False)  # strict, from the server
    # server-side dry runs: the answer of a real write, nothing stored
    said = kubectl("create", "-f", str(typo.parent / "web.yaml"), "--dry-run=server", ok=False)
    assert 'AlreadyExists' in said and '"web" already exists' in said
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry}\n"
                                      "data: {k: v}\n")
    dry = kubectl("create", "-f", str(tmp_path / "cm.yaml"), "--dry-run=server", "-o", "json")
    assert json.loads(dry)["data"] == {"k": "v"}
    assert kubectl("scale", "deployment", "web", "--replicas=9", "--dry-run=server").strip() == \
        "deployment.apps/web scaled (server dry run)"
    assert kubectl("delete", "deployment", "web", "--dry-run=server").strip() == \
        'deployment.apps "web" deleted (server dry run)'
    with api_server.client() as c:
        assert c.get("deployments", "web")["spec"]["replicas"] == 3
        assert [m["metadata"]["name"] for m in c.list("configmaps")["items"]] == []  # the dry runs
    # an invalid object: kubectl names it and the field, as for a cluster
    invalid = kubectl("patch", "deployment", "web", "-p", '{"spec": {"replicas": -1}}', ok=False)
    assert 'The Deployment "web" is invalid' in invalid and "spec.replicas" in invalid
    # kubectl sends a delete's options in a DeleteOptions body: --cascade=orphan keeps the ReplicaSet
    with api_server.client() as c:
        until(lambda: c.list("replicasets")["items"])
        assert kubectl("delete", "deployment", "web", "--cascade=orphan").strip() == \
            'deployment.apps "web" deleted'
        until(lambda: not [d for d in c.list("deployments")["items"] if d["metadata"]["name"] == "web"])
        kept = c.list("replicasets")["items"]
        assert kept and all(not rs["metadata"].get("ownerReferences") for rs in kept)


def test_the_scale_subresource_reads_and_writes_replicas(api_server: InProcessServer) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments/web/scale"
    with api_server.client() as c:
        c.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
            "replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}})
        got = c.request("GET", path)
        assert (got["kind"], got["apiVersion"], got["spec"], got["status"]["selector"]) == \
            ("Scale", "autoscaling/v1", {"replicas": 2}, "app=web")
        ok = _patch(c, path, '{"spec": {"replicas": 4}}', "application/merge-patch+json")
        assert ok.status_code == 200 and ok.json()["spec"]["replicas"] == 4
        assert c.get("deployments", "web")["spec"]["replicas"] == 4
        stale = {**got, "spec": {"replicas": 7}}
        with pytest.raises(TugError) as err:
            c.request("PUT", path, body=stale)  # its resourceVersion is the one before the patch
        assert err.value.code == 409
        bad = _patch(c, path, '{"spec": {"replicas": -1}}', "application/merge-patch+json")
        assert bad.status_code == 422 and "spec.replicas" in bad.text
        assert c.get("deployments", "web")["spec"]["replicas"] == 4
        fresh = c.request("GET", path)
        assert c.request("PUT", path, body={**fresh, "spec": {"replicas": 1}})["spec"]["replicas"] == 1
        with pytest.raises(NotFoundError):
            c.request("GET", "/apis/batch/v1/namespaces/default/jobs/web/scale")
        apps = {r["name"]: r for r in c.request("GET", "/apis/apps/v1")["resources"]}
        assert apps["deployments/scale"]["kind"] == "Scale" and "patch" in apps["deployments/scale"]["verbs"]


def test_a_watch_asked_for_tables_sends_each_change_as_a_one_row_table(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        made = c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"},
                         "data": {"k": "v"}})
        c.delete("configmaps", "w")
        resp = _table(c, "/api/v1/namespaces/default/configmaps", watch="true", timeoutSeconds="1",
                      resourceVersion=str(int(made["metadata"]["resourceVersion"]) - 1))
    events = [json.loads(line) for line in resp.text.splitlines() if line.strip()]
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]
    for event in events:
        table = event["object"]
        assert table["kind"] == "Table" and [r["cells"][0] for r in table["rows"]] == ["w"]
        assert [d["name"] for d in table["columnDefinitions"]] == ["NAME", "DATA", "AGE"]


def test_metrics_api_shapes_the_agents_samples_as_metrics_server_does() -> None:
    from datetime import UTC, datetime

    from engine.server import metrics_api

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    nodes = metrics_api.node_metrics([{"name": "n1", "cpuCores": 0.25, "memoryBytes": 2048 * 1024},
                                      {"name": "n2", "cpuCores": None, "memoryBytes": None}], now)
    assert nodes == [{"metadata": {"name": "n1", "creationTimestamp": "2026-01-02T03:04:05Z"},
                      "timestamp": "2026-01-02T03:04:05Z", "window": "10s",
                      "usage": {"cpu": "250000000n", "memory": "2048Ki"}}]  # n2 not sampled yet: left out
    pod = {"metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}},
           "spec": {"containers": [{"name": "main"}, {"name": "side"}]}}
    rows = [{"namespace": "ns", "name": "p", "cpuCores": 1.5, "memoryBytes": 1 << 20}]
    pods = metrics_api.pod_metrics(rows, {("ns", "p"): pod}, now)
    assert pods[0]["containers"] == [{"name": "main", "usage": {"cpu": "1500000000n", "memory": "1024Ki"}}]
    assert metrics_api.listed("PodMetrics", pods)["items"][0]["kind"] == "PodMetrics"


def test_the_metrics_group_is_discovered_and_says_when_there_are_no_samples(
        api_server: InProcessServer) -> None:
    with api_server.client() as c:
        groups = [g["name"] for g in c.request("GET", "/apis")["groups"]]
        assert "metrics.k8s.io" in groups
        found = {r["name"]: r["kind"] for r in c.request("GET", "/apis/metrics.k8s.io/v1beta1")["resources"]}
        assert found == {"nodes": "NodeMetrics", "pods": "PodMetrics"}
        with pytest.raises(NotFoundError, match="no runtime"):  # this control plane runs no pods
            c.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")


def test_an_eviction_marks_the_pod_and_deletes_it(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        core = {r["name"]: r for r in c.request("GET", "/api/v1")["resources"]}
        assert (core["pods/eviction"]["group"], core["pods/eviction"]["kind"]) == ("policy", "Eviction")
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ev"}, "spec": {
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}})
        path = "/api/v1/namespaces/default/pods/ev/eviction"
        with pytest.raises(TugError) as err:
            c.request("POST", path, body={"apiVersion": "policy/v1", "kind": "Eviction",
                                          "metadata": {"name": "other"}})
        assert err.value.code == 400 and c.get("pods", "ev")  # refused, nothing changed
        said = c.request("POST", path, body={"apiVersion": "policy/v1", "kind": "Eviction",
                                             "metadata": {"name": "ev"},
                                             "deleteOptions": {"gracePeriodSeconds": 0}})
        assert said["status"] == "Success"
        with pytest.raises(NotFoundError):  # not bound to a node: gone at once
            c.get("pods", "ev")
        with pytest.raises(NotFoundError):
            c.request("POST", "/api/v1/namespaces/default/configmaps/x/eviction", body={})


def test_exec_is_discovered_and_refused_plainly_where_it_cannot_run(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        core = {r["name"]: r for r in c.request("GET", "/api/v1")["resources"]}
        assert core["pods/exec"]["verbs"] == ["create", "get"]
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "9"]}]}})
        path = "/api/v1/namespaces/default/pods/p/exec"
        with pytest.raises(TugError, match="at least one command= parameter"):
            c.request("GET", path)
        with pytest.raises(NotFoundError, match="runs no pods"):  # this control plane has no runtime
            c.request("GET", path, params={"command": "ls"})
        with pytest.raises(NotFoundError, match="only pods have the exec subresource"):
            c.request("GET", "/api/v1/namespaces/default/configmaps/p/exec")


@needs_kubectl
def test_kubectl_server_side_apply_owns_fields_and_reports_conflicts(api_server: InProcessServer,
                                                                      tmp_path: Path) -> None:
    kubectl = _kubectl(api_server, tmp_path)
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT)
    assert kubectl("apply", "--server-side", "-f", str(manifest)).strip() == \
        "deployment.apps/web serverside-applied"
    with api_server.client() as c:
        made = c.get("deployments", "web")
    [entry] = made["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl", "Apply")
    assert "f:replicas" in entry["fieldsV1"]["f:spec"]
    assert kubectl("apply", "--server-side", "-f", str(manifest)).strip() == \
        "deployment.apps/web serverside-applied"
    kubectl("scale", "deployment", "web", "--replicas=4")  # another manager takes spec.replicas
    conflict = kubectl("apply", "--server-side", "-f", str(manifest), ok=False)
    assert 'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas' in conflict
    with api_server.client() as c:
        assert c.get("deployments", "web")["spec"]["replicas"] == 4  # the refused apply changed nothing
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    # the manifest without its second container: the applier's field goes
    manifest.write_text(DEPLOYMENT.split("      - name: side")[0])
    kubectl("apply", "--server-side", "-f", str(manifest))
    with api_server.client() as c:
        d = c.get("deployments", "web")
    assert d["spec"]["replicas"] == 2
    assert [x["name"] for x in d["spec"]["template"]["spec"]["containers"]] == ["web"]
    managers = {(e["manager"], e["operation"]) for e in d["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    dry = kubectl("apply", "--server-side", "--dry-run=server", "-f", str(manifest), "-o", "json")
    assert json.loads(dry)["metadata"]["name"] == "web"
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(DEPLOYMENT.replace("name: web\n", "name: fresh\n", 1))
    assert kubectl("apply", "--server-side", "-f", str(fresh)).strip() == \
        "deployment.apps/fresh serverside-applied"


@needs_kubectl
def test_kubectls_generators_send_protobuf_and_it_is_read(api_server: InProcessServer,
                                                           tmp_path: Path) -> None:
    kubectl = _kubectl(api_server, tmp_path)
    override = {"spec": {"containers": [{"name": "p", "image": "busybox", "command": ["sleep", "5"],
                                         "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {
                                             "name": "gen", "key": "k"}}}],
                                         "readinessProbe": {"exec": {"command": ["true"]}}}],
                         "terminationGracePeriodSeconds": 0, "enableServiceLinks": False}}
    for args, said in [
        (["create", "configmap", "gen", "--from-literal=k=v", "--from-literal=empty="],
         "configmap/gen created"),
        (["create", "secret", "generic", "pw", "--from-literal=pw=hunter2"], "secret/pw created"),
        (["create", "namespace", "team"], "namespace/team created"),
        (["create", "deployment", "web", "--image=nginx", "--replicas=0", "--port=80"],
         "deployment.apps/web created"),
        (["create", "job", "once", "--image=busybox", "--", "echo", "hi"], "job.batch/once created"),
        (["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"],
         "cronjob.batch/tick created"),
        (["create", "service", "clusterip", "svc", "--tcp=80:8080"], "service/svc created"),
        (["create", "ingress", "ing", "--rule=foo.com/bar=svc:80"],
         "ingress.networking.k8s.io/ing created"),
        (["run", "p", "--image=busybox", "--labels=x=y", f"--overrides={json.dumps(override)}"],
         "pod/p created"),
        (["auth", "can-i", "delete", "nodes"], "yes"),
    ]:
        assert kubectl(*args).strip() == said
    assert "tugboat-admin" in kubectl("auth", "whoami")
    with api_server.client() as c:
        assert c.get("configmaps", "gen")["data"] == {"k": "v", "empty": ""}
        assert c.get("secrets", "pw")["data"] == {"pw": "aHVudGVyMg=="}
        web = c.get("deployments", "web")
        assert web["spec"]["replicas"] == 0  # a zero that means something stays
        ports = web["spec"]["template"]["spec"]["containers"][0]["ports"]
        assert ports == [{"containerPort": 80, "protocol": "TCP"}]
        assert c.get("services", "svc")["spec"]["ports"][0]["targetPort"] == 8080  # an int-or-string
        rule = c.get("ingresses", "ing")["spec"]["rules"][0]
        assert rule["host"] == "foo.com" and rule["http"]["paths"][0]["path"] == "/bar"  # inline in JSON
        pod = c.get("pods", "p")
        container = pod["spec"]["containers"][0]
        assert container["env"][0]["valueFrom"]["configMapKeyRef"] == {"name": "gen", "key": "k"}
        assert container["readinessProbe"]["exec"] == {"command": ["true"]}
        assert pod["spec"]["terminationGracePeriodSeconds"] == 0
        assert pod["spec"]["enableServiceLinks"] is False
        assert pod["metadata"]["labels"] == {"x": "y"}


@needs_kubectl
def test_kubectl_drain_evicts_through_the_eviction_api(api_server: InProcessServer, tmp_path: Path) -> None:
    kubectl = _kubectl(api_server, tmp_path)
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}},
                  "spec": {"nodeName": "n1",
                           "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "9"]}]}})
        rv = c.list("pods")["metadata"]["resourceVersion"]
        said = kubectl("drain", "n1", "--pod-selector=a=b", "--grace-period=0", "--force", "--timeout=60s")
        assert "evicting pod default/p" in said and "pod/p evicted" in said and "node/n1 drained" in said
        kind, pod = next(iter(c.watch("pods", resource_version=rv, timeout_seconds=30)))
        marks = [x for x in pod["status"]["conditions"] if x["type"] == "DisruptionTarget"]
        assert kind == "MODIFIED" and marks[0]["reason"] == "EvictionByEvictionAPI"
        assert c.get("nodes", "n1")["spec"]["unschedulable"] is True


@needs_examples
@needs_kubectl
def test_every_shared_example_applies_through_kubectl(api_server: InProcessServer, tmp_path: Path) -> None:
    kubeconfig = kubeconfig_of(api_server, tmp_path / "kubeconfig")
    assert EXAMPLE_FILES
    for path in EXAMPLE_FILES:
        said = []
        for _ in range(2):
            out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "apply", "-f", str(path)],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, f"{path.name}: {out.stderr}"
            said.append((out.stdout.strip().rsplit(" ", 1)[-1], out.stderr))
        assert [s[0] for s in said] == ["created", "unchanged"], (path.name, said)
        if "v1beta1" in path.read_text():  # an older version: accepted, with Kubernetes' warning
            warning = ("batch/v1beta1 CronJob is deprecated in v1.21+, unavailable in v1.25+; "
                       "use batch/v1 CronJob")
            assert warning in said[0][1]


@needs_kubectl
def test_kubectl_rollout_history_undo_restart_pause(api_server: InProcessServer, tmp_path: Path) -> None:
    kubectl = _kubectl(api_server, tmp_path)
    (tmp_path / "web.yaml").write_text(DEPLOYMENT)
    kubectl("apply", "-f", str(tmp_path / "web.yaml"))
    with api_server.client() as c:
        def revision() -> str:
            return str((c.get("deployments", "web")["metadata"].get("annotations") or {})
                       .get("deployment.kubernetes.io/revision", ""))
        until(lambda: revision() == "1")
        kubectl("set", "image", "deployment/web", "web=nginx:1.26")
        until(lambda: revision() == "2")
        history = kubectl("rollout", "history", "deployment/web").split()
        assert history[history.index("REVISION"):][2:] == ["1", "<none>", "2", "<none>"]
        assert kubectl("rollout", "undo", "deployment/web", "--to-revision=1").strip() == \
            "deployment.apps/web rolled back"
        image = "{.spec.template.spec.containers[0].image}"
        assert kubectl("get", "deployment", "web", "-o", f"jsonpath={image}") == "nginx:1.25"
        assert kubectl("rollout", "restart", "deployment/web").strip() == "deployment.apps/web restarted"
        assert "kubectl.kubernetes.io/restartedAt" in \
            c.get("deployments", "web")["spec"]["template"]["metadata"]["annotations"]
        assert kubectl("rollout", "pause", "deployment/web").strip() == "deployment.apps/web paused"
        assert c.get("deployments", "web")["spec"]["paused"] is True
        assert kubectl("rollout", "resume", "deployment/web").strip() == "deployment.apps/web resumed"
        assert "Scaled up replica set web-" in kubectl("events")
        assert {"batch/v1", "batch/v1beta1", "apps/v1"} <= set(kubectl("api-versions").split())
        columns = "custom-columns=NAME:.metadata.name,IMAGE:.spec.template.spec.containers[0].image"
        shown = kubectl("get", "deployment", "web", "-o", columns).split()
        assert shown == ["NAME", "IMAGE", "web", "nginx:1.25"]
        # kubectl diff: a server-side dry run of the manifest, shown against the live object
        (tmp_path / "web.yaml").write_text(DEPLOYMENT.replace("nginx:1.25", "nginx:1.27"))
        diff = kubectl("diff", "-f", str(tmp_path / "web.yaml"), ok=False)  # exit 1: there are differences
        assert "-        image: nginx:1.25" in diff and "+        image: nginx:1.27" in diff
        live = c.get("deployments", "web")["spec"]["template"]["spec"]["containers"][0]
        assert live["image"] == "nginx:1.25"  # the dry run changed nothing


def test_aggregated_discovery_answers_in_one_request(api_server: InProcessServer, tmp_path: Path) -> None:
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    with api_server.client() as c:
        answers = {path: httpx.get(c.server + path, verify=trust(c), headers={
            "Authorization": f"Bearer {c.token}", "Accept": accept}) for path in ("/api", "/apis")}
    for resp in answers.values():
        said = [p.strip() for p in resp.headers["Content-Type"].split(";")]
        assert said[:4] == ["application/json", "g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"]
    [core] = answers["/api"].json()["items"]
    pods = next(r for r in core["versions"][0]["resources"] if r["resource"] == "pods")
    assert pods["scope"] == "Namespaced" and pods["shortNames"] == ["po"] and pods["categories"] == ["all"]
    assert {s["subresource"] for s in pods["subresources"]} >= {"status", "log", "exec", "eviction",
                                                                 "binding"}
    groups = {g["metadata"]["name"]: g for g in answers["/apis"].json()["items"]}
    apps = {r["resource"]: r for r in groups["apps"]["versions"][0]["resources"]}
    scale = next(s for s in apps["deployments"]["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert [v["version"] for v in groups["batch"]["versions"]] == ["v1", "v1beta1"]
    assert {"metrics.k8s.io", "authorization.k8s.io"} <= set(groups)
    if shutil.which("kubectl"):  # kubectl then asks for no group version on its own
        kubeconfig = kubeconfig_of(api_server, tmp_path / "kubeconfig")
        out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "get", "deployments", "-v=6"],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "HOME": str(tmp_path)})  # no discovery cache
        asked = [line.split("GET ", 1)[1].split("?")[0] for line in out.stderr.splitlines()
                 if "GET https" in line]
        assert out.returncode == 0 and [a.split("/", 3)[3] for a in asked] == [
            "api", "apis", "apis/apps/v1/namespaces/default/deployments"], out.stderr
