"""Scheduling: the placement of pending pods onto nodes (admission queues come later)."""

from engine.scheduler.placement import Decision, NodeState, place, snapshot
from engine.scheduler.scheduler import Scheduler

__all__ = ["Decision", "NodeState", "Scheduler", "place", "snapshot"]
