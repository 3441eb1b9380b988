"""NoExecute taints evict running pods: untolerated at once, tolerated after the smallest
tolerationSeconds, never without one (reference §5.4), on the real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.controllers import TaintEviction, eviction_time
from engine.store import Store

from .store_helpers import FakeClock

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
TAINT = {"key": "gpu", "value": "broken", "effect": "NoExecute"}


def pod(name: str, *tolerations: dict[str, Any], node: str = "n1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "tolerations": list(tolerations), "terminationGracePeriodSeconds": 7,
                     "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running"}}


def tol(seconds: int | None = None, **kw: Any) -> dict[str, Any]:
    t = {"key": "gpu", "operator": "Exists", "effect": "NoExecute", **kw}
    if seconds is not None:
        t["tolerationSeconds"] = seconds
    return t


@pytest.mark.parametrize("tolerations,after", [
    ((), 0.0),
    ((tol(300), tol(60)), 60.0),  # the smallest of the matching ones
    ((tol(0),), 0.0),
    ((tol(),), None),  # tolerated for ever
    ((tol(effect="NoSchedule"),), 0.0),  # another effect does not tolerate it
])
def test_eviction_time_vectors(tolerations: tuple[dict[str, Any], ...], after: float | None) -> None:
    when = eviction_time(pod("p", *tolerations), [(TAINT, NOW)], NOW)
    assert when == (None if after is None else NOW + timedelta(seconds=after))


def test_the_controller_marks_and_deletes_gracefully(store: Store, clock: FakeClock) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"taints": [TAINT]}}
    store.create("nodes", node, namespaced=False)
    for p in (pod("plain"), pod("patient", tol(60)), pod("forever", tol()), pod("elsewhere", node="n2")):
        store.create("pods", p)
    sweeper = TaintEviction(store, clock=clock)
    assert sweeper.sweep() == 1
    plain = store.get("pods", "default", "plain")
    assert plain["metadata"]["deletionTimestamp"] and plain["metadata"]["deletionGracePeriodSeconds"] == 7
    target = next(c for c in plain["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert target["reason"] == "DeletionByTaintManager"
    clock.now += timedelta(seconds=59)
    assert sweeper.sweep() == 0
    clock.now += timedelta(seconds=1)
    assert sweeper.sweep() == 1 and store.get("pods", "default", "patient")["metadata"]["deletionTimestamp"]
    clock.now += timedelta(hours=5)
    assert sweeper.sweep() == 0
    assert not store.get("pods", "default", "forever")["metadata"].get("deletionTimestamp")
    assert not store.get("pods", "default", "elsewhere")["metadata"].get("deletionTimestamp")
