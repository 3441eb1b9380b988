"""`kubectl exec`'s control-plane side: a session in the pod's actor on its node
(engine/runtime/execs.py), driven by Ray calls that carry stdin in and output out."""

from __future__ import annotations

import asyncio
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError

from engine.errors import BadRequestError, NotFoundError
from engine.runtime.actors import actor_name
from engine.runtime.cluster import RAY_NAMESPACE
from engine.runtime.execs import ExecRefused

POLL_S = 0.25  # how long one io call waits on the node for output


class RemoteExec:
    """One command running in a pod's container, seen from the control plane."""

    def __init__(self, actor: Any, key: str) -> None:
        self._actor, self._key = actor, key

    async def read(self) -> dict[str, Any]:
        """{stdout, stderr, exit} since the last read (exit: the code once the command ended and
        its output was all read, else None); waits on the node up to POLL_S for something."""
        return await _call(self._actor.exec_read.remote(self._key, POLL_S))

    async def write(self, data: bytes, close: bool = False) -> None:
        """Stdin for the command (then EOF with `close`), in the order of the calls."""
        await _call(self._actor.exec_write.remote(self._key, data, close))

    async def resize(self, width: int, height: int) -> None:
        await _call(self._actor.exec_resize.remote(self._key, width, height))

    async def end(self) -> None:
        """Kill what is left of the command (its whole process group)."""
        try:
            await _call(self._actor.exec_end.remote(self._key))
        except (NotFoundError, BadRequestError):
            pass  # the pod (and its sessions with it) is gone already


async def start(pod: dict[str, Any], container: str, command: list[str], *, tty: bool,
                stdin: bool, actor: Any = None) -> RemoteExec:
    """Start `command` in `container` of `pod`, which must be running; `actor`: what hosts it
    (the runtime's handle: a warm runner or its own actor), else its own actor by name."""
    name = pod["metadata"]["name"]
    if actor is None:
        try:
            actor = await asyncio.to_thread(ray.get_actor, actor_name(pod), namespace=RAY_NAMESPACE)
        except ValueError:
            raise NotFoundError(f"pod {name} is not running on any node") from None
    key = await _call(actor.exec_start.remote(container, list(command), tty, stdin, pod["metadata"]["uid"]))
    return RemoteExec(actor, str(key))


async def _call(ref: Any) -> Any:
    try:
        return await ref
    except RayTaskError as exc:
        cause = exc.cause if isinstance(exc.cause, Exception) else exc
        if isinstance(cause, ExecRefused):
            raise BadRequestError(str(cause)) from None
        raise
    except (RayActorError, ActorUnavailableError) as exc:
        raise NotFoundError(f"the pod's actor is gone: {exc}") from None
