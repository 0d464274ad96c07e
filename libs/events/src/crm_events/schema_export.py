"""JSON Schema export of the event catalog, and the backward-compatibility rule.

The exported files under `libs/events/schemas/` are the released contract with consumers.
A change is compatible when both hold: readers of the released version can read new
events (no field removed, made optional or widened in type), and new readers can read
the events already on the topics (no newly required field).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crm_events.registry import json_schemas


def export_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(json_schemas().items()):
        path = directory / f"{name}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.split("/")[-1]], root)
    return schema


def _types(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    schema = _resolve(schema, root)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            out: set[str] = set()
            for s in schema[union]:
                out |= _types(s, root)
            return out
    if "enum" in schema:
        return {f"enum:{v}" for v in schema["enum"]}
    if "const" in schema:
        return {f"enum:{schema['const']}"}
    t = schema.get("type")
    if isinstance(t, list):
        return set(t)
    return {t} if t else {"object" if "properties" in schema else "any"}


def incompatibilities(
    old: dict[str, Any],
    new: dict[str, Any],
    path: str = "$",
    old_root: dict[str, Any] | None = None,
    new_root: dict[str, Any] | None = None,
) -> list[str]:
    """Reasons why a reader written for `old` could break on data valid under `new`."""
    old_root = old_root or old
    new_root = new_root or new
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    problems: list[str] = []
    old_t, new_t = _types(old, old_root), _types(new, new_root)
    if "any" not in old_t and not new_t <= old_t:
        problems.append(f"{path}: type {sorted(old_t)} became {sorted(new_t)}")
        return problems
    old_props = old.get("properties", {})
    new_props = new.get("properties", {})
    old_required = set(old.get("required", []))
    new_required = set(new.get("required", []))
    for name in old_props:
        if name not in new_props:
            problems.append(f"{path}.{name}: removed")
        elif name in old_required and name not in new_required:
            problems.append(f"{path}.{name}: no longer always present")
        else:
            problems += incompatibilities(
                old_props[name], new_props[name], f"{path}.{name}", old_root, new_root
            )
    for name in sorted(new_required - old_required):
        # Events already on the topic lack it: the new reader would reject them.
        problems.append(f"{path}.{name}: newly required (give it a default)")
    if "items" in old and "items" in new:
        problems += incompatibilities(old["items"], new["items"], f"{path}[]", old_root, new_root)
    return problems
