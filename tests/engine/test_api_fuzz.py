"""Property-based tests of the API contract (hypothesis): generated manifests, statuses, merge
patches, batch applies and query parameters, thrown at a real control plane on a real store
(no Ray), with its scheduler and controllers running.

For every request: success, or a 4xx Status with a message (a 422 lists causes that each name
a field path); never a 5xx, never a traceback in the server's log; a refused request leaves the
store as it was (the object it named, and the names of its kind); answers are strict JSON (no
NaN or Infinity). What the API accepts stays in the store for the loops to digest; when the
fuzzing is over, every loop still makes progress: the scheduler binds a new pod, a Job is
admitted and its pod bound, a deleted namespace goes away, /readyz answers 200, and no loop
logged a failure or an object it could not read.

Objects the requests target are kept quiescent, so "unchanged" is checked exactly (the whole
object, resourceVersion included) while the loops run: a pod is bound to a node that does not
exist (nobody else writes it), a Job is suspended by its owner (its controller writes its status
once, then nothing), and once a request changes a target, the next example gets a fresh one.

Examples are derandomized (the same ones every run); to see what the answers were, run with
--hypothesis-show-statistics.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.api import validate_object
from engine.api.status import check_status

from .conftest import InProcessServer
from .fuzzing import (
    FUZZ,
    GROUP_PATH,
    KINDS,
    NS,
    SEEDS,
    STATUS_SEEDS,
    Fuzz,
    _strict,
    check_answer,
    collection,
    dump,
    json_values,
    merge_patches,
    mutations,
    object_url,
    seed,
    until,
)


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    srv = InProcessServer(tmp_path_factory.mktemp("fuzz") / "tug")
    f = Fuzz(srv)
    try:
        yield f
    finally:
        f.close()
        srv.close()


# -- the properties --------------------------------------------------------------------------------
def test_the_seeds_are_valid() -> None:
    for plural, doc in SEEDS.items():
        assert validate_object(doc, default_namespace=NS).resource.plural == plural
    for plural, status in STATUS_SEEDS.items():
        check_status(plural, SEEDS[plural]["kind"], "x", status)


PLAIN_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@st.composite
def creates(draw: st.DrawFn) -> tuple[str, Any]:
    plural = draw(st.sampled_from(KINDS))
    return plural, draw(mutations(seed(plural, "NAME"), min_changes=0))


@settings(FUZZ, max_examples=1000)
@given(case=creates())
def test_create_answers_by_contract_and_a_refused_one_stores_nothing(fuzz: Fuzz,
                                                                      case: tuple[str, Any]) -> None:
    plural, doc = case
    name = fuzz.fresh_name("new")
    body = dump(doc).replace(b'"NAME"', json.dumps(name).encode())
    named = json.loads(body, parse_constant=lambda c: None).get("metadata")
    named = named.get("name") if isinstance(named, dict) else None
    probe = object_url(plural, named) if isinstance(named, str) and PLAIN_NAME.fullmatch(named) else None
    names_before = fuzz.names_of(plural)
    before = fuzz.get(probe) if probe else None
    resp = fuzz.send("POST", collection(plural), body, plural=plural)
    if resp.status_code < 400:
        return  # kept: the loops must digest whatever the API accepts
    assert fuzz.names_of(plural) == names_before, f"a refused create stored something: {body[:2000]!r}"
    if probe:
        assert fuzz.get(probe) == before


@settings(FUZZ, max_examples=200)
@given(cases=st.lists(creates(), min_size=1, max_size=3), dry_run=st.booleans())
def test_apply_answers_by_contract_and_a_refused_one_stores_nothing(fuzz: Fuzz, cases: list[tuple[str, Any]],
                                                                    dry_run: bool) -> None:
    """tugboat's batch apply (all documents or none), in create mode: it never changes what exists."""
    docs = [dump(doc).replace(b'"NAME"', json.dumps(fuzz.fresh_name("apply")).encode()) for _, doc in cases]
    body = b'{"namespace": "default", "mode": "create", "dryRun": %s, "documents": [%s]}' % (
        json.dumps(dry_run).encode(), b", ".join(docs))
    plurals = sorted({plural for plural, _ in cases})
    before = {plural: fuzz.names_of(plural) for plural in plurals}
    resp = fuzz.send("POST", "/apis/tugboat.dev/v1/apply", body, batch=True)
    if resp.status_code >= 400 or dry_run:
        assert {plural: fuzz.names_of(plural) for plural in plurals} == before, \
            f"a refused apply or a dry run stored something: {body[:3000]!r}"
        return
    assert all(result["action"] == "created" for result in resp.json()["results"]), resp.text


