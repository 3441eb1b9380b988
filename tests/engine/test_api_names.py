"""Names in request paths: `.`, `..`, `/`, `%` and any name the kind does not allow are a 400
naming the argument, from the CLI and from raw HTTP alike, and nothing changes."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from .conftest import InProcessServer, trust

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}, "data": {"k": "v"}}


def _names(api_server: InProcessServer, resource: str = "configmaps", ns: str = "default") -> list[str]:
    with api_server.client() as c:
        return sorted(o["metadata"]["name"] for o in c.list(resource, namespace=ns)["items"])


def _raw(api_server: InProcessServer, method: str, path: str) -> tuple[int, dict]:
    """One request with exactly this path: no client normalises or re-escapes it."""
    with api_server.client() as c:
        url, token, tls = urlsplit(c.server), c.token, trust(c)
    conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=30, context=tls) \
        if isinstance(tls, ssl.SSLContext) else http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request(method, path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


@pytest.mark.parametrize(("args", "needle"), [
    (("delete", "configmap", "."), 'configmap name: may not be ".", got "."'),
    (("delete", "configmap", ".."), 'configmap name: may not be "..", got ".."'),
    (("delete", "configmap", "..", "-n", "team"), 'configmap name: may not be ".."'),
    (("delete", "configmap", "keep", "-n", ".."), 'namespace: may not be ".."'),
    (("get", "configmap", "a/b"), 'configmap name: may not contain "/"'),
    (("get", "configmap", "%2e"), 'configmap name: may not contain "%"'),
    (("get", "configmap", "Keep"), "configmap name: must be a lowercase RFC 1123 subdomain"),
    (("delete", "namespace", "team.x"), "namespace name: must be a lowercase RFC 1123 label"),
])
def test_the_cli_refuses_a_name_that_is_not_one_object(api_server: InProcessServer, args: tuple[str, ...],
                                                        needle: str) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        c.create(CM)
        c.create(CM, namespace="team")
    env = {**os.environ, "TUG_HOME": str(api_server.home)}
    out = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1 and needle in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert _names(api_server) == ["keep"] and _names(api_server, ns="team") == ["keep"]
    assert "team" in _names(api_server, "namespaces", ns="")


@pytest.mark.parametrize(("method", "path", "needle"), [
    ("DELETE", "/api/v1/namespaces/default/configmaps/.", 'path: configmap name: may not be "."'),
    ("DELETE", "/api/v1/namespaces/default/configmaps/..", 'may not be ".."'),
    ("DELETE", "/api/v1/namespaces/default/configmaps/%2e", 'may not be "."'),
    ("DELETE", "/api/v1/namespaces/default/configmaps/%2E%2E", 'may not be ".."'),
    ("DELETE", "/api/v1/namespaces/default/configmaps/keep%2Fx", 'may not contain "/"'),
    ("GET", "/api/v1/namespaces/default/configmaps/keep%252Fx", 'may not contain "%"'),
    ("DELETE", "/api/v1/namespaces/%2E%2E/configmaps/keep", 'path: namespace: may not be ".."'),
    ("DELETE", "/api/v1/namespaces/Default/configmaps/keep", "path: namespace: must be a lowercase"),
    ("DELETE", "/api/v1/namespaces/default/configmaps/KEEP", "must be a lowercase RFC 1123 subdomain"),
    ("DELETE", "/api/v1/namespaces/default/services/1abc", "must be a DNS-1035 label"),
    ("PUT", "/api/v1/namespaces/default/configmaps/%2e/status", 'may not be "."'),
])
def test_raw_requests_with_such_names_are_400s_that_change_nothing(
        api_server: InProcessServer, method: str, path: str, needle: str) -> None:
    with api_server.client() as c:
        c.create(CM)
    status, body = _raw(api_server, method, path)
    assert status == 400, body
    assert body["kind"] == "Status" and needle in body["message"], body
    assert _names(api_server) == ["keep"]


def test_valid_names_with_dots_and_dashes_still_work(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({**CM, "metadata": {"name": "a.b-c"}})
        assert c.get("configmaps", "a.b-c")["metadata"]["name"] == "a.b-c"
    status, body = _raw(api_server, "GET", "/api/v1/namespaces/default/configmaps/a.b-c")
    assert status == 200 and body["metadata"]["name"] == "a.b-c"
    status, _ = _raw(api_server, "DELETE", "/api/v1/namespaces/default/configmaps/a%2Eb-c")
    assert status == 200  # an escaped '.' inside a name is that name
    assert _names(api_server) == []
