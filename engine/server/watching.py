"""Watches as kube-apiserver streams them, and the resourceVersion rules of lists: `watch=true`
from a resourceVersion (410 when compacted), `timeoutSeconds`, Tables for `kubectl get -w`,
BOOKMARK events when the client allows them (`allowWatchBookmarks`), and `sendInitialEvents`
(the objects as ADDED, then a bookmark marked `k8s.io/initial-events-end`, then changes: what
client-go's watch-list asks for). `resourceVersionMatch` is checked as Kubernetes does."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from engine.errors import BadRequestError, TugError
from engine.paths import Target
from engine.server import tables, writes

BOOKMARK_S = 10.0  # an idle watch that allows bookmarks gets one this often
INITIAL_END = "k8s.io/initial-events-end"


def version_match(request: web.Request, *, watch: bool) -> str | None:
    """resourceVersionMatch (NotOlderThan or Exact), checked as Kubernetes checks it."""
    match = request.query.get("resourceVersionMatch") or None
    rv = request.query.get("resourceVersion")
    if match is None:
        return None
    if match not in ("NotOlderThan", "Exact"):
        raise BadRequestError(f'resourceVersionMatch: Unsupported value: "{match[:40]}": supported values: '
                              f'"Exact", "NotOlderThan"')
    if watch and not (match == "NotOlderThan" and writes.flag(request, "sendInitialEvents")):
        raise BadRequestError("resourceVersionMatch: a watch takes only NotOlderThan, with sendInitialEvents")
    if not watch and not rv:
        raise BadRequestError("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
                              "resourceVersion is provided")
    if match == "Exact" and rv == "0":
        raise BadRequestError('resourceVersionMatch: Forbidden: resourceVersionMatch "Exact" is forbidden '
                              'for resourceVersion "0"')
    return match


def _bookmark(target: Target, rv: str, *, initial_end: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": rv}
    if initial_end:
        meta["annotations"] = {INITIAL_END: "true"}
    return {"type": "BOOKMARK", "object": {"kind": target.info.kind, "apiVersion": target.info.api_version,
                                           "metadata": meta}}


async def serve(request: web.Request, store: Any, target: Target, since: str | None, timeout: int | None,
                selectors: dict[str, Any]) -> web.StreamResponse:
    """Stream the changes of `target`'s objects."""
    version_match(request, watch=True)
    bookmarks = writes.flag(request, "allowWatchBookmarks")
    initial = writes.flag(request, "sendInitialEvents")
    if initial and not bookmarks:
        raise BadRequestError("sendInitialEvents: Forbidden: sendInitialEvents requires allowWatchBookmarks")
    first: list[dict[str, Any]] = []
    if initial:  # the objects now, then where they end, then changes after them
        items, rv = store.list(target.info.plural, target.namespace, **selectors)
        first = [{"type": "ADDED", "object": obj} for obj in items]
        first.append(_bookmark(target, rv, initial_end=True))
        since = rv
    # A compacted resourceVersion raises GoneError here, before the stream starts: 410.
    stream = store.watch(target.info.plural, target.namespace, since=since, **selectors)
    as_table = tables.wants_table(request.headers.get("Accept", ""))  # kubectl get -w
    include = tables.include(request.query) if as_table else ""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    events: asyncio.Queue[tuple[str, Any] | BaseException] = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        try:
            async for kind, obj in stream:
                await events.put((str(kind), obj))
        except TugError as exc:  # fell too far behind: the client must re-list
            await events.put(exc)

    async def send(event: dict[str, Any]) -> None:
        obj = event["object"]
        if as_table and event["type"] != "BOOKMARK" and isinstance(obj, dict) and obj.get("metadata"):
            rv = str(obj["metadata"].get("resourceVersion") or "")
            event = {**event, "object": tables.table(target.info, [obj], rv, store.now(), include)}
        await resp.write(json.dumps(event).encode() + b"\n")

    task = asyncio.create_task(pump())
    try:
        async with asyncio.timeout(timeout):
            for event in first:
                await send(event)
            while True:
                try:
                    got = await asyncio.wait_for(events.get(), BOOKMARK_S if bookmarks else None)
                except TimeoutError:
                    await send(_bookmark(target, store.resource_version()))
                    continue
                if isinstance(got, TugError):
                    await send({"type": "ERROR", "object": got.to_status()})
                    break
                if isinstance(got, BaseException):
                    raise got
                await send({"type": got[0], "object": got[1]})
    except TimeoutError:
        pass
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
    await resp.write_eof()
    return resp
