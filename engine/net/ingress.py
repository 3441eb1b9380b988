"""Ingress routing, pure (reference part 2, §3): the rules of the Ingresses of class `tugboat`
(or of no class) with each backend's ready addresses, and the choice for one request: the host
(exact names before `*.` wildcards before host-less rules), then the path (longest wins, Exact
before Prefix at equal length; Prefix compares whole `/` elements; ImplementationSpecific is a
string prefix, as ingress-nginx), then the default backend; a canary Ingress for the same host
and path takes the request by header, cookie or weight, as ingress-nginx decides."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from engine.api.checks import d, lst
from engine.net.routes import ready_backends

CLASS = "tugboat"
CONTROLLER = "tugboat.dev/ingress-router"
DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
CANARY = "nginx.ingress.kubernetes.io/canary"
_PREFIX = "nginx.ingress.kubernetes.io/canary-"

Obj = dict[str, Any]


def ours(ingress: Obj) -> bool:
    named = d(ingress.get("spec")).get("ingressClassName") or \
        d(d(ingress.get("metadata")).get("annotations")).get(CLASS_ANNOTATION)
    return named in (None, "", CLASS)


def _canary(ingress: Obj) -> Obj | None:
    notes = {k: v for k, v in d(d(ingress.get("metadata")).get("annotations")).items() if isinstance(v, str)}
    if notes.get(CANARY, "").lower() != "true":
        return None

    def number(key: str, default: int) -> int:
        try:
            return max(int(str(notes.get(_PREFIX + key, default))), 0)
        except ValueError:
            return default if key == "weight-total" else 0  # an invalid weight is 0
    return {"weight": number("weight", 0), "total": number("weight-total", 100),
            "header": notes.get(_PREFIX + "by-header") or "",
            "headerValue": notes.get(_PREFIX + "by-header-value") or "",
            "headerPattern": notes.get(_PREFIX + "by-header-pattern") or "",
            "cookie": notes.get(_PREFIX + "by-cookie") or ""}


def _target(ns: str, backend: Any, services: dict[str, Obj], endpoints: dict[str, Obj]) -> Obj:
    """The backend's Service and its ready addresses (none where it or its port is missing)."""
    svc_ref = d(d(backend).get("service"))
    key = f"{ns}/{svc_ref.get('name')}"
    want = d(svc_ref.get("port"))
    port = None
    for p in lst(d(d(services.get(key)).get("spec")).get("ports")):
        if isinstance(p, dict) and ((want.get("number") is not None and p.get("port") == want.get("number"))
                                    or (want.get("name") and p.get("name") == want.get("name"))):
            port = p
            break
    backends = ready_backends(endpoints.get(key), str(port.get("name") or "")) if port else []
    return {"service": key, "backends": backends}


def ingress_table(ingresses: list[Obj], services: dict[str, Obj], endpoints: dict[str, Obj]) -> list[Obj]:
    """One entry per rule path (and per default backend, with `path` None) of our Ingresses,
    sorted by Ingress; `services` and `endpoints` by "namespace/name"."""
    table = []
    def by_name(ing: Obj) -> tuple[str, str]:
        return str(ing["metadata"].get("namespace")), str(ing["metadata"]["name"])

    for ing in sorted(ingresses, key=by_name):
        if not ours(ing):
            continue
        ns, spec = str(ing["metadata"].get("namespace")), d(ing.get("spec"))
        name, canary = f"{ns}/{ing['metadata']['name']}", _canary(ing)
        if spec.get("defaultBackend"):
            table.append({"ingress": name, "host": "", "path": None, "pathType": "",
                          "canary": canary, **_target(ns, spec["defaultBackend"], services, endpoints)})
        for rule in lst(spec.get("rules")):
            if not isinstance(rule, dict):
                continue
            host = rule.get("host") if isinstance(rule.get("host"), str) else ""
            for entry in lst(d(rule.get("http")).get("paths")):
                if isinstance(entry, dict) and isinstance(entry.get("path") or "/", str):
                    table.append({"ingress": name, "host": host.lower(), "path": entry.get("path") or "/",
                                  "pathType": str(entry.get("pathType") or "ImplementationSpecific"),
                                  "canary": canary, **_target(ns, entry.get("backend"), services, endpoints)})
    return table


def path_matches(kind: str, rule: str, path: str) -> bool:
    if kind == "Exact":
        return rule == path
    if kind == "Prefix":
        want = [e for e in rule.split("/") if e]
        return [e for e in path.split("/") if e][:len(want)] == want
    return path.startswith(rule)  # ImplementationSpecific: nginx's string prefix


def host_matches(rule: str, host: str) -> bool:
    if rule.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == rule[2:]
    return rule == host


def _best(entries: list[Obj], path: str) -> Obj | None:
    matched = [e for e in entries if path_matches(e["pathType"], e["path"], path)]
    return max(matched, key=lambda e: (len(e["path"]), e["pathType"] == "Exact"), default=None)


def choose(table: list[Obj], host: str, path: str, headers: Mapping[str, str], cookies: Mapping[str, str],
           roll: Callable[[int], int]) -> Obj | None:
    """The entry that serves a request (None: 404). `host` without its port; `roll(n)` is a
    random integer from 1 to n (for canary weights)."""
    host = host.lower()
    rules = [e for e in table if e["path"] is not None]
    for group in ([e for e in rules if e["host"] == host],
                  [e for e in rules if e["host"].startswith("*.") and host_matches(e["host"], host)],
                  [e for e in rules if not e["host"]]):
        primaries = [e for e in group if e["canary"] is None]
        if not primaries:
            continue
        best = _best(primaries, path)
        if best is not None:
            # the canary for the same path, if one of its endpoints is ready (else ingress-nginx skips it)
            canary = next((e for e in group if e["canary"] is not None and e["path"] == best["path"]
                           and e["pathType"] == best["pathType"] and e["backends"]), None)
            return canary if canary is not None and takes(canary["canary"], headers, cookies, roll) else best
        break  # this host's server has rules: no other host's apply
    defaults = [e for e in table if e["path"] is None and e["canary"] is None]
    return defaults[0] if defaults else None


def takes(canary: Obj, headers: Mapping[str, str], cookies: Mapping[str, str],
          roll: Callable[[int], int]) -> bool:
    """Whether the canary serves this request: header, then cookie, then weight (§3.5)."""
    name = canary.get("header")
    value = headers.get(name) if name else None
    if value is not None:
        if canary.get("headerValue"):
            if value == canary["headerValue"]:
                return True
        elif canary.get("headerPattern"):
            try:
                if re.search(canary["headerPattern"], value):
                    return True
            except re.error:
                return False
        elif value == "always":
            return True
        elif value == "never":
            return False
    cookie = cookies.get(canary["cookie"]) if canary.get("cookie") else None
    if cookie == "always":
        return True
    if cookie == "never":
        return False
    total = canary["total"] if canary["total"] > 100 else 100
    return bool(canary["weight"]) and roll(total) <= canary["weight"]
