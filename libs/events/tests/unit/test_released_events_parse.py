"""Strict types must not refuse a valid event: an instance built from each released JSON
Schema (libs/events/schemas/, what consumers and producers were promised) — once with every
property, once with only the required ones — is valid against that schema and parses with
today's model."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from crm_events.registry import spec_for

RELEASED = Path(__file__).resolve().parents[2] / "schemas"
SAMPLES = {  # a value for each pattern the released schemas use
    r"^-?\d+(\.\d+)?$": "12.50",
    r"^\d{4}-(0[1-9]|1[0-2])$": "2026-03",
    r"^([01]\d|2[0-3]):[0-5]\d$": "02:00",
    r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$": "24:00",
    r"^[0-9a-f]{12}$": "0123456789ab",
    r"^[0-9a-f]{64}$": "ab" * 32,
}
# RFC 3339 forms (JSON Schema's date-time): Z, lower-case t, numeric offsets, fractions.
NEW_YORK = timezone(timedelta(hours=-5))
INSTANT_FORMS: list[Callable[[datetime], str]] = [
    lambda at: at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    lambda at: at.astimezone(NEW_YORK).isoformat(timespec="milliseconds").replace("T", "t"),
    lambda at: at.astimezone(NEW_YORK).isoformat(),
]
# Properties come in alphabetical order: fields that close an interval get a later instant.
LATER = {"end": 5, "ended_at": 5, "end_date": 5, "responded_at": 1, "resolved_at": 2}


class Builder:
    def __init__(self, root: dict[str, Any], *, every_property: bool) -> None:
        self.defs = root.get("$defs", {})
        self.every_property = every_property
        self.strings = count()

    def build(self, schema: dict[str, Any], name: str = "") -> Any:
        if "$ref" in schema:
            return self.build(self.defs[schema["$ref"].rsplit("/", 1)[-1]], name)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = [b for b in schema[key] if b.get("type") != "null"]
                if not self.every_property and len(branches) < len(schema[key]):
                    return None
                return self.build(branches[0], name)
        return self._typed(schema, name)

    def _typed(self, schema: dict[str, Any], name: str) -> Any:
        kind = schema.get("type")
        if kind == "object":
            names = schema.get("properties", {})
            wanted = names if self.every_property else schema.get("required", [])
            return {n: self.build(names[n], n) for n in wanted}
        if kind == "array":
            items = schema.get("items", {})
            if "oneOf" in items:  # a union: one item of each kind
                return [self.build(branch) for branch in items["oneOf"]]
            return [self.build(items) for _ in range(max(1, schema.get("minItems", 0)))]
        if kind == "integer":
            low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
            return max(low, min(1, schema.get("maximum", 1)))
        if kind == "number":
            return 1
        if kind == "boolean":
            return True
        return self._string(schema, name)

    def _string(self, schema: dict[str, Any], name: str) -> str:
        n = next(self.strings)
        fmt = schema.get("format")
        if fmt == "date-time":
            at = datetime(2026, 3, 14, 3, tzinfo=UTC) + timedelta(hours=LATER.get(name, 0))
            return INSTANT_FORMS[n % len(INSTANT_FORMS)](at)
        if fmt == "date":
            return (date(2026, 3, 1) + timedelta(days=LATER.get(name, 0) * 365)).isoformat()
        if fmt == "uuid":
            return str(uuid.UUID(int=n))
        if "pattern" in schema:
            return SAMPLES[schema["pattern"]]
        return "x" * max(1, schema.get("minLength", 1))


@pytest.mark.parametrize("path", sorted(RELEASED.glob("*.json")), ids=lambda p: p.stem)
@pytest.mark.parametrize("every_property", [True, False], ids=["every", "required"])
def test_an_event_valid_against_the_released_schema_parses(
    path: Path, every_property: bool
) -> None:
    schema = json.loads(path.read_text())
    instance = Builder(schema, every_property=every_property).build(schema)
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    assert [e.message for e in validator.iter_errors(instance)] == []
    parsed = spec_for(path.stem.split("@")[0]).model.model_validate(instance)
    assert set(schema.get("required", [])) <= set(parsed.model_dump())
