from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from crm_events.schemas.contracts import MetricKind
from crm_events.schemas.sla import (
    AvailabilityFigures,
    IncidentFigures,
    MeasurementFigures,
    Outcome,
    Period,
)
from crm_events.types import Instant, Percent, Quantity
from crm_platform.pagination import Page


class DowntimeInterval(BaseModel):
    start: datetime
    end: datetime
    minutes: Quantity = Field(description="Length in minutes (exact decimal).")


class AttainmentRead(BaseModel):
    """One SLA in one period: live while open, the published figures once closed."""

    contract_id: uuid.UUID
    sla_code: str
    metric_kind: MetricKind
    contract_version: int
    period: Period
    timezone: str
    status: str = Field(description="`open` (live figure) or `closed` (published).")
    attainment: Percent | None = Field(
        description="Availability or incident compliance in %, or the measured statistic "
        "in the SLA's unit; 4 decimals, half-even. Null when there is no data."
    )
    expected_level: Percent
    minimum_level: Percent
    outcome: Outcome
    figures: AvailabilityFigures | None = None
    incident_figures: IncidentFigures | None = None
    measurement_figures: MeasurementFigures | None = None
    counted_downtime: list[DowntimeInterval] = Field(
        default_factory=list, description="The downtime intervals that counted, in UTC."
    )
    explanation: str
    closed_at: datetime | None = None
    restatements: int = Field(default=0, description="How often the closed figures changed.")


class ExplanationRead(BaseModel):
    """Everything behind a period's figures."""

    contract_id: uuid.UUID
    sla_code: str
    period: Period
    status: str
    outcome: Outcome
    attainment: Percent | None
    formula: str
    explanation: str
    detail: dict[str, Any] = Field(
        description="Availability: period_minutes, excluded_minutes (maintenance_minutes + "
        "outside_service_hours_minutes), reported and counted downtime, counted_downtime "
        "intervals, maintenance_windows. Incidents: incidents, within_target, "
        "missed_incidents. Measurements: values, value."
    )


class ScorecardLine(BaseModel):
    sla_code: str
    name: str
    metric_kind: MetricKind
    period: Period = Field(
        description="The SLA's own period that holds the scorecard's month: the month for a "
        "monthly SLA, the quarter (`2026-Q1`, kind `quarter`) or year for quarterly and "
        "annual ones; status, attainment and outcome are that period's."
    )
    status: str
    attainment: Percent | None
    expected_level: Percent
    minimum_level: Percent
    outcome: Outcome
    allocation_pct: Percent


class ScorecardRead(BaseModel):
    contract_id: uuid.UUID
    contract_version: int
    period: Period
    timezone: str
    slas: list[ScorecardLine]
    summary: dict[str, int] = Field(description="How many SLAs have each outcome.")


class RestatementRead(BaseModel):
    restatement: int
    restated_at: datetime
    reason: str
    previous: dict[str, Any]
    current: dict[str, Any]
    event_id: str


class MaintenanceWindowCreate(BaseModel):
    """An ad-hoc maintenance window the customer approved."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "start": "2026-03-21T02:00:00Z",
                    "end": "2026-03-21T04:00:00Z",
                    "reason": "Emergency patch CVE-2026-1234 (CHG0042)",
                    "approved_by": "J. Smith (Acme change board)",
                }
            ]
        }
    }

    start: Instant
    end: Instant
    reason: str = Field(min_length=1, max_length=500)
    approved_by: str = Field(
        min_length=1, max_length=200, description="Who approved it on the customer's side."
    )
    sla_codes: list[str] = Field(
        default_factory=list,
        description="The SLAs it applies to; empty means every SLA of the contract.",
    )


class MaintenanceWindowRead(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    start: datetime
    end: datetime
    reason: str
    approved_by: str
    approved_at: datetime
    sla_codes: list[str]
    restated_periods: list[str] = Field(
        default_factory=list, description="Closed periods this window restated."
    )


class RestatementPage(Page[RestatementRead]):
    """A page of a closed period's restatements."""


class MaintenanceWindowPage(Page[MaintenanceWindowRead]):
    """A page of a contract's ad-hoc maintenance windows."""


class PeriodsCloseRequest(BaseModel):
    """The contracts whose SLA periods to close (a month end goes through the portfolio a
    slice at a time)."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "contract_ids": [
                        "ffe49102-5e08-43b1-a47b-74785694970e",
                        "0b5c2a61-8d3e-4f7a-9c1d-2e6f8a4b7c90",
                    ],
                    "sla_codes": [],
                }
            ]
        }
    }

    contract_ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=500,
        description="Up to 500 contracts; each must have an SLA known to this service.",
    )
    sla_codes: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Only these SLAs of each contract (a code in none of them is a 422 "
        "naming it); empty means every SLA measured in periods of the label's kind.",
    )


class ClosedPeriodLine(BaseModel):
    contract_id: uuid.UUID
    sla_code: str
    metric_kind: MetricKind
    contract_version: int
    attainment: Percent | None = Field(
        description="As `sla.period_closed` publishes it (4 decimals, half-even; null: no data)."
    )
    outcome: Outcome


class SkippedPeriodLine(BaseModel):
    contract_id: uuid.UUID
    sla_code: str
    reason: str = Field(description="Why this SLA's period was not closed by this call.")


class PeriodsCloseResult(BaseModel):
    """What a portfolio close did, SLA by SLA, in the order of the request's contracts."""

    period: str = Field(examples=["2026-03"])
    closed_at: datetime
    closed: list[ClosedPeriodLine] = Field(
        description="Closed now; each published `sla.period_closed`."
    )
    already_closed: list[SkippedPeriodLine] = Field(
        description="Closed before (by the close job, an operator or an earlier call): "
        "their published figures stand. A retried call lands here."
    )
    not_measured: list[SkippedPeriodLine] = Field(
        description="SLAs that have no such period: measured per quarter or year, not in "
        "the terms in force at the period's start, or the period is outside the contract's "
        "term."
    )
    summary: dict[str, int] = Field(
        description="How many of the periods closed now came out with each outcome."
    )
