"""What the filters and scores read of a node and the pods bound to it (NodeView); placement's
NodeState is the one implementation. Kept apart so that filters and scores never import
placement, which imports them."""

from __future__ import annotations

from typing import Any, Protocol

from engine.scheduler.gpus import Kinds, Unit


class NodeView(Protocol):
    node: dict[str, Any]
    requested: dict[str, float]  # what bound pods request, per resource
    pods: int  # how many pods are bound
    non_zero: dict[str, int]  # cpu (millicores) and memory (bytes) with the scoring defaults
    gpu_units: tuple[Unit, ...] | None  # the node's whole GPUs (None: it lists none, or MIG)
    gpu_kinds: Kinds
    gpus_taken: dict[int, int]  # how many pods hold each GPU index

    @property
    def name(self) -> str: ...

    def allocatable(self, resource: str) -> float: ...

    def max_pods(self) -> float: ...

    def choose_gpus(self, pod: dict[str, Any], count: int) -> tuple[int, ...] | None: ...
