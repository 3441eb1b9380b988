"""Ingress routing as a table (reference part 2, §3.2-§3.5): path vectors, hosts, default
backend, canary by header, cookie and weight, and backends resolved through Service ports."""

from __future__ import annotations

from typing import Any

import pytest

from engine.net.ingress import choose, ingress_table, path_matches, takes


@pytest.mark.parametrize(("kind", "rule", "path", "match"), [
    ("Prefix", "/", "/anything", True), ("Exact", "/foo", "/foo", True), ("Exact", "/foo", "/bar", False),
    ("Exact", "/foo", "/foo/", False), ("Exact", "/foo/", "/foo", False), ("Prefix", "/foo", "/foo", True),
    ("Prefix", "/foo", "/foo/", True), ("Prefix", "/foo/", "/foo", True), ("Prefix", "/foo/", "/foo/", True),
    ("Prefix", "/aaa/bb", "/aaa/bbb", False), ("Prefix", "/aaa/bbb", "/aaa/bbb", True),
    ("Prefix", "/aaa/bbb/", "/aaa/bbb", True), ("Prefix", "/aaa/bbb", "/aaa/bbb/", True),
    ("Prefix", "/aaa/bbb", "/aaa/bbb/ccc", True), ("Prefix", "/aaa/bbb", "/aaa/bbbxyz", False),
    ("ImplementationSpecific", "/foo", "/foobar", True),
])
def test_path_vectors(kind: str, rule: str, path: str, match: bool) -> None:
    assert path_matches(kind, rule, path) is match


def _entry(path: str | None, kind: str = "Prefix", host: str = "", service: str = "s",
           canary: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ingress": "default/i", "host": host, "path": path, "pathType": kind, "canary": canary,
            "service": service, "backends": []}


def _pick(table: list[dict[str, Any]], host: str, path: str, headers: dict[str, str] | None = None,
          cookies: dict[str, str] | None = None, roll: int = 100) -> str | None:
    hit = choose(table, host, path, headers or {}, cookies or {}, lambda n: roll)
    return hit["service"] if hit else None


def test_longest_path_wins_exact_before_prefix_then_default() -> None:
    table = [_entry("/", service="root"), _entry("/aaa", service="aaa"), _entry("/aaa/bbb", service="bbb"),
             _entry("/foo", "Prefix", service="foo-prefix"), _entry("/foo", "Exact", service="foo-exact")]
    assert _pick(table, "x", "/aaa/ccc") == "aaa"
    assert _pick(table, "x", "/aaa/bbb") == "bbb"
    assert _pick(table, "x", "/ccc") == "root"
    assert _pick(table, "x", "/foo") == "foo-exact" and _pick(table, "x", "/foo/x") == "foo-prefix"
    only = [_entry("/aaa"), _entry(None, service="fallback")]
    assert _pick(only, "x", "/ccc") == "fallback"
    assert _pick([_entry("/aaa")], "x", "/ccc") is None  # 404


def test_exact_hosts_then_one_label_wildcards_then_hostless() -> None:
    table = [_entry("/", host="foo.com", service="exact"), _entry("/", host="*.foo.com", service="wild"),
             _entry("/", service="any"), _entry("/only", host="bar.com", service="bar")]
    assert _pick(table, "FOO.com", "/") == "exact"
    assert _pick(table, "bar.foo.com", "/") == "wild"
    assert _pick(table, "baz.bar.foo.com", "/") == "any" and _pick(table, "other", "/") == "any"
    assert _pick(table, "bar.com", "/elsewhere") is None  # bar.com's own server: no path, no fallthrough


def test_canary_header_cookie_weight_precedence() -> None:
    weighted = {"weight": 20, "total": 100, "header": "", "headerValue": "", "headerPattern": "",
                "cookie": ""}
    assert takes(weighted, {}, {}, lambda n: 20) and not takes(weighted, {}, {}, lambda n: 21)
    header = {**weighted, "weight": 0, "header": "X-Canary"}
    assert takes(header, {"X-Canary": "always"}, {}, lambda n: 100)
    assert not takes({**header, "weight": 100}, {"X-Canary": "never"}, {}, lambda n: 1)  # never stops
    assert not takes(header, {"X-Canary": "maybe"}, {}, lambda n: 1)  # falls through to weight 0
    valued = {**header, "headerValue": "yes"}
    assert takes(valued, {"X-Canary": "yes"}, {}, lambda n: 100)
    assert not takes(valued, {"X-Canary": "always"}, {}, lambda n: 100)  # with a value, just a mismatch
    pattern = {**header, "headerPattern": "^b"}
    assert takes(pattern, {"X-Canary": "beta"}, {}, lambda n: 100)
    assert not takes({**pattern, "headerPattern": "("}, {"X-Canary": "beta"}, {}, lambda n: 1)
    cookie = {**weighted, "weight": 100, "cookie": "c"}
    assert not takes(cookie, {}, {"c": "never"}, lambda n: 1)
    assert takes({**cookie, "weight": 0}, {}, {"c": "always"}, lambda n: 100)
    assert takes({**weighted, "total": 1000, "weight": 200}, {}, {}, lambda n: 200)
    table = [_entry("/", service="stable"), {**_entry("/", service="canary", canary=weighted),
                                             "backends": [["10.0.0.1", 1]]}]
    assert _pick(table, "x", "/", roll=20) == "canary" and _pick(table, "x", "/", roll=21) == "stable"
    table[1]["backends"] = []  # a canary with no ready endpoint takes nothing (ingress-nginx skips it)
    assert _pick(table, "x", "/", roll=1) == "stable"


def _ingress(name: str, *, annotations: dict[str, str] | None = None, cls: str | None = None,
             port: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
            "spec": {**({"ingressClassName": cls} if cls else {}), "rules": [{"host": "Web.Example", "http": {
                "paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {
                    "name": "web", "port": port or {"number": 80}}}}]}}]}}


def test_the_table_resolves_service_ports_and_skips_other_classes() -> None:
    services = {"default/web": {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}}
    endpoints = {"default/web": {"subsets": [{"addresses": [{"ip": "10.0.0.1"}],
                                              "notReadyAddresses": [{"ip": "10.0.0.2"}],
                                              "ports": [{"name": "http", "port": 31000}]}]}}
    table = ingress_table([_ingress("a"), _ingress("b", port={"name": "http"}), _ingress("c", cls="nginx"),
                           _ingress("d", port={"number": 81}),
                           _ingress("e", annotations={"nginx.ingress.kubernetes.io/canary": "true",
                                                      "nginx.ingress.kubernetes.io/canary-weight": "x"})],
                          services, endpoints)
    assert [e["ingress"] for e in table] == ["default/a", "default/b", "default/d", "default/e"]
    assert table[0]["host"] == "web.example" and table[0]["backends"] == [["10.0.0.1", 31000]]
    assert table[1]["backends"] == [["10.0.0.1", 31000]] and table[2]["backends"] == []
    assert table[3]["canary"]["weight"] == 0  # an invalid weight is 0
