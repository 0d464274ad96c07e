r"""Value types shared by event schemas and service APIs.

Money and percentages are `Decimal` everywhere. On the wire (events and JSON responses)
they are strings, so no consumer ever parses them into a binary float by accident.

Input is strict. pydantic's lax mode reads a number as a date (`0` is 1970-01-01, in JSON and
in a query string alike) and hands decimal strings to `Decimal()`, which takes `"1e3"`,
`"1_000"`, `" 5 "`, `"+5"` and `"NaN"`. Even pydantic's strict mode reads `"0"` as a date.
The types below accept only the documented forms, from JSON bodies, query strings, CSV cells
and Kafka events alike (all of them reach pydantic in python mode), and their messages say
what is expected:

- `Amount`, `Percent`, `Quantity`: a string matching `^-?\d+(\.\d+)?$` (ASCII digits), or
  a JSON integer (exact, so accepted as the same value: `214` is `"214"`). Never a float.
- `Date`: an ISO 8601 calendar date `YYYY-MM-DD`.
- `Instant`: an ISO 8601 date-time with a UTC offset, `2026-03-14T03:00:00Z` or
  `2026-03-14T03:00:00.5-05:00` (seconds and fractions optional); never a number and never
  without an offset: every date-time the APIs and events take is an instant.

Integers and booleans use pydantic's `StrictInt` / `StrictBool` in bodies and events (no
`"5"`, no `5.0`, no `"true"`); values that arrive as text (query strings, CSV cells) use
`crm_platform.params`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"
# ASCII digits only (Python's \d also matches other scripts' digits), and fullmatch, not `$`
# (which lets a trailing newline through).
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
DECIMAL_FORM = (
    f'a decimal number as a string matching {DECIMAL_PATTERN}, for example "214" or '
    '"-12.50" (no exponent, spaces, underscores, plus sign, NaN or Infinity)'
)
DATE_FORM = "an ISO 8601 date YYYY-MM-DD, for example 2026-03-01"
INSTANT_FORM = (
    "an ISO 8601 date-time with a UTC offset, for example 2026-03-14T03:00:00Z or "
    "2026-03-14T03:00:00-05:00"
)


def _named(info: ValidationInfo) -> str:
    return f"{info.field_name}: " if info.field_name else ""


def _to_decimal(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, Decimal):
        return value  # from our own code; finiteness is checked by allow_inf_nan
    if isinstance(value, float):
        # 0.1 as a float is not 0.1, and a money figure must be exact.
        raise PydanticCustomError(
            "decimal_type",
            _named(info) + 'give decimal numbers as strings (for example "11035.20"), not floats',
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)  # a JSON integer is exact
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return Decimal(value)
    raise PydanticCustomError("decimal_format", _named(info) + "expected " + DECIMAL_FORM)


def _to_date(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        return value  # pydantic parses it and checks the calendar (no 2026-02-30)
    raise PydanticCustomError("date_format", _named(info) + "expected " + DATE_FORM)


def _to_instant(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, datetime):
        offset = value.tzinfo is not None
    elif isinstance(value, str) and (match := _INSTANT.fullmatch(value)):
        offset = match.group("offset") is not None
    else:
        raise PydanticCustomError("datetime_format", _named(info) + "expected " + INSTANT_FORM)
    if not offset:
        raise PydanticCustomError(
            "datetime_offset",
            _named(info) + "needs a UTC offset (Z or ±hh:mm): expected " + INSTANT_FORM,
        )
    return value


def _decimal_schema(description: str, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": DECIMAL_PATTERN,
            "description": description
            + " On input a JSON integer is read as the same exact number; floats are refused.",
            "examples": [example],
        }
    )


def json_decimal(value: Decimal) -> str:
    """A decimal (`Amount`, `Percent`, `Quantity`) as our JSON carries it: exact, positional
    (`1E+2` is "100"). `str` is positional but for large or tiny exponents, and twice as
    fast as `format`."""
    text = str(value)
    return format(value, "f") if "E" in text else text


def json_instant(value: datetime) -> str:
    """An `Instant` as our JSON carries it (pydantic's form): ISO 8601, a zero offset as `Z`.
    For documents a producer writes out from values it validated before (`Dumped`)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_AS_STRING = PlainSerializer(json_decimal, return_type=str, when_used="json")

Amount = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(allow_inf_nan=False),
    _AS_STRING,
    _decimal_schema("An exact decimal amount in the contract currency, as a string.", "11035.20"),
]
r"""A money amount. Always paired with a currency somewhere in the same document.

Accepted: a string matching `^-?\d+(\.\d+)?$` or a JSON integer (exact, so it is read as the
same number: clients that send counts as numbers lose nothing). Refused with a 422 naming
the field: floats, exponents (`"1e3"`), underscores (`"1_000"`), surrounding spaces
(`" 5 "`), a plus sign, `NaN`, `Infinity`."""

Percent = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(allow_inf_nan=False),
    _AS_STRING,
    _decimal_schema("A percentage as an exact decimal string (12 means 12%).", "12"),
]
"""A percentage (12 means 12%); the same input rules as `Amount`."""

Quantity = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(allow_inf_nan=False),
    _AS_STRING,
    _decimal_schema("An exact decimal quantity, as a string.", "214"),
]
"""A volume or measured value; the same input rules as `Amount`."""

Date = Annotated[date, BeforeValidator(_to_date)]
"""A calendar date: only `YYYY-MM-DD` (never a number, a timestamp or a date-time)."""

Instant = Annotated[datetime, BeforeValidator(_to_instant)]
"""A point in time: an ISO 8601 date-time with a UTC offset (never a number, never naive)."""

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
