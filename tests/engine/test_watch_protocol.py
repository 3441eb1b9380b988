"""Watches and lists as client-go's reflectors use them (engine/server/watching.py): BOOKMARK
events when allowed, sendInitialEvents ending in the marked bookmark, resourceVersionMatch
checked as Kubernetes checks it, and an Exact list served as of its resourceVersion."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from engine.server import watching

from .conftest import InProcessServer, trust

BASE = "/api/v1/namespaces/default/configmaps"


def _get(c: Any, query: str, timeout: float = 30) -> httpx.Response:
    return httpx.get(c.server + BASE + "?" + query, verify=trust(c), timeout=timeout,
                     headers={"Authorization": f"Bearer {c.token}"})


def _cm(name: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": value}}


def test_send_initial_events_then_the_marked_bookmark_then_changes(api_server: InProcessServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watching, "BOOKMARK_S", 0.2)
    with api_server.client() as c:
        c.create(_cm("a", "1"))
        c.create(_cm("b", "1"))
        resp = _get(c, "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                       "&allowWatchBookmarks=true&timeoutSeconds=1")
    events = [json.loads(line) for line in resp.text.splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:3]] == [
        ("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[2]["object"]["kind"] == "ConfigMap"
    # an idle watch that allows bookmarks gets them, each at the store's resourceVersion
    assert len(events) > 3 and {e["type"] for e in events[3:]} == {"BOOKMARK"}
    marked = int(events[2]["object"]["metadata"]["resourceVersion"])
    assert all(int(e["object"]["metadata"]["resourceVersion"]) >= marked for e in events[3:])


def test_no_bookmark_unless_allowed(api_server: InProcessServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watching, "BOOKMARK_S", 0.1)
    with api_server.client() as c:
        made = c.create(_cm("a", "1"))
        resp = _get(c, f"watch=true&resourceVersion={made['metadata']['resourceVersion']}&timeoutSeconds=1")
    assert resp.status_code == 200 and resp.text.strip() == ""


def test_an_exact_list_is_as_it_was_then(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        first = c.create(_cm("a", "1"))
        c.update({**first, "data": {"k": "2"}})
        c.create(_cm("b", "1"))
        then = _get(c, f"resourceVersion={first['metadata']['resourceVersion']}&resourceVersionMatch=Exact")
        now = _get(c, "resourceVersion=0")
        newer = _get(c, "resourceVersion=1&resourceVersionMatch=NotOlderThan")
    assert then.status_code == 200 and [(i["metadata"]["name"], i["data"]) for i in then.json()["items"]] == \
        [("a", {"k": "1"})]
    assert then.json()["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in now.json()["items"]] == ["a", "b"]
    assert newer.json()["items"] == now.json()["items"]


@pytest.mark.parametrize("query, needle", [
    ("resourceVersion=1&resourceVersionMatch=Bogus", 'Unsupported value: "Bogus"'),
    ("resourceVersionMatch=Exact", "forbidden unless resourceVersion is provided"),
    ("resourceVersion=0&resourceVersionMatch=Exact", 'forbidden for resourceVersion "0"'),
    ("watch=true&resourceVersionMatch=Exact&resourceVersion=1", "a watch takes only NotOlderThan"),
    ("watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan", "requires allowWatchBookmarks"),
])
def test_what_kubernetes_refuses_is_refused(api_server: InProcessServer, query: str, needle: str) -> None:
    with api_server.client() as c:
        resp = _get(c, query)
    assert resp.status_code == 400 and needle in resp.json()["message"], resp.text