def _current(fuzz: Fuzz, plural: str) -> tuple[str, dict[str, Any]]:
    name = fuzz.target(plural)
    code, obj = fuzz.get(object_url(plural, name))
    assert code == 200, obj
    return name, obj


@settings(FUZZ, max_examples=800)
@given(plural=st.sampled_from(KINDS), data=st.data())
def test_replace_answers_by_contract_and_a_refused_one_changes_nothing(
        fuzz: Fuzz, plural: str, data: st.DataObject) -> None:
    name, current = _current(fuzz, plural)
    body = dump(data.draw(mutations({k: v for k, v in current.items() if k != "status"}), label="body"))
    resp = fuzz.send("PUT", object_url(plural, name), body, plural=plural)
    if resp.status_code < 400:
        fuzz.retire(plural)
        return
    assert fuzz.get(object_url(plural, name)) == (200, current), f"a refused PUT changed {plural}/{name}"


PATCH_TYPES = ["application/merge-patch+json"] * 6 + [
    "application/strategic-merge-patch+json", "application/json-patch+json", "application/json"]
JSON_PATCH_OPS = st.fixed_dictionaries({"op": st.sampled_from(["add", "replace", "remove", "test", "x"]),
                                        "path": st.sampled_from(["/spec", "/metadata/labels/a", "", "/"]),
                                        "value": json_values})


@settings(FUZZ, max_examples=1000)
@given(plural=st.sampled_from(KINDS), ctype=st.sampled_from(PATCH_TYPES), data=st.data())
def test_merge_patch_answers_by_contract_and_a_refused_one_changes_nothing(
        fuzz: Fuzz, plural: str, ctype: str, data: st.DataObject) -> None:
    name, current = _current(fuzz, plural)
    if ctype == "application/json-patch+json":  # an RFC 6902 list of operations
        patch: Any = data.draw(st.lists(JSON_PATCH_OPS, max_size=3), label="patch")
    else:
        patch = data.draw(merge_patches(current), label="patch")
    body = dump(patch)
    resp = fuzz.send("PATCH", object_url(plural, name), body, content_type=ctype, plural=plural)
    if resp.status_code < 400:
        fuzz.retire(plural)
        return
    assert fuzz.get(object_url(plural, name)) == (200, current), f"a refused PATCH changed {plural}/{name}"


@settings(FUZZ, max_examples=700)
@given(plural=st.sampled_from(sorted(STATUS_SEEDS)), keep_rv=st.booleans(), data=st.data())
def test_status_write_answers_by_contract_and_a_refused_one_changes_nothing(
        fuzz: Fuzz, plural: str, keep_rv: bool, data: st.DataObject) -> None:
    name, current = _current(fuzz, plural)
    meta = {"name": name}
    if keep_rv:
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
    doc = {"apiVersion": current["apiVersion"], "kind": current["kind"], "metadata": meta,
           "status": copy.deepcopy(STATUS_SEEDS[plural])}
    doc = data.draw(mutations(doc), label="body")
    body = dump(doc)
    resp = fuzz.send("PUT", object_url(plural, name) + "/status", body, plural=plural)
    if resp.status_code < 400:
        fuzz.retire(plural)
        return
    assert fuzz.get(object_url(plural, name)) == (200, current), \
        f"a refused status write changed {plural}/{name}"


@pytest.mark.parametrize("plural", sorted(STATUS_SEEDS) + ["configmaps"])
@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity"])
def test_a_number_json_cannot_carry_is_refused_and_changes_nothing(fuzz: Fuzz, plural: str,
                                                                   number: str) -> None:
    """Found by the fuzzing: a status was stored as sent, and NaN or 1e400 (read as infinity) in a
    field of no known type was stored, so every later answer holding the object was not JSON.
    A body with such a number is now refused as it is read (400), on every path."""
    name, current = _current(fuzz, plural)
    for body in (b'{"status": {"x": %s}}' % number.encode(),
                 b'{"status": {"conditions": [], "extra": [{"deep": %s}]}}' % number.encode()):
        resp = fuzz.send("PUT", object_url(plural, name) + "/status", body, plural=plural)
        assert resp.status_code == 400, resp.text
        assert resp.json()["message"].startswith("the request body is not valid JSON")
        assert fuzz.get(object_url(plural, name)) == (200, current)


