"""What telemetry reads of the runtime (ClusterView): its store, its nodes, their agents and
GPU inventories, and where GPU health verdicts go. The Runtime is the one implementation; kept
apart so that telemetry never imports the runtime, which imports it."""

from __future__ import annotations

from typing import Any, Protocol

from engine.events import EventRecorder
from engine.store import Store
from gpu import Inventory


class ClusterView(Protocol):
    store: Store
    events: EventRecorder

    @property
    def nodes(self) -> dict[str, dict[str, Any]]: ...

    def inventory(self, node: str) -> Inventory | None: ...

    def set_unhealthy(self, node: str, unhealthy: dict[str, str]) -> None: ...

    def agent(self, node_id: str) -> Any: ...  # the node agent's actor handle

    def pod_actor(self, uid: str) -> Any: ...  # a running pod's actor handle, or None
