"""Who the caller is and what it may do, as kubectl asks: `kubectl auth can-i`
(SelfSubjectAccessReview, and SelfSubjectRulesReview for `--list`) and `kubectl auth whoami`
(SelfSubjectReview). tugboat has one credential, the bearer token of $TUG_HOME/config, and
whoever holds it may do everything: the answers say so, and why."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from engine.errors import BadRequestError, InvalidError
from engine.server.bodies import parse_body

Obj = dict[str, Any]
USER = {"username": "tugboat-admin", "groups": ["system:masters", "system:authenticated"]}
WHY = "tugboat has one credential (the token of $TUG_HOME/config), which may do everything"
KINDS = {("authorization.k8s.io", "v1"): [("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
                                          ("selfsubjectrulesreviews", "SelfSubjectRulesReview")],
         ("authentication.k8s.io", "v1"): [("selfsubjectreviews", "SelfSubjectReview")]}


def groups() -> list[Obj]:
    """These groups, as /apis lists them."""
    out = []
    for group, version in KINDS:
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        out.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return out


def resource_list(group_version: str) -> Obj | None:
    group, _, version = group_version.partition("/")
    kinds = KINDS.get((group, version))
    if kinds is None:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": [
        {"name": plural, "singularName": "", "namespaced": False, "kind": kind, "verbs": ["create"]}
        for plural, kind in kinds]}


def _answer(kind: str, review: Obj) -> Obj:
    spec = review.get("spec")
    if kind == "SelfSubjectAccessReview":
        given = [k for k in ("resourceAttributes", "nonResourceAttributes")
                 if isinstance(spec, dict) and isinstance(spec.get(k), dict)]
        if len(given) != 1:
            problem = "spec: exactly one of resourceAttributes and nonResourceAttributes is required"
            raise InvalidError(f'SelfSubjectAccessReview "" is invalid: {problem}', details=[problem])
        return {"allowed": True, "reason": WHY}
    if kind == "SelfSubjectRulesReview":
        return {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
    return {"userInfo": USER}


def add_routes(router: web.UrlDispatcher) -> None:
    """POST of each review (answered at once, nothing stored)."""
    for (group, version), kinds in KINDS.items():
        for plural, kind in kinds:
            router.add_post(f"/apis/{group}/{version}/{plural}", _handler(f"{group}/{version}", kind))


def _handler(api_version: str, kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def review(request: web.Request) -> web.Response:
        raw = await request.read()
        body = await asyncio.to_thread(parse_body, raw, content_type=request.content_type)
        if body.get("kind") not in (None, kind) or body.get("apiVersion") not in (None, api_version):
            raise BadRequestError(f"expected a {api_version} {kind}, got {body.get('apiVersion')} "
                                  f"{body.get('kind')}")
        out = {**body, "apiVersion": api_version, "kind": kind, "status": _answer(kind, body)}
        meta = body.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        out["metadata"] = {"name": name} if isinstance(name, str) else {}
        return web.json_response(out, status=201, dumps=json.dumps)
    return review
