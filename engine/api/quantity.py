"""Resource quantities ("500m", "128Mi", "1e3"): exact parsing, rounding and canonical form."""

from __future__ import annotations

import enum
import functools
import math
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_UP, Context, Decimal, InvalidOperation

QUANTITY_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)

# Upstream parses with arbitrary precision; a wide context keeps Decimal arithmetic exact too.
_CTX = Context(prec=200)
_NANO = Decimal("1e-9")
# What any quantity may be at most, in base units: an int64, as every consumer of a Kubernetes
# quantity reads it (the kubelet, the scheduler's arithmetic). Larger is refused, not rounded.
MAX_QUANTITY = Decimal(2**63 - 1)
QUANTITY_TOO_LARGE = f"quantities must be at most {2**63 - 1} in absolute value"

_NUMBER = r"(?P<sign>[+-]?)(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_SUFFIX = r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
_QUANTITY_RE = re.compile(rf"{_NUMBER}{_SUFFIX}")

_BINARY: dict[str, int] = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL: dict[str, int] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_DECIMAL_BY_EXP = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_BY_EXP = {exp: suffix for suffix, exp in _BINARY.items()}


class QuantityFormat(enum.StrEnum):
    """The suffix family a quantity was written in; its canonical form keeps the family."""

    BINARY_SI = "BinarySI"  # Ki, Mi, Gi, ...
    DECIMAL_SI = "DecimalSI"  # m, "", k, M, G, ...
    DECIMAL_EXPONENT = "DecimalExponent"  # 1e3, 5E-3


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact quantity (rounded up to nano precision) and the suffix family it is written in."""

    amount: Decimal
    format: QuantityFormat = QuantityFormat.DECIMAL_SI

    def __post_init__(self) -> None:
        if not self.amount.is_finite() or abs(self.amount) > MAX_QUANTITY:
            raise ValueError(QUANTITY_TOO_LARGE)
        rounded = self.amount.quantize(_NANO, rounding=ROUND_UP, context=_CTX)
        object.__setattr__(self, "amount", rounded.normalize(_CTX))

    # -- numbers -------------------------------------------------------------------------------
    def value(self) -> int:
        """The value in base units, rounded up (ceil): "1m" of memory is 1 byte."""
        return int(self.amount.to_integral_value(rounding=ROUND_CEILING, context=_CTX))

    def milli_value(self) -> int:
        """The value in thousandths, rounded up (ceil): "0.1m" is 1."""
        scaled = self.amount.scaleb(3, _CTX)
        return int(scaled.to_integral_value(rounding=ROUND_CEILING, context=_CTX))

    def as_float(self) -> float:
        return float(self.amount)

    def is_zero(self) -> bool:
        return self.amount == 0

    # -- arithmetic and order --------------------------------------------------------------------
    def __add__(self, other: object) -> Quantity:
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self  # lets sum() start from 0
        if not isinstance(other, Quantity):
            return NotImplemented
        fmt = other.format if self.is_zero() else self.format
        return Quantity(_CTX.add(self.amount, other.amount), fmt)

    __radd__ = __add__

    def __sub__(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity(_CTX.subtract(self.amount, other.amount), self.format)

    def __neg__(self) -> Quantity:
        return Quantity(-self.amount, self.format)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.amount == other.amount
        if isinstance(other, (int, Decimal)) and not isinstance(other, bool):
            return self.amount == other
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.amount < other.amount
        if isinstance(other, (int, Decimal)) and not isinstance(other, bool):
            return self.amount < other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.amount)

    # -- text ----------------------------------------------------------------------------------
    def __str__(self) -> str:
        return _canonical(self.amount, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"


def parse_quantity(text: str | float) -> Quantity:
    """Parse a quantity as Kubernetes does; raise ValueError on anything it would reject."""
    if isinstance(text, bool):
        raise ValueError(QUANTITY_ERROR)  # noqa: TRY004 - one error type for every bad input
    if isinstance(text, int):
        return Quantity(Decimal(text))
    if isinstance(text, float):
        if not math.isfinite(text):
            raise ValueError(QUANTITY_ERROR)
        return Quantity(Decimal(repr(text)))  # repr: '1e+308' is exact and finite
    if not isinstance(text, str):
        raise ValueError(QUANTITY_ERROR)  # noqa: TRY004
    return _parse_text(text)


@functools.lru_cache(maxsize=8192)
def _parse_text(text: str) -> Quantity:
    """The string form, remembered: Quantity is immutable and schedulers read the same few often."""
    match = _QUANTITY_RE.fullmatch(text)
    if match is None:
        raise ValueError(QUANTITY_ERROR)
    try:
        number = Decimal(match["num"] + ("0" if match["num"].endswith(".") else ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules this out
        raise ValueError(QUANTITY_ERROR) from exc
    if match["sign"] == "-":
        number = -number
    if len(match["num"]) > 100:  # 500 nines: past any int64, refused before any arithmetic
        raise ValueError(QUANTITY_TOO_LARGE)
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        amount = _CTX.multiply(number, Decimal(1024) ** _BINARY[suffix])
        return Quantity(amount, QuantityFormat.BINARY_SI)
    if suffix in _DECIMAL:
        return Quantity(number.scaleb(_DECIMAL[suffix], _CTX), QuantityFormat.DECIMAL_SI)
    exponent = int(suffix[1:])
    if abs(exponent) > 1000:
        raise ValueError(QUANTITY_TOO_LARGE if exponent > 0 else QUANTITY_ERROR)
    return Quantity(number.scaleb(exponent, _CTX), QuantityFormat.DECIMAL_EXPONENT)


def _canonical(amount: Decimal, fmt: QuantityFormat) -> str:
    if amount == 0:
        return "0"
    if fmt is QuantityFormat.BINARY_SI:
        if -1024 < amount < 1024 or amount != amount.to_integral_value():
            fmt = QuantityFormat.DECIMAL_SI  # small or fractional: binary would lose precision
        else:
            return _canonical_binary(int(amount))
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits)))
    while mantissa and mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3  # lower the exponent to a multiple of 3, like AsCanonicalBytes
    mantissa *= 10**shift
    exponent -= shift
    number = f"{'-' if sign else ''}{mantissa}"
    if fmt is QuantityFormat.DECIMAL_EXPONENT:
        return number if exponent == 0 else f"{number}e{exponent}"
    if exponent in _DECIMAL_BY_EXP:
        return number + _DECIMAL_BY_EXP[exponent]
    return f"{number}e{exponent}"


def _canonical_binary(value: int) -> str:
    exponent = 0
    while exponent < 6 and value % 1024 == 0:
        value //= 1024
        exponent += 1
    return f"{value}{_BINARY_BY_EXP.get(exponent, '')}"
