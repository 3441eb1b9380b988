"""Scheduler filter plugins: pure (pod, node, state) checks that return why a node is rejected."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from engine.api import parse_quantity
from engine.objects import GPU, amount, is_ready, pod_requests
from engine.scheduler.gpus import Kinds, Unit, fitting, wanted
from engine.scheduler.nodeview import NodeView
from storage.claims import VOLUME_BLOCKED, VOLUME_NODES, VOLUME_STORAGE

Filter = Callable[[dict[str, Any], dict[str, Any], NodeView], "str | None"]

GPU_MEMORY = "tugboat.dev/gpu-memory"  # per-GPU memory wanted by the pod; never a node resource
GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"  # MiB per GPU, as GPU feature discovery labels it
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
NOT_RESOURCES = frozenset({GPU_MEMORY, "pods"})
_INT64 = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.ParseInt(s, 10, 64) accepts


def fmt_amount(resource: str, value: float) -> str:
    """Numbers in reasons, as placement writes them: memory in Mi, the rest as plain numbers."""
    if resource == "memory":
        return f"{value / 2**20:.0f}Mi"
    return f"{value:g}"


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _tolerations(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_spec(pod).get("tolerations") or [])


# -- helpers -----------------------------------------------------------------------------------


def tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """Whether any toleration matches the taint (v1.Toleration.ToleratesTaint)."""
    for t in tolerations:
        effect, key = t.get("effect") or "", t.get("key") or ""
        if effect and effect != taint.get("effect"):
            continue
        if key and key != taint.get("key"):
            continue
        op = t.get("operator") or "Equal"
        if op == "Exists" or (op == "Equal" and (t.get("value") or "") == (taint.get("value") or "")):
            return True
    return False


def _int64(text: Any) -> int | None:
    if not isinstance(text, str) or not _INT64.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def match_expression(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """One node selector requirement against a label (or field) set; a malformed one matches nothing."""
    key, op = expr.get("key"), expr.get("operator")
    values = list(expr.get("values") or [])
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if len(values) != 1 or not present:
            return False
        want, have = _int64(values[0]), _int64(labels[key])
        if want is None or have is None:
            return False
        return have > want if op == "Gt" else have < want
    return False


def match_node_selector_term(term: Mapping[str, Any], node: dict[str, Any]) -> bool:
    """matchExpressions (labels) AND matchFields (metadata.name); an empty term matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    node_fields = {"metadata.name": str((node.get("metadata") or {}).get("name", ""))}
    return (all(match_expression(e, labels) for e in exprs)
            and all(match_expression(f, node_fields) for f in fields))


def match_node_selector_terms(terms: Iterable[Mapping[str, Any]], node: dict[str, Any]) -> bool:
    """Terms are ORed; an empty list matches nothing."""
    return any(match_node_selector_term(t, node) for t in terms)


def node_affinity(pod: dict[str, Any]) -> dict[str, Any]:
    return ((_spec(pod).get("affinity") or {}).get("nodeAffinity")) or {}


def gpu_memory_request(pod: dict[str, Any]) -> int:
    """Bytes of memory wanted on each GPU: the largest tugboat.dev/gpu-memory of any container."""
    spec = _spec(pod)
    need = 0
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = c.get("resources") or {}
        raw = (res.get("requests") or {}).get(GPU_MEMORY, (res.get("limits") or {}).get(GPU_MEMORY))
        if raw is not None:
            need = max(need, parse_quantity(raw).value())
    return need


# -- filters -----------------------------------------------------------------------------------


def node_ready(pod: dict[str, Any], node: dict[str, Any], state: NodeView) -> str | None:
    return None if is_ready(node) else "node(s) were not ready"


def node_unschedulable(pod: dict[str, Any], node: dict[str, Any], state: NodeView) -> str | None:
    if not _spec(node).get("unschedulable") or tolerates(_tolerations(pod), UNSCHEDULABLE_TAINT):
        return None
    return "node(s) were unschedulable"


def selects(pod: dict[str, Any], node: dict[str, Any], labels: Mapping[str, str] | None = None) -> bool:
    """Whether the pod's nodeSelector and required node affinity accept the node (read with
    `labels` in place of its own, when given)."""
    if labels is not None:
        node = {**node, "metadata": {**(node.get("metadata") or {}), "labels": labels}}
    else:
        labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (_spec(pod).get("nodeSelector") or {}).items():
        if key not in labels or labels[key] != value:
            return False
    required = node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    return required is None or match_node_selector_terms(required.get("nodeSelectorTerms") or [], node)


def gpu_match(pod: dict[str, Any], node: dict[str, Any], gpu_kinds: Kinds) -> Callable[[Unit], bool] | None:
    """On a node with GPUs of several kinds, which of them the pod's selector accepts: each GPU
    is judged as if the node's GPU labels (product, memory) described it alone. None elsewhere:
    there the node's labels are every GPU's."""
    if len(gpu_kinds) < 2:
        return None
    labels = (node.get("metadata") or {}).get("labels") or {}
    verdicts = {kind: selects(pod, node, u.labels(labels)) for kind, u in gpu_kinds.items()}
    return lambda u: verdicts[u.kind]


