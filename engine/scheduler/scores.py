"""Scheduler score plugins: resource fit, preferred node affinity and PreferNoSchedule taints (0..100)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from engine.api import parse_quantity
from engine.scheduler.filters import match_node_selector_term, node_affinity, tolerates
from engine.scheduler.nodeview import NodeView

MAX_NODE_SCORE = 100
DEFAULT_MILLI_CPU_REQUEST = 100  # schedutil.DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST = 200 * 2**20  # schedutil.DefaultMemoryRequest
DEFAULT_RESOURCES: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
_NATIVE = frozenset({"cpu", "memory", "ephemeral-storage"})
NON_ZERO = ("cpu", "memory")  # the resources whose absent requests count as the defaults above

# default_plugins.go weights of the score plugins we run.
FIT_WEIGHT = 1  # NodeResourcesFit
AFFINITY_WEIGHT = 2  # NodeAffinity
TAINT_WEIGHT = 3  # TaintToleration

ResourceWeights = Sequence[tuple[str, int]] | Sequence[Mapping[str, Any]]


class ScoringStrategy(enum.StrEnum):
    LEAST_ALLOCATED = "LeastAllocated"
    MOST_ALLOCATED = "MostAllocated"


# -- resource fit ------------------------------------------------------------------------------


def _weights(resources: ResourceWeights | None) -> list[tuple[str, int]]:
    """(name, weight) pairs; also takes the config's [{name, weight}] form (weight defaults to 1)."""
    out: list[tuple[str, int]] = []
    for item in resources if resources is not None else DEFAULT_RESOURCES:
        if isinstance(item, Mapping):
            out.append((str(item["name"]), int(item.get("weight", 1))))
        else:
            out.append((str(item[0]), int(item[1])))
    return out


def _container_request(container: Mapping[str, Any], resource: str) -> int:
    res = container.get("resources") or {}
    merged = {**(res.get("limits") or {}), **(res.get("requests") or {})}
    if resource not in merged:  # non-missing defaults: only an absent request gets one
        return {"cpu": DEFAULT_MILLI_CPU_REQUEST, "memory": DEFAULT_MEMORY_REQUEST}.get(resource, 0)
    q = parse_quantity(merged[resource])
    return q.milli_value() if resource == "cpu" else q.value()


def scoring_requests(pod: dict[str, Any], resources: Iterable[str]) -> dict[str, int]:
    """The pod's requests as the score sees them: integers (millicores for cpu), with the non-zero
    defaults of 100m CPU / 200Mi memory for containers that request nothing."""
    spec = pod.get("spec") or {}
    out: dict[str, int] = {}
    for r in resources:
        total = sum(_container_request(c, r) for c in spec.get("containers") or [])
        for c in spec.get("initContainers") or []:
            total = max(total, _container_request(c, r))
        out[r] = total
    return out


def _units(value: float, resource: str) -> int:
    return round(value * 1000) if resource == "cpu" else round(value)


