"""POST pods/NAME/eviction (policy/v1 Eviction, what kubectl drain sends): the pod is marked
DisruptionTarget and deleted with its grace period, or the Eviction's deleteOptions' (a dryRun
there makes it a dry run). No PodDisruptionBudgets are served, so an eviction is never refused
for one. And POST pods/NAME/binding (v1 Binding, what another scheduler sends): the pod is
bound to the target node, as tugboat's own scheduler binds it."""

from __future__ import annotations

from typing import Any

from engine.api import names
from engine.clock import format_time
from engine.disruption import disrupt
from engine.errors import BadRequestError, ConflictError
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


def bind(store: Any, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Bind the pod to body.target (a Node); 409 where it is bound already or not Pending."""
    meta, target = body.get("metadata"), body.get("target")
    if (meta.get("name") if isinstance(meta, dict) else None) not in (None, name):
        raise BadRequestError("the name of the Binding does not match the name on the URL")
    node = target.get("name") if isinstance(target, dict) else None
    if not isinstance(node, str) or not node or (target.get("kind") or "Node") != "Node":
        raise BadRequestError("target: a Node to bind to is required, as {kind: Node, name: NODE}")
    pod = store.get("pods", namespace, name)
    annotations = (meta.get("annotations") if isinstance(meta, dict) else None) or {}
    problems = names.check_annotations("metadata.annotations", annotations) if isinstance(annotations, dict) \
        else ["metadata.annotations: expected a map of strings"]
    if problems:
        raise BadRequestError("; ".join(problems[:5]))
    [bound] = store.bind([(namespace, name, pod["metadata"]["uid"], node, annotations)])
    if bound is None:
        where = (pod.get("spec") or {}).get("nodeName")
        raise ConflictError(f'Operation cannot be fulfilled on pods/binding "{name}": '
                            + (f'pod {name} is already assigned to node "{where}"' if where
                               else f"pod {name} is being deleted or is no longer Pending"))
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
