"""Value types shared by event schemas and service APIs.

Money and percentages are `Decimal` everywhere. On the wire (events and JSON responses)
they are strings, so no consumer ever parses them into a binary float by accident.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

_DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"


def _to_decimal(value: Any) -> Any:
    # Floats are refused: 0.1 as a float is not 0.1, and a money figure must be exact.
    if isinstance(value, float):
        raise ValueError('give decimal numbers as strings (for example "11035.20"), not floats')
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _decimal_schema(description: str, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": _DECIMAL_PATTERN,
            "description": description,
            "examples": [example],
        }
    )


Amount = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(allow_inf_nan=False),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    _decimal_schema("An exact decimal amount in the contract currency, as a string.", "11035.20"),
]
"""A money amount. Always paired with a currency somewhere in the same document."""

Percent = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(allow_inf_nan=False),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    _decimal_schema("A percentage as an exact decimal string (12 means 12%).", "12"),
]

Quantity = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(allow_inf_nan=False),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    _decimal_schema("An exact decimal quantity, as a string.", "214"),
]

# ISO 4217 minor units for the currencies that do not use two decimals. Everything else: 2.
_MINOR_UNITS = {
    "BHD": 3,
    "CLF": 4,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-even to the currency's minor unit (the rule for every line amount)."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_EVEN)
