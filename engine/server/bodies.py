"""Request bodies as input: at most 3 MiB (Kubernetes' limit per object), valid UTF-8 JSON, an
object at the top, nested at most MAX_DEPTH deep, no key twice in one object (refused with its
path, as Kubernetes' strict field validation does, instead of the last one silently winning).
Parsed in a worker thread, so a large or hostile body never holds the event loop; every refusal
is a TugError with a Status."""

from __future__ import annotations

import json
import math
from typing import Any

from engine.api import protobuf
from engine.errors import BadRequestError

MAX_BODY_BYTES = 3 * 1024 * 1024
# Deeper than any real manifest (a CronJob's container env is about 15 levels), far below
# where Python's parser and validation would recurse out.
MAX_DEPTH = 100


def depth_over(value: Any, limit: int) -> bool:
    """Whether `value` nests lists and objects more than `limit` deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class _Repeated(dict[str, Any]):
    """An object whose text named `key` more than once."""

    key: str


def repeated_key(value: Any) -> tuple[str, str] | None:
    """(path, key) of the first key given twice in one object parsed by `parse_body`, such as
    ("spec.containers[0].name", "name"), or None."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _Repeated):
            return (f"{path}.{item.key}" if path else item.key), item.key
        if isinstance(item, dict):
            stack.extend((child, f"{path}.{key}" if path else str(key)) for key, child in
                         reversed(item.items()) if isinstance(child, dict | list))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in
                         reversed(list(enumerate(item))) if isinstance(child, dict | list))
    return None


def _not_json(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large for a float")
    return value


def parse_body(raw: bytes, *, allow_list: bool = False, content_type: str = "") -> Any:
    """The JSON object in `raw` (or, with `allow_list`, an array: a JSON patch; or, by its
    `content_type`, the object a Kubernetes protobuf body holds), or a BadRequestError saying
    why not."""
    if content_type == protobuf.CONTENT_TYPE:
        decoded = protobuf.decode(raw)
        if depth_over(decoded, MAX_DEPTH):  # raw JSON inside (RawExtension) is held to the same limit
            raise BadRequestError(f"the request body nests deeper than {MAX_DEPTH} levels")
        return decoded
    repeated = False

    def to_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        repeated, seen, marked = True, set(), _Repeated(pairs)
        marked.key = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        return marked

    try:
        body = json.loads(raw, object_pairs_hook=to_object, parse_constant=_not_json,
                          parse_float=_finite)
    except RecursionError:
        raise BadRequestError(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) and not (allow_list and isinstance(body, list)):
        raise BadRequestError("the request body must be a JSON object" + (" or array" if allow_list else ""))
    if depth_over(body, MAX_DEPTH):
        raise BadRequestError(f"the request body nests deeper than {MAX_DEPTH} levels")
    if repeated and (found := repeated_key(body)) is not None:
        raise BadRequestError(f'the request body is not valid: {found[0]}: duplicate field "{found[1]}"')
    return body
