"""The base of every API model: strict camelCase config, shared field types, the NI marker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from pydantic.alias_generators import to_camel

from engine.api.quantity import parse_quantity


class ApiModel(BaseModel):
    """Kubernetes-shaped model: camelCase on the wire, unknown fields rejected, no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
    )


@dataclass(frozen=True)
class Unimplemented:
    """Field metadata: Kubernetes has the field, tugboat keeps it but does not act on it yet.

    Values in `quiet` (the Kubernetes default, e.g. `hostNetwork: false`) raise no warning.
    """

    quiet: tuple[Any, ...] = ()


NOT_IMPLEMENTED = Unimplemented()

# Kubernetes' integer fields are int32 or int64 in Go: a larger number is refused with the
# field's path, never stored (it would overflow every client and the planners' arithmetic).
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

# Any value, kept as given, reported as a warning when set.
NotImplementedField = Annotated[Any, NOT_IMPLEMENTED]


def _quantity(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        # pydantic turns ValueError (not TypeError) into a field error
        raise ValueError("expected a quantity such as 500m, 2 or 128Mi")  # noqa: TRY004
    return str(parse_quantity(value))


def _int_or_string(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("expected an integer or a string")  # noqa: TRY004
    return value


# A quantity in any accepted spelling, stored in its canonical string form ("0.5" -> "500m").
QuantityStr = Annotated[str, PlainValidator(_quantity)]
IntOrString = Annotated[int | str, PlainValidator(_int_or_string)]
ResourceList = dict[str, QuantityStr]
StringMap = dict[str, str]


def is_unimplemented(metadata: list[Any]) -> Unimplemented | None:
    """The Unimplemented marker among a field's metadata, if any."""
    for item in metadata:
        if isinstance(item, Unimplemented):
            return item
    return None
