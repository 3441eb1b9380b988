"""The three patch kinds Kubernetes takes, applied to an object (pure):

- JSON merge patch (RFC 7386, `application/merge-patch+json`);
- strategic merge patch (`application/strategic-merge-patch+json`, what kubectl apply, edit,
  set image and scale send): maps merge, lists with a merge key (containers and env by name,
  container ports by containerPort, Service ports by port, volumes by name, volumeMounts by
  mountPath, ...) merge element by element, other lists are replaced, `finalizers` merge as a
  set; the directives `$patch: replace|delete|merge`, `$retainKeys`, `$setElementOrder/F` and
  `$deleteFromPrimitiveList/F`;
- JSON patch (RFC 6902, `application/json-patch+json`): add, remove, replace, move, copy, test
  on RFC 6901 pointers.

A patch that cannot apply is a BadRequestError naming where."""

from __future__ import annotations

import copy
from typing import Any

from engine.errors import BadRequestError

# Merge keys of Kubernetes' list fields (patchMergeKey), by field name.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
              "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
              "imagePullSecrets": "name", "hostAliases": "ip", "ownerReferences": "uid",
              "conditions": "type", "resourceClaims": "name", "topologySpreadConstraints": "topologyKey"}
SET_LISTS = {"finalizers"}  # primitive lists with patchStrategy merge


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (what `kubectl patch --type merge` sends)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":  # a container's ports by containerPort, a Service's by port
        dicts = [i for i in items if isinstance(i, dict)]
        return "containerPort" if any("containerPort" in i for i in dicts) else "port"
    return MERGE_KEYS.get(field)


def strategic_merge(original: Any, patch: Any, path: str = "") -> Any:
    """`original` with the strategic merge `patch` applied."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    if retain is not None:
        if not isinstance(retain, list):
            raise BadRequestError(f"{path or '.'}: $retainKeys must be a list")
        result = {k: v for k, v in result.items() if k in retain}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        here = f"{path}.{key}" if path else key
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value if isinstance(value, list) else []
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            gone = value if isinstance(value, list) else []
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in gone]
        elif key.startswith("$"):
            raise BadRequestError(f"{here}: unknown patch directive {key!r}")
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value, here)
        else:
            result[key] = strategic_merge(result.get(key), value, here)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _ordered(field, result[field], order)
    return result


def _merge_list(field: str, original: Any, patch: list[Any], path: str) -> list[Any]:
    current = original if isinstance(original, list) else []
    if field in SET_LISTS:
        return current + [v for v in patch if v not in current]
    key = _merge_key(field, current + patch)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy(patch)  # no merge key: the patch's list replaces the object's
    if any(i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy({k: v for k, v in i.items() if k != "$patch"}) for i in patch
                if i.get("$patch") != "replace"]
    out = [copy.deepcopy(i) for i in current]
    for item in patch:
        if key not in item:
            raise BadRequestError(f"{path}: an element has no merge key {key!r}")
        at = next((n for n, old in enumerate(out)
                   if isinstance(old, dict) and old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                out.pop(at)
        elif at is None:
            out.append(strategic_merge({}, item, f"{path}[{key}={item[key]}]"))
        else:
            out[at] = strategic_merge(out[at], item, f"{path}[{key}={item[key]}]")
    return out


def _ordered(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    """`items` in the order `$setElementOrder` gives (by merge key), the rest after."""
    key = _merge_key(field, items)
    rank = {}
    for n, entry in enumerate(order):
        mark = entry.get(key) if key and isinstance(entry, dict) else entry
        rank.setdefault(repr(mark), n)

    def place(item: Any) -> int:
        mark = item.get(key) if key and isinstance(item, dict) else item
        return rank.get(repr(mark), len(order))
    return sorted(items, key=place)


# -- JSON patch (RFC 6902) ------------------------------------------------------------------------

def _pointer(text: Any, where: str) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise BadRequestError(f"{where}: a JSON pointer starts with '/', got {text!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]] if text else []


def _index(parent: list[Any], token: str, where: str, *, end_ok: bool) -> int:
    if token == "-" and end_ok:
        return len(parent)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise BadRequestError(f"{where}: {token!r} is not an index")
    n = int(token)
    if n > len(parent) or (n == len(parent) and not end_ok):
        raise BadRequestError(f"{where}: index {n} is out of range")
    return n


def _parent(doc: Any, parts: list[str], where: str) -> Any:
    node = doc
    for token in parts[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, where, end_ok=False)]
        else:
            raise BadRequestError(f"{where}: the path does not exist")
    return node


def _get(doc: Any, parts: list[str], where: str) -> Any:
    if not parts:
        return doc
    parent, last = _parent(doc, parts, where), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, where, end_ok=False)]
    raise BadRequestError(f"{where}: the path does not exist")


def _remove(doc: Any, parts: list[str], where: str) -> Any:
    parent, last = _parent(doc, parts, where), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, where, end_ok=False))
    raise BadRequestError(f"{where}: the path does not exist")


def _add(doc: Any, parts: list[str], value: Any, where: str, *, replace: bool = False) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts, where), parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise BadRequestError(f"{where}: the path does not exist")
        parent[last] = value
    elif isinstance(parent, list):
        n = _index(parent, last, where, end_ok=not replace)
        if replace:
            parent[n] = value
        else:
            parent.insert(n, value)
    else:
        raise BadRequestError(f"{where}: the path does not exist")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """`doc` with the RFC 6902 operations applied in order (all or nothing)."""
    if not isinstance(ops, list):
        raise BadRequestError("a JSON patch is a list of operations")
    out = copy.deepcopy(doc)
    for n, op in enumerate(ops):
        where = f"patch[{n}]"
        if not isinstance(op, dict) or op.get("op") not in ("add", "remove", "replace", "move", "copy",
                                                             "test"):
            raise BadRequestError(f"{where}.op: must be add, remove, replace, move, copy or test")
        path = _pointer(op.get("path"), f"{where}.path")
        kind = op["op"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise BadRequestError(f"{where}.value: required for {kind}")
        if kind == "add":
            out = _add(out, path, copy.deepcopy(op["value"]), where)
        elif kind == "remove":
            if not path:
                raise BadRequestError(f"{where}.path: cannot remove the whole object")
            _remove(out, path, where)
        elif kind == "replace":
            out = _add(out, path, copy.deepcopy(op["value"]), where, replace=True)
        elif kind == "test":
            if _get(out, path, where) != op["value"]:
                raise BadRequestError(f"{where}: test failed: {op.get('path')} is not the given value")
        else:
            source = _pointer(op.get("from"), f"{where}.from")
            value = copy.deepcopy(_get(out, source, where))
            if kind == "move":
                if path[:len(source)] == source and len(path) > len(source):
                    raise BadRequestError(f"{where}: cannot move a value into itself")
                _remove(out, source, where)
            out = _add(out, path, value, where)
    return out
