"""Lists in pages (`limit`, `continue`) through the real API server: pages are one snapshot at
the first page's resourceVersion whatever changes between them, a watch from that version
then sees every change, and a bad or expired token is a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.client import Client
from engine.errors import BadRequestError, GoneError
from engine.store import pages
from tests.engine.conftest import InProcessServer

PATH = "/api/v1/namespaces/default/configmaps"


def _cm(name: str, value: str = "1", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}}, "data": {"v": value}}


def _all_pages(c: Client, path: str, limit: int, token: str | None = None,
               **params: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items, metas = [], []
    while True:
        page = c.request("GET", path, params={"limit": limit, "continue": token, **params})
        items += page["items"]
        metas.append(page["metadata"])
        token = page["metadata"].get("continue")
        if not token:
            return items, metas


def test_pages_walk_the_list_in_order_with_remaining_counts(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        for i in range(7):
            c.create(_cm(f"cm-{i}"))
        items, metas = _all_pages(c, PATH, 3)
        assert [o["metadata"]["name"] for o in items] == [f"cm-{i}" for i in range(7)]
        assert [m.get("remainingItemCount") for m in metas] == [4, 1, None]
        assert len({m["resourceVersion"] for m in metas}) == 1  # every page is one list
        whole = c.request("GET", PATH)
        assert "continue" not in whole["metadata"] and len(whole["items"]) == 7
        assert c.request("GET", PATH, params={"limit": 7})["metadata"].get("continue") is None


def test_pages_are_the_first_pages_snapshot_though_objects_change(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        for i in range(6):
            c.create(_cm(f"cm-{i}"))
        first = c.request("GET", PATH, params={"limit": 2})
        rv = first["metadata"]["resourceVersion"]
        # between pages: one later object changed, one deleted, one added, one early one changed
        c.update({**c.get("configmaps", "cm-3"), "data": {"v": "changed"}})
        c.delete("configmaps", "cm-4")
        c.create(_cm("cm-5a"))
        c.update({**c.get("configmaps", "cm-0"), "data": {"v": "changed"}})
        rest, metas = _all_pages(c, PATH, 2, first["metadata"]["continue"])
        names = [o["metadata"]["name"] for o in first["items"] + rest]
        assert names == [f"cm-{i}" for i in range(6)]  # as at rv: cm-4 still there, no cm-5a
        assert next(o for o in rest if o["metadata"]["name"] == "cm-3")["data"] == {"v": "1"}
        assert {m["resourceVersion"] for m in metas} == {rv}
        # a watch from the list's version sees every change made while it paged
        seen = []
        for kind, obj in c.watch("configmaps", resource_version=rv, timeout_seconds=1, timeout=30):
            seen.append((kind, obj["metadata"]["name"]))
        assert seen == [("MODIFIED", "cm-3"), ("DELETED", "cm-4"), ("ADDED", "cm-5a"), ("MODIFIED", "cm-0")]


def test_pages_with_a_label_selector_fill_up_to_the_limit(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        for i in range(8):
            c.create(_cm(f"cm-{i}", labels={"even": str(i % 2 == 0).lower()}))
        items, metas = _all_pages(c, PATH, 2, labelSelector="even=true")
        assert [o["metadata"]["name"] for o in items] == ["cm-0", "cm-2", "cm-4", "cm-6"]
        assert all("remainingItemCount" not in m for m in metas)  # not counted under a selector


@pytest.mark.parametrize("token", ["garbage", "e30", "x" * 5000,
                                   pages.token("secrets", 1, ("default", "a")),  # another resource's
                                   pages.token("configmaps", 10**9, ("default", "a"))])  # a future rv
def test_a_bad_continue_token_is_a_400_naming_it(api_server: InProcessServer, token: str) -> None:
    with api_server.client() as c:
        c.create(_cm("cm-0"))
        with pytest.raises(BadRequestError, match="continue"):
            c.request("GET", PATH, params={"limit": 1, "continue": token})


def test_an_expired_continue_token_is_a_410(tmp_path: Path) -> None:
    srv = InProcessServer(tmp_path / "tug", history=5)  # keeps only the last 5 changes
    try:
        with srv.client() as c:
            for i in range(3):
                c.create(_cm(f"cm-{i}"))
            first = c.request("GET", PATH, params={"limit": 1})
            for i in range(120):  # the store compacts its history every 100 writes
                c.update({**c.get("configmaps", "cm-2"), "data": {"v": str(i)}})
            with pytest.raises(GoneError, match="too old"):
                c.request("GET", PATH, params={"limit": 1, "continue": first["metadata"]["continue"]})
            assert len(c.request("GET", PATH)["items"]) == 3  # a new list works
    finally:
        srv.close()


def test_a_negative_limit_is_a_400(api_server: InProcessServer) -> None:
    with api_server.client() as c, pytest.raises(BadRequestError, match="limit"):
        c.request("GET", PATH, params={"limit": -1})