def node_selector_and_affinity(pod: dict[str, Any], node: dict[str, Any], state: NodeView) -> str | None:
    if selects(pod, node):
        return None
    match = gpu_match(pod, node, state.gpu_kinds) if len(state.gpu_kinds) > 1 and wanted(pod) else None
    if match is not None and any(match(u) for u in state.gpu_kinds.values()):
        return None  # one of its GPUs is what the pod asks for; gpu_devices counts the free ones
    return "node(s) didn't match Pod's node affinity/selector"


def taints(pod: dict[str, Any], node: dict[str, Any], state: NodeView) -> str | None:
    tolerations = _tolerations(pod)
    for taint in _spec(node).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute") or tolerates(tolerations, taint):
            continue
        shown = f"{taint.get('key', '')}: {taint['value']}" if taint.get("value") else taint.get("key", "")
        return f"node(s) had untolerated taint {{{shown}}}"
    return None


def volumes(pod: dict[str, Any], node: dict[str, Any], state: NodeView) -> str | None:
    """The pod's claims (storage/claims.scheduling_view): one that stops it everywhere, the
    node its bound volumes live on, room for the volumes to be made on this node."""
    spec = _spec(pod)
    if spec.get(VOLUME_BLOCKED):
        return str(spec[VOLUME_BLOCKED])
    for terms, reason in spec.get(VOLUME_NODES) or []:
        if not match_node_selector_terms(terms, node):
            return str(reason)
    need = spec.get(VOLUME_STORAGE)
    free = ((node.get("status") or {}).get("allocatable") or {}).get("ephemeral-storage")
    if need and free is not None and parse_quantity(str(free)).value() < int(need):
        return "node(s) did not have enough free storage"
    return None


def _resource_order(resource: str) -> tuple[int, str]:
    # Kubernetes checks cpu, memory, ephemeral-storage, then the scalar resources.
    fixed = ("cpu", "memory", "ephemeral-storage")
    return (fixed.index(resource), "") if resource in fixed else (len(fixed), resource)


def fit_requests(pod: dict[str, Any]) -> dict[str, float]:
    """The pod's requests that a node must have free, in each resource's natural unit."""
    return {k: amount(q, k) for k, q in pod_requests(pod).items() if k not in NOT_RESOURCES}


def resource_reason(req: Mapping[str, float], node: dict[str, Any], state: NodeView) -> str | None:
    """Why `req` (from fit_requests) does not fit the node's free resources, or None."""
    if state.pods + 1 > state.max_pods():
        return "Too many pods"
    for resource in sorted(req, key=_resource_order):
        need = req[resource]
        if need <= 0:
            continue
        free = state.allocatable(resource) - state.requested.get(resource, 0.0)
        if need > free + 1e-9:
            return (f"Insufficient {resource} (free {fmt_amount(resource, max(free, 0.0))}, "
                    f"need {fmt_amount(resource, need)})")
    return None


def resources(pod: dict[str, Any], node: dict[str, Any], state: NodeView) -> str | None:
    return resource_reason(fit_requests(pod), node, state)


def gpu_memory(pod: dict[str, Any], node: dict[str, Any], state: NodeView) -> str | None:
    """Whether any GPU of the node has the memory the pod wants on each (gpu_devices then counts
    the free ones); read from the node's GPU list, or its GPU memory label without one."""
    need = gpu_memory_request(pod)
    if need <= 0:
        return None
    sizes = {u.memory_mib or 0 for u in state.gpu_kinds.values()}
    if sizes:
        have_mib, each = max(sizes), len(sizes) == 1
    else:
        label = _int64(((node.get("metadata") or {}).get("labels") or {}).get(GPU_MEMORY_LABEL))
        if label is None:
            return "node(s) had no GPU memory label"
        have_mib, each = label, True
    if need > have_mib * 2**20:
        return (f"node(s) had GPUs with too little memory ({have_mib}Mi {'each' if each else 'at most'}, "
                f"need {fmt_amount('memory', float(need))})")
    return None


def gpu_devices(pod: dict[str, Any], node: dict[str, Any], state: NodeView) -> str | None:
    """On a node that lists its GPUs: enough of them free, healthy, with the memory and of the
    product the pod asks for (the ones it will get)."""
    if state.gpu_units is None:
        return None
    count = wanted(pod)
    if count <= 0 or state.choose_gpus(pod, count) is not None:
        return None
    need = gpu_memory_request(pod)
    match = gpu_match(pod, node, state.gpu_kinds)
    free = len(fitting(state.gpu_units, state.gpus_taken, min_bytes=need, match=match))
    what = [f"at least {fmt_amount('memory', float(need))} memory"] if need > 0 else []
    if match is not None and not all(match(u) for u in state.gpu_kinds.values()):
        what.append("the selected product")
    detail = f" with {' and '.join(what)}" if what else " (healthy)"
    return f"Insufficient {GPU}{detail} (free {free}, need {count})"


# The filters that read only the node object (not what is bound to it), then the one that does.
STATIC_FILTERS: tuple[Filter, ...] = (node_ready, node_unschedulable, node_selector_and_affinity,
                                      taints, volumes, gpu_memory)
FILTERS: tuple[Filter, ...] = (*STATIC_FILTERS, resources, gpu_devices)


def run_filters(pod: dict[str, Any], node: dict[str, Any], state: NodeView,
                *, filters: Iterable[Filter] = FILTERS) -> str | None:
    """The first failing filter's reason, or None when the node passes them all."""
    for check in filters:
        why = check(pod, node, state)
        if why is not None:
            return why
    return None
