"""The event catalog: every event type, its topic, its payload schema and its version.

A consumer looks the type up here to validate the payload before any handler sees it;
a producer builds envelopes through `EventSpec.envelope` so `dataschema` is always right.
"""

from __future__ import annotations

import builtins
import functools
import os
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from crm_events.envelope import Envelope, describe_validation_error
from crm_events.schemas import (
    access,
    alerts,
    audit,
    billing,
    consumption,
    contracts,
    obligations,
    sla,
    telemetry,
)
from crm_events.topics import Topic
from crm_events.tracing import TRACEPARENT, TRACESTATE, current_carrier

SCHEMA_BASE_ENV = "CRM_EVENT_SCHEMA_BASE_URL"
DEFAULT_SCHEMA_BASE_URL = "http://localhost:8001/schemas/events"


@functools.cache
def schema_base_url() -> str:
    """Where consumers fetch the payload schemas from (`dataschema` URIs start with it):
    set CRM_EVENT_SCHEMA_BASE_URL to any service's public `/schemas/events`; the default
    is contract-registry's on a local stack. Read once per process (every envelope carries
    it: reading the environment each time was 2 % of a consumer's CPU)."""
    return os.environ.get(SCHEMA_BASE_ENV, DEFAULT_SCHEMA_BASE_URL).rstrip("/")


def schema_name_of(dataschema: str) -> str:
    """`contract.activated@1` from a dataschema URI (or from the bare name events carried
    before dataschema was a URI)."""
    return dataschema.rsplit("/", 1)[-1].removesuffix(".json")


@dataclass(frozen=True)
class Dumped:
    """A payload already in its JSON form: what `model(...).model_dump(mode="json")` gives,
    built by a producer from values it validated before (its own stored document), so the
    envelope takes it as it is instead of validating and dumping a model again. The
    producer's tests check that `model` validates it and dumps it unchanged."""

    model: builtins.type[BaseModel]
    json: dict[str, Any]


Payload = BaseModel | Dumped
"""What an event carries: a payload model, or its JSON form (`Dumped`)."""


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
    def schema_name(self) -> str:
        """`<type>@<version>`: the released JSON Schema's file name (without `.json`)."""
        return f"{self.type}@{self.version}"

    @property
    def dataschema(self) -> str:
        """The URI of the payload's JSON Schema, as the envelope's `dataschema` carries it:
        every service serves it at `/schemas/events/<type>@<version>.json`."""
        return f"{schema_base_url()}/{self.schema_name}.json"

    def envelope(
        self,
        *,
        source: str,
        subject: str,
        tenant: str,
        data: Payload,
        correlation_id: str,
        causation_id: str | None = None,
    ) -> Envelope:
        given = data.model if isinstance(data, Dumped) else type(data)
        if not issubclass(given, self.model):
            raise TypeError(f"{self.type} carries {self.model.__name__}, not {given.__name__}")
        trace_context = current_carrier()  # the span the event is created in, if any
        return Envelope(
            source=source,
            type=self.type,
            subject=subject,
            tenant=tenant,
            dataschema=self.dataschema,
            correlationid=correlation_id,
            causationid=causation_id,
            traceparent=trace_context.get(TRACEPARENT),
            tracestate=trace_context.get(TRACESTATE),
            data=data.json if isinstance(data, Dumped) else data.model_dump(mode="json"),
        )


def _spec(event_type: str, topic: Topic, model: builtins.type[BaseModel], text: str) -> EventSpec:
    return EventSpec(event_type, topic, model, description=text)


_OBLIGATION_TRANSITIONS = {
    "due_soon": "An open obligation is due within the warning horizon.",
    "overdue": "An obligation passed its due date unfulfilled.",
    "fulfilled": "An obligation was fulfilled, with its evidence.",
    "waived": "An obligation was waived, with the reason and who waived it.",
    "escalated": "An overdue obligation was escalated to the next level.",
}

