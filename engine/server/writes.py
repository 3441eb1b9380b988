"""What a request asks for beyond its body: the patch kind its Content-Type names, kubectl's
write parameters (fieldValidation, dryRun, fieldManager, force) checked before anything is
written, a delete's options from the query or its DeleteOptions body, and an answer relabelled
for a request made at an older version of a kind."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from engine.errors import BadRequestError, InvalidError, UnsupportedMediaError
from engine.store.objects import MAX_GRACE_SECONDS
from engine.store.store import DRY_RUN

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PATCH_KINDS = {"application/merge-patch+json": "merge", "application/json": "merge",
               "application/strategic-merge-patch+json": "strategic", "application/json-patch+json": "json"}


def flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter (`watch=true`, `tty=1`, ...)."""
    return request.query.get(name, "").lower() in ("1", "true", "yes")


def patch_kind(request: web.Request) -> str:
    """merge, strategic, json or apply (server-side apply), by the request's Content-Type (none,
    or plain JSON: merge)."""
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
    if ctype == "application/apply-patch+yaml":
        return "apply"
    if ctype not in PATCH_KINDS:
        raise UnsupportedMediaError(f"the patch's Content-Type {ctype!r} is not one of "
                                    f"{', '.join(sorted(PATCH_KINDS))}")
    return PATCH_KINDS[ctype]


def check_params(request: web.Request) -> None:
    """kubectl's write parameters: fieldValidation is taken (validation is always strict here);
    dryRun=All makes this request's writes in full and rolls them back (engine/store DRY_RUN):
    the answer is what would be stored, and nothing is."""
    dry = request.query.getall("dryRun", [])
    if dry:
        if dry != ["All"]:
            raise BadRequestError(f"dryRun: must be All, got {', '.join(repr(v) for v in dry)}")
        if request.method == "GET":
            raise BadRequestError("dryRun: only a write (POST, PUT, PATCH, DELETE) can be a dry run")
        DRY_RUN.set(True)
    value = request.query.get("fieldValidation")
    if value is not None and value not in ("Strict", "Warn", "Ignore"):
        raise BadRequestError(f"fieldValidation: must be Strict, Warn or Ignore, got {value!r}")


@web.middleware
async def dry_run_scope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Each request starts as no dry run and leaves none behind: aiohttp serves the requests of
    one keep-alive connection in one task, so a dryRun=All request must not mark the next."""
    token = DRY_RUN.set(False)
    try:
        return await handler(request)
    finally:
        DRY_RUN.reset(token)


def delete_options(body: Any, *, propagation: str | None, grace: int | None) -> dict[str, Any]:
    """A delete's propagation, grace period and uid precondition: the query's where given, else
    the DeleteOptions body's (kubectl sends its options there); a dryRun there marks the request."""
    if not isinstance(body, dict):
        raise BadRequestError("the body of a delete must be a DeleteOptions object")
    dry = body.get("dryRun")
    if dry not in (None, [], ["All"]):
        raise BadRequestError(f"dryRun: must be [All], got {dry!r:.60}")
    if dry == ["All"]:
        DRY_RUN.set(True)
    given = body.get("propagationPolicy")
    if given is None and body.get("orphanDependents") is not None:  # the deprecated form
        given = "Orphan" if body["orphanDependents"] is True else "Background"
    if given is not None and not isinstance(given, str):
        raise BadRequestError(f"propagationPolicy: expected a string, got {given!r:.60}")
    seconds = body.get("gracePeriodSeconds")
    if seconds is not None and (not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0):
        raise BadRequestError(f"gracePeriodSeconds: expected a non-negative integer, got {seconds!r:.60}")
    pre = body.get("preconditions")
    uid, rv = (pre.get("uid"), pre.get("resourceVersion")) if isinstance(pre, dict) else (None, None)
    for key, value in (("uid", uid), ("resourceVersion", rv)):
        if value is not None and not isinstance(value, str):
            raise BadRequestError(f"preconditions.{key}: expected a string, got {value!r:.60}")
    grace = grace if grace is not None else seconds
    return {"propagation": propagation or given or None, "uid": uid or None, "rv": rv or None,
            "grace": None if grace is None else min(grace, MAX_GRACE_SECONDS)}


def manager(request: web.Request, *, apply: bool) -> str:
    """Who makes this write, for managedFields: fieldManager (required for server-side apply),
    else the client's name from its User-Agent ("kubectl/v1.32.4 ..." -> "kubectl")."""
    given = request.query.get("fieldManager")
    if given is not None and (not given or len(given) > 128 or not given.isprintable()):
        raise BadRequestError(f"fieldManager: expected 1 to 128 printable characters, got {given[:130]!r}")
    if request.query.get("force") not in (None, "false") and not apply:
        raise BadRequestError("force: only a server-side apply (application/apply-patch+yaml) takes force")
    if apply and not given:
        required = "fieldManager: Required value: is required for apply patch"
        raise InvalidError(f'PatchOptions "" is invalid: {required}', details=[required])
    agent = request.headers.get("User-Agent", "").split("/")[0].strip()
    return given or (agent[:128] if agent.isprintable() and agent else "unknown")


def relabel(resp: web.StreamResponse, current: str, asked: str) -> web.StreamResponse:
    """An answer to a request made at an older version of a kind (the same schema): its objects
    say the version asked for, as kube-apiserver converts them, so `kubectl apply` of an older
    manifest finds nothing to change the second time. A stream is left as it is."""
    if not isinstance(resp, web.Response) or resp.content_type != "application/json" or not resp.body:
        return resp
    try:
        data = json.loads(bytes(resp.body))  # type: ignore[arg-type]
    except ValueError:
        return resp
    for obj in [data, *(data.get("items") or [] if isinstance(data, dict) else [])]:
        if isinstance(obj, dict) and obj.get("apiVersion") == current:
            obj["apiVersion"] = asked
    out = web.Response(body=json.dumps(data).encode(), status=resp.status, content_type="application/json")
    for key, value in resp.headers.items():
        if key.lower() == "warning":
            out.headers.add(key, value)
    return out
