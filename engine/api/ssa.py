"""Server-side apply and field ownership, pure: the fields a configuration sets (as Kubernetes
writes them in `metadata.managedFields`, FieldsV1), an applied configuration merged into the
live object (fields its manager applied before and now leaves out are removed, unless another
manager owns them), conflicts with other managers, and the ownership an ordinary update takes.

A field is a path of steps: "f:NAME" for a map key, 'k:{"name":"web"}' for an element of a
list with a merge key (engine/api/patches.py MERGE_KEYS), "." for such an element itself.
Other lists, and scalars, are leaves (owned whole)."""

from __future__ import annotations

import copy
import json
from typing import Any

from engine.api.patches import MERGE_KEYS
from engine.errors import ConflictError

Path = tuple[str, ...]
Obj = dict[str, Any]
_SKIP = {"apiVersion", "kind", "status"}  # an object's type is not owned; status is the controllers'
_SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"}


def _key_of(field: str, items: list[Any]) -> str | None:
    """The merge key of list `field` when every element carries it."""
    key = MERGE_KEYS.get(field)
    if field == "ports":
        key = "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    if key and items and all(isinstance(i, dict) and key in i for i in items):
        return key
    return None


def _step(key: str, item: Obj) -> str:
    return "k:" + json.dumps({key: item[key]}, separators=(",", ":"), sort_keys=True)


def fields(obj: Any, top: bool = True) -> set[Path]:
    """The fields `obj` sets (leaves and list elements)."""
    out: set[Path] = set()
    if not isinstance(obj, dict):
        return out
    for name, value in obj.items():
        if top and name in _SKIP:
            continue
        step = f"f:{name}"
        if top and name == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in _SKIP_META}
            if not value:
                continue
        if isinstance(value, dict) and value:
            out |= {(step, *p) for p in fields(value, False)}
        elif isinstance(value, list) and (key := _key_of(name, value)):
            for item in value:
                item_step = _step(key, item)
                out.add((step, item_step, "."))
                out |= {(step, item_step, *p) for p in fields(item, False)}
        else:
            out.add((step,))
    return out


def _keyed(step: str) -> tuple[str, Any] | None:
    """A 'k:{"name":"web"}' step's key and value; None for anything else (a stored
    managedFields entry is read, never trusted)."""
    try:
        found = json.loads(step[2:])
    except ValueError:
        return None
    return next(iter(found.items())) if isinstance(found, dict) and len(found) == 1 else None


def _child(value: Any, step: str) -> Any:
    """`value`'s part named by one step; None where it has none."""
    if step.startswith("f:") and isinstance(value, dict):
        return value.get(step[2:])
    if step.startswith("k:") and isinstance(value, list) and (keyed := _keyed(step)):
        key, want = keyed
        return next((i for i in value if isinstance(i, dict) and i.get(key) == want), None)
    return None


def value_at(obj: Any, path: Path) -> Any:
    for step in path:
        if step == ".":
            return obj is not None
        obj = _child(obj, step)
        if obj is None:
            return None
    return obj


def remove(obj: Any, path: Path) -> None:
    """Take the field at `path` out of `obj`, in place (an element, for a path ending in ".")."""
    *parents, last = path
    if last == "." and parents:
        *parents, last = parents
    holder = obj
    for step in parents:
        holder = _child(holder, step)
        if holder is None:
            return
    if last.startswith("f:") and isinstance(holder, dict):
        holder.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(holder, list) and (keyed := _keyed(last)):
        key, want = keyed
        holder[:] = [i for i in holder if not (isinstance(i, dict) and i.get(key) == want)]


def merge(live: Any, config: Any, field: str = "") -> Any:
    """`config` laid over `live`: maps merge, keyed lists merge by key, the rest is replaced."""
    if isinstance(config, dict) and isinstance(live, dict):
        out = dict(live)
        for name, value in config.items():
            out[name] = merge(live.get(name), value, name)
        return out
    if isinstance(config, list) and isinstance(live, list) and (key := _key_of(field, config)) \
            and _key_of(field, live) == key:
        given = {json.dumps(i[key], sort_keys=True): i for i in config}
        out_list = [merge(i, given.pop(json.dumps(i[key], sort_keys=True)), "")
                    if json.dumps(i[key], sort_keys=True) in given else i for i in live]
        return out_list + [copy.deepcopy(i) for i in given.values()]
    return copy.deepcopy(config)


def to_fields_v1(paths: set[Path]) -> Obj:
    tree: Obj = {}
    for path in sorted(paths):
        node = tree
        for step in path:
            node = node.setdefault(step, {})
    return tree


