"""engine/events.py: events the runtime writes in the same transaction as a pod's status
(EventRecorder.ops) are aggregated as Kubernetes does: one event per object, type, reason and
message, its count going up."""

from __future__ import annotations

from pathlib import Path

from engine.events import EventRecorder
from engine.store import Store


def test_events_batched_with_a_status_count_repeats_as_one_event(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    pod = store.create("pods", {"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": "p", "namespace": "default"},
                                "spec": {"containers": [{"name": "c", "image": "x"}]}})
    recorder = EventRecorder(store, component="kubelet")
    ops, committed = recorder.ops(pod, [("Normal", "Started", "Started container c", None),
                                        ("Normal", "Started", "Started container c", None),
                                        ("Warning", "BackOff", "Back-off", None)], host="n1")
    store.apply_all(ops)
    committed()
    again, committed = recorder.ops(pod, [("Normal", "Started", "Started container c", None)])
    assert [op[0] for op in again] == ["update"]  # recorded before: counted, not made again
    store.apply_all(again)
    committed()
    events = {e["reason"]: e for e in store.list("events", "default")[0]}
    assert events["Started"]["count"] == 3 and events["BackOff"].get("count", 1) == 1
    assert events["Started"]["source"]["host"] == "n1"
