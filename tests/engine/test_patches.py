"""engine/api/patches.py: strategic merge patches as kubectl computes them, JSON patch
(RFC 6902, its own examples), and refusals that name where."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api.patches import json_patch, merge_patch, strategic_merge
from engine.errors import BadRequestError

POD_SPEC: dict[str, Any] = {"containers": [
    {"name": "web", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
     "ports": [{"containerPort": 80}, {"containerPort": 443}]},
    {"name": "side", "image": "busybox"}],
    "tolerations": [{"key": "a"}], "volumes": [{"name": "v", "emptyDir": {}}]}


def test_lists_with_a_merge_key_merge_by_it_and_others_are_replaced() -> None:
    out = strategic_merge(POD_SPEC, {"containers": [{"name": "web", "image": "nginx:1.26"},
                                                    {"name": "new", "image": "x"}],
                                     "tolerations": [{"key": "b"}]})
    assert [(c["name"], c["image"]) for c in out["containers"]] == [
        ("web", "nginx:1.26"), ("side", "busybox"), ("new", "x")]
    assert out["containers"][0]["env"] == POD_SPEC["containers"][0]["env"]  # untouched inside
    assert out["tolerations"] == [{"key": "b"}]  # no merge key: replaced
    assert POD_SPEC["containers"][0]["image"] == "nginx:1.25"  # the original is not changed


def test_kubectls_directives_delete_order_and_replace() -> None:
    # what `kubectl apply` sends after B was dropped from the manifest and side moved first
    patch = {"$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
             "containers": [{"name": "web", "$setElementOrder/env": [{"name": "A"}],
                             "env": [{"$patch": "delete", "name": "B"}],
                             "$setElementOrder/ports": [{"containerPort": 443}, {"containerPort": 80}]}]}
    out = strategic_merge(POD_SPEC, patch)
    assert [c["name"] for c in out["containers"]] == ["side", "web"]
    assert out["containers"][1]["env"] == [{"name": "A", "value": "1"}]
    assert [p["containerPort"] for p in out["containers"][1]["ports"]] == [443, 80]
    replaced = strategic_merge(POD_SPEC, {"volumes": [{"name": "w", "hostPath": {"path": "/x"}},
                                                      {"$patch": "replace"}]})
    assert replaced["volumes"] == [{"name": "w", "hostPath": {"path": "/x"}}]
    whole = strategic_merge({"a": {"x": 1, "y": 2}}, {"a": {"$patch": "replace", "z": 3}})
    assert whole == {"a": {"z": 3}}
    kept = strategic_merge({"s": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}},
                           {"s": {"$retainKeys": ["type"], "type": "Recreate"}})
    assert kept == {"s": {"type": "Recreate"}}


def test_finalizers_merge_as_a_set_and_primitive_deletes() -> None:
    meta = {"finalizers": ["a", "b"], "labels": {"x": "1", "y": "2"}}
    out = strategic_merge(meta, {"finalizers": ["b", "c"], "labels": {"y": None}})
    assert out == {"finalizers": ["a", "b", "c"], "labels": {"x": "1"}}
    assert strategic_merge(meta, {"$deleteFromPrimitiveList/finalizers": ["a"]})["finalizers"] == ["b"]


def test_service_ports_merge_by_port() -> None:
    spec = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    out = strategic_merge(spec, {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]})
    assert out["ports"] == [{"name": "http", "port": 80, "targetPort": 9090}, {"port": 443}]


@pytest.mark.parametrize("patch, where", [
    ({"containers": [{"image": "x"}]}, "containers: an element has no merge key 'name'"),
    ({"$bogus": 1}, "$bogus: unknown patch directive"),
])
def test_a_strategic_patch_that_cannot_apply_says_where(patch: dict[str, Any], where: str) -> None:
    with pytest.raises(BadRequestError) as err:
        strategic_merge(POD_SPEC, patch)
    assert where in err.value.message


def test_merge_patch_replaces_lists_and_deletes_nulls() -> None:
    assert merge_patch(POD_SPEC, {"containers": [{"name": "only"}], "volumes": None}) == {
        "containers": [{"name": "only"}], "tolerations": [{"key": "a"}]}


def test_json_patch_follows_rfc_6902() -> None:
    doc = {"foo": ["bar", "baz"], "a/b": 1, "m~n": 2}
    assert json_patch(doc, [{"op": "add", "path": "/foo/1", "value": "qux"}])["foo"] == ["bar", "qux", "baz"]
    assert json_patch(doc, [{"op": "add", "path": "/foo/-", "value": "end"}])["foo"][-1] == "end"
    assert json_patch(doc, [{"op": "remove", "path": "/foo/0"}])["foo"] == ["baz"]
    assert json_patch(doc, [{"op": "replace", "path": "/a~1b", "value": 5}])["a/b"] == 5
    assert json_patch(doc, [{"op": "move", "from": "/m~0n", "path": "/n"}]) == \
        {"foo": ["bar", "baz"], "a/b": 1, "n": 2}
    assert json_patch(doc, [{"op": "copy", "from": "/foo/0", "path": "/first"}])["first"] == "bar"
    assert json_patch(doc, [{"op": "test", "path": "/foo/1", "value": "baz"}]) == doc
    assert doc == {"foo": ["bar", "baz"], "a/b": 1, "m~n": 2}  # never changed in place


@pytest.mark.parametrize("ops, error, where", [
    ([{"op": "replace", "path": "/nope", "value": 1}], BadRequestError, "patch[0]: the path does not exist"),
    ([{"op": "add", "path": "/foo/9", "value": 1}], BadRequestError, "index 9 is out of range"),
    ([{"op": "add", "path": "foo", "value": 1}], BadRequestError, "patch[0].path: a JSON pointer starts"),
    ([{"op": "jump", "path": "/foo"}], BadRequestError, "patch[0].op: must be add"),
    ([{"op": "add", "path": "/x"}], BadRequestError, "patch[0].value: required for add"),
    ([{"op": "remove", "path": ""}], BadRequestError, "cannot remove the whole object"),
    ([{"op": "test", "path": "/foo/0", "value": "no"}], BadRequestError, "patch[0]: test failed"),
    ({"op": "add"}, BadRequestError, "a JSON patch is a list of operations"),
])
def test_a_json_patch_that_cannot_apply_says_where(ops: Any, error: type[Exception], where: str) -> None:
    with pytest.raises(error) as err:
        json_patch({"foo": ["bar"]}, ops)
    assert where in err.value.message  # type: ignore[attr-defined]
