"""Evicting a pod on the system's behalf (preemption, NoExecute taints): mark it with the
DisruptionTarget condition, so its Job can tell a disruption from its own failure, then delete
it with its own grace period."""

from __future__ import annotations

from typing import Any

from engine.errors import ConflictError, NotFoundError


def disrupt(store: Any, pod: dict[str, Any], *, reason: str, message: str, now: str) -> dict[str, Any] | None:
    """The pod as marked, or None when it is gone or was replaced (nothing is done then)."""
    meta = pod["metadata"]
    try:
        cur = store.get("pods", meta["namespace"], meta["name"])
        if cur["metadata"].get("uid") != meta.get("uid"):
            return None
        status = cur.setdefault("status", {})
        status["conditions"] = [c for c in status.get("conditions") or []
                                if c.get("type") != "DisruptionTarget"]
        status["conditions"].append({"type": "DisruptionTarget", "status": "True", "reason": reason,
                                     "message": message, "lastTransitionTime": now})
        cur = store.update_status("pods", cur)
        grace = int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        store.delete("pods", meta["namespace"], meta["name"], grace_seconds=grace, uid=meta["uid"])
    except (NotFoundError, ConflictError):
        return None
    return cur
