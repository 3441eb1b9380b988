"""Syntax rules for names, label keys, label values and IP addresses, as apimachinery validates them."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL)
_DNS1123_SUBDOMAIN_RE = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
_DNS1035_LABEL_RE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")
_IANA_SVC_NAME_RE = re.compile(r"[-a-z0-9]+")
_C_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

DNS1123_LABEL_RULE = (
    "a lowercase RFC 1123 label (at most 63 lower case alphanumeric characters or '-', "
    "starting and ending with an alphanumeric character, e.g. 'my-name' or '123-abc')"
)
DNS1123_SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain (at most 253 lower case alphanumeric characters, '-' or '.', "
    "starting and ending with an alphanumeric character, e.g. 'example.com')"
)
DNS1035_LABEL_RULE = (
    "a DNS-1035 label (at most 63 lower case alphanumeric characters or '-', starting with a "
    "letter and ending with an alphanumeric character, e.g. 'my-name')"
)
QUALIFIED_NAME_RULE = (
    "a qualified name (an optional DNS subdomain prefix and '/', then at most 63 alphanumeric "
    "characters, '-', '_' or '.', starting and ending with an alphanumeric character, "
    "e.g. 'app.kubernetes.io/name')"
)
LABEL_VALUE_RULE = (
    "a valid label value (empty, or at most 63 alphanumeric characters, '-', '_' or '.', "
    "starting and ending with an alphanumeric character)"
)
CONFIG_KEY_RULE = "a valid config key (at most 253 alphanumeric characters, '-', '_' or '.')"


def show(value: Any) -> str:
    """A value as an error message quotes it: strings and numbers as JSON, containers by kind."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def is_ip(value: str) -> bool:
    """An IPv4 or IPv6 address (IsValidIP)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """A loopback address, or `localhost`."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and _DNS1123_LABEL_RE.fullmatch(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and _DNS1123_SUBDOMAIN_RE.fullmatch(value) is not None


def is_dns1035_label(value: str) -> bool:
    return len(value) <= 63 and _DNS1035_LABEL_RE.fullmatch(value) is not None


def is_qualified_name(value: str) -> bool:
    prefix, slash, name = value.rpartition("/")
    if slash and (not prefix or not is_dns1123_subdomain(prefix)):
        return False
    return 0 < len(name) <= 63 and _QUALIFIED_NAME_RE.fullmatch(name) is not None


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and _LABEL_VALUE_RE.fullmatch(value) is not None


def is_config_key(value: str) -> bool:
    return (
        0 < len(value) <= 253 and value not in (".", "..") and bool(_CONFIG_KEY_RE.fullmatch(value))
    )


def is_iana_svc_name(value: str) -> bool:
    """A named port: at most 15 characters, lower case, at least one letter, no '--'."""
    return (
        0 < len(value) <= 15
        and _IANA_SVC_NAME_RE.fullmatch(value) is not None
        and any(c.isalpha() for c in value)
        and "--" not in value
        and not value.startswith("-")
        and not value.endswith("-")
    )


def is_c_identifier(value: str) -> bool:
    return _C_IDENTIFIER_RE.fullmatch(value) is not None


def key_path(path: str, key: str) -> str:
    """A field path with a map key appended, as Kubernetes writes it: `limits[nvidia.com/gpu]`."""
    return f"{path}[{key}]"


def check_name(path: str, value: Any, *, rule: str = "subdomain") -> list[str]:
    """Problems with a name under a rule: "subdomain", "label" or "dns1035"."""
    if not isinstance(value, str):
        return []  # the type check reports it
    ok, text = {
        "subdomain": (is_dns1123_subdomain, DNS1123_SUBDOMAIN_RULE),
        "label": (is_dns1123_label, DNS1123_LABEL_RULE),
        "dns1035": (is_dns1035_label, DNS1035_LABEL_RULE),
    }[rule]
    if ok(value):
        return []
    return [f"{path}: must be {text}, got {show(value)}"]


# The name syntax of each kind (the rest use "subdomain"), as Kubernetes validates at create.
NAME_RULES = {"Namespace": "label", "Service": "dns1035"}


def path_segment_problem(value: str) -> str | None:
    """Why `value` cannot stand for one object in a URL path (apimachinery's
    IsValidPathSegmentName): "." and ".." would name the collection or its parent once a
    client or proxy normalises the path, and "/" or "%" would split or re-escape it."""
    if value in (".", ".."):
        return f"may not be {show(value)}"
    for bad in ("/", "%"):
        if bad in value:
            return f"may not contain {show(bad)}"
    return None


def check_object_name(path: str, value: str, *, kind: str) -> list[str]:
    """Problems with `value` as the name of an object of `kind` named in a request (a path
    segment, then the kind's name syntax); `path` names the argument or field."""
    if not value:
        return [f"{path}: required (an empty name would address the whole collection)"]
    why = path_segment_problem(value)
    if why is not None:
        return [f"{path}: {why}, got {show(value)}"]
    return check_name(path, value, rule=NAME_RULES.get(kind, "subdomain"))


def check_labels(path: str, labels: Any) -> list[str]:
    """Problems with a label map: qualified-name keys and label-syntax values."""
    problems: list[str] = []
    if not isinstance(labels, dict):
        return problems
    for key, value in labels.items():
        if not isinstance(key, str) or not is_qualified_name(key):
            problems.append(f"{path}: key must be {QUALIFIED_NAME_RULE}, got {show(key)}")
        if isinstance(value, str) and not is_label_value(value):
            problems.append(
                f"{key_path(path, str(key))}: must be {LABEL_VALUE_RULE}, got {show(value)}"
            )
    return problems


def check_annotations(path: str, annotations: Any) -> list[str]:
    problems: list[str] = []
    if not isinstance(annotations, dict):
        return problems
    total = 0
    for key, value in annotations.items():
        if not isinstance(key, str) or not is_qualified_name(key):
            problems.append(f"{path}: key must be {QUALIFIED_NAME_RULE}, got {show(key)}")
        total += len(str(key)) + (len(value) if isinstance(value, str) else 0)
    if total > 256 * 1024:
        problems.append(f"{path}: must have at most 262144 bytes in all, got {total}")
    return problems