def test_a_status_with_a_number_json_cannot_carry_is_a_422_naming_its_field() -> None:
    """What reaches check_status from another path than a body (it never parses NaN itself)."""
    from engine.api.status import check_status
    from engine.errors import InvalidError

    with pytest.raises(InvalidError) as err:
        check_status("configmaps", "ConfigMap", "x", {"extra": [{"deep": float("inf")}]})
    assert err.value.details[0].startswith("status.extra[0].deep: expected a finite number")


# Found by the fuzzing: a truthy non-object metadata was a 500 (AttributeError).
@pytest.mark.parametrize("metadata", [1, "x", [1], True])
def test_a_status_write_whose_metadata_is_not_an_object_is_a_4xx(fuzz: Fuzz, metadata: Any) -> None:
    name, current = _current(fuzz, "jobs")
    seen = len(fuzz.log.records)
    try:
        resp = fuzz.http.put(object_url("jobs", name) + "/status",
                             content=dump({"metadata": metadata, "status": {}}),
                             headers={"Content-Type": "application/json"})
    finally:
        del fuzz.log.records[seen:]  # its traceback is this known bug's, not a loop's
    assert 400 <= resp.status_code < 500, resp.text
    assert fuzz.get(object_url("jobs", name)) == (200, current)


# Found by the fuzzing: a Job status written with "conditions": null made every sync of that
# Job fail (set_condition took the stored None); a status write now drops nulls, and the
# planner reads a null conditions list as an empty one.
def test_the_job_controller_reconciles_a_job_whose_status_conditions_are_null(fuzz: Fuzz) -> None:
    name = fuzz.fresh_name("nullconditions")
    job = seed("jobs", name)
    job["spec"]["suspend"] = True
    made = fuzz.send("POST", collection("jobs"), dump(job), plural="jobs")
    assert made.status_code == 201, made.text
    uid = made.json()["metadata"]["uid"]
    seen = len(fuzz.log.records)
    url = object_url("jobs", name)
    try:
        until(lambda: (fuzz.get(url)[1].get("status") or {}).get("conditions"))  # synced once
        written = fuzz.send("PUT", url + "/status", b'{"status": {"conditions": null}}', plural="jobs")
        assert written.status_code == 200, written.text

        def failed() -> bool:
            return any(r.name == "tugboat.controllers" and uid in r.getMessage()
                       for r in fuzz.log.records[seen:])

        def reconciled() -> bool:
            return any(c.get("type") == "Suspended" for c in
                       (fuzz.get(url)[1].get("status") or {}).get("conditions") or [])
        until(lambda: failed() or reconciled())
        assert reconciled() and not failed()
    finally:  # the broken Job goes, so its retries do not fail the loops' check at the end
        fuzz.http.delete(url, params={"gracePeriodSeconds": "0"})
        until(lambda: fuzz.http.get(url).status_code == 404)
        del fuzz.log.records[seen:]


PARAM_VALUES = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "5", "1.5", "1e3", "1e400", "NaN", "inf", " 7", "7 ", "+3", "0x10",
                     "٣", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                     "1" * 40, "true", "a=b", "a==b", "a!=b", "a", "!a", "a in (x,y)", "a notin (x)",
                     "a in ()", "a in (x", "a,b", ",", "=", "a=b=c", "a in (x),", "x/y=z", "-a=b",
                     "metadata.name=x", "metadata.namespace!=default", "spec.nodeName=",
                     "status.phase==Running", "spec.unknown=x", "metadata.name",
                     "metadata.name=x,metadata.name!=y", "a" * 300 + "=b"]),
    st.text(max_size=20))
LIST_PARAMS = ["limit", "resourceVersion", "timeoutSeconds", "labelSelector", "fieldSelector", "continue",
               "resourceVersionMatch", "allowWatchBookmarks"]
LIST_URLS = [f"{GROUP_PATH[p]}/{p}" for p in KINDS] + [collection(p) for p in KINDS] + [
    "/api/v1/nodes", "/api/v1/events", "/api/v1/namespaces", "/api/v1/namespaces/kube-system/pods",
    "/api/v1/namespaces/nonexistent/configmaps", "/apis/tugboat.dev/v1/namespaces/default/podrecords"]


@settings(FUZZ, max_examples=400)
@given(url=st.sampled_from(LIST_URLS),
       params=st.dictionaries(st.sampled_from(LIST_PARAMS), PARAM_VALUES, max_size=4))
