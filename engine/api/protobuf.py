"""Kubernetes' protobuf encoding, read into the JSON form the API takes: what kubectl's typed
generators send (`kubectl create deployment|configmap|secret|job|namespace|service ...`,
`kubectl run`, `kubectl auth can-i`, drain's evictions). The body is "k8s\\0" and a
runtime.Unknown {typeMeta {apiVersion, kind}, raw}; the field numbers of each message come
from protoschema.json (tools/gen_protoschema.py, Kubernetes 1.32). Go's JSON leaves zero
values out, while protobuf carries one for every non-pointer field: zero strings, numbers and
booleans are dropped, except in the fields whose zero means something (KEEP_ZERO).

A body that cannot be read is a BadRequestError naming where; nothing here trusts a length."""

from __future__ import annotations

import base64
import functools
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import BadRequestError, UnsupportedMediaError

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
MAX_DEPTH = 64
PACKAGES = {"": "core", "apps": "apps", "batch": "batch", "networking.k8s.io": "networking",
            "policy": "policy", "authorization.k8s.io": "authorization", "autoscaling": "autoscaling",
            "authentication.k8s.io": "authentication",
            "storage.k8s.io": "storage", "discovery.k8s.io": "discovery", "scheduling.k8s.io": "scheduling"}
# Pointer fields whose zero (0, false) is a choice, not an absence.
KEEP_ZERO = frozenset((
    "replicas", "parallelism", "completions", "backoffLimit", "backoffLimitPerIndex", "maxFailedIndexes",
    "activeDeadlineSeconds", "terminationGracePeriodSeconds", "ttlSecondsAfterFinished",
    "startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "revisionHistoryLimit",
    "progressDeadlineSeconds", "suspend", "manualSelector", "enableServiceLinks",
    "automountServiceAccountToken",
    "gracePeriodSeconds", "orphanDependents", "runAsUser", "runAsGroup", "fsGroup", "runAsNonRoot",
    "privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem", "defaultMode", "mode", "optional",
    "minReplicas", "priority", "shareProcessNamespace", "setHostnameAsFQDN", "hostUsers",
    "allocateLoadBalancerNodePorts", "publishNotReadyAddresses", "immutable", "preemptionPolicy"))
