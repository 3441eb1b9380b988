"""The scale subresource (autoscaling/v1 Scale) of Deployments and ReplicaSets, as `kubectl
scale` and HorizontalPodAutoscalers of other tools read and write it: the object's replicas
in spec, what it has in status, and its selector as a string. Pure."""

from __future__ import annotations

from typing import Any

from engine.api.patches import json_patch, merge_patch, strategic_merge
from engine.errors import BadRequestError, ConflictError, InvalidError
from engine.printers.fmt import format_selector

Obj = dict[str, Any]
SCALABLE = ("deployments", "replicasets")
MAX_REPLICAS = 2**31 - 1


def scale_of(obj: Obj) -> Obj:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    selector = format_selector(spec.get("selector"))
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            "spec": {"replicas": int(spec.get("replicas", 1) or 0)},
            "status": {"replicas": int(status.get("replicas") or 0),
                       **({"selector": selector} if selector != "<none>" else {})}}


def replicas_of(body: Any, current: Obj) -> int:
    """The replicas a Scale written to `current` asks for (its resourceVersion, when given,
    must be the object's)."""
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise BadRequestError("a Scale needs spec.replicas")
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    if meta.get("name") not in (None, current["metadata"]["name"]):
        raise BadRequestError("the name of the Scale does not match the name on the URL")
    rv = meta.get("resourceVersion")
    if rv not in (None, "") and str(rv) != str(current["metadata"].get("resourceVersion")):
        raise ConflictError(f'Operation cannot be fulfilled on {current["kind"].lower()}s '
                            f'"{current["metadata"]["name"]}": the object has been modified; please apply '
                            f"your changes to the latest version and try again")
    replicas = body["spec"].get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= MAX_REPLICAS:
        raise InvalidError(f'Scale.autoscaling "{current["metadata"]["name"]}" is invalid',
                           details=[f"spec.replicas: Invalid value: {replicas!r}: must be an integer from 0 "
                                    f"to {MAX_REPLICAS}"])
    return replicas


def patched_scale(current: Obj, patch: Any, kind: str) -> Obj:
    """The object's Scale with `patch` applied (merge, strategic or json)."""
    scale = scale_of(current)
    if kind == "json":
        return json_patch(scale, patch)  # type: ignore[no-any-return]
    if not isinstance(patch, dict):
        raise BadRequestError("the patch must be a JSON object")
    return (strategic_merge if kind == "strategic" else merge_patch)(scale, patch)  # type: ignore[no-any-return]
