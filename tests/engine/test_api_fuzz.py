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
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from engine.api import by_plural, validate_object
from engine.api.status import check_status

from .conftest import InProcessServer

# -- settings ------------------------------------------------------------------------------------
# derandomize: every run tries the same examples (CI is reproducible), so no example database.
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])

NS = "default"

# -- seeds: one valid object of each kind ----------------------------------------------------------
_T = "2026-01-02T03:04:05Z"


def _container(name: str = "main") -> dict[str, Any]:
    return {"name": name, "image": "busybox:1.36", "command": ["sh", "-c"], "args": ["echo hi"],
            "env": [{"name": "A", "value": "1"},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "1", "memory": "128Mi", "nvidia.com/gpu": "1"}},
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}


def _pod_spec() -> dict[str, Any]:
    return {"containers": [_container()], "restartPolicy": "Never",
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
            "nodeSelector": {"disk": "ssd"}, "terminationGracePeriodSeconds": 5,
            "activeDeadlineSeconds": 600,
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}}}


def _job_spec() -> dict[str, Any]:
    return {"parallelism": 2, "completions": 4, "completionMode": "Indexed", "backoffLimit": 3,
            "activeDeadlineSeconds": 3600, "ttlSecondsAfterFinished": 60,
            "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
                "containerName": "main", "operator": "In", "values": [42]}}]},
            "template": {"metadata": {"labels": {"app": "batch"}}, "spec": _pod_spec()}}


SEEDS: dict[str, dict[str, Any]] = {
    "pods": {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": "x", "labels": {"app": "web", "tier": "1"},
                          "annotations": {"example.com/note": "hello"}},
             "spec": _pod_spec()},
    "jobs": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x", "labels": {"app": "batch"}},
             "spec": _job_spec()},
    "cronjobs": {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"},
                 "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "suspend": True,
                          "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 100,
                          "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                          "jobTemplate": {"metadata": {"labels": {"app": "cron"}}, "spec": _job_spec()}}},
    "configmaps": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                   "data": {"a": "1", "config.yaml": "k: v\n"}, "binaryData": {"b": "aGVsbG8="}},
    "services": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                 "spec": {"type": "NodePort", "selector": {"app": "web"},
                          "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
                                     "nodePort": 30080}]}},
    "deployments": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                             "strategy": {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                             "revisionHistoryLimit": 5,
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [_container()], "volumes": [
                                              {"name": "scratch", "emptyDir": {}}]}}}},
    "queues": {"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "x"},
               "spec": {"quota": {"cpu": "16", "memory": "64Gi", "nvidia.com/gpu": "8"},
                        "strategy": "StrictFIFO"}},
}
KINDS = sorted(SEEDS)
CLUSTER_SCOPED = {"queues"}
GROUPS = {"pods": "", "configmaps": "", "services": "", "jobs": "batch", "cronjobs": "batch",
          "deployments": "apps", "queues": "tugboat.dev"}
GROUP_PATH = {plural: f"/apis/{group}/v1" if group else "/api/v1" for plural, group in GROUPS.items()}

STATUS_SEEDS: dict[str, dict[str, Any]] = {
    "pods": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.1.0.5", "startTime": _T,
             "podIPs": [{"ip": "10.1.0.5"}], "qosClass": "Burstable",
             "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": _T}],
             "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0, "image": "busybox:1.36",
                                    "state": {"running": {"startedAt": _T}},
                                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": _T}}}],
             "gpus": [{"index": 0, "uuid": "GPU-1"}]},
    "jobs": {"active": 1, "succeeded": 2, "failed": 0, "ready": 1, "terminating": 0, "startTime": _T,
             "completedIndexes": "0-1,3", "failedIndexes": "",
             "uncountedTerminatedPods": {"succeeded": [], "failed": []},
             "conditions": [{"type": "Complete", "status": "False", "lastProbeTime": _T,
                             "lastTransitionTime": _T, "reason": "R", "message": "m"}]},
}


def collection(plural: str) -> str:
    base = GROUP_PATH[plural]
    return f"{base}/{plural}" if plural in CLUSTER_SCOPED else f"{base}/namespaces/{NS}/{plural}"


def object_url(plural: str, name: str) -> str:
    return f"{collection(plural)}/{quote(name, safe='')}"


