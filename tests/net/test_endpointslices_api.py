"""EndpointSlices as an API kind (validation naming each bad field, junk of every JSON type in
every field refused as a 422), printed as kubectl prints them, and kept by the endpoints
controller in step with pods through a real in-process control plane."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.api import resolve, validate_object
from engine.api.names import DNS1123_LABEL_RULE
from engine.client import Client
from engine.errors import InvalidError, NotFoundError
from engine.net.endpointslices import CONTROLLER, MANAGED_BY, SERVICE_NAME
from engine.printers import describe, format_table
from tests.engine.conftest import InProcessServer, until
from tests.net.test_endpointslices import pod as pod_status_of
from tests.net.test_hostile import JUNK

GOOD: dict[str, Any] = {
    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
    "metadata": {"name": "web-abcde", "namespace": "default", "labels": {SERVICE_NAME: "web"}},
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.0.0.1"],
                   "conditions": {"ready": True, "serving": True, "terminating": False},
                   "hostname": "web-0", "nodeName": "n1", "zone": "a",
                   "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-0", "uid": "u"}}],
    "ports": [{"name": "http", "port": 31000, "protocol": "TCP", "appProtocol": "http"}],
}


# -- validation -----------------------------------------------------------------------------------
def test_a_good_slice_is_defaulted() -> None:
    doc = copy.deepcopy(GOOD)
    doc["ports"] = [{"port": 80}]
    out = validate_object(doc).obj
    assert out["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]
    assert resolve("endpointslices").api_version == "discovery.k8s.io/v1"
    assert resolve("endpointslice").plural == "endpointslices"
    assert resolve("endpointslices.discovery.k8s.io").plural == "endpointslices"
    assert resolve("endpointslices").short_names == ()


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    at: Any = doc
    for key in path[:-1]:
        at = at[key]
    at[path[-1]] = value
    return doc


@pytest.mark.parametrize(("path", "value", "problem"), [
    (("addressType",), "IPv5", 'addressType: Unsupported value "IPv5"'),
    (("addressType",), None, "addressType: Unsupported value null"),
    (("endpoints", 0, "addresses"), [], "endpoints[0].addresses: required"),
    (("endpoints", 0, "addresses"), [f"10.0.0.{i}" for i in range(101)],
     "endpoints[0].addresses: must have at most 100 items"),
    (("endpoints", 0, "addresses", 0), "10.0.0.300",
     "endpoints[0].addresses[0]: must be a valid IPv4 address"),
    (("endpoints", 0, "addresses", 0), "::1", "endpoints[0].addresses[0]: must be a valid IPv4 address"),
    (("endpoints", 0, "hostname"), "Web_0", "endpoints[0].hostname: must be a lowercase RFC 1123 label"),
    (("endpoints", 0, "nodeName"), "N 1", "endpoints[0].nodeName: must be a lowercase RFC 1123 subdomain"),
    (("endpoints", 0, "conditions", "ready"), "yes", "endpoints[0].conditions.ready: expected a boolean"),
    (("endpoints", 0, "targetRef", "name"), 5, "endpoints[0].targetRef.name: expected a string"),
    (("endpoints",), [{"addresses": ["10.0.0.1"]}] * 1001, "endpoints: must have at most 1000 items"),
    (("ports", 0, "port"), 0, "ports[0].port: must be between 1 and 65535"),
    (("ports", 0, "port"), 2**31, "ports[0].port:"),
    (("ports", 0, "protocol"), "HTTP", 'ports[0].protocol: Unsupported value "HTTP"'),
    (("ports", 0, "name"), "Not A Label", "ports[0].name: must be a lowercase RFC 1123 label"),
    (("ports", 0, "appProtocol"), "a b", "ports[0].appProtocol: must be a qualified name"),
    (("ports",), [{"name": "x", "port": 1}, {"name": "x", "port": 2}], 'ports[1].name: Duplicate value "x"'),
    (("ports",), [{"port": 1}, {"port": 2}], 'ports[1].name: Duplicate value ""'),
    (("endpoints", 0, "bogus"), 1, "endpoints[0].bogus"),
])
def test_each_problem_names_its_field(path: tuple[Any, ...], value: Any, problem: str) -> None:
    with pytest.raises(InvalidError) as caught:
        validate_object(_with(path, value))
    assert any(d.startswith(problem) for d in caught.value.details or []), caught.value.details


def test_the_address_type_is_required() -> None:
    doc = copy.deepcopy(GOOD)
    del doc["addressType"]
    with pytest.raises(InvalidError) as caught:
        validate_object(doc)
    assert caught.value.details == ["addressType: required"]


def test_an_fqdn_slice() -> None:
    doc = _with(("addressType",), "FQDN")
    doc["endpoints"][0]["addresses"] = ["db.example.com"]
    validate_object(doc)
    doc["endpoints"][0]["addresses"] = ["db"]
    with pytest.raises(InvalidError) as caught:
        validate_object(doc)
    assert caught.value.details == [
        "endpoints[0].addresses[0]: must be a fully qualified domain name (at least two "
        f"{DNS1123_LABEL_RULE}s joined by '.'), got \"db\""]


def _places(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    children = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for key, value in children:
        yield (*path, key)
        yield from _places(value, (*path, key))


def test_junk_anywhere_is_a_clear_422_never_a_crash() -> None:
    tried = 0
    for where in _places(GOOD):
        if where[:1] in (("apiVersion",), ("kind",)) or where == ("metadata", "name"):
            continue
        for junk in JUNK:
            try:
                validate_object(_with(where, junk))
            except InvalidError as exc:
                assert exc.details, (where, junk)
            tried += 1
    assert tried > 300


# -- printing -------------------------------------------------------------------------------------
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _printed(**fields: Any) -> dict[str, Any]:
    meta = {"name": "web-abcde", "namespace": "default",
            "creationTimestamp": (NOW - timedelta(seconds=100)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"metadata": meta, "addressType": "IPv4", **fields}


def test_get_columns_as_kubectl() -> None:
    many = _printed(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81}, {"name": "c"},
                           {"port": 83}],
                    endpoints=[{"addresses": [f"10.0.0.{i}"]} for i in range(5)])
    few = _printed(ports=[{"name": "", "port": 31000, "protocol": "TCP"}],
                   endpoints=[{"addresses": ["127.0.0.1"]}])
    empty = _printed(ports=[], endpoints=[])
    lines = format_table("endpointslices", [many, few, empty], now=NOW).split("\n")
    assert [re.split(r"\s{2,}", line.strip()) for line in lines] == [
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
        ["web-abcde", "IPv4", "80,81,c + 1 more...", "10.0.0.0,10.0.0.1,10.0.0.2 + 2 more...", "100s"],
        ["web-abcde", "IPv4", "31000", "127.0.0.1", "100s"],
        ["web-abcde", "IPv4", "<unset>", "<unset>", "100s"]]


def test_describe_lists_ports_and_endpoints_with_their_conditions() -> None:
    text = describe("endpointslices", GOOD, events=[], now=NOW)
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[0].split() == ["Name:", "web-abcde"]
    assert "AddressType:  IPv4" in lines
    at = lines.index("Ports:")
    assert lines[at + 1].split() == ["Name", "Port", "Protocol"]
    assert lines[at + 3].split() == ["http", "31000", "TCP"]
    at = lines.index("Endpoints:")
    assert lines[at + 1].split() == ["-", "Addresses:", "10.0.0.1"]
    assert lines[at + 2].strip() == "Conditions:"
    assert [lines[at + i].split() for i in (3, 4, 5)] == [["Ready:", "true"], ["Serving:", "true"],
                                                          ["Terminating:", "false"]]
    fields = dict(line.strip().split(":", 1) for line in lines[at + 6:] if ":" in line)
    assert {k: v.strip() for k, v in fields.items()} == {
        "Hostname": "web-0", "TargetRef": "Pod/web-0", "NodeName": "n1", "Zone": "a", "Events": "<none>"}
    empty = describe("endpointslices", {**GOOD, "ports": [], "endpoints": None}, events=[], now=NOW)
    assert "Ports: <unset>" in empty and "Endpoints: <none>" in empty


# -- the controller, through a real control plane ---------------------------------------------------
def _service(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}], **spec}}


def _web_pod(name: str, *, node: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {**({"nodeName": node} if node else {}),
                     "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "1"],
                                     "ports": [{"name": "http", "containerPort": 8000}]}]}}


def _run(c: Client, name: str, port: int, *, ready: bool) -> None:
    """What the node writes for a running pod with its node port."""
    p = c.get("pods", name)
    p["status"] = pod_status_of(name, ready=ready, host_port=port)["status"]
    c.update_status(p)


def _slices(c: Client, service: str = "web") -> list[dict[str, Any]]:
    return c.list("endpointslices", label_selector=f"{SERVICE_NAME}={service}")["items"]


def _view(c: Client) -> dict[int | None, list[tuple[str, bool, bool, bool]]]:
    """port -> (pod, ready, serving, terminating) of each endpoint, over the Service's slices."""
    out: dict[int | None, list[tuple[str, bool, bool, bool]]] = {}
    for s in _slices(c):
        if s["metadata"]["labels"].get(MANAGED_BY) != CONTROLLER:
            continue
        port = s["ports"][0]["port"] if s["ports"] else None
        out.setdefault(port, []).extend(
            (e["targetRef"]["name"], e["conditions"]["ready"], e["conditions"]["serving"],
             e["conditions"]["terminating"]) for e in s["endpoints"])
    return out


