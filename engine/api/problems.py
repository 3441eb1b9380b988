"""Field paths, pydantic errors as plain one-line problems, and not-implemented warnings."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from engine.api.base import is_unimplemented
from engine.api.names import show

_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

NOT_IMPLEMENTED_SUFFIX = "not implemented by tugboat yet; accepted and ignored"


def format_path(
    loc: tuple[str | int, ...] | list[str | int], *, model: type[BaseModel] | None = None
) -> str:
    """`("spec", "containers", 0, "resources", "limits", "nvidia.com/gpu")` ->
    `spec.containers[0].resources.limits[nvidia.com/gpu]`: fields after dots, list indexes and
    map keys in brackets. Without the model, a key is told from a field by its spelling."""
    out = ""
    current: Any = model
    for part in loc:
        tp = _unwrap(current) if current is not None else None
        origin = typing.get_origin(tp)
        if isinstance(part, int):
            out += f"[{part}]"
            current = typing.get_args(tp)[-1] if origin is list else None
        elif origin is dict:
            out += f"[{part}]"
            current = typing.get_args(tp)[-1]
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            out += f".{part}" if out else part
            field = _field(tp, part)
            current = field.annotation if field is not None else None
        elif _SIMPLE_KEY.fullmatch(part) and tp in (None, Any):
            out += f".{part}" if out else part
            current = None
        else:
            out += f"[{part}]"
            current = None
    return out


def _field(model: type[BaseModel], alias: str) -> FieldInfo | None:
    return next((f for n, f in model.model_fields.items() if (f.alias or n) == alias), None)


def join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


# -- pydantic errors -----------------------------------------------------------------------------
_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "string_type": "expected a string",
    "bool_type": "expected a boolean (true or false)",
    "bool_parsing": "expected a boolean (true or false)",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dataclass_type": "expected a mapping",
    "none_required": "expected null",
    "string_too_short": "must not be empty",
    "too_short": "has too few items",
    "too_long": "has too many items",
}


def describe_error(error: ErrorDetails, *, model: type[BaseModel] | None = None) -> str:
    """One line for one pydantic error: `PATH: what was expected, got WHAT`."""
    loc = tuple(error["loc"])
    path = format_path(loc, model=model) or "(document)"
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = show(error.get("input"))
    if kind == "missing":
        return f"{path}: required"
    if kind == "extra_forbidden":
        hint = _suggest(model, loc)
        return f"{path}: unknown field" + (f' (did you mean "{hint}"?)' if hint else "")
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        supported = ", ".join(f'"{value}"' for value in allowed)
        return f"{path}: Unsupported value {got}: supported values {supported}"
    if kind in ("value_error", "assertion_error"):
        return f"{path}: {ctx.get('error', 'invalid value')}, got {got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        word = {
            "greater_than_equal": "greater than or equal to",
            "greater_than": "greater than",
            "less_than_equal": "less than or equal to",
            "less_than": "less than",
        }[kind]
        limit = next(iter(ctx.values()), "")
        return f"{path}: must be {word} {limit}, got {got}"
    return f"{path}: {_EXPECTED.get(kind, 'invalid value')}, got {got}"


def _suggest(model: type[BaseModel] | None, loc: tuple[str | int, ...]) -> str | None:
    """The closest known field name where an unknown one was given, if one is close."""
    owner = _model_at(model, loc[:-1]) if model is not None else None
    if owner is None or not isinstance(loc[-1], str):
        return None
    names = [field.alias or name for name, field in owner.model_fields.items()]
    lowered = {n.lower(): n for n in names}
    if loc[-1].lower() in lowered:
        return lowered[loc[-1].lower()]
    close = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.75)
    return close[0] if close else None


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = _field(current, str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


# -- not-implemented warnings -------------------------------------------------------------------
def unimplemented_warnings(model: BaseModel, path: str = "") -> list[str]:
    """A warning for every set field tugboat accepts but does not act on, with its full path."""
    warnings: list[str] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        here = join(path, field.alias or name)
        marker = is_unimplemented(field.metadata)
        if marker is not None:
            if value in marker.quiet or value == [] or value == {}:
                continue
            warnings.append(f"{here}: {NOT_IMPLEMENTED_SUFFIX}")
            continue
        warnings.extend(_walk(value, here))
    return warnings


def _walk(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        return unimplemented_warnings(value, path)
    out: list[str] = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_walk(item, f"{path}[{i}]"))
    elif isinstance(value, dict):
        for key, item in value.items():
            out.extend(_walk(item, f"{path}[{key}]"))
    return out
