"""Request bodies as input: at most 3 MiB (Kubernetes' limit per object), valid UTF-8 JSON, an
object at the top, nested at most MAX_DEPTH deep. Parsed in a worker thread, so a large or
hostile body never holds the event loop; every refusal is a TugError with a Status."""

from __future__ import annotations

import json
from typing import Any

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


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in `raw`, or a BadRequestError saying why not."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadRequestError(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequestError("the request body must be a JSON object")
    if depth_over(body, MAX_DEPTH):
        raise BadRequestError(f"the request body nests deeper than {MAX_DEPTH} levels")
    return body
