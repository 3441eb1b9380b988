"""OpenAPI v3 as kube-apiserver serves it, generated from the same pydantic models that
validate input: `/openapi/v3` lists a document per group version, and each document has the
kinds' schemas (marked with `x-kubernetes-group-version-kind`, so `kubectl explain` finds
them) and their paths (each verb marked with the kind and its action; PATCH takes
`fieldValidation`, so kubectl leaves validation to the server, which is always strict). Made
once per group version, on first use, off the event loop."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from engine.api.patches import MERGE_KEYS, SET_LISTS
from engine.api.registry import RESOURCES, ResourceInfo, older_versions

Obj = dict[str, Any]
REF = "#/components/schemas/{model}"
_QUERY = [("fieldValidation", "Strict, Warn or Ignore: tugboat always validates strictly"),
          ("fieldManager", "the name of the writer")]


def _by_group_version() -> dict[str, list[ResourceInfo]]:
    out: dict[str, list[ResourceInfo]] = {}
    for info in RESOURCES:
        out.setdefault(info.api_version, []).append(info)
    return {**out, **older_versions()}  # an older version: the current schema, under its name


def root_path(group_version: str) -> str:
    """The document's key under /openapi/v3: `api/v1`, `apis/apps/v1`."""
    return f"apis/{group_version}" if "/" in group_version else f"api/{group_version}"


def _simplify(node: Any) -> Any:
    """pydantic's JSON Schema as OpenAPI 3.0 reads it: an optional field (anyOf X or null) is X
    (a $ref under allOf, as Kubernetes writes one with siblings), and titles go."""
    if isinstance(node, list):
        return [_simplify(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _simplify(v) for k, v in node.items() if k != "title"}
    choices = out.get("anyOf")
    if isinstance(choices, list):
        kept = [c for c in choices if c != {"type": "null"}]
        if len(kept) < len(choices):
            out.pop("anyOf")
            out["nullable"] = True
            if len(kept) == 1:
                only = kept[0]
                out.update({"allOf": [only]} if "$ref" in only else only)
            else:
                out["anyOf"] = kept
    if "const" in out:
        out["enum"] = [out.pop("const")]
    return out


def _patch_strategy(schemas: Obj) -> None:
    """Mark each list the server merges by key (engine/api/patches.py) as Kubernetes does, so
    kubectl apply computes the strategic merge patch the server applies (without the marks it
    sends whole lists, which the server would merge instead of replace)."""
    for schema in schemas.values():
        for name, prop in (schema.get("properties") or {}).items():
            if not isinstance(prop, dict) or prop.get("type") != "array":
                continue
            if name in SET_LISTS:
                prop["x-kubernetes-patch-strategy"] = "merge"
                continue
            key = MERGE_KEYS.get(name)
            if name == "ports":
                key = "containerPort" if "ContainerPort" in json.dumps(prop.get("items")) else "port"
            if key:
                prop["x-kubernetes-patch-merge-key"] = key
                prop["x-kubernetes-patch-strategy"] = "merge"


def _gvk(info: ResourceInfo, group_version: str) -> list[Obj]:
    return [{"group": info.group, "version": group_version.rpartition("/")[2], "kind": info.kind}]


def _operation(info: ResourceInfo, action: str, verb: str, body: bool, answer: str, gv: str) -> Obj:
    """One verb on a kind's path; `answer` is the kind's schema name."""
    params = [{"name": n, "in": "query", "description": d, "schema": {"type": "string", "uniqueItems": True}}
              for n, d in _QUERY] if verb in ("patch", "put", "post") else []
    op: Obj = {"operationId": f"{action}{info.kind}", "tags": [gv], "parameters": params,
               "responses": {"200": {"description": "OK", "content": {"application/json": {
                   "schema": {"$ref": REF.format(model=answer)}}}}},
               "x-kubernetes-action": action, "x-kubernetes-group-version-kind": _gvk(info, gv)[0]}
    if body:
        types = (["application/json-patch+json", "application/merge-patch+json",
                  "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
                 if verb == "patch" else ["application/json"])
        op["requestBody"] = {"required": True, "content": {
            t: {"schema": {"$ref": REF.format(model=answer)} if verb != "patch" else {"type": "object"}}
            for t in types}}
    return op


def _paths(info: ResourceInfo, name: str, gv: str) -> Obj:
    base = f"/{root_path(gv)}"
    scope = f"{base}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{base}/{info.plural}"
    item: Obj = {
        "get": _operation(info, "get", "get", False, name, gv),
        "put": _operation(info, "put", "put", True, name, gv),
        "patch": _operation(info, "patch", "patch", True, name, gv),
        "delete": _operation(info, "delete", "delete", False, name, gv),
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]}
    collection: Obj = {"get": _operation(info, "list", "list", False, name, gv),
                       "post": _operation(info, "post", "post", True, name, gv)}
    if info.namespaced:
        ns = {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}
        item["parameters"].append(ns)
        collection["parameters"] = [ns]
    return {scope: collection, f"{scope}/{{name}}": item}


@functools.cache
def document(group_version: str) -> bytes | None:
    """The OpenAPI v3 document of one group version, as JSON (None: not served)."""
    from pydantic.json_schema import models_json_schema

    infos = _by_group_version().get(group_version)
    if infos is None:
        return None
    keyed, defs = models_json_schema([(info.model, "validation") for info in infos], by_alias=True,
                                     ref_template=REF)
    schemas = {name: _simplify(schema) for name, schema in defs.get("$defs", {}).items()}
    _patch_strategy(schemas)
    paths: Obj = {}
    for info in infos:
        name = keyed[(info.model, "validation")]["$ref"].rsplit("/", 1)[-1]
        schemas.setdefault(name, {})["x-kubernetes-group-version-kind"] = _gvk(info, group_version)
        paths.update(_paths(info, name, group_version))
    doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes (tugboat)", "version": group_version},
           "paths": paths, "components": {"schemas": schemas}}
    return json.dumps(doc).replace("#/$defs/", "#/components/schemas/").encode()


@functools.cache
def index() -> Obj:
    """GET /openapi/v3: where each group version's document is (the hash changes with it)."""
    out = {}
    for group_version in _by_group_version():
        digest = hashlib.sha256(f"{group_version}:{[i.model_path for i in RESOURCES]}".encode()).hexdigest()
        out[root_path(group_version)] = {"serverRelativeURL": f"/openapi/v3/{root_path(group_version)}"
                                                              f"?hash={digest[:32].upper()}"}
    return {"paths": out}
