"""Filter plugins: resource fit, node affinity/selector, taints, readiness, GPU memory (§5.1, 5.3, 5.4)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.scheduler.filters import (
    FILTERS,
    gpu_memory,
    match_expression,
    match_node_selector_terms,
    node_ready,
    node_selector_and_affinity,
    node_unschedulable,
    resources,
    run_filters,
    taints,
    tolerates,
)
from engine.scheduler.placement import NodeState


def node(name: str = "n", *, cpu: str = "4", memory: str = "8Gi", gpu: int = 0, pods: str | None = "110",
         labels: dict[str, str] | None = None, taint_list: list[dict[str, str]] | None = None,
         ready: bool = True, unschedulable: bool = False) -> dict[str, Any]:
    alloc: dict[str, str] = {"cpu": cpu, "memory": memory}
    if pods is not None:
        alloc["pods"] = pods
    if gpu:
        alloc["nvidia.com/gpu"] = str(gpu)
    spec: dict[str, Any] = {}
    if taint_list:
        spec["taints"] = taint_list
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec,
            "status": {"allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def container(cpu: str | None = None, memory: str | None = None, **extra: str) -> dict[str, Any]:
    req = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    req.update({k.replace("__", "/").replace("_", "."): v for k, v in extra.items()})
    return {"name": "c", "resources": {"requests": req} if req else {}}


def pod(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": list(containers) or [container()], **spec}
    if init:
        body["initContainers"] = init
    return {"metadata": {"name": "p"}, "spec": body}


def state(n: dict[str, Any], requested: dict[str, float] | None = None, pods: int = 0) -> NodeState:
    return NodeState(n, dict(requested or {}), pods)


def gpu_pod(n: int) -> dict[str, Any]:
    return pod({"name": "c", "resources": {"requests": {"nvidia.com/gpu": str(n)},
                                           "limits": {"nvidia.com/gpu": str(n)}}})


# -- 5.1 NodeResourcesFit ----------------------------------------------------------------------


@pytest.mark.parametrize("p,requested,pods,want", [
    (pod(container(cpu="600m")), {"cpu": 3.5}, 0, "Insufficient cpu (free 0.5, need 0.6)"),
    (pod(container(cpu="500m")), {"cpu": 3.5}, 0, None),  # 500 > 500 is false
    (pod(), {"cpu": 4.0, "memory": 8 * 2**30}, 0, None),  # no requests fits on a full node
    (pod(), {"cpu": 4.0}, 110, "Too many pods"),
    (pod(), {}, 109, None),
    (pod(container(cpu="1"), container(cpu="500m"), init=[container(cpu="2")]), {"cpu": 2.5}, 0,
     "Insufficient cpu (free 1.5, need 2)"),  # init container 2 CPU dominates 1 + 0.5
    (pod(container(cpu="1"), container(cpu="500m"), init=[container(cpu="2")]), {"cpu": 2.0}, 0, None),
    (pod(container(memory="5Gi")), {"memory": 4 * 2**30}, 0,
     "Insufficient memory (free 4096Mi, need 5120Mi)"),
    (pod(container(example_com__widget="1")), {}, 0, "Insufficient example.com/widget (free 0, need 1)"),
], ids=["cpu-600m", "cpu-500m", "no-requests", "too-many-pods", "pods-109", "init-2cpu",
        "init-2cpu-fits", "memory", "extended-absent"])
def test_resources(p: dict[str, Any], requested: dict[str, float], pods: int, want: str | None) -> None:
    n = node()
    assert resources(p, n, state(n, requested, pods)) == want


@pytest.mark.parametrize("need,want", [(2, None), (3, "Insufficient nvidia.com/gpu (free 2, need 3)")])
def test_gpu_fit(need: int, want: str | None) -> None:
    n = node(gpu=8)
    assert resources(gpu_pod(need), n, state(n, {"nvidia.com/gpu": 6})) == want


def test_pod_limit_comes_from_allocatable_pods_or_default() -> None:
    small = node(pods="3")
    assert resources(pod(), small, state(small, pods=3)) == "Too many pods"
    assert resources(pod(), small, state(small, pods=2)) is None
    default = node(pods=None)
    assert resources(pod(), default, state(default, pods=110)) == "Too many pods"


def test_gpu_memory_is_not_a_node_resource() -> None:
    n = node(gpu=1, labels={"nvidia.com/gpu.memory": "81920"})
    p = pod({"name": "c", "resources": {"requests": {"nvidia.com/gpu": "1", "tugboat.dev/gpu-memory": "40Gi"},
                                        "limits": {"nvidia.com/gpu": "1"}}})
    assert resources(p, n, state(n)) is None
    assert run_filters(p, n, state(n)) is None


# -- GPU memory --------------------------------------------------------------------------------


def mem_pod(per_gpu: str | None, *, where: str = "requests") -> dict[str, Any]:
    res: dict[str, Any] = {"requests": {"nvidia.com/gpu": "2"}, "limits": {"nvidia.com/gpu": "2"}}
    if per_gpu:
        res[where]["tugboat.dev/gpu-memory"] = per_gpu
    return pod({"name": "c", "resources": res})


@pytest.mark.parametrize("p,label,want", [
    (mem_pod(None), None, None),
    (mem_pod("40Gi"), "81920", None),
    (mem_pod("80Gi"), "81920", None),
    (mem_pod("80Gi"), "40960", "node(s) had GPUs with too little memory (40960Mi each, need 81920Mi)"),
    (mem_pod("80Gi", where="limits"), "40960",
     "node(s) had GPUs with too little memory (40960Mi each, need 81920Mi)"),
    (mem_pod("40Gi"), None, "node(s) had no GPU memory label"),
    (mem_pod("40Gi"), "lots", "node(s) had no GPU memory label"),
], ids=["no-request", "enough", "exact", "too-little", "from-limits", "no-label", "bad-label"])
def test_gpu_memory(p: dict[str, Any], label: str | None, want: str | None) -> None:
    n = node(gpu=2, labels={"nvidia.com/gpu.memory": label} if label else {})
    assert gpu_memory(p, n, state(n)) == want


# -- 5.3 nodeSelector and NodeAffinity ---------------------------------------------------------


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": op, "values": list(values)} if values else {"key": key, "operator": op}


ZONE_A = {"zone": "a", "gpus": "8"}


@pytest.mark.parametrize("labels,terms,want", [
    (ZONE_A, [{"matchExpressions": [expr("zone", "In", "b")]},
              {"matchExpressions": [expr("gpus", "Gt", "4")]}], True),
    (ZONE_A, [{"matchExpressions": [expr("zone", "In", "a"), expr("gpus", "Gt", "8")]}], False),
    (ZONE_A, [{"matchExpressions": [expr("spot", "DoesNotExist")]}], True),
    (ZONE_A, [{"matchExpressions": [expr("zone", "NotIn", "b")]}], True),
    (ZONE_A, [{"matchExpressions": [expr("tier", "NotIn", "x")]}], True),
    ({"gpus": "eight"}, [{"matchExpressions": [expr("gpus", "Gt", "4")]}], False),
    (ZONE_A, [{"matchExpressions": [expr("gpus", "Lt", "9")]}], True),
    (ZONE_A, [{"matchExpressions": [expr("missing", "Lt", "9")]}], False),
    (ZONE_A, [{"matchExpressions": [expr("gpus", "Gt", "four")]}], False),
    (ZONE_A, [{"matchExpressions": [expr("gpus", "Gt", "4", "5")]}], False),
    (ZONE_A, [{"matchExpressions": [expr("zone", "Exists")]}], True),
    (ZONE_A, [{"matchExpressions": [expr("zone", "DoesNotExist")]}], False),
    (ZONE_A, [{"matchExpressions": [expr("zone", "In", "a", "b")]}], True),
    (ZONE_A, [{"matchExpressions": [expr("zone", "NotIn", "a")]}], False),
    (ZONE_A, [{}], False),  # an empty term matches nothing
    (ZONE_A, [], False),  # an empty list matches nothing
    (ZONE_A, [{"matchFields": [expr("metadata.name", "In", "n")]}], True),
    (ZONE_A, [{"matchFields": [expr("metadata.name", "In", "other")]}], False),
    (ZONE_A, [{"matchExpressions": [expr("zone", "In", "a")],
               "matchFields": [expr("metadata.name", "NotIn", "n")]}], False),
], ids=["or-second-term", "gt-8-not-gt-8", "does-not-exist", "notin-other", "notin-absent",
        "gt-non-numeric-label", "lt", "lt-absent", "gt-bad-value", "gt-two-values", "exists",
        "does-not-exist-present", "in-list", "notin-present", "empty-term", "no-terms",
        "field-name", "field-other", "and-fields"])
def test_match_node_selector_terms(labels: dict[str, str], terms: list[dict[str, Any]], want: bool) -> None:
    assert match_node_selector_terms(terms, node(labels=labels)) is want


def test_match_expression_unknown_operator() -> None:
    assert match_expression(expr("zone", "Like", "a"), ZONE_A) is False


def affinity_pod(terms: list[dict[str, Any]] | None,
                 selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if selector is not None:
        spec["nodeSelector"] = selector
    if terms is not None:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                             {"nodeSelectorTerms": terms}}}
    return pod(**spec)


AFFINITY_REASON = "node(s) didn't match Pod's node affinity/selector"


@pytest.mark.parametrize("p,want", [
    (affinity_pod(None), None),
    (affinity_pod(None, {"zone": "a"}), None),
    (affinity_pod(None, {"zone": "b"}), AFFINITY_REASON),
    (affinity_pod(None, {"zone": "a", "tier": ""}), AFFINITY_REASON),  # absent label never equals
    (affinity_pod([{"matchExpressions": [expr("gpus", "Gt", "4")]}], {"zone": "a"}), None),
    (affinity_pod([{"matchExpressions": [expr("gpus", "Gt", "8")]}], {"zone": "a"}), AFFINITY_REASON),
    (affinity_pod([{"matchExpressions": [expr("gpus", "Gt", "4")]}], {"zone": "b"}), AFFINITY_REASON),
    (affinity_pod([]), AFFINITY_REASON),
], ids=["nothing", "selector-match", "selector-miss", "selector-absent", "both", "affinity-miss",
        "selector-miss-affinity-ok", "empty-terms"])
def test_node_selector_and_affinity(p: dict[str, Any], want: str | None) -> None:
    n = node(labels=ZONE_A)
    assert node_selector_and_affinity(p, n, state(n)) == want


# -- 5.4 taints and tolerations ----------------------------------------------------------------

GPU_TAINT = {"key": "gpu", "value": "true", "effect": "NoSchedule"}


@pytest.mark.parametrize("tolerations,ok", [
    ([], False),
    ([{"key": "gpu", "operator": "Exists"}], True),
    ([{"key": "gpu", "operator": "Equal", "value": "false", "effect": "NoSchedule"}], False),
    ([{"operator": "Exists"}], True),
    ([{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoExecute"}], False),
    ([{"key": "gpu", "value": "true"}], True),  # Equal is the default operator
    ([{"key": "other", "operator": "Exists"}], False),
    ([{"operator": "Exists", "effect": "NoSchedule"}], True),
], ids=["none", "key-exists", "wrong-value", "exists-all", "effect-mismatch", "default-equal",
        "other-key", "exists-effect"])
def test_taint_vectors(tolerations: list[dict[str, str]], ok: bool) -> None:
    assert tolerates(tolerations, GPU_TAINT) is ok
    n = node(taint_list=[GPU_TAINT])
    want = None if ok else "node(s) had untolerated taint {gpu: true}"
    assert taints(pod(tolerations=tolerations), n, state(n)) == want


@pytest.mark.parametrize("taint_list,want", [
    ([{"key": "gpu", "value": "maintenance", "effect": "NoExecute"}],
     "node(s) had untolerated taint {gpu: maintenance}"),
    ([{"key": "gpu", "effect": "NoSchedule"}], "node(s) had untolerated taint {gpu}"),
    ([{"key": "soft", "effect": "PreferNoSchedule"}], None),  # ignored by the filter
    ([{"key": "soft", "effect": "PreferNoSchedule"}, {"key": "a", "value": "1", "effect": "NoSchedule"},
      {"key": "b", "value": "2", "effect": "NoSchedule"}], "node(s) had untolerated taint {a: 1}"),
], ids=["no-execute", "no-value", "prefer-ignored", "first-untolerated"])
def test_taint_reason(taint_list: list[dict[str, str]], want: str | None) -> None:
    n = node(taint_list=taint_list)
    assert taints(pod(), n, state(n)) == want


# -- readiness and unschedulable ---------------------------------------------------------------


@pytest.mark.parametrize("tolerations,want", [
    ([], "node(s) were unschedulable"),
    ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}], None),
    ([{"operator": "Exists"}], None),
    ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}],
     "node(s) were unschedulable"),
], ids=["none", "exact", "exists-all", "wrong-effect"])
def test_unschedulable(tolerations: list[dict[str, str]], want: str | None) -> None:
    n = node(unschedulable=True)
    assert node_unschedulable(pod(tolerations=tolerations), n, state(n)) == want
    schedulable = node()
    assert node_unschedulable(pod(), schedulable, state(schedulable)) is None


def test_node_ready() -> None:
    down = node(ready=False)
    assert node_ready(pod(), down, state(down)) == "node(s) were not ready"
    no_conditions = {"metadata": {"name": "x"}, "status": {}}
    assert node_ready(pod(), no_conditions, state(no_conditions)) == "node(s) were not ready"
    up = node()
    assert node_ready(pod(), up, state(up)) is None


# -- run_filters -------------------------------------------------------------------------------


def test_filter_order() -> None:
    assert [f.__name__ for f in FILTERS] == ["node_ready", "node_unschedulable", "node_selector_and_affinity",
                                             "taints", "volumes", "gpu_memory", "resources", "gpu_devices"]


def test_run_filters_reports_the_first_failure() -> None:
    n = node(ready=False, unschedulable=True, taint_list=[GPU_TAINT])
    p = pod(container(cpu="100"), nodeSelector={"zone": "z"})
    assert run_filters(p, n, state(n)) == "node(s) were not ready"
    n = node(taint_list=[GPU_TAINT])
    assert run_filters(pod(container(cpu="100")), n, state(n)) == "node(s) had untolerated taint {gpu: true}"
    assert run_filters(pod(container(cpu="100"), tolerations=[{"operator": "Exists"}]), n, state(n)) == \
        "Insufficient cpu (free 4, need 100)"
    ok = node()
    assert run_filters(pod(container(cpu="1")), ok, state(ok)) is None
