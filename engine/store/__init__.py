"""The durable object store: `Store` and the types its methods take and return."""

from __future__ import annotations

from engine.store.gc import Propagation
from engine.store.store import Store
from engine.store.txn import EventType
from engine.store.writes import ApplyResult

__all__ = ["ApplyResult", "EventType", "Propagation", "Store"]
