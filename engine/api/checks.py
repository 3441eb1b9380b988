"""Shared validation rules over JSON-shaped objects: metadata, selectors, resource requirements.

Every check takes the field path it starts at and returns problem lines (`PATH: expected, got`).
Checks read plain dicts and tolerate wrong types, which the type validation already reports.
"""

from __future__ import annotations

import re
from typing import Any

from engine.api import names
from engine.api.names import key_path, show
from engine.api.problems import join
from engine.api.quantity import Quantity, parse_quantity

_PERCENT_RE = re.compile(r"[0-9]+%")
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


# -- typed reads ---------------------------------------------------------------------------------
def d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def lst(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# -- small rules ---------------------------------------------------------------------------------
def non_negative(path: str, value: Any) -> list[str]:
    n = integer(value)
    if n is not None and n < 0:
        return [f"{path}: must be greater than or equal to 0, got {n}"]
    return []


def in_range(path: str, value: Any, low: int, high: int) -> list[str]:
    n = integer(value)
    if n is not None and not low <= n <= high:
        return [f"{path}: must be between {low} and {high}, inclusive, got {n}"]
    return []


def unsupported(path: str, value: Any, supported: tuple[str, ...]) -> list[str]:
    if value is None or value in supported:
        return []
    allowed = ", ".join(f'"{s}"' for s in supported)
    return [f"{path}: Unsupported value {show(value)}: supported values {allowed}"]


def required(path: str, value: Any, what: str = "") -> list[str]:
    if value is None or value == "" or value == [] or value == {}:
        return [f"{path}: required" + (f" ({what})" if what else "")]
    return []


def port_number_or_name(path: str, value: Any) -> list[str]:
    if isinstance(value, str):
        if names.is_iana_svc_name(value):
            return []
        if value.isdigit():
            return in_range(path, int(value), 1, 65535)
        return [
            (
                f"{path}: must be a port number (1-65535) or an IANA service name (at most 15 "
                f"lower case letters, digits or '-', with at least one letter), got {show(value)}"
            )
        ]
    return in_range(path, value, 1, 65535)


def int_or_percent(path: str, value: Any) -> list[str]:
    """A non-negative integer or "N%" (maxSurge, maxUnavailable)."""
    if isinstance(value, str) and not _PERCENT_RE.fullmatch(value):
        return [
            (
                f'{path}: must be a non-negative integer or a percentage such as "25%", '
                f"got {show(value)}"
            )
        ]
    return non_negative(path, value)


def is_zero_int_or_percent(value: Any) -> bool:
    return value in (0, "0%")


def percent_over_100(value: Any) -> bool:
    return isinstance(value, str) and bool(_PERCENT_RE.fullmatch(value)) and int(value[:-1]) > 100


# -- metadata ------------------------------------------------------------------------------------
def check_metadata(
    meta: Any, *, name_rule: str = "subdomain", namespaced: bool = True, max_name: int | None = None
) -> list[str]:
    meta = d(meta)
    problems: list[str] = []
    name, generate = meta.get("name"), meta.get("generateName")
    if not name and not generate:
        problems.append("metadata.name: required (or metadata.generateName)")
    if isinstance(name, str) and name:
        problems += names.check_name("metadata.name", name, rule=name_rule)
        if max_name is not None and len(name) > max_name:
            problems.append(
                f"metadata.name: must be no more than {max_name} characters, "
                f"got {show(name)} ({len(name)} characters)"
            )
    if isinstance(generate, str) and generate:
        # A generated name appends random characters, so a trailing '-' is fine here.
        masked = generate[:-1] + "a" if generate.endswith("-") else generate
        if names.check_name("metadata.generateName", masked, rule=name_rule):
            problems += names.check_name("metadata.generateName", generate, rule=name_rule)
    namespace = meta.get("namespace")
    if namespaced and isinstance(namespace, str) and namespace:
        problems += names.check_name("metadata.namespace", namespace, rule="label")
    problems += names.check_labels("metadata.labels", meta.get("labels"))
    problems += names.check_annotations("metadata.annotations", meta.get("annotations"))
    problems += non_negative(
        "metadata.deletionGracePeriodSeconds", meta.get("deletionGracePeriodSeconds")
    )
    controllers = [r for r in lst(meta.get("ownerReferences")) if d(r).get("controller") is True]
    if len(controllers) > 1:
        problems.append(
            "metadata.ownerReferences: only one reference can have controller set to "
            f"true, got {len(controllers)}"
        )
    for i, finalizer in enumerate(lst(meta.get("finalizers"))):
        if isinstance(finalizer, str) and not names.is_qualified_name(finalizer):
            problems.append(
                f"metadata.finalizers[{i}]: must be {names.QUALIFIED_NAME_RULE}, "
                f"got {show(finalizer)}"
            )
    return problems


def check_template_labels(path: str, template: Any) -> list[str]:
    return names.check_labels(
        join(path, "metadata.labels"), d(d(template).get("metadata")).get("labels")
    )


# -- label selectors -----------------------------------------------------------------------------
def check_selector(path: str, selector: Any) -> list[str]:
    selector = d(selector)
    problems = names.check_labels(join(path, "matchLabels"), selector.get("matchLabels"))
    for i, expr in enumerate(lst(selector.get("matchExpressions"))):
        here = f"{path}.matchExpressions[{i}]"
        problems += _requirement(
            here, d(expr), set_ops=("In", "NotIn"), no_value_ops=("Exists", "DoesNotExist")
        )
    return problems


def check_node_requirement(path: str, expr: Any) -> list[str]:
    problems = _requirement(
        path, d(expr), set_ops=("In", "NotIn"), no_value_ops=("Exists", "DoesNotExist")
    )
    op, values = d(expr).get("operator"), lst(d(expr).get("values"))
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            problems.append(
                f"{path}.values: must have exactly one value for {op}, got {len(values)}"
            )
        elif not (isinstance(values[0], str) and re.fullmatch(r"-?[0-9]+", values[0])):
            problems.append(f"{path}.values[0]: must be an integer for {op}, got {show(values[0])}")
    return problems


def _requirement(
    path: str, expr: dict[str, Any], *, set_ops: tuple[str, ...], no_value_ops: tuple[str, ...]
) -> list[str]:
    problems: list[str] = []
    key, op, values = expr.get("key"), expr.get("operator"), lst(expr.get("values"))
    if isinstance(key, str) and not names.is_qualified_name(key):
        problems.append(f"{path}.key: must be {names.QUALIFIED_NAME_RULE}, got {show(key)}")
    if op in set_ops and not values:
        problems.append(f"{path}.values: must be specified when `operator` is '{op}'")
    if op in no_value_ops and values:
        problems.append(
            f"{path}.values: may not be specified when `operator` is '{op}', got {show(values)}"
        )
    return problems


# -- resources -----------------------------------------------------------------------------------
def is_extended_resource(name: str) -> bool:
    """A resource with a domain that is not *kubernetes.io (e.g. nvidia.com/gpu)."""
    domain, slash, _ = name.partition("/")
    return bool(slash) and not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


def is_overcommittable(name: str) -> bool:
    return not is_extended_resource(name) and not name.startswith("hugepages-")


def _quantities(
    path: str, raw: Any, problems: list[str], *, reported: dict[str, Any] | None = None
) -> dict[str, Quantity]:
    """The valid quantities of a resource map; problems appended. `reported` holds values already
    reported under the limits, so a request defaulted from a bad limit is not reported twice."""
    out: dict[str, Quantity] = {}
    for name, value in d(raw).items():
        here = key_path(path, str(name))
        if reported is not None and name in reported and reported[name] == value:
            continue
        if not isinstance(name, str) or not (
            name in STANDARD_CONTAINER_RESOURCES
            or name.startswith("hugepages-")
            or ("/" in name and names.is_qualified_name(name))
        ):
            problems.append(
                f"{path}: resource names must be cpu, memory, ephemeral-storage, "
                f"hugepages-<size> or a fully qualified name such as "
                f"nvidia.com/gpu, got {show(name)}"
            )
            continue
        try:
            quantity = parse_quantity(value)
        except ValueError:
            continue  # the type validation reports the syntax
        if quantity < 0:
            problems.append(
                f"{here}: must be greater than or equal to 0, got {show(str(quantity))}"
            )
            continue
        if not is_overcommittable(name) and quantity.milli_value() % 1000 != 0:
            problems.append(f"{here}: must be an integer, got {show(str(quantity))}")
            continue
        out[name] = quantity
    return out


def check_resources(path: str, resources: Any) -> list[str]:
    """ValidateResourceRequirements: requests <= limits, extended resources request == limit."""
    problems: list[str] = []
    raw_limits = d(d(resources).get("limits"))
    limits = _quantities(join(path, "limits"), raw_limits, problems)
    bad = {name: value for name, value in raw_limits.items() if name not in limits}
    requests = _quantities(
        join(path, "requests"), d(resources).get("requests"), problems, reported=bad
    )
    for name, request in requests.items():
        here = key_path(join(path, "requests"), name)
        limit = limits.get(name)
        if is_overcommittable(name):
            if limit is not None and request > limit:
                problems.append(
                    f"{here}: must be less than or equal to {name} limit of {limit}, "
                    f"got {show(str(request))}"
                )
        elif limit is None:
            problems.append(
                f"{key_path(join(path, 'limits'), name)}: Limit must be set for non "
                f"overcommitable resources, got a request of {request} and no limit"
            )
        elif request != limit:
            problems.append(
                f"{here}: must be equal to {name} limit of {limit}, got {show(str(request))}"
            )
    return problems


def check_quantity_map(path: str, raw: Any) -> list[str]:
    """Non-negative quantities under any resource name (quotas, PVC sizes)."""
    problems: list[str] = []
    for name, value in d(raw).items():
        try:
            quantity = parse_quantity(value)
        except ValueError:
            continue
        if quantity < 0:
            problems.append(
                f"{key_path(path, str(name))}: must be greater than or equal to 0, "
                f"got {show(str(quantity))}"
            )
    return problems
