"""Event time-to-live, as the API server's --event-ttl (default 1 h): an Event whose last
occurrence is older than the TTL is deleted, so events never pile up in the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.clock import Clock, parse_time, utcnow
from engine.controllers.loop import run_every
from engine.errors import NotFoundError

DEFAULT_TTL = timedelta(hours=1)


def expired_events(events: list[dict[str, Any]], *, now: datetime,
                   ttl: timedelta = DEFAULT_TTL) -> list[tuple[str, str]]:
    """(namespace, name) of every event last seen at or before now - ttl (plan, no IO)."""
    out = []
    for event in events:
        meta = event.get("metadata") or {}
        seen = (event.get("lastTimestamp") or event.get("eventTime")
                or meta.get("creationTimestamp"))
        if seen and parse_time(str(seen)) <= now - ttl:
            out.append((str(meta.get("namespace") or "default"), str(meta["name"])))
    return out


class EventTTL:
    """Runs the plan every `period` seconds and deletes what it names."""

    def __init__(self, store: Any, *, ttl: timedelta = DEFAULT_TTL, period: float = 60.0,
                 clock: Clock = utcnow) -> None:
        self.store, self.ttl, self.period, self.clock = store, ttl, period, clock

    def sweep(self) -> int:
        events, _ = self.store.list("events")
        doomed = expired_events(events, now=self.clock(), ttl=self.ttl)
        for namespace, name in doomed:
            try:
                self.store.delete("events", namespace, name)
            except NotFoundError:
                continue
        return len(doomed)

    async def run(self) -> None:
        await run_every(self.period, self.sweep, who="event ttl sweep")
