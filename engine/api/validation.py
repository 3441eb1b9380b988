"""Turning a user document into a validated, defaulted JSON object: the one way into the API."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.api.checks_kinds import check_object
from engine.api.defaults import apply_defaults
from engine.api.names import show
from engine.api.problems import describe_error, unimplemented_warnings
from engine.api.registry import (
    RESOURCES,
    ResourceInfo,
    by_kind,
    deprecated_api_warning,
)
from engine.api.status import KEPT_ON_CREATE, check_status
from engine.errors import MAX_CAUSES, InvalidError, NotFoundError

# Up to this many type errors, each is described (with what was given); past it only the first
# MAX_CAUSES are, and the rules do not run: the answer could not show more.
_DESCRIBE_ALL = 1000
_PATH_RE = re.compile(r"^([^:]*): ")


@dataclass(frozen=True)
class Validated:
    """A document that passed validation: the defaulted object, its warnings, its resource type."""

    obj: dict[str, Any]
    warnings: list[str]
    resource: ResourceInfo


def validate_object(doc: dict[str, Any], *, default_namespace: str | None = None) -> Validated:
    """Validate and default one document; raise InvalidError listing every problem found."""
    if not isinstance(doc, dict):
        raise InvalidError(
            "document is invalid: 1 problem(s)",
            details=[f"(document): expected a mapping, got {show(doc)}"],
        )
    doc = copy.deepcopy(doc)
    info = _resource_of(doc)
    warnings: list[str] = []
    api_version = doc["apiVersion"]
    deprecation = deprecated_api_warning(api_version, info.kind)
    if deprecation:
        warnings.append(deprecation)
    if api_version == "autoscaling/v1":
        _convert_hpa_v1(doc)
    doc["apiVersion"] = info.api_version
    meta = doc.get("metadata")
    if isinstance(meta, dict):
        if not info.namespaced:
            meta.pop("namespace", None)  # the server clears it for cluster-scoped kinds
        elif default_namespace and not meta.get("namespace"):
            meta["namespace"] = default_namespace

    type_problems: list[str] = []
    model: BaseModel | None = None
    try:
        model = info.model.model_validate(doc, by_alias=True, by_name=False)
    except ValidationError as exc:
        total = exc.error_count()
        if total <= _DESCRIBE_ALL:
            type_problems = [describe_error(e, model=info.model) for e in exc.errors()]
        else:  # the answer lists MAX_CAUSES of them: describe those, count the rest
            errors = exc.errors(include_url=False, include_context=False, include_input=False)[:MAX_CAUSES]
            type_problems = [describe_error({**e, "input": _at(doc, e["loc"])}, model=info.model)
                             for e in errors]
            raise InvalidError(f"{_identity(doc)} is invalid: {total} problem(s)",
                               details=type_problems, more=total - len(errors)) from None
    if model is not None:
        obj = model.model_dump(mode="json", by_alias=True, exclude_none=True)
        warnings += unimplemented_warnings(model)
    else:
        obj = doc  # best effort: rules still run, so one pass reports every problem
    status_problems = _status_problems(obj, info)
    apply_defaults(obj)
    rule_problems = check_object(obj, info) + status_problems
    if type_problems:
        covered = {_path_of(p) for p in type_problems}
        rule_problems = [p for p in rule_problems if not _is_covered(_path_of(p), covered)]
    problems = type_problems + rule_problems
    if problems:
        raise InvalidError(
            f"{_identity(doc)} is invalid: {len(problems)} problem(s)", details=problems
        )
    return Validated(obj=obj, warnings=warnings, resource=info)


def validate_documents(
    docs: list[dict[str, Any]], *, default_namespace: str | None = None
) -> list[Validated]:
    """Validate every document; if any fails, raise one InvalidError naming each problem of each,
    prefixed with the document's position (from 1) and identity."""
    results: list[Validated] = []
    problems: list[str] = []
    failed = more = 0
    for position, doc in enumerate(docs, start=1):
        try:
            results.append(validate_object(doc, default_namespace=default_namespace))
        except InvalidError as exc:
            failed += 1
            more += exc.more
            prefix = f"document {position} ({_identity(doc)})"
            problems += [f"{prefix}: {detail}" for detail in exc.details or [exc.message]]
    if problems:
        raise InvalidError(
            f"{failed} of {len(docs)} document(s) invalid: {len(problems) + more} problem(s)",
            details=problems, more=more,
        )
    return results


