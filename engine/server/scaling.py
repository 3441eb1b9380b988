"""The scale subresource's HTTP side: GET, PUT and PATCH of a Deployment's or ReplicaSet's
Scale (the shapes and rules are engine/server/scale.py's); a change of replicas is an update of
the object, validated and admitted as any other."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from engine.errors import MethodNotAllowedError
from engine.paths import Target
from engine.server import scale, writes


async def serve(request: web.Request, target: Target, api: Any, store: Any,
                read_body: Callable[..., Awaitable[Any]]) -> dict[str, Any]:
    """The Scale to answer with (after the write, for PUT and PATCH)."""
    assert target.name is not None and target.namespace is not None
    current = store.get(target.info.plural, target.namespace, target.name)
    if request.method == "GET":
        return scale.scale_of(current)
    if request.method not in ("PUT", "PATCH"):
        raise MethodNotAllowedError(f"{request.method} is not allowed on {target.info.plural}/scale")
    kind = writes.patch_kind(request) if request.method == "PATCH" else ""
    body = await read_body(request, allow_list=kind == "json")
    if kind:
        body = scale.patched_scale(current, body, kind)
    replicas = scale.replicas_of(body, current)
    if replicas != (current.get("spec") or {}).get("replicas"):
        desired = {k: v for k, v in current.items() if k != "status"}
        desired["spec"] = {**desired["spec"], "replicas": replicas}
        checked = await asyncio.to_thread(api.validate, target.info, target.namespace, desired)
        current, _ = api.update(target.info, target.namespace, target.name, desired, checked=checked,
                                manager=writes.manager(request, apply=False))
    return scale.scale_of(current)
