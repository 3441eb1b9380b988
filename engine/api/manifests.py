"""Reading manifests for `-f`: multi-document YAML or JSON from a file, a directory or stdin."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import yaml

from engine.errors import BadRequestError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that keeps timestamps as strings, as Kubernetes' YAML-to-JSON step does."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text: str, *, source: str) -> list[dict[str, Any]]:
    """The objects in a YAML/JSON text: empty documents skipped, `kind: List` expanded."""
    try:
        raw = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadRequestError(f"{source}: YAML syntax error{where}: {problem}") from None
    docs: list[dict[str, Any]] = []
    for position, doc in enumerate(raw, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise BadRequestError(
                f"{source}: document {position} is not a mapping of fields (got a "
                f"{_type_name(doc)}); each document must be one object with apiVersion and kind"
            )
        if doc.get("kind") == "List" or (
            isinstance(doc.get("kind"), str) and doc["kind"].endswith("List") and "items" in doc
        ):
            items = doc.get("items") or []
            if not isinstance(items, list):
                raise BadRequestError(f"{source}: document {position}: items must be a list")
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise BadRequestError(
                        f"{source}: document {position}: items[{index}] is not "
                        f"a mapping of fields (got a {_type_name(item)})"
                    )
                docs.append(item)
            continue
        docs.append(doc)
    return docs


def read_manifests(path: str, *, stdin: IO[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(source, document) pairs for `-f PATH`: a file, every *.yaml/*.yml/*.json of a directory
    (sorted, not recursive), or "-" for stdin."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin
        return [("<stdin>", doc) for doc in load_documents(stream.read(), source="<stdin>")]
    if os.path.isdir(path):
        files = sorted(
            os.path.join(path, name)
            for name in os.listdir(path)
            if name.endswith(MANIFEST_SUFFIXES) and os.path.isfile(os.path.join(path, name))
        )
        if not files:
            raise BadRequestError(f"{path}: no manifests found (looked for *.yaml, *.yml, *.json)")
    elif os.path.exists(path):
        files = [path]
    else:
        raise BadRequestError(f'the path "{path}" does not exist')
    out: list[tuple[str, dict[str, Any]]] = []
    for file in files:
        try:
            with open(file, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadRequestError(f"{file}: cannot read: {exc}") from None
        out += [(file, doc) for doc in load_documents(text, source=file)]
    return out


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__
