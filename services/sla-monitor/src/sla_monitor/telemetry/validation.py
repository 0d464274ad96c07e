"""Validating a batch of telemetry whole: every item is checked against the telemetry.v1
schema (one pydantic pass over the batch), and a rejection lists every invalid item by index
and field — `body.items[3].ended_at` — so a sender can fix them all in one go."""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from crm_events.schemas.telemetry import TelemetryItem
from crm_platform.errors import Unprocessable, format_loc
from sla_monitor.telemetry.kinds import TELEMETRY_KINDS, TIMESTAMPS

KINDS = set(TELEMETRY_KINDS)
_NAMED_FIELD = re.compile(r"^([a-z_]+) (must|is) ")
MAX_LISTED_ERRORS = 1000

ITEMS = TypeAdapter(list[TelemetryItem])
ITEM = TypeAdapter(TelemetryItem)


class TelemetryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str | None = Field(default=None, min_length=1, max_length=100)
    items: list[Any] = Field(min_length=1)


def _field_of(message: str) -> str:
    """Item-level errors point at the field they are about ("ended_at must be after …")."""
    match = _NAMED_FIELD.match(message)
    return match.group(1) if match and match.group(1) in TIMESTAMPS else ""


def item_errors(
    exc: ValidationError, *, prefix: tuple[Any, ...], offset: int = 0
) -> list[dict[str, Any]]:
    """pydantic errors of a list of items as `{"loc", "message", "type"}` details."""
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        index = loc[0] if loc and isinstance(loc[0], int) else None
        rest = loc[1:]
        if rest and rest[0] in KINDS:
            rest = rest[1:]  # the union's tag says nothing the sender needs
        name = ""
        if not rest and index is not None and err["type"] == "value_error":
            name = _field_of(message)
        parts = [*prefix, (index + offset) if index is not None else "items", *rest]
        if name:
            parts.append(name)
        details.append({"loc": format_loc(tuple(parts)), "message": message, "type": err["type"]})
    return details


def reject(details: list[dict[str, Any]], what: str) -> Unprocessable:
    shown = details[:MAX_LISTED_ERRORS]
    invalid = len({d["loc"].split("]")[0] for d in details})
    summary = "; ".join(f"{d['loc']}: {d['message']}" for d in shown[:3])
    more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
    return Unprocessable(
        f"{what} rejected whole, {invalid} invalid item(s): {summary}{more}", details=shown
    )


def parse_batch(body: bytes, *, max_items: int) -> tuple[str | None, list[Any]]:
    """Decode and validate a JSON batch; raises Unprocessable listing every problem."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unprocessable(
            f"body is not valid JSON: {exc}", details=[{"loc": "body", "message": str(exc)}]
        ) from None
    try:
        envelope = TelemetryBody.model_validate(raw)
    except ValidationError as exc:
        details = [
            {
                "loc": format_loc(("body", *e["loc"])),
                "message": e["msg"].removeprefix("Value error, "),
                "type": e["type"],
            }
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise reject(details, "batch") from None
    if len(envelope.items) > max_items:
        raise Unprocessable(
            f"a batch holds at most {max_items} items; this one has {len(envelope.items)}",
            details=[{"loc": "body.items", "message": f"at most {max_items} items"}],
        )
    try:
        items = ITEMS.validate_python(envelope.items)
    except ValidationError as exc:
        raise reject(item_errors(exc, prefix=("body", "items")), "batch") from None
    return envelope.tenant_id, items
