"""Kubernetes label selectors and field selectors: parsing, matching and printing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.errors import BadRequestError

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?"
_KEY_RE = re.compile(rf"(?:{_PREFIX}/)?{_NAME}")
_VALUE_RE = re.compile(rf"(?:{_NAME})?")
_EXISTS_RE = re.compile(r"\s*(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)\s*")
_SET_RE = re.compile(r"\s*(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*")
_EQ_RE = re.compile(r"\s*(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)\s*")
_FIELD_RE = re.compile(r"\s*(?P<path>[A-Za-z0-9_.-]+)\s*(?P<op>==|=|!=)(?P<value>.*)")


class Operator(StrEnum):
    """The operators of a label requirement, spelled as in `matchExpressions`."""

    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True)
class Requirement:
    """One clause of a selector: a key, an operator and (for some operators) values."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case Operator.EQUALS | Operator.IN:
                return present and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return not present or value not in self.values
            case Operator.EXISTS:
                return present
            case Operator.DOES_NOT_EXIST:
                return not present
        return False

    def __str__(self) -> str:
        match self.operator:
            case Operator.EQUALS:
                return f"{self.key}={self.values[0]}"
            case Operator.NOT_EQUALS:
                return f"{self.key}!={self.values[0]}"
            case Operator.IN:
                return f"{self.key} in ({','.join(self.values)})"
            case Operator.NOT_IN:
                return f"{self.key} notin ({','.join(self.values)})"
            case Operator.EXISTS:
                return self.key
        return f"!{self.key}"


@dataclass(frozen=True)
class Selector:
    """A conjunction of requirements; empty matches everything, `nothing` matches no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: dict[str, str] | None) -> bool:
        if self.nothing:
            return False
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)

    def empty(self) -> bool:
        """True when the selector matches every object."""
        return not self.requirements and not self.nothing

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def parse_selector(text: str) -> Selector:
    """Parse the string syntax: `a=b,c!=d,e in (x,y),f notin (z),g,!h` (also `==`)."""
    if not text.strip():
        return Selector()
    return Selector(tuple(_parse_requirement(part, text) for part in _split_top_level(text)))


def selector_from_labels(labels: dict[str, str]) -> Selector:
    """An equality selector from a plain map, as a Service's `spec.selector` is written."""
    return Selector(tuple(_requirement(k, Operator.EQUALS, [v]) for k, v in sorted(labels.items())))


def selector_from_label_selector(obj: dict[str, Any] | None) -> Selector:
    """A selector from `{matchLabels, matchExpressions}`; None (no selector) matches nothing."""
    if obj is None:
        return Selector(nothing=True)
    requirements = list(selector_from_labels(obj.get("matchLabels") or {}).requirements)
    for i, expr in enumerate(obj.get("matchExpressions") or []):
        requirements.append(_expression(expr, f"matchExpressions[{i}]"))
    return Selector(tuple(requirements))


def _expression(expr: dict[str, Any], where: str) -> Requirement:
    names = {"In": Operator.IN, "NotIn": Operator.NOT_IN,
             "Exists": Operator.EXISTS, "DoesNotExist": Operator.DOES_NOT_EXIST}
    op = names.get(str(expr.get("operator")))
    if op is None:
        raise BadRequestError(
            f"{where}.operator: unsupported value {expr.get('operator')!r}: "
            "expected one of In, NotIn, Exists, DoesNotExist")
    values = [str(v) for v in expr.get("values") or []]
    if op in (Operator.IN, Operator.NOT_IN) and not values:
        raise BadRequestError(f"{where}.values: must be non-empty for operator {op.value}")
    if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        raise BadRequestError(f"{where}.values: must be empty for operator {op.value}")
    return _requirement(str(expr.get("key", "")), op, values, where=where)


def _requirement(key: str, op: Operator, values: list[str], *, where: str = "") -> Requirement:
    label = where or key
    if not _KEY_RE.fullmatch(key):
        raise BadRequestError(f"invalid label selector key {key!r} in {label!r}: "
                              "expected a qualified name like 'app' or 'example.com/app'")
    for v in values:
        if not _VALUE_RE.fullmatch(v):
            raise BadRequestError(f"invalid label value {v!r} in {label!r}: expected at most "
                                  "63 letters, digits, '-', '_' or '.', starting and ending "
                                  "with a letter or digit")
    if op in (Operator.IN, Operator.NOT_IN):
        values = sorted(set(values))
    return Requirement(key, op, tuple(values))


def _split_top_level(text: str) -> list[str]:
    """Split at commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _parse_requirement(part: str, text: str) -> Requirement:
    if m := _SET_RE.fullmatch(part):
        values = [v.strip() for v in m["values"].split(",")]
        if values == [""]:
            raise BadRequestError(f"invalid label selector {text!r}: {part.strip()!r} "
                                  f"needs at least one value for '{m['op']}'")
        op = Operator.IN if m["op"] == "in" else Operator.NOT_IN
        return _requirement(m["key"], op, values, where=part.strip())
    if m := _EQ_RE.fullmatch(part):
        op = Operator.NOT_EQUALS if m["op"] == "!=" else Operator.EQUALS
        return _requirement(m["key"], op, [m["value"]], where=part.strip())
    if m := _EXISTS_RE.fullmatch(part):
        op = Operator.DOES_NOT_EXIST if m["neg"] else Operator.EXISTS
        return _requirement(m["key"], op, [], where=part.strip())
    raise BadRequestError(f"invalid label selector {text!r}: "
                          f"unable to parse requirement {part.strip()!r}")


@dataclass(frozen=True)
class FieldRequirement:
    """`path=value` or `path!=value` over a dotted JSON path; a missing field reads as ''."""

    path: str
    value: str
    negated: bool = False

    def matches(self, obj: dict[str, Any]) -> bool:
        return (field_value(obj, self.path) == self.value) != self.negated

    def __str__(self) -> str:
        value = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.path}{'!=' if self.negated else '='}{value}"


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of field requirements; empty matches everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: dict[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse `metadata.name=x,spec.nodeName!=,status.phase==Running` (`\\,` escapes a comma)."""
    if not text.strip():
        return FieldSelector()
    return FieldSelector(tuple(_parse_field(part, text) for part in _split_escaped(text)))


def _parse_field(part: str, text: str) -> FieldRequirement:
    m = _FIELD_RE.fullmatch(part)
    if not m or not all(m["path"].split(".")):
        raise BadRequestError(f"invalid field selector {text!r}: unable to parse requirement "
                              f"{part.strip()!r}: expected 'path=value' or 'path!=value'")
    value = re.sub(r"\\(.)", r"\1", m["value"].strip())
    return FieldRequirement(m["path"], value, negated=m["op"] == "!=")


def _split_escaped(text: str) -> list[str]:
    """Split at commas not escaped with a backslash, keeping the escapes for the value parser."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def field_value(obj: dict[str, Any], path: str) -> str:
    """The value at a dotted path as a field selector compares it (missing -> '')."""
    node: Any = obj
    for step in path.split("."):
        if not isinstance(node, dict) or step not in node:
            return ""
        node = node[step]
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)
