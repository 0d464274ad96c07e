"""The exported JSON Schemas in libs/events/schemas/ are the released contract with every
consumer. A change to a payload model must stay compatible with them (see schema_export)."""

import json
from pathlib import Path
from typing import Any

from crm_events.registry import json_schemas
from crm_events.schema_export import incompatibilities

RELEASED = Path(__file__).resolve().parents[2] / "schemas"


def test_every_event_type_has_a_released_schema() -> None:
    missing = sorted(name for name in json_schemas() if not (RELEASED / f"{name}.json").exists())
    assert not missing, (
        f"no released schema for {missing}; run "
        "`uv run crm-events schemas export libs/events/schemas`"
    )


def test_current_schemas_are_compatible_with_the_released_ones() -> None:
    problems = {}
    for name, current in json_schemas().items():
        path = RELEASED / f"{name}.json"
        if path.exists():
            found = incompatibilities(json.loads(path.read_text()), current)
            if found:
                problems[name] = found
    assert not problems, f"backward-incompatible event schema changes: {problems}"


def test_the_rule_catches_removed_retyped_and_newly_required_fields() -> None:
    old: dict[str, Any] = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }
    new = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "c": {"type": "string"}},
        "required": ["a", "c"],
    }
    found = incompatibilities(old, new)
    assert any("$.a: type" in p for p in found)
    assert any("$.b: removed" in p for p in found)
    assert any("$.c: newly required" in p for p in found)
    optional_addition = {**old, "properties": {**old["properties"], "d": {"type": "string"}}}
    assert incompatibilities(old, optional_addition) == []


def test_the_event_catalog_document_is_current() -> None:
    from crm_events.catalog import render_markdown

    doc = Path(__file__).resolve().parents[4] / "docs" / "events.md"
    assert doc.read_text().strip() == render_markdown().strip(), (
        "docs/events.md is stale: uv run crm-events catalog > docs/events.md"
    )
