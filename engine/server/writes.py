"""What a write request asks for beyond its body: the patch kind its Content-Type names, and
kubectl's write parameters (fieldValidation, dryRun), checked before anything is written."""

from __future__ import annotations

from aiohttp import web

from engine.errors import BadRequestError, UnsupportedMediaError

PATCH_KINDS = {"application/merge-patch+json": "merge", "application/json": "merge",
               "application/strategic-merge-patch+json": "strategic", "application/json-patch+json": "json"}


def patch_kind(request: web.Request) -> str:
    """merge, strategic or json, by the request's Content-Type (none, or plain JSON: merge)."""
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
    if ctype == "application/apply-patch+yaml":
        raise UnsupportedMediaError("server-side apply (application/apply-patch+yaml) is not served yet; "
                                    "use kubectl apply without --server-side, or tug apply")
    if ctype not in PATCH_KINDS:
        raise UnsupportedMediaError(f"the patch's Content-Type {ctype!r} is not one of "
                                    f"{', '.join(sorted(PATCH_KINDS))}")
    return PATCH_KINDS[ctype]


def check_params(request: web.Request) -> None:
    """kubectl's write parameters: fieldValidation is taken (validation is always strict here);
    a server-side dry run is refused before anything is written, as tugboat cannot do one yet."""
    if request.query.get("dryRun"):
        raise BadRequestError("dryRun: a server-side dry run is not served yet, and nothing was changed "
                              "(tug apply --dry-run validates a manifest without writing it)")
    value = request.query.get("fieldValidation")
    if value is not None and value not in ("Strict", "Warn", "Ignore"):
        raise BadRequestError(f"fieldValidation: must be Strict, Warn or Ignore, got {value!r}")
