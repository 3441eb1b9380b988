"""engine/api/protobuf.py on bodies built here by field number (kubectl's own bodies are in
test_kubectl_api.py): the JSON each gives, zeros as Go's JSON leaves them, and a clear refusal
of every malformed body."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api.protobuf import decode
from engine.errors import BadRequestError, UnsupportedMediaError


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def _len(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _num(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _envelope(api_version: str, kind: str, raw: bytes, encoding: str = "") -> bytes:
    meta = _len(1, api_version.encode()) + _len(2, kind.encode())
    return b"k8s\x00" + _len(1, meta) + _len(2, raw) + (_len(3, encoding.encode()) if encoding else b"")


def _meta(name: str, **labels: str) -> bytes:
    out = _len(1, name.encode()) + _len(3, b"") + _num(7, 0)  # empty namespace, zero generation
    for key, value in labels.items():
        out += _len(11, _len(1, key.encode()) + _len(2, value.encode()))
    return _len(1, out)


def test_a_deployment_reads_as_json_with_zeros_as_go_leaves_them() -> None:
    container = _len(1, b"web") + _len(2, b"nginx") + _len(6, _num(3, 80) + _len(4, b"TCP")) + _num(16, 0)
    template = _len(1, _len(11, _len(1, b"app") + _len(2, b"web"))) + _len(2, _len(2, container))
    spec = _num(1, 0) + _len(3, template) + _num(7, 0)  # replicas 0 (a choice), paused false (none)
    obj: Any = decode(_envelope("apps/v1", "Deployment", _meta("web", app="web") + _len(2, spec)))
    assert obj == {"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "labels": {"app": "web"}},
                   "spec": {"replicas": 0, "template": {
                       "metadata": {"labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "web", "image": "nginx",
                                                "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}}


def test_bytes_int_or_string_time_quantity_and_negative_numbers() -> None:
    secret = _meta("s") + _len(2, _len(1, b"pw") + _len(2, b"\x00\xff"))
    assert decode(_envelope("v1", "Secret", secret))["data"] == {"pw": "AP8="}
    port = _len(4, _num(1, 1) + _len(3, b"http"))  # targetPort: the string form
    service = _meta("svc") + _len(2, _len(1, _num(3, 80) + port))
    ports = decode(_envelope("v1", "Service", service))["spec"]["ports"]
    assert ports == [{"port": 80, "targetPort": "http"}]
    stamped = _len(1, _len(1, b"t") + _len(8, _num(1, 1_700_000_000)))
    meta = decode(_envelope("v1", "ConfigMap", stamped))["metadata"]
    assert meta["creationTimestamp"] == "2023-11-14T22:13:20Z"
    limits = _len(1, _len(1, b"cpu") + _len(2, _len(1, b"500m")))
    pod = _meta("p") + _len(2, _len(2, _len(1, b"c") + _len(8, limits)) + _num(4, -5 & ((1 << 64) - 1)))
    got = decode(_envelope("v1", "Pod", pod))["spec"]
    assert got["containers"][0]["resources"] == {"limits": {"cpu": "500m"}}
    assert got["terminationGracePeriodSeconds"] == -5  # decoded as sent; validation refuses it


@pytest.mark.parametrize("body, error, needle", [
    (b'{"kind": "Pod"}', BadRequestError, "starts with k8s"),
    (_envelope("v1", "ConfigMap", _len(1, b"\x0a\x05ab")), BadRequestError, "runs past the end"),
    (_envelope("v1", "ConfigMap", b"\x08\xff\xff"), BadRequestError, "truncated"),
    (_envelope("v1", "ConfigMap", _len(99, b"x")), BadRequestError, "field 99 of core.v1.ConfigMap is"),
    (_envelope("v1", "ConfigMap", _num(1, 5)), BadRequestError, "does not have its field's type"),
    (_envelope("v1", "ConfigMap", _len(1, _len(1, b"\xff\xfe"))), BadRequestError, "not UTF-8"),
    (_envelope("v1", "ConfigMap", b"\x0b"), BadRequestError, "wire type 3"),
    (_envelope("v1", "Widget", b""), UnsupportedMediaError, "v1 Widget is not read"),
    (_envelope("v1", "ConfigMap", b"", encoding="gzip"), UnsupportedMediaError, "contentEncoding 'gzip'"),
])
def test_a_malformed_body_is_refused_saying_where(body: bytes, error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle):
        decode(body)
