"""telemetry.v1 — produced by monitoring and ITSM systems (directly, or via sla-monitor's
HTTP API). Every item names the `service_key` that SLA definitions read.

Four kinds, told apart by `kind`:
- `outage`: an interval during which the service was down;
- `sample`: an up/down observation (a heartbeat); consecutive samples become intervals,
  and any sample proves the period has data;
- `incident`: a ticket, upserted by `ticket_id` (the newest `revision` wins);
- `measurement`: a numeric value with a unit (e.g. a response time in ms).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictInt, Tag, model_validator

from crm_events.types import Instant, Quantity

ServiceKey = Annotated[str, Field(min_length=1, max_length=200, examples=["core-banking"])]
SourceId = Annotated[str | None, Field(default=None, max_length=200)]


def _in_range(*values: datetime | None) -> None:
    # Instant already refused numbers and timestamps without a UTC offset.
    for value in values:
        if value is not None and not 1970 <= value.year <= 2200:
            raise ValueError("timestamps must fall between the years 1970 and 2200")


class OutageItem(BaseModel):
    """A period during which a service was down (UTC instants, end exclusive)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["outage"] = "outage"
    service_key: ServiceKey
    started_at: Instant
    ended_at: Instant
    source_id: SourceId = Field(
        default=None, description="The monitoring system's id for the outage."
    )

    @model_validator(mode="after")
    def _ordered(self) -> OutageItem:
        _in_range(self.started_at, self.ended_at)
        if self.ended_at <= self.started_at:
            raise ValueError("ended_at must be after started_at")
        return self


class SampleItem(BaseModel):
    """An up/down observation of a service at an instant."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sample"]
    service_key: ServiceKey
    observed_at: Instant
    status: Literal["up", "down"]
    source_id: SourceId = None

    @model_validator(mode="after")
    def _check(self) -> SampleItem:
        _in_range(self.observed_at)
        return self


class IncidentItem(BaseModel):
    """An ITSM ticket. Sent again on every change; the highest `revision` is kept."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["incident"]
    service_key: ServiceKey
    ticket_id: str = Field(min_length=1, max_length=200, examples=["INC0012345"])
    revision: StrictInt = Field(
        default=0, ge=0, description="Increases with every change of the ticket upstream."
    )
    priority: str = Field(min_length=1, max_length=20, examples=["P1"])
    opened_at: Instant
    responded_at: Instant | None = None
    resolved_at: Instant | None = None

    @model_validator(mode="after")
    def _check(self) -> IncidentItem:
        _in_range(self.opened_at, self.responded_at, self.resolved_at)
        for name in ("responded_at", "resolved_at"):
            value = getattr(self, name)
            if value is not None and value < self.opened_at:
                raise ValueError(f"{name} is before opened_at")
        return self


class MeasurementItem(BaseModel):
    """A numeric measurement (response time, throughput…)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["measurement"]
    service_key: ServiceKey
    measured_at: Instant
    value: Quantity
    unit: str = Field(min_length=1, max_length=20, examples=["ms"])
    source_id: SourceId = None

    @model_validator(mode="after")
    def _check(self) -> MeasurementItem:
        _in_range(self.measured_at)
        return self


def _kind(value: object) -> str:
    # `kind` may be left out for outages: the first version of this schema had only them.
    if isinstance(value, dict):
        return str(value.get("kind", "outage"))
    return str(getattr(value, "kind", "outage"))


TelemetryItem = Annotated[
    Annotated[OutageItem, Tag("outage")]
    | Annotated[SampleItem, Tag("sample")]
    | Annotated[IncidentItem, Tag("incident")]
    | Annotated[MeasurementItem, Tag("measurement")],
    Discriminator(
        _kind,
        custom_error_type="unknown_kind",
        custom_error_message="kind must be outage, sample, incident or measurement",
    ),
]


class TelemetryRecorded(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[TelemetryItem] = Field(min_length=1, max_length=10_000)
