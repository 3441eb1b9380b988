"""What the API fuzzing (test_api_fuzz.py) throws and how it reads the answers: valid seeds of
each kind, mutations of them, merge patches, the Fuzz session on one control plane, and the
contract every answer must keep."""

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
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from engine.api import by_plural

from .conftest import InProcessServer, trust

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
                          "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}},
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
            self.http = httpx.Client(base_url=c.server, timeout=60, verify=trust(c),
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
        if plural == "deployments":
            doc["spec"]["paused"] = True  # no ReplicaSet made: its controller writes status once
        resp = self.http.post(collection(plural), content=dump(doc),
                              headers={"Content-Type": "application/json"})
        assert resp.status_code == 201, resp.text
        # the controllers write a new Job's, CronJob's, Deployment's and Queue's status once; then
        # nothing
        if plural == "jobs":
            until(lambda: any(c.get("type") == "Suspended" for c in
                              (self.get(object_url(plural, name))[1].get("status") or {}).get("conditions")
                              or []))
        if plural in ("cronjobs", "queues"):
            until(lambda: self.get(object_url(plural, name))[1].get("status") is not None)
        if plural == "deployments":
            until(lambda: (self.get(object_url(plural, name))[1].get("status") or {}).get("conditions"))
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
    for op in doc if isinstance(doc, list) else []:  # a JSON patch: the fields its paths reach
        path = op.get("path") if isinstance(op, dict) else None
        if isinstance(path, str) and path.startswith("/"):
            fields.add(path[1:].split("/")[0].replace("~1", "/").replace("~0", "~"))
        elif path == "" and isinstance(op.get("value"), dict):
            fields |= {k for k in op["value"] if isinstance(k, str)}
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
            text = f"{cause['field']}: {cause['message']}" if "field" in cause else cause["message"]
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