def _least(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def _most(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    return min(requested, capacity) * MAX_NODE_SCORE // capacity


def _fit_score(pod_req: Mapping[str, int], weights: Sequence[tuple[str, int]], state: NodeView,
               per_resource: Callable[[int, int], int]) -> int:
    total = weight_sum = 0
    for name, weight in weights:
        if name not in _NATIVE and pod_req[name] == 0:
            continue  # an extended resource the pod does not ask for is not scored
        capacity = _units(state.allocatable(name), name)
        if capacity == 0:
            continue
        bound = (state.non_zero.get(name, 0) if name in NON_ZERO
                 else _units(state.requested.get(name, 0.0), name))
        requested = bound + pod_req[name]
        total += per_resource(requested, capacity) * weight
        weight_sum += weight
    return total // weight_sum if weight_sum else 0


def least_allocated(pod: dict[str, Any], state: NodeView, *,
                    resources: ResourceWeights | None = None) -> int:
    """Σ (free after the pod / allocatable)·100·w / Σw: spreads pods."""
    return fit_scorer(pod, ScoringStrategy.LEAST_ALLOCATED, resources)(state)


def most_allocated(pod: dict[str, Any], state: NodeView, *,
                   resources: ResourceWeights | None = None) -> int:
    """Σ (used after the pod / allocatable)·100·w / Σw: packs pods (GPU bin-packing)."""
    return fit_scorer(pod, ScoringStrategy.MOST_ALLOCATED, resources)(state)


def strategy_of(strategy: str) -> ScoringStrategy:
    try:
        return ScoringStrategy(strategy)
    except ValueError:
        allowed = ", ".join(s.value for s in ScoringStrategy)
        raise ValueError(f"scoringStrategy.type: unsupported value {strategy!r} (one of {allowed})") from None


def fit_scorer(pod: dict[str, Any], strategy: str,
               resources: ResourceWeights | None = None) -> Callable[[NodeView], int]:
    """The NodeResourcesFit score of `pod` as a function of a node, with the pod's requests read once."""
    per_resource = _least if strategy_of(strategy) is ScoringStrategy.LEAST_ALLOCATED else _most
    weights = _weights(resources)
    pod_req = scoring_requests(pod, [name for name, _ in weights])
    return lambda state: _fit_score(pod_req, weights, state, per_resource)


# -- node affinity -----------------------------------------------------------------------------


def preferred_affinity_raw(pod: dict[str, Any], node: dict[str, Any]) -> int:
    """Sum of the weights of the preferred terms the node matches."""
    terms = node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []
    return sum(int(t.get("weight") or 0) for t in terms
               if t.get("weight") and match_node_selector_term(t.get("preference") or {}, node))


def _normalize(raw: Mapping[str, int], *, reverse: bool) -> dict[str, int]:
    """framework DefaultNormalizeScore: scale to 0..100 by the maximum, reversed if asked."""
    top = max(raw.values(), default=0)
    if top == 0:
        return {name: MAX_NODE_SCORE if reverse else score for name, score in raw.items()}
    scaled = {name: MAX_NODE_SCORE * score // top for name, score in raw.items()}
    return {name: MAX_NODE_SCORE - s for name, s in scaled.items()} if reverse else scaled


def normalize_affinity(raws: Mapping[str, int]) -> dict[str, int]:
    return _normalize(raws, reverse=False)


# -- taints ------------------------------------------------------------------------------------


def prefer_no_schedule_count(pod: dict[str, Any], node: dict[str, Any]) -> int:
    """Untolerated PreferNoSchedule taints, judged only by tolerations with an empty or that effect."""
    tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or []
                   if (t.get("effect") or "") in ("", "PreferNoSchedule")]
    return sum(1 for taint in (node.get("spec") or {}).get("taints") or []
               if taint.get("effect") == "PreferNoSchedule" and not tolerates(tolerations, taint))


def normalize_taint(counts: Mapping[str, int]) -> dict[str, int]:
    """Fewer untolerated taints score higher: 100 − count·100/max, and 100 for all when max is 0."""
    return _normalize(counts, reverse=True)


# -- all together ------------------------------------------------------------------------------


def combine(fit: Mapping[str, int], affinity_raw: Mapping[str, int],
            taint_counts: Mapping[str, int]) -> dict[str, int]:
    """Weighted sum of the plugin scores over one feasible set (normalization needs all of it)."""
    affinity = normalize_affinity(affinity_raw)
    taint = normalize_taint(taint_counts)
    return {name: FIT_WEIGHT * fit[name] + AFFINITY_WEIGHT * affinity[name] + TAINT_WEIGHT * taint[name]
            for name in fit}


def score_nodes(pod: dict[str, Any], states: Sequence[NodeView], *, strategy: str = "LeastAllocated",
                resources: ResourceWeights | None = None) -> dict[str, int]:
    """Weighted sum of the normalized plugin scores for each feasible node, keyed by node name."""
    fit = fit_scorer(pod, strategy, resources)
    return combine({s.name: fit(s) for s in states},
                   {s.name: preferred_affinity_raw(pod, s.node) for s in states},
                   {s.name: prefer_no_schedule_count(pod, s.node) for s in states})
