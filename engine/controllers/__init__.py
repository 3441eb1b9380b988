"""Controllers: level-based loops that read desired and observed state and write the difference."""

from engine.controllers.eventttl import EventTTL, expired_events
from engine.controllers.taints import TaintEviction, eviction_time

__all__ = ["EventTTL", "TaintEviction", "eviction_time", "expired_events"]
