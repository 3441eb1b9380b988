"""Reading manifests for `-f`: multi-document YAML or JSON from a file, a directory or stdin.
A text is first read as a stream of events (no recursion, nothing built), which refuses what
no manifest needs and a hostile one uses: nesting past MAX_DEPTH, aliases that expand past
MAX_NODES values (a "billion laughs"), and a key given twice in one mapping (named with its
path, as `kubectl --validate=strict` does, instead of the last one silently winning)."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import yaml

from engine.errors import BadRequestError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_DEPTH = 100  # as for a request body: deeper than any real manifest
MAX_NODES = 1_000_000  # values in a document once its aliases are expanded
_MERGE = "<<"


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that keeps timestamps as strings, as Kubernetes' YAML-to-JSON step does."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Frame:
    """A mapping or sequence being read: where it is, what it holds so far."""

    __slots__ = ("anchor", "index", "is_map", "key", "keys", "path", "size")

    def __init__(self, is_map: bool, path: str, anchor: str | None) -> None:
        self.is_map, self.path, self.anchor = is_map, path, anchor
        self.size = 1  # values in it once aliases are expanded, itself included
        self.index = 0  # a sequence's next index
        self.keys: dict[str, int] = {}  # a mapping's keys -> the line each was first given on
        self.key: str | None = None  # the key whose value comes next; None: a key comes next

    def child(self, key: str | None = None) -> str:
        """The path of the next value (or of `key` in a mapping)."""
        if not self.is_map:
            return f"{self.path}[{self.index}]"
        name = key if key is not None else self.key
        return f"{self.path}.{name}" if self.path else str(name)

    def took(self, size: int) -> None:
        """A value of `size` values went in."""
        self.size += size
        if self.is_map:
            self.key = None
        else:
            self.index += 1


def _screen(text: str, *, source: str) -> None:
    """Refuse, with a BadRequestError naming the document and line, a text nested too deep,
    with aliases that expand too far, or with a key given twice in one mapping."""
    frames: list[_Frame] = []
    anchors: dict[str, int] = {}
    expanded = document = 0

    def fail(event: Any, problem: str) -> None:
        line = event.start_mark.line + 1
        raise BadRequestError(f"{source}: document {document}, line {line}: {problem}")

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.DocumentStartEvent):
            document += 1
            anchors, expanded = {}, 0
            continue
        if not isinstance(event, yaml.NodeEvent | yaml.CollectionEndEvent):
            continue
        parent = frames[-1] if frames else None
        if isinstance(event, yaml.CollectionEndEvent):
            frame = frames.pop()
            if frame.anchor:
                anchors[frame.anchor] = frame.size
            if frames:
                frames[-1].took(frame.size)
            continue
        size = anchors.get(event.anchor, 1) if isinstance(event, yaml.AliasEvent) else 1
        expanded += size
        if expanded > MAX_NODES:
            fail(event, f"its aliases expand to more than {MAX_NODES:,} values; write them out")
        if parent is not None and parent.is_map and parent.key is None:  # this node is a key
            if not isinstance(event, yaml.ScalarEvent):
                fail(event, f"{parent.path or 'the document'}: a key must be a plain value")
            key = str(event.value)
            if key != _MERGE and key in parent.keys:
                fail(event, f'{parent.child(key)}: duplicate field "{key}" (first given on line '
                            f"{parent.keys[key]})")
            parent.keys[key] = event.start_mark.line + 1
            parent.key = key
            parent.size += 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(frames) >= MAX_DEPTH:
                fail(event, f"it nests deeper than {MAX_DEPTH} levels")
            path = parent.child() if parent is not None else ""
            frames.append(_Frame(isinstance(event, yaml.MappingStartEvent), path, event.anchor))
        else:  # a scalar or an alias as a value
            if isinstance(event, yaml.ScalarEvent) and event.anchor:
                anchors[event.anchor] = 1
            if parent is not None:
                parent.took(size)


def load_documents(text: str, *, source: str) -> list[dict[str, Any]]:
    """The objects in a YAML/JSON text: empty documents skipped, `kind: List` expanded."""
    try:
        _screen(text, source=source)
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