def seed(plural: str, name: str) -> dict[str, Any]:
    doc = copy.deepcopy(SEEDS[plural])
    doc["metadata"]["name"] = name
    return doc


# -- generated JSON ----------------------------------------------------------------------------------
# A number token no Python value dumps to (1e400, NaN, a 30-digit integer as written): the body is
# dumped with a marker string in its place, then the quoted marker is swapped for the token.
RAW_TOKENS = ["1e400", "-1e400", "1e-400", "NaN", "Infinity", "-Infinity", "-0", "1E+2", "0.0e0",
              "123456789012345678901234567890", "-9223372036854775809", "1.0"]
_RAW = "@raw@{}@"

STRINGS = ["", " ", ".", "..", "/", "a/b", "-", "a_b", "A", "UPPER", "x" * 64, "x" * 254, "x" * 5000,
           "1e400", "-1e400", "NaN", "Infinity", "0x1f", "1_000", "+1", "-1", "0", "10" * 16,
           "９", "ünïcödé", "日本", "\u202e", "e\u0301", "\U0001f600", "\x00", "\t\n", "a\nb", "null",
           "true", "{}", "[]", "${A}", "$(A)", "%2F", "../..", "default", "kube-system", "Always",
           "Running", "True", "100m", "1Gi", "-1Gi", "1e3", "2026-01-02T03:04:05Z", "2026-13-45T99:99:99Z",
           "*/5 * * * *", "* * * *", "@hourly", "0-2,4", "4-2", "nvidia.com/gpu", "tugboat.dev/queue",
           "example.com/", "/x", "x/", "a b", "*", "?", "'", '"', "\\"]
INTS = [0, 1, -1, 2, 42, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1,
        10**30, -(10**30)]
FLOATS = [0.5, -0.5, 1.0, 1e308, -1e308, 5e-324, 1.5, 3.0]


def _leaves() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.sampled_from(INTS), st.integers(),
        st.sampled_from(FLOATS), st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(STRINGS), st.text(max_size=12),
        st.sampled_from([_RAW.format(t) for t in RAW_TOKENS]),
    )


json_values = st.recursive(
    _leaves(),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(STRINGS), st.text(max_size=8)),
                                            inner, max_size=4)),
    max_leaves=8)


def dump(body: Any) -> bytes:
    """`body` as JSON text, its raw-token markers replaced by the bare tokens."""
    text = json.dumps(body)
    for token in RAW_TOKENS:
        text = text.replace(json.dumps(_RAW.format(token)), token)
    return text.encode()


# -- mutations -------------------------------------------------------------------------------------
Path = tuple[Any, ...]
_DELETE = object()


