"""Server-side apply's HTTP side: PATCH with application/apply-patch+yaml creates the object
or merges the applied configuration into it (engine/api/ssa.py, through engine/server/crud.py),
validated as any write; a conflict with a controller's write in between is applied again."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from engine.errors import BadRequestError, ConflictError
from engine.server.bodies import parse_body

APPLY_TRIES = 5  # a server-side apply without a resourceVersion is tried again on a conflict


async def serve(api: Any, request: web.Request, info: Any, namespace: str | None, name: str,
                manager: str) -> tuple[Any, list[str], int]:
    """PATCH with application/apply-patch+yaml (engine/api/ssa.py): the object applied, its
    warnings and the HTTP status (201 where it was created)."""
    raw = await request.read()
    try:
        config = await asyncio.to_thread(parse_body, raw)
    except BadRequestError as exc:
        raise BadRequestError(f"the applied configuration must be JSON (as kubectl and the clients send it): "
                              f"{exc}") from None
    force = request.query.get("force") in ("true", "1")
    given_rv = isinstance(config, dict) and isinstance(config.get("metadata"), dict) \
        and config["metadata"].get("resourceVersion")
    for attempt in range(APPLY_TRIES):
        desired = api.applied(info, namespace, name, config, manager=manager, force=force)
        if desired is None:  # nothing there: server-side apply creates it
            checked = await asyncio.to_thread(api.validate, info, namespace, config)
            obj, warnings = api.create(info, namespace, config, checked=checked,
                                       managed=api.created_fields(config, manager))
            return obj, warnings, 201
        checked = await asyncio.to_thread(api.validate, info, namespace, desired)
        try:
            obj, warnings = api.update(info, namespace, name, desired, checked=checked,
                                       managed=desired["metadata"]["managedFields"])
            return obj, warnings, 200
        except ConflictError:  # a controller wrote while it was checked: apply to the new one
            if given_rv or attempt == APPLY_TRIES - 1:
                raise
    raise ConflictError(f'{info.plural} "{name}" kept changing while it was applied; try again')
