"""Adding a telemetry kind or an SLA metric is one entry in a registry; forgetting the
entry fails here. The telemetry union is read from crm_events by introspection."""

from typing import Any, get_args

from pydantic import BaseModel, Tag
from sqlalchemy.dialects import postgresql

from crm_events.schemas.contracts import MetricKind
from crm_events.schemas.telemetry import TelemetryItem, TelemetryRecorded
from sla_monitor.attainment.compute import COMPUTATIONS
from sla_monitor.attainment.domain import period_bounds
from sla_monitor.telemetry import validation
from sla_monitor.telemetry.kinds import TELEMETRY_KINDS


def union_members(union: Any) -> dict[str, type[BaseModel]]:
    """The members of a discriminated union `Annotated[A | B, Discriminator]` whose
    members are `Annotated[Model, Tag(name)]`, by tag."""
    inner, *_ = get_args(union)
    members = {}
    for member in get_args(inner):
        model, *meta = get_args(member)
        [tag] = [m.tag for m in meta if isinstance(m, Tag)]
        members[tag] = model
    return members


def datetime_fields(model: type[BaseModel]) -> set[str]:
    """Fields the item's JSON Schema gives as date-time (optional ones included)."""
    return {
        name
        for name, prop in model.model_json_schema()["properties"].items()
        if "date-time" in [p.get("format") for p in (prop, *prop.get("anyOf", []))]
    }


def test_the_union_is_the_one_telemetry_recorded_carries() -> None:
    (items,) = get_args(TelemetryRecorded.model_fields["items"].annotation)
    assert union_members(items) == union_members(TelemetryItem)
    assert len(union_members(TelemetryItem)) >= 4


def test_every_member_of_the_telemetry_union_is_a_registered_kind() -> None:
    members = union_members(TelemetryItem)
    assert {name: kind.item for name, kind in TELEMETRY_KINDS.items()} == members
    for name, kind in TELEMETRY_KINDS.items():
        assert kind.name == name
        assert get_args(kind.item.model_fields["kind"].annotation) == (name,)


def test_every_kind_proves_data_for_some_metric_with_a_query_that_compiles() -> None:
    march = period_bounds("2026-03", "America/New_York")
    for kind in TELEMETRY_KINDS.values():
        assert kind.evidence_for, kind.name
        assert kind.evidence_for <= set(MetricKind), kind.name
        sql = str(
            kind.evidence("acme-bank", "core-banking", march).compile(dialect=postgresql.dialect())
        )
        assert "EXISTS" in sql, kind.name


def test_every_kinds_instants_are_known_to_the_batch_errors() -> None:
    for name, model in union_members(TelemetryItem).items():
        assert datetime_fields(model), name
        assert set(TELEMETRY_KINDS[name].timestamps) == datetime_fields(model)
        assert datetime_fields(model) <= set(validation.TIMESTAMPS), name
    assert validation.KINDS == set(union_members(TelemetryItem))


def test_every_metric_kind_has_a_computation_and_a_formula() -> None:
    assert set(COMPUTATIONS) == set(MetricKind)
    for metric, computation in COMPUTATIONS.items():
        assert callable(computation.compute), metric
        assert "×" in computation.formula or "statistic" in computation.formula, metric