def paths_of(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path below `value` (not the root), parents before children."""
    if isinstance(value, dict):
        children: Any = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        return
    for key, child in children:
        yield (*prefix, key)
        yield from paths_of(child, (*prefix, key))


def set_at(doc: Any, path: Path, value: Any) -> Any:
    """A copy of `doc` with the value at `path` replaced by `value` (or removed, for _DELETE)."""
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def _like(value: Any) -> st.SearchStrategy[Any]:
    """A value of the same JSON type as `value`: what a plausible edit would write there."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.one_of(st.sampled_from(INTS), st.integers(-5, 100))
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(value, str):
        return st.one_of(st.sampled_from(STRINGS), st.text(max_size=12),
                         st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-./", max_size=20))
    if isinstance(value, list):
        return st.one_of(st.just([]), st.just(value + value), st.just(value[::-1]),
                         st.lists(st.sampled_from(value), max_size=3) if value else st.just([]))
    if isinstance(value, dict):
        keys = st.one_of(st.sampled_from(STRINGS), st.text(max_size=8))
        return st.one_of(st.just({}), st.dictionaries(keys, st.sampled_from(STRINGS), max_size=3))
    return json_values


@st.composite
def mutations(draw: st.DrawFn, doc: Any, *, min_changes: int = 1, max_changes: int = 3) -> Any:
    """`doc` with some changes: a value replaced by one of its type (a plausible edit)
    or by random JSON, a field (or list item) deleted, an unknown field added."""
    for _ in range(draw(st.integers(min_changes, max_changes))):
        paths = list(paths_of(doc))
        action = draw(st.sampled_from(["like", "like", "replace", "delete", "add"]))
        if action == "add" or not paths:
            holders = [p for p in [(), *paths] if isinstance(_at(doc, p), dict)]
            where = draw(st.sampled_from(holders))
            key = draw(st.one_of(st.sampled_from(["status", "spec", "metadata", "items", "unknownField",
                                                  "Spec", "apiversion", "x-y"]), st.text(max_size=8)))
            doc = set_at(doc, (*where, key), draw(json_values))
        elif action == "delete":
            doc = set_at(doc, draw(st.sampled_from(paths)), _DELETE)
        elif action == "like":
            path = draw(st.sampled_from(paths))
            doc = set_at(doc, path, draw(_like(_at(doc, path))))
        else:
            doc = set_at(doc, draw(st.sampled_from(paths)), draw(json_values))
    return doc


def _at(doc: Any, path: Path) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def merge_patch_for(doc: Any, path: Path, value: Any) -> Any:
    """A JSON merge patch (RFC 7386) that sets `path` of `doc` to `value` (None deletes a field);
    below a list, the patch carries the whole changed list (merge patches replace lists)."""
    if not path:
        return value
    if isinstance(doc, dict):
        head = path[0]
        if len(path) == 1:
            return {head: None if value is _DELETE else value}
        return {head: merge_patch_for(doc.get(head), path[1:], value)}
    return set_at(doc, path, value)


def deep_merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for key, value in b.items():
            out[key] = deep_merge(out[key], value) if key in out else value
        return out
    return b


@st.composite
def merge_patches(draw: st.DrawFn, doc: dict[str, Any]) -> Any:
    patch: Any = {}
    paths = list(paths_of({k: v for k, v in doc.items() if k != "status"}))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["path", "path", "path", "delete", "junk"]))
        if kind == "junk":
            part = draw(st.dictionaries(st.one_of(st.sampled_from(["metadata", "spec", "status", "kind",
                                                                   "apiVersion", "data", "zzz"]),
                                                  st.text(max_size=6)), json_values, max_size=2))
        else:
            path = draw(st.sampled_from(paths))
            value = draw(st.one_of(_like(_at(doc, path)), json_values))
            part = merge_patch_for(doc, path, _DELETE if kind == "delete" else value)
        patch = deep_merge(patch, part)
    return patch