_SPECS = [
    _spec(
        "contract.activated",
        Topic.CONTRACTS,
        contracts.ContractActivated,
        "A contract became active; carries the full terms of its version.",
    ),
    _spec(
        "contract.amended",
        Topic.CONTRACTS,
        contracts.ContractAmended,
        "A new version of an active contract was activated; full terms, in force from "
        "terms.effective_from (which may be later).",
    ),
    _spec(
        "contract.terminated",
        Topic.CONTRACTS,
        contracts.ContractTerminated,
        "A contract ended (terminated or expired); its last terms.",
    ),
    _spec(
        "telemetry.recorded",
        Topic.TELEMETRY,
        telemetry.TelemetryRecorded,
        "A batch of service telemetry (outages, samples, incidents, measurements). A "
        "message holding an item wholly before sla-monitor's retention horizon (a sample or "
        "measurement before it, an outage ended or an incident resolved before it) is "
        "dead-lettered whole, the items named in `dlq.error.message`; the other messages "
        "are stored.",
    ),
    _spec(
        "consumption.recorded",
        Topic.CONSUMPTION,
        consumption.ConsumptionRecorded,
        "A batch of consumption records per resource unit and period.",
    ),
    _spec(
        "sla.at_risk",
        Topic.SLA,
        sla.SlaAtRisk,
        "The projection says the period will miss (once per SLA and period).",
    ),
    _spec(
        "sla.breached",
        Topic.SLA,
        sla.SlaBreached,
        "A failure is certain before the period ends (once per SLA and period).",
    ),
    _spec(
        "sla.period_closed",
        Topic.SLA,
        sla.SlaPeriodClosed,
        "An SLA's measurement period closed with its attainment and outcome.",
    ),
    _spec(
        "sla.period_restated",
        Topic.SLA,
        sla.SlaPeriodRestated,
        "Late telemetry, an approved maintenance window or a retroactive amendment changed "
        "a closed period; the old and the new figures.",
    ),
    _spec(
        "billing.charges_computed",
        Topic.BILLING,
        billing.ChargesComputed,
        "The expected charges of a contract period, line by line.",
    ),
    _spec(
        "billing.credit_calculated",
        Topic.BILLING,
        billing.CreditCalculated,
        "A service credit was computed, or revised: book delta_amount (the whole amount "
        "on revision 1).",
    ),
    _spec(
        "billing.credit_earned_back",
        Topic.BILLING,
        billing.CreditEarnedBack,
        "A credit was returned: the SLA met its expected level for the earn-back periods "
        "(revision > 1: the returned amount changed; book delta_amount).",
    ),
    _spec(
        "billing.credit_earn_back_reversed",
        Topic.BILLING,
        billing.CreditEarnBackReversed,
        "An earn-back published before no longer holds: book delta_amount (negative).",
    ),
    _spec(
        "billing.volume_band_exceeded",
        Topic.BILLING,
        billing.VolumeBandExceeded,
        "Actual volume left a resource unit's volume band.",
    ),
    _spec(
        "reconciliation.completed",
        Topic.BILLING,
        billing.ReconciliationCompleted,
        "An invoice was reconciled: totals, sums per discrepancy class, status.",
    ),
    _spec(
        "reconciliation.discrepancy_found",
        Topic.BILLING,
        billing.DiscrepancyFound,
        "One difference between an invoice and what the contract says.",
    ),
    _spec(
        "obligation.created",
        Topic.OBLIGATIONS,
        obligations.ObligationCreated,
        "An obligation instance was opened.",
    ),
    *[
        _spec(f"obligation.{name}", Topic.OBLIGATIONS, obligations.ObligationTransitioned, text)
        for name, text in _OBLIGATION_TRANSITIONS.items()
    ],
    _spec(
        "api_key.issued",
        Topic.ACCESS,
        access.ApiKeyIssued,
        "An API key was issued (its secret's hash, tenant and scopes).",
    ),
    _spec(
        "api_key.revoked",
        Topic.ACCESS,
        access.ApiKeyRevoked,
        "An API key was revoked; every service refuses it from then on.",
    ),
    _spec(
        "alert.raised",
        Topic.ALERTS,
        alerts.AlertRaised,
        "An alert was raised (once per deduplication key).",
    ),
    _spec(
        "audit.recorded",
        Topic.AUDIT,
        audit.AuditRecorded,
        "An operator action that changes money or obligations was recorded in the emitting "
        "service's audit log: who (API key id), what, when, the fields before and after.",
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
    if schema_name_of(envelope.dataschema) != spec.schema_name:
        # The schema's name and major version must be ours, wherever it is served from; a
        # newer minor producer stays compatible with v1 readers.
        raise InvalidPayload(
            f"dataschema {envelope.dataschema!r} does not name {spec.schema_name!r}"
        )
    try:
        return spec.model.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidPayload(
            f"{envelope.type} payload invalid: {describe_validation_error(exc)}"
        ) from exc


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every payload, keyed by its name (type@version)."""
    return {spec.schema_name: spec.model.model_json_schema(mode="serialization") for spec in _SPECS}
