"""Event TTL: the plan over plain data, and a sweep against the real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.controllers import EventTTL, expired_events
from engine.store import Store

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def event(name: str, last: str | None, created: str = "2026-01-01T00:00:00Z") -> dict:
    ev = {"apiVersion": "v1", "kind": "Event",
          "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
          "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started", "message": "m"}
    if last:
        ev["lastTimestamp"] = last
    return ev


def test_plan_expires_by_last_occurrence_inclusive() -> None:
    events = [event("old", "2026-01-01T10:59:59Z"), event("edge", "2026-01-01T11:00:00Z"),
              event("fresh", "2026-01-01T11:00:01Z"), event("no-last", None)]
    assert expired_events(events, now=NOW) == [("default", "old"), ("default", "edge"),
                                                ("default", "no-last")]
    assert expired_events(events, now=NOW, ttl=timedelta(days=1)) == []


def test_sweep_deletes_from_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    for ev in (event("old", "2026-01-01T10:00:00Z"), event("fresh", "2026-01-01T11:30:00Z")):
        store.create("events", ev)
    assert EventTTL(store, clock=lambda: NOW).sweep() == 1
    assert [e["metadata"]["name"] for e in store.list("events")[0]] == ["fresh"]
    store.close()