# Go structs embedded `json:",inline"`: a field of their own in protobuf, their fields in JSON.
INLINE = {("core.v1.Probe", "handler"), ("core.v1.Volume", "volumeSource"),
          ("core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
          ("core.v1.EphemeralContainer", "ephemeralContainerCommon"),
          ("networking.v1.IngressRule", "ingressRuleValue")}
INLINE_ANYWHERE = {"localObjectReference"}  # ConfigMapKeySelector and friends: {"name": ...}
# The messages read by hand (_special): field number -> wire type (0 a number, 2 bytes or text).
_SPECIAL = {"apis.meta.v1.Time": {1: 0, 2: 0}, "apis.meta.v1.MicroTime": {1: 0, 2: 0},
            "api.resource.Quantity": {1: 2}, "util.intstr.IntOrString": {1: 0, 2: 0, 3: 2},
            "runtime.RawExtension": {1: 2}, "apis.meta.v1.FieldsV1": {1: 2}, "apis.meta.v1.Duration": {1: 0}}
_SCALARS = {"string", "bytes", "bool", "int32", "int64", "double", "float"}


@functools.cache
def _schema() -> dict[str, dict[int, tuple[str, str, bool]]]:
    raw = json.loads(Path(__file__).with_name("protoschema.json").read_text())
    out: dict[str, dict[int, tuple[str, str, bool]]] = {}
    for message, text in raw.items():
        fields = {}
        for part in text.split(";"):
            number, name, typ = part.split(" ")
            fields[int(number)] = (name, typ.rstrip("*"), typ.endswith("*"))
        out[message] = fields
    return out


def _varint(data: bytes, i: int, where: str) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise BadRequestError(f"protobuf {where}: a truncated or overlong number")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def _fields(data: bytes, where: str) -> list[tuple[int, int, Any]]:
    """(number, wire type, value) for each field of one message, in order."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i, where)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i, where)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = data[i:i + size], i + size
        elif wire == 2:
            size, i = _varint(data, i, where)
            value, i = data[i:i + size], i + size
        else:
            raise BadRequestError(f"protobuf {where}: field {number} has wire type {wire}, which is not read")
        if i > len(data):
            raise BadRequestError(f"protobuf {where}: field {number} runs past the end of its message")
        out.append((number, wire, value))
    return out


def decode(raw: bytes) -> dict[str, Any]:
    """The object a protobuf body holds, as JSON would give it."""
    if not raw.startswith(MAGIC):
        raise BadRequestError("a protobuf body starts with k8s\\0 (Kubernetes' envelope)")
    envelope = {n: v for n, w, v in _fields(raw[len(MAGIC):], "envelope") if w == 2}
    meta = {n: v for n, w, v in _fields(envelope.get(1, b""), "envelope typeMeta") if w == 2}
    api_version, kind = (_text(meta.get(n, b""), "typeMeta") for n in (1, 2))
    if envelope.get(3):
        raise UnsupportedMediaError(f"protobuf with contentEncoding {_text(envelope[3], 'envelope')!r} "
                                    f"is not read; send it plain, or as JSON")
    group, _, version = api_version.rpartition("/")
    message = (f"apis.meta.v1.{kind}" if kind == "DeleteOptions"
               else f"{PACKAGES.get(group, '?')}.{version}.{kind}")
    if message not in _schema():
        raise UnsupportedMediaError(f"protobuf for {api_version} {kind} is not read by tugboat; "
                                    f"send it as JSON")
    out = _message(message, envelope.get(2, b""), kind, 0)
    return {"apiVersion": api_version, "kind": kind, **out}


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestError(f"protobuf {where}: a string that is not UTF-8") from None


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise BadRequestError(f"protobuf: {value} does not fit in {bits} bits")
    return value


def _scalar(typ: str, wire: int, value: Any, where: str) -> Any:
    if typ == "string":
        return _text(value, where) if wire == 2 else _wrong(where)
    if typ == "bytes":
        return base64.b64encode(value).decode() if wire == 2 else _wrong(where)
    if typ == "bool":
        return bool(value) if wire == 0 else _wrong(where)
    if typ in ("int32", "int64"):
        return _signed(value, 32 if typ == "int32" else 64) if wire == 0 else _wrong(where)
    if typ in ("double", "float") and wire in (1, 5):
        return struct.unpack("<d" if wire == 1 else "<f", value)[0]
    return _wrong(where)


def _wrong(where: str) -> Any:
    raise BadRequestError(f"protobuf {where}: the value does not have its field's type")


def _special(message: str, fields: list[tuple[int, int, Any]], where: str) -> tuple[bool, Any]:
    """Messages whose JSON is not an object: times, quantities, int-or-strings, raw JSON."""
    if message not in _SPECIAL:
        return False, None
    got: dict[int, Any] = {}
    for number, wire, value in fields:  # each field read with the wire type it must have
        want = _SPECIAL[message].get(number)
        if want is None:
            raise BadRequestError(f"protobuf {where}: field {number} of {message} is unknown to tugboat")
        if wire != want:
            _wrong(where)
        got[number] = value
    if message in ("apis.meta.v1.Time", "apis.meta.v1.MicroTime"):
        seconds, nanos = _signed(got.get(1, 0), 64), _signed(got.get(2, 0), 32)
        if not seconds and not nanos:
            return True, None  # Go's zero time: JSON null
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise BadRequestError(f"protobuf {where}: a time out of range") from None
        if message.endswith("MicroTime"):
            return True, moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos // 1000:06d}Z"
        return True, moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if message == "api.resource.Quantity":
        return True, _text(got.get(1, b""), where)
    if message == "util.intstr.IntOrString":
        return True, _text(got.get(3, b""), where) if got.get(1) == 1 else _signed(got.get(2, 0), 32)
    if message in ("runtime.RawExtension", "apis.meta.v1.FieldsV1"):
        raw = got.get(1, b"")
        try:
            return True, json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            raise BadRequestError(f"protobuf {where}: raw JSON that is not JSON, or nests too deep") from None
    if message == "apis.meta.v1.Duration":
        return True, f"{_signed(got.get(1, 0), 64) / 1e9:g}s"
    return False, None


def _message(message: str, data: bytes, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise BadRequestError(f"protobuf {where}: nested deeper than {MAX_DEPTH}")
    fields = _fields(data, where)
    special, value = _special(message, fields, where)
    if special:
        return value
    schema = _schema()[message]
    out: dict[str, Any] = {}
    for number, wire, raw in fields:
        if number not in schema:
            raise BadRequestError(f"protobuf {where}: field {number} of {message} is unknown to tugboat "
                                  f"(Kubernetes 1.32); send the object as JSON")
        name, typ, repeated = schema[number]
        here = f"{where}.{name}"
        if typ.startswith("{"):
            key, value = _entry(typ, raw, here, depth)
            out.setdefault(name, {})[key] = value
            continue
        if repeated and wire == 2 and typ in _SCALARS - {"string", "bytes"}:  # packed numbers
            out.setdefault(name, []).extend(_scalar(typ, w, v, here) for w, v in _packed(typ, raw, here))
            continue
        if typ.startswith("."):
            value = _message(typ[1:], raw, here, depth + 1) if wire == 2 else _wrong(here)
        else:
            value = _scalar(typ, wire, raw, here)
        if repeated:
            out.setdefault(name, []).append(value)
        elif isinstance(value, dict) and ((message, name) in INLINE or name in INLINE_ANYWHERE):
            out.update(value)
        elif value is None or (_zero(value) and name not in KEEP_ZERO):
            out.pop(name, None)
        else:
            out[name] = value
    return out


def _zero(value: Any) -> bool:
    return value is False or value == "" or (type(value) is int and value == 0)


def _packed(typ: str, data: bytes, where: str) -> list[tuple[int, Any]]:
    """(wire type, value) of each number in a packed repeated field."""
    out: list[tuple[int, Any]] = []
    size, i = {"double": 8, "float": 4}.get(typ), 0
    while i < len(data):
        if size:
            if i + size > len(data):
                raise BadRequestError(f"protobuf {where}: a packed number runs past its field")
            out.append((1 if size == 8 else 5, data[i:i + size]))
            i += size
        else:
            value, i = _varint(data, i, where)
            out.append((0, value))
    return out


def _entry(typ: str, data: bytes, where: str, depth: int) -> tuple[str, Any]:
    """One map entry (key = field 1, value = field 2)."""
    key_type, value_type = typ[1:-1].split(":", 1)
    key: Any = "" if key_type == "string" else 0
    value: Any = None
    for number, wire, raw in _fields(data, where):
        if number == 1:
            key = _scalar(key_type, wire, raw, where)
        elif number == 2 and value_type.startswith("."):
            value = _message(value_type[1:], raw, where, depth + 1) if wire == 2 else _wrong(where)
        elif number == 2:
            value = _scalar(value_type, wire, raw, where)
    if value is None:
        value = "" if value_type in ("string", "bytes") else ({} if value_type.startswith(".") else 0)
    return str(key), value
