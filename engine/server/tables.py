"""Server-side printing, as kube-apiserver answers `Accept: application/json;as=Table;
v=v1;g=meta.k8s.io` (what `kubectl get` asks for): a meta.k8s.io/v1 Table whose columns and
cells come from the same printers as `tug get` (engine/printers/table.py), the -o wide ones at
priority 1, each row with the object's metadata (or the object, or nothing: `includeObject`)
so kubectl can add NAMESPACE and LABELS columns itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engine.api.registry import ResourceInfo
from engine.errors import BadRequestError
from engine.printers.table import table_cells

Obj = dict[str, Any]
INCLUDE = ("None", "Metadata", "Object")


def wants_table(accept: str) -> bool:
    """Whether the client takes a Table first (kubectl sends Table, then plain JSON as fallback)."""
    first = accept.split(",")[0].replace(" ", "")
    return "as=Table" in first and "g=meta.k8s.io" in first


def include(query: Any) -> str:
    """The `includeObject` parameter (Kubernetes' default: the metadata)."""
    value = query.get("includeObject") or "Metadata"
    if value not in INCLUDE:
        raise BadRequestError(f"includeObject: must be one of {', '.join(INCLUDE)}, got {value!r}")
    return str(value)


def _partial(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {}}


def columns(info: ResourceInfo, items: Sequence[Obj], now: datetime) -> tuple[list[Obj], list[list[str]]]:
    """Column definitions and the cells of each item: -o wide's columns at priority 1 where the
    wide layout extends the plain one (kubectl shows them with -o wide)."""
    plain, _ = table_cells(info.plural, items[:1], now=now, wide=False)
    wide, rows = table_cells(info.plural, items, now=now, wide=True)
    if wide[:len(plain)] != plain:  # a wide layout of its own (events): the plain one only
        wide, rows = table_cells(info.plural, items, now=now, wide=False)
    defs = [{"name": name, "type": "string", "format": "name" if i == 0 and name == "NAME" else "",
             "description": f"{info.kind} {name.lower()}", "priority": 0 if i < len(plain) else 1}
            for i, name in enumerate(wide)]
    return defs, rows


def table(info: ResourceInfo, items: Sequence[Obj], rv: str, now: datetime, include_object: str,
          meta: Obj | None = None) -> Obj:
    defs, rows = columns(info, items, now)
    out_rows = []
    for obj, cells in zip(items, rows, strict=True):
        row: Obj = {"cells": cells}
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "Metadata":
            row["object"] = _partial(obj)
        out_rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": rv, **(meta or {})},
            "columnDefinitions": defs, "rows": out_rows}
