"""Which of a node's GPUs a pod gets: the node's whole GPUs (from status.gpus), which ones its
pods hold, and the choice for a new pod (enough memory, the product its selector asks for, the
smallest GPUs that do). Pure; NodeState keeps the holdings, the scheduler writes the choice."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.objects import GPU, amount, bound_gpus, finished, pod_requests
from gpu.inventory import label_product

PRODUCT_LABEL = "nvidia.com/gpu.product"
MEMORY_LABEL = "nvidia.com/gpu.memory"


@dataclass(frozen=True)
class Unit:
    """One whole GPU of a node as its status lists it."""

    index: int
    product: str
    memory_mib: int | None
    healthy: bool

    @property
    def kind(self) -> tuple[str, int | None]:
        return (self.product, self.memory_mib)

    def labels(self, node_labels: Mapping[str, str]) -> dict[str, str]:
        """The node's labels as they would read on a node with only GPUs like this one."""
        out = {**node_labels, PRODUCT_LABEL: label_product(self.product)}
        if self.memory_mib is not None:
            out[MEMORY_LABEL] = str(self.memory_mib)
        else:
            out.pop(MEMORY_LABEL, None)
        return out


Kinds = dict[tuple[str, int | None], Unit]  # one GPU of each kind the node has


def kinds(node_units: Iterable[Unit]) -> Kinds:
    out: Kinds = {}
    for u in node_units:
        out.setdefault(u.kind, u)
    return out


def units(node: Mapping[str, Any]) -> tuple[Unit, ...] | None:
    """The node's whole GPUs, in index order; None when it lists none, lists MIG devices (those
    are counted, not chosen: Ray picks them) or lists them in a shape this cannot read."""
    raw = (node.get("status") or {}).get("gpus") or []
    if not isinstance(raw, list) or not raw:
        return None
    out: dict[int, Unit] = {}
    for g in raw:
        if not isinstance(g, dict) or g.get("parentUuid"):
            return None
        index, memory = g.get("index"), g.get("memoryMiB")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0 or index in out \
                or not (memory is None or (isinstance(memory, int) and not isinstance(memory, bool))):
            return None
        out[index] = Unit(index, str(g.get("product") or ""), memory, g.get("health", "Healthy") == "Healthy")
    return tuple(out[i] for i in sorted(out))


def wanted(pod: dict[str, Any]) -> int:
    """How many whole GPUs the pod asks for."""
    q = pod_requests(pod).get(GPU)
    return int(amount(q, GPU)) if q is not None else 0


def awaits_naming(pod: dict[str, Any], node: Mapping[str, Any] | None) -> bool:
    """A pod bound at create (spec.nodeName) to a node that lists its GPUs, asking for GPUs, not
    started nor ending, with none named yet: the scheduler names them, the runtime waits for it."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    return (bool(spec.get("nodeName")) and not meta.get("deletionTimestamp") and not status.get("startTime")
            and not finished(pod) and bound_gpus(pod) is None
            and node is not None and units(node) is not None and wanted(pod) > 0)


def held(pod: dict[str, Any]) -> tuple[int, ...] | None:
    """The GPUs a bound pod holds: those bound to it, else those its runner reports; None if
    unknown, and for a pod not bound (whatever it carries)."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return None
    bound = bound_gpus(pod)
    if bound is not None:
        return bound
    reported = (pod.get("status") or {}).get("gpus") or []
    try:
        return tuple(int(g["index"]) for g in reported) or None
    except (KeyError, TypeError, ValueError):
        return None


def fitting(node_units: Iterable[Unit], taken: Collection[int], *, min_bytes: int = 0,
            match: Callable[[Unit], bool] | None = None) -> list[Unit]:
    """The free, healthy GPUs with at least `min_bytes` of memory that `match` accepts."""
    return [u for u in node_units
            if u.healthy and u.index not in taken
            and (min_bytes <= 0 or (u.memory_mib is not None and u.memory_mib * 2**20 >= min_bytes))
            and (match is None or match(u))]


def by_size(node_units: Iterable[Unit]) -> tuple[Unit, ...]:
    """The order GPUs are handed out in: the smallest first (the large ones stay free for pods
    that need them), then by index."""
    return tuple(sorted(node_units, key=lambda u: (u.memory_mib or 0, u.index)))


def choose(node_units: Iterable[Unit], taken: Collection[int], count: int, *, min_bytes: int = 0,
           match: Callable[[Unit], bool] | None = None, ordered: bool = False) -> tuple[int, ...] | None:
    """`count` of the fitting GPUs in by_size order (`ordered`: `node_units` are in it already);
    None when there are not enough."""
    fits = fitting(node_units if ordered else by_size(node_units), taken, min_bytes=min_bytes, match=match)
    if len(fits) < count:
        return None
    return tuple(sorted(u.index for u in fits[:count]))


def format_indexes(indexes: Iterable[int]) -> str:
    return ",".join(str(i) for i in indexes)
