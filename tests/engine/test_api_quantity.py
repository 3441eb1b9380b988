"""Quantity parsing, rounding and canonical form (k8s-semantics.md section 6)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.api import Quantity, parse_quantity
from engine.api.quantity import QUANTITY_ERROR, QuantityFormat


@pytest.mark.parametrize(
    ("text", "milli", "value", "canonical"),
    [
        ("500m", 500, 1, "500m"),
        ("0.5", 500, 1, "500m"),
        ("1", 1000, 1, "1"),
        ("2.5", 2500, 3, "2500m"),
        ("128Mi", 134217728000, 134217728, "128Mi"),
        ("1Gi", 1073741824000, 1073741824, "1Gi"),
        ("1G", 10**12, 10**9, "1G"),
        ("1Ki", 1024000, 1024, "1Ki"),
        ("1k", 1000000, 1000, "1k"),
        ("1e3", 1000000, 1000, "1e3"),
        ("1E3", 1000000, 1000, "1e3"),
        ("1.5Gi", 1610612736000, 1610612736, "1536Mi"),
        ("1.5", 1500, 2, "1500m"),
        ("1m", 1, 1, "1m"),  # 1m of memory is 0.001 bytes: Value() rounds up to 1
        ("0.1m", 1, 1, "100u"),  # MilliValue rounds up
        ("1500", 1500000, 1500, "1500"),
        ("12000", 12000000, 12000, "12k"),
        ("0.5Gi", 536870912000, 536870912, "512Mi"),
        ("1.5Ki", 1536000, 1536, "1536"),  # not a whole Ki: shown in decimal
        ("2048Ki", 2097152000, 2097152, "2Mi"),
        ("5.", 5000, 5, "5"),
        (".5", 500, 1, "500m"),
        ("+2", 2000, 2, "2"),
        ("1E", 10**21, 10**18, "1E"),  # exa, not an exponent
        ("100n", 1, 1, "100n"),
        ("0", 0, 0, "0"),
        ("0Gi", 0, 0, "0"),
        ("1e7", 10**10, 10**7, "10e6"),
        ("1.0000000001", 1001, 2, "1000000001n"),  # rounded up to nano precision
    ],
)
def test_parse_vectors(text: str, milli: int, value: int, canonical: str) -> None:
    q = parse_quantity(text)
    assert q.milli_value() == milli
    assert q.value() == value
    assert str(q) == canonical
    assert parse_quantity(str(q)) == q  # the canonical form parses back to the same amount


@pytest.mark.parametrize(
    "text",
    [
        "1.1.M",
        "1+1.0M",
        "0.1mi",
        "0.1am",
        "aoeu",
        ".5i",
        "1i",
        "-3.01i",
        "-3.01e-",
        " 1",
        "1 ",
        "1K",
        "1KB",
        "1KiB",
        "1Zi",
        "12Q",
        ".",
        "",
        "1e",
        "e3",
        "Mi",
        "1Mib",
        "0x10",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="quantities must match"):
        parse_quantity(text)


@pytest.mark.parametrize("value", [True, None, [], {}, float("nan"), float("inf")])
def test_invalid_types(value: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_quantity(value)  # type: ignore[arg-type]
    assert str(info.value) == QUANTITY_ERROR


@pytest.mark.parametrize(
    ("number", "canonical"), [(2, "2"), (0.5, "500m"), (0.25, "250m"), (1.5, "1500m"), (0, "0")]
)
def test_numbers(number: float, canonical: str) -> None:
    assert str(parse_quantity(number)) == canonical


def test_formats() -> None:
    assert parse_quantity("1Gi").format is QuantityFormat.BINARY_SI
    assert parse_quantity("1G").format is QuantityFormat.DECIMAL_SI
    assert parse_quantity("1e9").format is QuantityFormat.DECIMAL_EXPONENT


def test_negative_parses() -> None:
    q = parse_quantity("-2")
    assert q < 0
    assert str(q) == "-2"
    assert str(parse_quantity("-1.5Gi")) == "-1536Mi"


def test_compare_and_hash() -> None:
    assert parse_quantity("1Gi") == parse_quantity("1073741824")
    assert hash(parse_quantity("1Gi")) == hash(parse_quantity("1073741824"))
    assert parse_quantity("500m") < parse_quantity("1")
    assert parse_quantity("2") > parse_quantity("1999m")
    assert parse_quantity("1k") >= parse_quantity("1000")
    assert parse_quantity("3") == 3
    assert parse_quantity("0") == 0
    assert sorted([parse_quantity("1"), parse_quantity("10m"), parse_quantity("1Ki")]) == [
        parse_quantity("10m"),
        parse_quantity("1"),
        parse_quantity("1024"),
    ]


def test_add_and_sum() -> None:
    total = sum([parse_quantity("500m"), parse_quantity("1"), parse_quantity("250m")])
    assert isinstance(total, Quantity)
    assert str(total) == "1750m"
    assert str(parse_quantity("1Gi") + parse_quantity("512Mi")) == "1536Mi"
    assert str(parse_quantity("2") - parse_quantity("500m")) == "1500m"
    assert (
        str(parse_quantity("0") + parse_quantity("1Gi")) == "1Gi"
    )  # zero takes the other's family
    assert str(-parse_quantity("1")) == "-1"


def test_immutable_and_float() -> None:
    q = parse_quantity("1.5")
    with pytest.raises(AttributeError):
        q.amount = Decimal(2)  # type: ignore[misc]
    assert q.as_float() == 1.5
    assert repr(q) == "Quantity('1500m')"
