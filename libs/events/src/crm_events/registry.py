"""The event catalog: every event type, its topic, its payload schema and its version.

A consumer looks the type up here to validate the payload before any handler sees it;
a producer builds envelopes through `EventSpec.envelope` so `dataschema` is always right.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from crm_events.envelope import Envelope, describe_validation_error
from crm_events.schemas import alerts, billing, consumption, contracts, obligations, sla, telemetry
from crm_events.topics import Topic


class UnknownEventType(LookupError):
    pass


class InvalidPayload(ValueError):
    pass


@dataclass(frozen=True)
class EventSpec:
    type: str
    topic: Topic
    model: builtins.type[BaseModel]  # `type` alone would mean the field above
    version: int = 1
    description: str = ""

    @property
    def dataschema(self) -> str:
        return f"{self.type}@{self.version}"

    def envelope(
        self,
        *,
        source: str,
        subject: str,
        tenant: str,
        data: BaseModel,
        correlation_id: str,
        causation_id: str | None = None,
    ) -> Envelope:
        if not isinstance(data, self.model):
            raise TypeError(f"{self.type} carries {self.model.__name__}, not {type(data).__name__}")
        return Envelope(
            source=source,
            type=self.type,
            subject=subject,
            tenant=tenant,
            dataschema=self.dataschema,
            correlationid=correlation_id,
            causationid=causation_id,
            data=data.model_dump(mode="json"),
        )


_SPECS = [
    EventSpec(
        "contract.activated",
        Topic.CONTRACTS,
        contracts.ContractActivated,
        description="A contract became active; carries the full terms of its version.",
    ),
    EventSpec(
        "contract.amended",
        Topic.CONTRACTS,
        contracts.ContractAmended,
        description="A new version of an active contract took effect; full terms.",
    ),
    EventSpec(
        "contract.terminated",
        Topic.CONTRACTS,
        contracts.ContractTerminated,
        description="A contract ended (terminated or expired); its last terms.",
    ),
    EventSpec(
        "telemetry.recorded",
        Topic.TELEMETRY,
        telemetry.TelemetryRecorded,
        description="A batch of service telemetry (outages).",
    ),
    EventSpec(
        "consumption.recorded",
        Topic.CONSUMPTION,
        consumption.ConsumptionRecorded,
        description="A batch of consumption records per resource unit and period.",
    ),
    EventSpec(
        "sla.period_closed",
        Topic.SLA,
        sla.SlaPeriodClosed,
        description="An SLA's measurement period closed with its attainment and outcome.",
    ),
    EventSpec(
        "billing.credit_calculated",
        Topic.BILLING,
        billing.CreditCalculated,
        description="A service credit was computed for a failed SLA period.",
    ),
    EventSpec(
        "obligation.created",
        Topic.OBLIGATIONS,
        obligations.ObligationCreated,
        description="An obligation instance was opened.",
    ),
    EventSpec(
        "alert.raised",
        Topic.ALERTS,
        alerts.AlertRaised,
        description="An alert was raised (once per deduplication key).",
    ),
]

REGISTRY: dict[str, EventSpec] = {spec.type: spec for spec in _SPECS}


def spec_for(event_type: str) -> EventSpec:
    try:
        return REGISTRY[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


def parse_payload(envelope: Envelope) -> Any:
    """Validate an envelope's data against its registered schema and return the model."""
    spec = spec_for(envelope.type)
    if envelope.dataschema != spec.dataschema:
        # Same major schema only; a newer minor producer must stay compatible with v1 readers.
        name, _, version = envelope.dataschema.partition("@")
        if name != spec.type or version != str(spec.version):
            raise InvalidPayload(
                f"dataschema {envelope.dataschema!r} does not match {spec.dataschema!r}"
            )
    try:
        return spec.model.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidPayload(
            f"{envelope.type} payload invalid: {describe_validation_error(exc)}"
        ) from exc


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every payload, keyed by `dataschema` (type@version)."""
    return {spec.dataschema: spec.model.model_json_schema(mode="serialization") for spec in _SPECS}