def _status_problems(obj: dict[str, Any], info: ResourceInfo) -> list[str]:
    """A document's status is the controller's to write: dropped, as a Kubernetes create drops
    it, except where the kind registers with one (a Node), which must then have its shape."""
    if info.plural not in KEPT_ON_CREATE:
        obj.pop("status", None)
        return []
    try:
        check_status(info.plural, info.kind, "", obj.get("status"))
    except InvalidError as exc:
        return list(exc.details or [exc.message])
    return []


def _resource_of(doc: dict[str, Any]) -> ResourceInfo:
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    problems: list[str] = []
    if not isinstance(api_version, str) or not api_version:
        problems.append(
            'apiVersion: required (e.g. "v1" or "apps/v1")'
            if api_version in (None, "")
            else f"apiVersion: expected a string, got {show(api_version)}"
        )
    if not isinstance(kind, str) or not kind:
        problems.append(
            'kind: required (e.g. "Pod" or "Deployment")'
            if kind in (None, "")
            else f"kind: expected a string, got {show(kind)}"
        )
    if isinstance(kind, str) and kind and kind not in {info.kind for info in RESOURCES}:
        problems.append(_unknown_kind(kind))
    if problems:
        raise InvalidError(
            f"{_identity(doc)} is invalid: {len(problems)} problem(s)", details=problems
        )
    assert isinstance(api_version, str) and isinstance(kind, str)
    try:
        return by_kind(api_version, kind)
    except NotFoundError:
        known = {info.kind: info for info in RESOURCES}
        if kind not in known:
            detail = _unknown_kind(kind)
        else:
            detail = (
                f"apiVersion: {kind} is served as {show(known[kind].api_version)}, "
                f"got {show(api_version)}"
            )
        raise InvalidError(f"{_identity(doc)} is invalid: 1 problem(s)", details=[detail]) from None


def _unknown_kind(kind: str) -> str:
    known = sorted(info.kind for info in RESOURCES)
    hint = next((f' (did you mean "{k}"?)' for k in known if k.lower() == kind.lower()), "")
    return f"kind: must be one of {', '.join(known)}, got {show(kind)}{hint}"


def _convert_hpa_v1(doc: dict[str, Any]) -> None:
    """autoscaling/v1 -> v2: targetCPUUtilizationPercentage becomes a CPU Utilization metric."""
    spec = doc.get("spec")
    if not isinstance(spec, dict) or "targetCPUUtilizationPercentage" not in spec:
        return
    target = spec.pop("targetCPUUtilizationPercentage")
    if target is not None:
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": target},
                },
            }
        ]


def _identity(doc: Any) -> str:
    """`Deployment "web"`, or as much of it as the document has."""
    if not isinstance(doc, dict):
        return "document"
    kind = doc.get("kind") if isinstance(doc.get("kind"), str) and doc.get("kind") else "object"
    meta = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name") or meta.get("generateName")
    return f'{kind} "{name}"' if isinstance(name, str) and name else str(kind)


def _path_of(problem: str) -> str:
    match = _PATH_RE.match(problem)
    return match.group(1) if match else ""


def _is_covered(path: str, covered: set[str]) -> bool:
    for prefix in covered:
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return True
    return False


def _at(doc: Any, loc: tuple[Any, ...] | list[Any]) -> Any:
    """The value at a pydantic error's `loc` in `doc`, skipping the parts that name nothing in
    it (a union's member, a validator, a missing field)."""
    value = doc
    for part in loc:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
    return value