def from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    if not isinstance(tree, dict) or len(prefix) > 64:  # deeper than any object the API takes
        return set()
    out: set[Path] = set()
    for step, sub in tree.items():
        path = (*prefix, str(step))
        if step == "." or not sub:
            out.add(path)
        else:
            out |= from_fields_v1(sub, path)
    return out


def show(path: Path) -> str:
    """A field as Kubernetes names it in a conflict: .spec.containers[name="web"].image"""
    out = ""
    for step in path:
        if step.startswith("f:"):
            out += "." + step[2:]
        elif step.startswith("k:") and (keyed := _keyed(step)):
            out += f"[{keyed[0]}={json.dumps(keyed[1])}]"
    return out


def _owners(live: Obj) -> list[Obj]:
    entries = (live.get("metadata") or {}).get("managedFields")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _entry(manager: str, operation: str, api_version: str, now: str, paths: set[Path]) -> Obj:
    return {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now,
            "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}


def _ledger(entries: list[Obj], manager: str, operation: str, api_version: str, now: str,
            mine: set[Path], others: dict[tuple[str, str], set[Path]]) -> list[Obj]:
    """managedFields: the others' entries (emptied ones dropped), then this manager's."""
    out = [{**e, "fieldsV1": to_fields_v1(others[(e.get("manager", ""), e.get("operation", ""))])}
           for e in entries if (e.get("manager"), e.get("operation")) != (manager, operation)
           and others.get((e.get("manager", ""), e.get("operation", "")))]
    return out + ([_entry(manager, operation, api_version, now, mine)] if mine else [])


def apply(live: Obj | None, config: Obj, *, manager: str, force: bool, now: str) -> Obj:
    """The object `config`, applied by `manager`, makes of `live` (None: it is created), with
    its managedFields. A field another manager owns and `config` sets to another value is a
    conflict (ConflictError listing them) unless `force`, which takes it over."""
    api_version = str(config.get("apiVersion") or "")
    mine = fields(config)
    if live is None:
        out = copy.deepcopy(config)
        out.setdefault("metadata", {})["managedFields"] = [_entry(manager, "Apply", api_version, now, mine)]
        return out
    entries = _owners(live)
    key = (manager, "Apply")
    before = next((from_fields_v1(e.get("fieldsV1")) for e in entries
                   if (e.get("manager"), e.get("operation")) == key), set())
    others = {(str(e.get("manager", "")), str(e.get("operation", ""))): from_fields_v1(e.get("fieldsV1"))
              for e in entries if (e.get("manager"), e.get("operation")) != key}
    versions = {(str(e.get("manager", "")), str(e.get("operation", ""))): str(e.get("apiVersion") or "")
                for e in entries}
    conflicts = [(path, who) for path in sorted(mine) for who, owned in others.items()
                 if path in owned and path[-1] != "." and value_at(live, path) != value_at(config, path)]
    if conflicts and not force:
        said = [(show(path), f'conflict with "{who[0]}" using {versions[who]}') for path, who in conflicts]
        raise ConflictError(f"Apply failed with {len(said)} conflict{'s' if len(said) > 1 else ''}: "
                            + "; ".join(f"{why}: {field}" for field, why in said),
                            details=[f"{field}: {why}" for field, why in said])
    for path, who in conflicts:
        others[who].discard(path)
    held = set().union(*others.values()) if others else set()
    out = copy.deepcopy(live)
    for path in sorted(before - mine - held, key=len, reverse=True):
        remove(out, path)
    out = merge(out, {k: v for k, v in config.items() if k != "status"})
    out.setdefault("metadata", {})["managedFields"] = _ledger(entries, manager, "Apply", api_version,
                                                               now, mine, others)
    return out


def record_update(old: Obj, new: Obj, *, manager: str, now: str) -> list[Obj] | None:
    """managedFields after an ordinary write by `manager` (None: the object tracks no owners):
    the fields it changed or added become its own, and no one else's."""
    entries = _owners(old)
    if not entries:
        return None
    before, after = fields(old), fields(new)
    changed = {p for p in after if p not in before or value_at(old, p) != value_at(new, p)}
    key = (manager, "Update")
    others = {(str(e.get("manager", "")), str(e.get("operation", ""))):
              (from_fields_v1(e.get("fieldsV1")) - changed) & after
              for e in entries if (e.get("manager"), e.get("operation")) != key}
    mine = next((from_fields_v1(e.get("fieldsV1")) for e in entries
                 if (e.get("manager"), e.get("operation")) == key), set())
    mine = (mine & after) | changed
    return _ledger(entries, manager, "Update", str(new.get("apiVersion") or ""), now, mine, others)
