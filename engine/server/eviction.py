"""POST pods/NAME/eviction (policy/v1 Eviction, what kubectl drain sends): the pod is marked
DisruptionTarget and deleted with its grace period, or the Eviction's deleteOptions' (a dryRun
there makes it a dry run). No PodDisruptionBudgets are served, so an eviction is never refused
for one."""

from __future__ import annotations

from typing import Any

from engine.clock import format_time
from engine.disruption import disrupt
from engine.errors import BadRequestError
from engine.server.writes import delete_options


def evict(store: Any, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Evict the pod; the Status kube-apiserver answers with."""
    meta = body.get("metadata")
    if (meta.get("name") if isinstance(meta, dict) else None) not in (None, name):
        raise BadRequestError("the name of the Eviction does not match the name on the URL")
    opts = body.get("deleteOptions")
    grace = delete_options(opts if opts is not None else {}, propagation=None, grace=None)["grace"]
    pod = store.get("pods", namespace, name)
    if grace is not None:
        pod["spec"] = {**pod["spec"], "terminationGracePeriodSeconds": grace}
    disrupt(store, pod, reason="EvictionByEvictionAPI", message="Eviction API: evicting",
            now=format_time(store.now()))
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
