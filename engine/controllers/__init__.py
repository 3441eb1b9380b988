"""Controllers: level-based loops that read desired and observed state and write the difference."""

from engine.controllers.eventttl import EventTTL, expired_events

__all__ = ["EventTTL", "expired_events"]
