"""engine/api/ssa.py: the fields a configuration sets, as Kubernetes writes them in
managedFields; apply merges, removes what its manager dropped (not what another manager owns),
and reports (or, forced, takes over) fields another manager set differently."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.api.ssa import apply, fields, from_fields_v1, record_update, to_fields_v1
from engine.errors import ConflictError

NOW = "2026-12-06T00:00:00Z"


def _web(replicas: int | None = 2, labels: dict[str, str] | None = None,
         containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": containers or [{"name": "web", "image": "nginx:1.25"}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels or {"app": "web"}}, "spec": spec}


def _owned(obj: dict[str, Any]) -> dict[tuple[str, str], set[tuple[str, ...]]]:
    return {(e["manager"], e["operation"]): from_fields_v1(e["fieldsV1"])
            for e in obj["metadata"]["managedFields"]}


def test_fields_and_their_fieldsv1_form() -> None:
    got = fields(_web())
    container = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"web"}')
    assert ("f:spec", "f:replicas") in got and ("f:metadata", "f:labels", "f:app") in got
    assert (*container, ".") in got and (*container, "f:image") in got and (*container, "f:name") in got
    assert not any(p[:2] == ("f:metadata", "f:name") for p in got)  # identity is not owned
    tree = to_fields_v1(got)
    assert tree["f:spec"]["f:replicas"] == {}
    assert tree["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']["."] == {}
    assert from_fields_v1(tree) == got


def test_apply_creates_then_removes_what_its_manager_dropped() -> None:
    made = apply(None, _web(labels={"app": "web", "tier": "front"}), manager="kubectl", force=False, now=NOW)
    [entry] = made["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == \
        ("kubectl", "Apply", "apps/v1", "FieldsV1")
    again = apply(made, _web(replicas=None), manager="kubectl", force=False, now=NOW)
    assert "replicas" not in again["spec"] and again["metadata"]["labels"] == {"app": "web"}
    assert ("f:spec", "f:replicas") not in _owned(again)[("kubectl", "Apply")]


def test_another_managers_change_is_a_conflict_unless_forced() -> None:
    made = apply(None, _web(), manager="kubectl", force=False, now=NOW)
    edited = copy.deepcopy(made)
    edited["spec"]["replicas"] = 5
    edited["metadata"]["managedFields"] = record_update(made, edited, manager="kubectl-edit", now=NOW)
    owners = _owned(edited)
    assert owners[("kubectl-edit", "Update")] == {("f:spec", "f:replicas")}
    assert ("f:spec", "f:replicas") not in owners[("kubectl", "Apply")]
    with pytest.raises(ConflictError) as refused:
        apply(edited, _web(replicas=3), manager="kubectl", force=False, now=NOW)
    assert 'conflict with "kubectl-edit" using apps/v1: .spec.replicas' in str(refused.value)
    # the same value is no conflict; leaving the field out is none either (and keeps it)
    for replicas in (5, None):
        kept = apply(edited, _web(replicas=replicas), manager="kubectl", force=False, now=NOW)
        assert kept["spec"]["replicas"] == 5
    forced = apply(edited, _web(replicas=3), manager="kubectl", force=True, now=NOW)
    assert forced["spec"]["replicas"] == 3
    assert ("kubectl-edit", "Update") not in _owned(forced)  # it owned nothing else: its entry goes


def test_what_another_manager_owns_stays_when_one_drops_it() -> None:
    two = [{"name": "web", "image": "nginx:1.25"}, {"name": "side", "image": "busybox"}]
    made = apply(None, _web(containers=two), manager="a", force=False, now=NOW)
    shared = apply(made, _web(containers=[{"name": "side", "image": "busybox"}]), manager="b",
                   force=False, now=NOW)
    dropped = apply(shared, _web(containers=[{"name": "web", "image": "nginx:1.26"}]), manager="a",
                    force=False, now=NOW)
    names = [(c["name"], c["image"]) for c in dropped["spec"]["template"]["spec"]["containers"]]
    assert names == [("web", "nginx:1.26"), ("side", "busybox")]  # b still applies side
    alone = apply(made, _web(containers=[{"name": "web", "image": "nginx:1.25"}]), manager="a",
                  force=False, now=NOW)
    assert [c["name"] for c in alone["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_an_object_nobody_applied_tracks_no_owners() -> None:
    plain = _web()
    changed = {**plain, "spec": {**plain["spec"], "replicas": 4}}
    assert record_update(plain, changed, manager="kubectl-scale", now=NOW) is None


def test_a_garbled_managed_fields_entry_is_read_as_owning_nothing_it_cannot_name() -> None:
    made = apply(None, _web(), manager="kubectl", force=False, now=NOW)
    made["metadata"]["managedFields"] += [
        {"manager": "x", "operation": "Update", "fieldsV1": {"f:spec": {"k:{not json": {".": {}}}}},
        {"manager": "y", "operation": "Update", "fieldsV1": ["not", "a", "map"]}, "junk"]
    again = apply(made, _web(replicas=7), manager="kubectl", force=False, now=NOW)
    assert again["spec"]["replicas"] == 7