# -- the server ------------------------------------------------------------------------------------
class _Records(logging.Handler):
    """Log records of the control plane at WARNING and above (a traceback is one at ERROR)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self, records: list[logging.LogRecord] | None = None) -> str:
        fmt = logging.Formatter("%(name)s %(levelname)s %(message)s")
        return "\n".join(fmt.format(r) for r in (self.records if records is None else records))


class Fuzz:
    """One control plane for the whole module (hypothesis runs many examples per test), an HTTP
    client, and the quiescent target objects the examples write to."""

    def __init__(self, srv: InProcessServer) -> None:
        self.srv = srv
        with srv.client() as c:
            self.http = httpx.Client(base_url=c.server, timeout=60,
                                     headers={"Authorization": f"Bearer {c.token}"})
        self.targets: dict[str, str] = {}
        self.names = itertools.count()
        self.log = _Records()
        logger = logging.getLogger("tugboat")
        self.level = logger.level
        if logger.getEffectiveLevel() > logging.WARNING:
            logger.setLevel(logging.WARNING)
        logger.addHandler(self.log)

    def close(self) -> None:
        logger = logging.getLogger("tugboat")
        logger.removeHandler(self.log)
        logger.setLevel(self.level)
        self.http.close()

    def fresh_name(self, what: str) -> str:
        return f"fz-{what}-{next(self.names)}"

    # requests, each answer checked against the contract -------------------------------------------
    def send(self, method: str, url: str, body: bytes | None = None, *, params: Any = None,
             content_type: str = "application/json", plural: str | None = None,
             batch: bool = False) -> httpx.Response:
        seen = len(self.log.records)
        headers = {"Content-Type": content_type} if body is not None else {}
        resp = self.http.request(method, url, content=body, params=params, headers=headers)
        what = f"{method} {url} params={params!r} body={(body or b'')[:2000]!r}"
        server_errors = [r for r in self.log.records[seen:] if r.name == "tugboat.server"]
        assert not server_errors, f"{what}\nlogged:\n{self.log.text(server_errors)}"
        check_answer(resp, what, _fields(plural, body), batch=batch)
        if currently_in_test_context():  # --hypothesis-show-statistics counts the answers
            event(f"{method} {plural or url} -> {resp.status_code}")
        return resp

    def get(self, url: str) -> tuple[int, Any]:
        resp = self.http.get(url)
        return resp.status_code, resp.json()

    # targets -----------------------------------------------------------------------------------
    def target(self, plural: str) -> str:
        """The name of a quiescent object of `plural` (created and settled if there is none)."""
        name = self.targets.get(plural)
        if name is not None:
            return name
        name = self.fresh_name(plural)
        doc = seed(plural, name)
        if plural == "pods":
            doc["spec"]["nodeName"] = "fz-nowhere"  # bound to a node that does not exist: nobody writes it
        if plural == "jobs":
            doc["spec"]["suspend"] = True  # its owner's suspension: its queue leaves it alone
        resp = self.http.post(collection(plural), content=dump(doc),
                              headers={"Content-Type": "application/json"})
        assert resp.status_code == 201, resp.text
        # the controllers write a new Job's, CronJob's and Queue's status once; then nothing
        if plural == "jobs":
            until(lambda: any(c.get("type") == "Suspended" for c in
                              (self.get(object_url(plural, name))[1].get("status") or {}).get("conditions")
                              or []))
        if plural in ("cronjobs", "queues"):
            until(lambda: self.get(object_url(plural, name))[1].get("status") is not None)
        self.targets[plural] = name
        return name

    def retire(self, plural: str) -> None:
        """The target was changed: a fresh one is made when one is needed next. The changed one
        stays, for the loops to digest along with everything else the API accepted."""
        self.targets.pop(plural, None)

    def names_of(self, plural: str) -> set[tuple[str | None, str]]:
        """The objects of `plural` that only a request makes (no loop creates an unowned one)."""
        items = self.http.get(f"{GROUP_PATH[plural]}/{plural}").json()["items"]
        return {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in items
                if not o["metadata"].get("ownerReferences")}


def _strict(constant: str) -> Any:
    raise ValueError(f"not JSON: {constant}")


def _fields(plural: str | None, body: bytes | None) -> set[str]:
    """The top-level fields a cause of a 422 may start its path with: the body's own keys, the
    fields of the kind, and "(document)" for the body as a whole."""
    fields = {"(document)", "status", "metadata", "spec"}
    if plural is not None:
        model = by_plural(GROUPS[plural], plural).model
        fields |= {f.alias or n for n, f in model.model_fields.items()}
    try:
        doc = json.loads(body or b"null", parse_constant=lambda c: None)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        fields |= {k for k in doc if isinstance(k, str) and k}
    return fields


def check_answer(resp: httpx.Response, what: str, fields: Collection[str] = (), *,
                 batch: bool = False) -> None:
    """Success, or a 4xx Kubernetes Status with a message; a 422 names a field in every cause
    (its path starts with one of `fields`, a top-level field of the request), or for a `batch`
    apply the document (then its field, where the problem has one)."""
    code = resp.status_code
    assert code < 500, f"{what}\n-> {code} {resp.text[:3000]}"
    if code < 300 and resp.headers.get("Content-Type", "").startswith("application/json"):
        json.loads(resp.text, parse_constant=_strict)  # no NaN or Infinity in an answer
    if code < 400:
        return
    status = json.loads(resp.text, parse_constant=_strict)
    assert status["kind"] == "Status" and status["status"] == "Failure", f"{what}\n-> {resp.text}"
    assert status["code"] == code, f"{what}\n-> {resp.text}"
    assert isinstance(status["message"], str) and status["message"].strip(), f"{what}\n-> {resp.text}"
    if code == 422:
        assert status["reason"] == "Invalid", f"{what}\n-> {resp.text}"
        causes = status["details"]["causes"]
        assert causes, f"{what}\n-> {resp.text}"
        for cause in causes:
            text = cause["message"]
            if batch:
                assert re.match(r"document \d+ \(", text), f"{what}\n-> a cause naming no document: {text!r}"
                continue
            named = any(text.startswith(f) and text[len(f):len(f) + 1] in (".", "[", ":") for f in fields)
            assert named or text.startswith("... and "), f"{what}\n-> a cause that names no field: {text!r}"


def until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `check` until it answers truthily (the deadline is only against a hang)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


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
    if ctype == "application/json-patch+json":  # an RFC 6902 list: not a patch tugboat takes
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
