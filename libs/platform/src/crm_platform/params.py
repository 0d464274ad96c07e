"""Integers and booleans written as text: query strings, path segments and CSV cells.

FastAPI validates query and path parameters in pydantic's python mode from strings, where
lax `int` reads `"5.0"`, `" 5 "`, `"+5"` and `"1_000"`, and lax `bool` reads `"1"`, `"yes"`,
`"on"` and `"t"`; `StrictInt` / `StrictBool` would refuse every string. These types take
exactly the written forms: an integer is ASCII digits with an optional minus sign, a boolean
is `true` or `false` (in any case: spreadsheets write TRUE; nothing else is read as one).
Dates and decimals need nothing HTTP-specific: `crm_events.types`' `Date`, `Instant`,
`Amount`, `Percent` and `Quantity` already read strings strictly.

Put the validator after `Query(...)` / `Path(...)`:

    limit: Annotated[int, Query(ge=1, le=500), TEXT_INT] = 100

so the range applies to the integer itself and OpenAPI shows it as `minimum` / `maximum`
(after a before-validator pydantic can only attach it as a check of its own, and documents
it under the keyword `ge`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

_INT = re.compile(r"-?[0-9]+")

INT_FORM = (
    "an integer written with digits only, for example 25 (no decimal point, spaces, "
    "underscores or plus sign)"
)
BOOL_FORM = "true or false"


def parse_int(text: str) -> int:
    """`"25"` → 25; anything else raises ValueError saying what is expected."""
    if _INT.fullmatch(text):
        return int(text)
    raise ValueError(f"expected {INT_FORM}")


def parse_bool(text: str) -> bool:
    """`true` / `false` (any case: spreadsheets write TRUE); never 1, yes or on."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    raise ValueError(f"expected {BOOL_FORM}")


def _int(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # a default
    try:
        return parse_int(value if isinstance(value, str) else "")
    except ValueError as exc:
        raise PydanticCustomError("int_format", str(exc)) from None


def _bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value  # a default
    try:
        return parse_bool(value if isinstance(value, str) else "")
    except ValueError as exc:
        raise PydanticCustomError("bool_format", str(exc)) from None


TEXT_INT = BeforeValidator(_int)
"""An integer query or path parameter: `?limit=25`, never `25.0`, ` 25`, `+25` or `2_5`."""

TEXT_BOOL = BeforeValidator(_bool)
"""A boolean query parameter: `?flag=true` or `false` (any case), never 1, yes or on."""