def test_list_with_junk_parameters_answers_by_contract(fuzz: Fuzz, url: str, params: dict[str, str]) -> None:
    resp = fuzz.send("GET", url, params=params)
    if resp.status_code == 200:
        assert isinstance(resp.json()["items"], list)


@settings(FUZZ, max_examples=25)
@given(url=st.sampled_from(LIST_URLS),
       params=st.dictionaries(st.sampled_from(["resourceVersion", "labelSelector", "fieldSelector",
                                               "timeoutSeconds"]), PARAM_VALUES, max_size=3),
       read_to_end=st.sampled_from([False, False, False, True]))
@example(url="/api/v1/pods", params={"timeoutSeconds": "9223372036854775807"}, read_to_end=False)
@example(url="/api/v1/pods", params={"resourceVersion": "9223372036854775807"}, read_to_end=True)
@example(url="/api/v1/pods", params={"resourceVersion": "1"}, read_to_end=True)
@example(url="/api/v1/pods", params={"resourceVersion": "0", "labelSelector": "a in (x,y)"}, read_to_end=True)
def test_watch_with_junk_parameters_answers_by_contract(fuzz: Fuzz, url: str, params: dict[str, str],
                                                        read_to_end: bool) -> None:
    params = {**params, "watch": "true"}
    if read_to_end:
        params["timeoutSeconds"] = "1"  # the stream ends by itself
    what = f"GET {url} params={params!r}"
    seen = len(fuzz.log.records)
    with fuzz.http.stream("GET", url, params=params) as resp:
        if resp.status_code != 200:
            resp.read()
            check_answer(resp, what)
        elif read_to_end:
            for line in resp.iter_lines():
                if line:
                    change = json.loads(line, parse_constant=_strict)
                    assert change["type"] in ("ADDED", "MODIFIED", "DELETED", "ERROR"), line
        # else: the stream started; leaving it closes it
    server_errors = [r for r in fuzz.log.records[seen:] if r.name == "tugboat.server"]
    assert not server_errors, f"{what}\nlogged:\n{fuzz.log.text(server_errors)}"


@settings(FUZZ, max_examples=100)
@given(params=st.dictionaries(st.sampled_from(["gracePeriodSeconds", "propagationPolicy"]), PARAM_VALUES,
                              max_size=2))
def test_delete_collection_with_junk_options_answers_by_contract(fuzz: Fuzz, params: dict[str, str]) -> None:
    name, current = _current(fuzz, "configmaps")
    params = {**params, "labelSelector": "fuzz-matches-nothing=1"}
    resp = fuzz.send("DELETE", collection("configmaps"), params=params)
    if resp.status_code == 200:
        assert resp.json()["items"] == []
    assert fuzz.get(object_url("configmaps", name)) == (200, current)


# -- afterwards: every loop still makes progress -------------------------------------------------------
def _node(name: str) -> dict[str, Any]:
    alloc = {"cpu": "64", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": "8"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def test_every_loop_still_makes_progress_afterwards(fuzz: Fuzz) -> None:
    store = fuzz.srv.cp.store
    fuzz.srv.call(store.create, "nodes", _node("fz-node"), namespaced=False)
    plain = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fz-progress"},
             "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}
    assert fuzz.send("POST", collection("pods"), dump(plain)).status_code == 201
    until(lambda: fuzz.get(object_url("pods", "fz-progress"))[1]["spec"].get("nodeName") == "fz-node")

    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "fz-progress"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "c", "image": "busybox", "command": ["true"]}]}}}}
    assert fuzz.send("POST", collection("jobs"), dump(job)).status_code == 201

    def job_pod_bound() -> bool:
        pods = fuzz.http.get(collection("pods"), params={"labelSelector": "job-name=fz-progress"}).json()
        return any(p["spec"].get("nodeName") == "fz-node" for p in pods["items"])
    until(job_pod_bound)  # admitted by its queue, its pod made by the Job controller and bound

    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fz-gone"}}
    assert fuzz.send("POST", "/api/v1/namespaces", dump(ns)).status_code == 201
    cm = seed("configmaps", "inside")
    assert fuzz.send("POST", "/api/v1/namespaces/fz-gone/configmaps", dump(cm)).status_code == 201
    fuzz.send("DELETE", "/api/v1/namespaces/fz-gone")
    until(lambda: fuzz.http.get("/api/v1/namespaces/fz-gone").status_code == 404)

    ready = fuzz.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    # no loop failed or left out an object it could not read, at any time during the fuzzing
    assert not fuzz.log.records, fuzz.log.text()