def test_the_controller_keeps_slices_in_step_with_pods(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        svc = c.create(_service())
        [placeholder] = until(lambda: _slices(c))
        assert placeholder["endpoints"] == [] and placeholder["ports"] == []
        assert re.fullmatch(r"web-[a-z0-9]{5}", placeholder["metadata"]["name"])
        assert placeholder["metadata"]["labels"] == {"team": "a", SERVICE_NAME: "web", MANAGED_BY: CONTROLLER}
        assert placeholder["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
        c.create(_web_pod("a"))
        c.create(_web_pod("b"))
        _run(c, "a", 31000, ready=True)
        _run(c, "b", 31001, ready=False)
        until(lambda: _view(c) == {31000: [("a", True, True, False)], 31001: [("b", False, False, False)]})
        names = {s["metadata"]["name"] for s in _slices(c)}
        assert placeholder["metadata"]["name"] in names  # the placeholder was reused, not replaced
        _run(c, "b", 31001, ready=True)
        until(lambda: _view(c) == {31000: [("a", True, True, False)], 31001: [("b", True, True, False)]})
        assert {s["metadata"]["name"] for s in _slices(c)} == names  # written in place
        # someone else's write to one of its slices is put back
        edited = next(s for s in _slices(c) if s["endpoints"][0]["targetRef"]["name"] == "a")
        edited["endpoints"] = []
        c.update(edited)
        until(lambda: _view(c) == {31000: [("a", True, True, False)], 31001: [("b", True, True, False)]})
        # a slice someone writes by hand for the Service (no managed-by label) is left alone
        by_hand = c.create({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                            "metadata": {"name": "web-by-hand", "labels": {SERVICE_NAME: "web"}},
                            "addressType": "IPv4", "endpoints": [{"addresses": ["10.9.9.9"]}]})
        # a pod whose labels stop matching leaves
        b = c.get("pods", "b")
        b["metadata"]["labels"] = {"app": "other"}
        c.update(b)
        until(lambda: _view(c) == {31000: [("a", True, True, False)]})
        assert len(_slices(c)) == 2  # b's slice went, rather than stay empty
        assert c.get("endpointslices", "web-by-hand")["endpoints"] == by_hand["endpoints"]
        # a Service that stops selecting loses its slices; the hand-written one stays
        current = c.get("services", "web")
        current["spec"].pop("selector")
        c.update(current)
        until(lambda: [s["metadata"]["name"] for s in _slices(c)] == ["web-by-hand"])


def test_terminating_pods_stay_and_the_services_slices_go_with_it(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "Node",
                  "metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}}})
        c.create(_service())
        c.create(_web_pod("a", node="n1"))
        _run(c, "a", 31000, ready=True)
        until(lambda: _view(c) == {31000: [("a", True, True, False)]})
        [s] = _slices(c)
        assert s["endpoints"][0]["nodeName"] == "n1" and s["endpoints"][0]["zone"] == "z1"
        node = c.get("nodes", "n1", namespace="")
        node["metadata"]["labels"]["topology.kubernetes.io/zone"] = "z2"
        c.update(node)
        until(lambda: _slices(c)[0]["endpoints"][0].get("zone") == "z2")
        c.delete("pods", "a")  # bound to a node: it terminates, gracefully
        until(lambda: _view(c) == {31000: [("a", False, True, True)]})
        assert "subsets" not in c.get("endpoints", "web")  # the Endpoints drop it at once
        c.delete("services", "web")
        until(lambda: _slices(c) == [])


def test_the_api_serves_the_group_and_refuses_a_bad_slice(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create(_service())
        until(lambda: _slices(c))
        listing = c.request("GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices")
        assert [i["kind"] for i in listing["items"]] == ["EndpointSlice"]
        assert c.request("GET", "/apis/discovery.k8s.io/v1/endpointslices")["items"]
        bad = _with(("endpoints", 0, "addresses", 0), "not-an-ip")
        with pytest.raises(InvalidError) as caught:
            c.create(bad)
        assert caught.value.code == 422
        assert any("endpoints[0].addresses[0]" in d for d in caught.value.details or [])
        with pytest.raises(NotFoundError):
            c.request("GET", "/apis/discovery.k8s.io/v2/namespaces/default/endpointslices")


def test_tug_get_and_describe(api_server: InProcessServer) -> None:
    def tug(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True,
                              env={**os.environ, "TUG_HOME": str(api_server.home)}, timeout=60)

    with api_server.client() as c:
        c.create(_service())
        c.create(_web_pod("a"))
        _run(c, "a", 31000, ready=True)
        until(lambda: _view(c) == {31000: [("a", True, True, False)]})
        [s] = _slices(c)
    name = s["metadata"]["name"]
    out = tug("get", "endpointslices")
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()
    assert header.split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert row.split()[:4] == [name, "IPv4", "31000", "127.0.0.1"]
    names = tug("get", "endpointslice", "-o", "name").stdout.split()
    assert names == [f"endpointslice.discovery.k8s.io/{name}"]
    assert json.loads(tug("get", "endpointslices.discovery.k8s.io", name, "-o", "json").stdout)["kind"] \
        == "EndpointSlice"
    text = tug("describe", "endpointslice", name)
    assert text.returncode == 0, text.stderr
    fields = [line.split() for line in text.stdout.splitlines()]
    assert ["-", "Addresses:", "127.0.0.1"] in fields and ["TargetRef:", "Pod/a"] in fields
    assert ["Ready:", "true"] in fields and ["Terminating:", "false"] in fields
