"""The same resource has the same shape in the API and in billing.v1: for credits, charges,
reconciliations and discrepancies, the JSON field names and JSON types of the documented
HTTP response (the OpenAPI document an integrator generates a client from) equal those of
the event's JSON Schema, but for the read model's documented HTTP-only fields.

Types are compared as JSON types with their format (uuid, date-time, decimal string), into
nested objects and array items. An event may make a field nullable that the API always
fills (fields added to a released event must be optional); the API may be null where the
event is not only for the fields its model names (`null_when_not_stored`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from pydantic import BaseModel

from billing_reconciler.credits.schemas import CreditRead
from billing_reconciler.exports.examples import STATEMENT
from billing_reconciler.main import create_app
from billing_reconciler.periods.recompute import charges_computed
from billing_reconciler.periods.schemas import PeriodChargesRead
from billing_reconciler.reconciliation.schemas import DiscrepancyRead, ReconciliationRead
from crm_events.registry import Dumped, spec_for
from crm_events.schemas.billing import ChargesComputed
from crm_events.types import DECIMAL_PATTERN

Schema = dict[str, Any]


@dataclass(frozen=True)
class Field:
    types: frozenset[str]
    nullable: bool
    nested: dict[str, Field] | None  # an object's fields (or an array's items')


def _resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        defs = root.get("$defs") or root["components"]["schemas"]
        schema = defs[name]
    return schema


def _field(schema: Schema, root: Schema) -> Field:
    schema = _resolve(schema, root)
    variants = [_resolve(s, root) for s in schema.get("anyOf", [schema])]
    nullable = any(v.get("type") == "null" for v in variants)
    types: set[str] = set()
    nested: dict[str, Field] | None = None
    for v in variants:
        kind = v.get("type", "object" if "properties" in v else "any")
        if kind == "null":
            continue
        if v.get("pattern") == DECIMAL_PATTERN:
            kind = "decimal string"
        elif "format" in v:
            kind = f"{kind}:{v['format']}"
        elif kind == "array":
            inner = _field(v["items"], root)
            kind, nested = f"array of {sorted(inner.types)}", inner.nested
        elif isinstance(v.get("additionalProperties"), dict):
            kind = f"object of {sorted(_field(v['additionalProperties'], root).types)}"
        if "properties" in v:
            nested = fields_of(v, root)
        types.add(kind)
    return Field(frozenset(types), nullable, nested)


def fields_of(schema: Schema, root: Schema) -> dict[str, Field]:
    schema = _resolve(schema, root)
    return {name: _field(s, root) for name, s in schema["properties"].items()}


def differences(
    http: dict[str, Field],
    event: dict[str, Field],
    *,
    http_only: frozenset[str] = frozenset(),
    may_be_null: frozenset[str] = frozenset(),
    path: str = "",
) -> list[str]:
    """What an integrator would trip over moving between the response and the event."""
    found = [f"{path}{n}: missing from the event" for n in sorted(set(http) - set(event))]
    found = [f for f in found if f.split(":")[0].removeprefix(path) not in http_only]
    found += [f"{path}{n}: missing from the API" for n in sorted(set(event) - set(http))]
    for name in sorted(set(http) & set(event)):
        h, e = http[name], event[name]
        if h.types != e.types:
            found.append(f"{path}{name}: {sorted(h.types)} in the API, {sorted(e.types)} in events")
        if h.nullable and not e.nullable and name not in may_be_null:
            found.append(f"{path}{name}: nullable in the API only")
        if h.nested is not None and e.nested is not None:
            found += differences(h.nested, e.nested, path=f"{path}{name}.")
    return found


@cache
def openapi() -> Schema:
    spec: Schema = create_app().openapi()
    return spec


def response_fields(path: str) -> dict[str, Field]:
    spec = openapi()
    schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    schema = _resolve(schema["schema"], spec)
    if "next_cursor" in schema.get("properties", {}):  # a page: the fields of its items
        schema = _resolve(schema["properties"]["items"], spec)
    return fields_of(schema.get("items", schema), spec)


def event_fields(event_type: str) -> dict[str, Field]:
    schema = spec_for(event_type).model.model_json_schema(mode="serialization")
    return fields_of(schema, schema)


@dataclass(frozen=True)
class Resource:
    name: str
    http: dict[str, Field]
    event_type: str
    model: type[BaseModel]

    @property
    def http_only(self) -> frozenset[str]:
        extras: frozenset[str] = getattr(self.model, "http_only")  # noqa: B009
        return extras


def _resources() -> list[Resource]:
    reconciliation = response_fields("/invoices/{invoice_id}/reconciliation")
    discrepancy = reconciliation["discrepancies_found"].nested
    assert discrepancy is not None
    return [
        Resource(
            "credits",
            response_fields("/contracts/{contract_id}/credits"),
            "billing.credit_calculated",
            CreditRead,
        ),
        Resource(
            "charges",
            response_fields("/contracts/{contract_id}/charges/{period}"),
            "billing.charges_computed",
            PeriodChargesRead,
        ),
        Resource("reconciliations", reconciliation, "reconciliation.completed", ReconciliationRead),
        Resource("discrepancies", discrepancy, "reconciliation.discrepancy_found", DiscrepancyRead),
    ]


@pytest.mark.parametrize("resource", _resources(), ids=lambda r: r.name)
def test_the_response_and_the_event_have_the_same_fields_and_json_types(
    resource: Resource,
) -> None:
    problems = differences(
        resource.http,
        event_fields(resource.event_type),
        http_only=resource.http_only,
        may_be_null=getattr(resource.model, "null_when_not_stored", frozenset()),
    )
    assert problems == []


@pytest.mark.parametrize("resource", _resources(), ids=lambda r: r.name)
def test_the_http_only_fields_are_in_the_response(resource: Resource) -> None:
    assert resource.http_only <= set(resource.http)


def test_nested_shapes_are_compared_too() -> None:
    charges = _resources()[1]
    assert charges.http["lines"].nested is not None
    assert "explanation" in charges.http["lines"].nested
    line = event_fields("billing.charges_computed")["lines"].nested
    assert line is not None and set(line) == set(charges.http["lines"].nested)


def test_the_revision_history_uses_the_event_names() -> None:
    summary = response_fields("/invoices/{invoice_id}/reconciliations")
    event = event_fields("reconciliation.completed")
    assert set(summary) - set(event) == {"is_current"}
    assert (
        differences(
            {n: f for n, f in summary.items() if n in event},
            {n: f for n, f in event.items() if n in summary},
        )
        == []
    )


def test_a_renamed_or_retyped_field_is_reported() -> None:
    text, number = (
        Field(frozenset({"string"}), False, None),
        Field(frozenset({"integer"}), False, None),
    )
    assert differences({"id": text, "explanation": number}, {"explanation": text}) == [
        "id: missing from the event",
        "explanation: ['integer'] in the API, ['string'] in events",
    ]
    assert differences({"id": text}, {}, http_only=frozenset({"id"})) == []


def test_a_statement_stored_before_lines_had_a_formula_reads_it_from_the_explanation() -> None:
    stored = {
        **STATEMENT,
        "lines": [{k: v for k, v in ln.items() if k != "formula"} for ln in STATEMENT["lines"]],
    }
    statement = PeriodChargesRead.model_validate(stored)
    assert [ln.formula for ln in statement.lines] == [
        ln["explanation"]["formula"] for ln in STATEMENT["lines"]
    ]


def test_the_charges_event_taken_from_the_stored_document_is_what_the_model_dumps() -> None:
    """`billing.charges_computed` is cut from the stored statement's JSON, not validated and
    dumped again: the model validates that cut and dumps it unchanged, and the API's own
    extras are left out."""
    document = PeriodChargesRead.model_validate(
        {**STATEMENT, "revision": 2, "computed_at": "2026-04-01T00:05:00.25Z"}
    ).model_dump(mode="json")
    cut = charges_computed(document)
    assert cut.model is ChargesComputed
    assert ChargesComputed.model_validate(cut.json).model_dump(mode="json") == cut.json
    assert list(cut.json) == list(ChargesComputed.model_fields)
    assert "consumption_record_ids" in document and "consumption_record_ids" not in cut.json
    assert cut.json["lines"] == document["lines"] and cut.json["revision"] == 2
    envelope = spec_for("billing.charges_computed").envelope(
        source="test",
        subject=str(STATEMENT["contract_id"]),
        tenant="t",
        data=cut,
        correlation_id="c",
    )
    assert envelope.data == cut.json


def test_an_event_refuses_a_payload_of_another_kind() -> None:
    with pytest.raises(TypeError, match="carries ChargesComputed, not CreditRead"):
        spec_for("billing.charges_computed").envelope(
            source="test",
            subject="s",
            tenant="t",
            data=Dumped(CreditRead, {}),
            correlation_id="c",
        )
