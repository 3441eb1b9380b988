"""Hostile or odd writes found by probing the API: each gets a clear 4xx (or works) and
changes nothing it should not; none answers 500. Delete preconditions, a namespace's dry-run
delete, grace periods past any date, subresource paths without a namespace, binding
annotations, server-side apply metadata, and protobuf fields of the wrong wire type."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import InProcessServer, trust
from .test_protobuf import _envelope, _len, _num


def _call(c: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {c.token}", **kw.pop("headers", {})}
    return httpx.request(method, c.server + path, headers=headers, verify=trust(c), timeout=30, **kw)


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
    "nodeName": "n1", "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "9"]}]}}


def test_delete_preconditions_and_a_namespace_dry_run(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        made = c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {}})
        stale = _call(c, "DELETE", "/api/v1/namespaces/default/configmaps/cm",
                      json={"preconditions": {"resourceVersion": "1"}})
        assert stale.status_code == 409 and "does not match the ResourceVersion in record" in stale.text
        assert c.get("configmaps", "cm")["metadata"]["uid"] == made["metadata"]["uid"]
        ok = _call(c, "DELETE", "/api/v1/namespaces/default/configmaps/cm",
                   json={"preconditions": {"resourceVersion": made["metadata"]["resourceVersion"]}})
        assert ok.status_code == 200
        c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        dry = _call(c, "DELETE", "/api/v1/namespaces/team", params={"dryRun": "All"})
        assert dry.status_code in (200, 202) and dry.json()["status"]["phase"] == "Terminating"
        kept = c.get("namespaces", "team")
        assert not kept["metadata"].get("deletionTimestamp") and kept["status"].get("phase") != "Terminating"


def test_a_grace_period_past_any_date_is_the_longest_one(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create(POD)
        resp = _call(c, "DELETE", "/api/v1/namespaces/default/pods/p", json={"gracePeriodSeconds": 10**30})
        assert resp.status_code == 202, resp.text
        assert resp.json()["metadata"]["deletionGracePeriodSeconds"] == 2**31 - 1
        c.create({**POD, "metadata": {"name": "q"}})
        evicted = _call(c, "POST", "/api/v1/namespaces/default/pods/q/eviction",
                        json={"deleteOptions": {"gracePeriodSeconds": 9223372036854775807}})
        assert evicted.status_code == 201, evicted.text


def test_subresources_need_their_namespace_and_binding_annotations_are_checked(
        api_server: InProcessServer) -> None:
    with api_server.client() as c:
        for sub in ("eviction", "binding"):
            resp = _call(c, "POST", f"/api/v1/pods/p/{sub}", json={})
            assert resp.status_code == 404 and "/api/v1/namespaces/NAMESPACE/pods/NAME/" in resp.text
        c.create({**POD, "spec": {"containers": POD["spec"]["containers"]}})  # not bound
        bad = _call(c, "POST", "/api/v1/namespaces/default/pods/p/binding",
                    json={"target": {"name": "n1"}, "metadata": {"annotations": {"bad key!": "v"}}})
        assert bad.status_code == 400 and "metadata.annotations" in bad.text
        assert not c.get("pods", "p")["spec"].get("nodeName")


@pytest.mark.parametrize("metadata", [[], "", 0])
def test_server_side_apply_with_metadata_not_an_object(api_server: InProcessServer, metadata: Any) -> None:
    with api_server.client() as c:
        resp = _call(c, "PATCH", "/api/v1/namespaces/default/configmaps/s1", params={"fieldManager": "x"},
                     headers={"Content-Type": "application/apply-patch+yaml"},
                     json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata})
        assert resp.status_code == 400 and "metadata an object" in resp.text


def _cm_with_meta(meta_fields: bytes) -> bytes:
    return _envelope("v1", "ConfigMap", _len(1, _len(1, b"t") + meta_fields))


def _service_target_port(port: bytes) -> bytes:
    return _envelope("v1", "Service", _len(1, _len(1, b"s")) + _len(2, _len(1, _num(3, 80) + _len(4, port))))


def _pod_limit(entry: bytes) -> bytes:
    """A Pod whose one container's resources.limits holds this map entry."""
    container = _len(1, b"c") + _len(8, _len(1, entry))
    return _envelope("v1", "Pod", _len(1, _len(1, b"p")) + _len(2, _len(2, container)))


DEEP_ARRAY = b"[" * 50000 + b"]" * 50000
DEEP_OBJECT = b'{"a":' * 3000 + b"1" + b"}" * 3000


@pytest.mark.parametrize("body", [
    _cm_with_meta(_len(8, _len(1, b"xx"))),  # a time's seconds as bytes
    _cm_with_meta(_len(17, _len(7, _num(1, 5)))),  # managedFields[0].fieldsV1's raw JSON as a number
    _cm_with_meta(_len(17, _len(7, _len(1, DEEP_ARRAY)))),  # raw JSON nested too deep to read
    _cm_with_meta(_len(17, _len(7, _len(1, DEEP_OBJECT)))),  # deeper than a body may nest
    _service_target_port(_len(2, b"zz")),  # an int-or-string's number as bytes
    _service_target_port(_num(1, 1) + _num(3, 7)),  # its string as a number
    _pod_limit(_len(1, b"cpu") + _len(2, _num(1, 3))),  # a quantity as a number
    _pod_limit(_len(1, b"cpu") + _num(2, 3)),  # a map's message value as a number
], ids=["time", "fieldsv1", "deep-array", "deep-object", "intval", "strval", "quantity", "map-value"])
def test_protobuf_fields_of_the_wrong_wire_type_are_refused(api_server: InProcessServer, body: bytes) -> None:
    with api_server.client() as c:
        kind = "services" if b"Service" in body[:40] else "pods" if b"Pod" in body[:40] else "configmaps"
        resp = _call(c, "POST", f"/api/v1/namespaces/default/{kind}", content=body,
                     headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
        assert resp.status_code == 400, resp.text
        assert c.list(kind)["items"] == []
