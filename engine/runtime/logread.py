"""`tug logs`' reading side in the control plane: which run of which container, on which
node, and the bytes from that node's agent (engine/runtime/logfiles.py writes and reads them)."""

from __future__ import annotations

from typing import Any

from ray.exceptions import ActorUnavailableError, RayActorError

from engine.errors import BadRequestError, NotFoundError
from engine.runtime.podrunner import pod_log_dir
from engine.runtime.podstatus import pick_container, waiting_reason


async def read_log(runtime: Any, pod: dict[str, Any], *, container: str | None, previous: bool,
                   tail_lines: int, offset: int, timestamps: bool = False,
                   since_ns: int | None = None) -> tuple[bytes, int]:
    """Bytes of a container's log (current or previous run) from the node that ran it, and
    the file offset to read from next; with `timestamps`, lines carry their times as
    `kubectl logs --timestamps` prints them (engine/runtime/logfiles.py says how)."""
    meta = pod["metadata"]
    name = pick_container(pod, container)
    statuses = ((pod.get("status") or {}).get("containerStatuses") or []) + \
        ((pod.get("status") or {}).get("initContainerStatuses") or [])
    status = next((s for s in statuses if s.get("name") == name), None)
    restarts = int((status or {}).get("restartCount", 0))
    run = restarts - 1 if previous else restarts
    if previous and restarts == 0:
        raise BadRequestError(
            f'previous terminated container "{name}" in pod "{meta["name"]}" not found')
    if status is None or not status.get("started") and "terminated" not in (
            status.get("lastState") or {}) and "terminated" not in (status.get("state") or {}):
        raise BadRequestError(
            f'container "{name}" in pod "{meta["name"]}" is waiting to start: '
            f'{waiting_reason(status)}')
    node_id = runtime.node_id(pod["spec"].get("nodeName") or "")
    if node_id is None:
        raise NotFoundError(f"node {pod['spec'].get('nodeName')} of pod {meta['name']} is gone")
    relative = f"{pod_log_dir(pod)}/{name}/{run}.log"
    try:
        data, nxt = await runtime.agent(node_id).read_log.remote(
            str(runtime.log_root), relative, offset, tail_lines, timestamps=timestamps, since_ns=since_ns)
    except (RayActorError, ActorUnavailableError) as exc:
        raise NotFoundError(f"the node agent of {pod['spec']['nodeName']} is gone: {exc}") from exc
    except FileNotFoundError as exc:
        raise NotFoundError(f"no log for container {name} of pod {meta['name']}") from exc
    return data, nxt
