"""Bodies and requests as hostile input: size, depth and junk paths are answered with a
Status, never a 500 or a traceback, and cannot grow /metrics."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from engine.server.bodies import MAX_DEPTH, depth_over

from .conftest import InProcessServer, trust


def _post(api_server: InProcessServer, path: str, content: bytes, *, token: bool = True) -> httpx.Response:
    with api_server.client() as c:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {c.token}"
        return httpx.post(c.server + path, content=content, headers=headers, timeout=60, verify=trust(c))


CM_PATH = "/api/v1/namespaces/default/configmaps"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 5000, 100_000])
def test_deeply_nested_bodies_are_a_400(api_server: InProcessServer, depth: int) -> None:
    body = b'{"metadata": {"name": "deep"}, "data": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
    resp = _post(api_server, CM_PATH, body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["kind"] == "Status"
    assert f"nests deeper than {MAX_DEPTH} levels" in resp.json()["message"]
    with api_server.client() as c:
        assert c.list("configmaps")["items"] == []


def test_a_body_over_3_mib_is_a_413_status(api_server: InProcessServer) -> None:
    body = b'{"metadata": {"name": "big"}, "data": {"k": "' + b"x" * (3 * 2**20) + b'"}}'
    resp = _post(api_server, CM_PATH, body)
    assert resp.status_code == 413
    assert resp.json()["reason"] == "RequestEntityTooLarge" and "3 MiB" in resp.json()["message"]
    ok = b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fits"}, "data": {"k": "' \
        + b"x" * (2 * 2**20) + b'"}}'
    assert _post(api_server, CM_PATH, ok).status_code == 201  # 2 MiB is fine, as in Kubernetes


@pytest.mark.parametrize("body", [b"[]", b"5", b"\xff\xfe", b"{", b'"x"'])
def test_bodies_that_are_not_a_json_object_are_a_400(api_server: InProcessServer, body: bytes) -> None:
    resp = _post(api_server, CM_PATH, body)
    assert resp.status_code == 400 and resp.json()["kind"] == "Status"


@pytest.mark.parametrize(("body", "path", "key"), [
    (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "name": "b"}}',
     "metadata.name", "name"),
    (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}, "data": {"k": "1", "k": "2"}}',
     "data.k", "k"),
    (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d", "annotations": '
     b'{"x.io/a": "1", "x.io/a": "2"}}}', "metadata.annotations.x.io/a", "x.io/a"),
    (b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": '
     b'[{"name": "a", "image": "i"}, {"name": "b", "image": "i", "image": "j"}]}}',
     "spec.containers[1].image", "image"),
    (b'{"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}, "kind": "Secret"}',
     "kind", "kind"),
])
def test_a_key_given_twice_is_a_400_naming_its_path(api_server: InProcessServer, body: bytes, path: str,
                                                    key: str) -> None:
    target = "/api/v1/namespaces/default/pods" if b'"Pod"' in body else CM_PATH
    resp = _post(api_server, target, body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["message"] == f'the request body is not valid: {path}: duplicate field "{key}"'
    with api_server.client() as c:
        assert c.list("configmaps")["items"] == [] and c.list("pods")["items"] == []


def test_depth_check_counts_lists_and_objects() -> None:
    assert not depth_over({"a": [{"b": 1}]}, 3)
    assert depth_over({"a": [{"b": [1]}]}, 3)
    assert not depth_over("scalar", 0)


def test_junk_paths_never_add_metrics_labels(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        server, token, verify = c.server, c.token, trust(c)
        c.list("pods")
        before = c.text("/metrics")
    with httpx.Client(base_url=server, timeout=30, verify=verify) as http:
        for i in range(100):
            junk = uuid.uuid4().hex
            http.get(f"/api/v1/{junk}")  # unauthenticated
            http.get(f"/apis/x{junk}/v1/things", headers={"Authorization": f"Bearer {token}"})
            http.get(f"/api/v1/namespaces/default/pods/p{i}", headers={"Authorization": f"Bearer {token}"})
    with api_server.client() as c:
        after = c.text("/metrics")
    assert "x" + junk not in after and junk not in after
    series = [line for line in after.splitlines() if line.startswith("tugboat_apiserver_requests_total{")]
    assert any('route="unauthenticated"' in s for s in series)
    assert any('route="unmatched"' in s for s in series)
    assert any('route="/api/v1/pods"' in s and 'code="404"' in s for s in series)
    assert len(after) < len(before) + 20_000  # a few new series, not one per junk request


def test_an_answer_lists_at_most_max_causes_problems(api_server: InProcessServer) -> None:
    """300,000 bad items are 300,000 problems, but the answer's size follows the limit."""
    from engine.errors import MAX_CAUSES

    body = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                       "spec": {"containers": [1] * 300_000}}).encode()
    resp = _post(api_server, "/api/v1/namespaces/default/pods", body)
    assert resp.status_code == 422
    status = resp.json()
    assert status["message"] == 'Pod "p" is invalid: 300000 problem(s)'
    causes = [f"{c['field']}: {c['message']}" if "field" in c else c["message"]
              for c in status["details"]["causes"]]
    assert len(causes) == MAX_CAUSES + 1
    assert causes[0] == "spec.containers[0]: expected a mapping, got 1"
    assert causes[-1] == f"... and {300_000 - MAX_CAUSES} more problem(s) not shown"
    assert len(resp.content) < 20_000
    few = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                      "spec": {"containers": [1] * 3}}).encode()
    said = _post(api_server, "/api/v1/namespaces/default/pods", few).json()
    assert [(c["field"], c["message"]) for c in said["details"]["causes"]] == [
        (f"spec.containers[{i}]", "expected a mapping, got 1") for i in range(3)]
    assert (said["details"]["kind"], said["details"]["name"]) == ("Pod", "p")
    with api_server.client() as c:
        assert c.list("pods")["items"] == []
