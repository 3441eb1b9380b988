"""Pod status helpers shared by the runtime's paths: container choice for logs, merged
conditions, and how containers end when nobody saw them end. Pure data."""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError


def pick_container(pod: dict[str, Any], container: str | None, *, init: bool = False) -> str:
    names = [c["name"] for c in pod["spec"].get("containers") or []]
    inits = [c["name"] for c in pod["spec"].get("initContainers") or []]
    if container:
        if container not in names + inits:
            raise BadRequestError(
                f"container {container} is not valid for pod {pod['metadata']['name']}")
        return container
    if len(names) == 1:
        return names[0]
    raise BadRequestError(
        f"a container name must be specified for pod {pod['metadata']['name']}, "
        f"choose one of: [{' '.join(names)}]")


def waiting_reason(status: dict[str, Any] | None) -> str:
    waiting = ((status or {}).get("state") or {}).get("waiting") or {}
    return str(waiting.get("reason") or "ContainerCreating")


def unknown_end(container: dict[str, Any], now: str) -> dict[str, Any]:
    state = container.get("state") or {}
    if "terminated" in state:
        return container
    started = (state.get("running") or {}).get("startedAt")
    return {**container, "ready": False, "lastState": container.get("lastState") or {},
            "state": {"terminated": {
                "exitCode": 137, "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
                **({"startedAt": started} if started else {}), "finishedAt": now}}}


def merge_conditions(old: list[dict[str, Any]] | None,
                      new: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    by_type = {c["type"]: c for c in old or []}
    for c in new or []:
        by_type[c["type"]] = c
    order = ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
    return sorted(by_type.values(),
                  key=lambda c: order.index(c["type"]) if c["type"] in order else 99)
