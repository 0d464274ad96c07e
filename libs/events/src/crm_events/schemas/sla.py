"""sla.v1 — emitted by sla-monitor."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from crm_events.schemas.contracts import MeasurementPeriod, MetricKind, TargetClock
from crm_events.types import Instant, Percent, Quantity


class Outcome(StrEnum):
    MET = "met"
    BELOW_EXPECTED = "below_expected"
    FAILED = "failed"
    NO_DATA = "no_data"


class Period(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: str = Field(
        examples=["2026-03", "2026-Q1", "2026"],
        description="Calendar period in the contract's zone: a month (`2026-03`), a quarter "
        "(`2026-Q1`) or a year (`2026`), as the SLA's `measurement_period` says.",
    )
    start: Instant = Field(description="UTC instant the period starts (inclusive).")
    end: Instant = Field(description="UTC instant the period ends (exclusive).")
    kind: MeasurementPeriod = Field(
        default=MeasurementPeriod.MONTH,
        description="The kind of period `label` names (absent in events before quarters "
        "and years existed: month).",
    )


class AvailabilityFigures(BaseModel):
    model_config = ConfigDict(extra="ignore")

    period_minutes: Quantity
    excluded_minutes: Quantity
    downtime_minutes: Quantity


class IncidentFigures(BaseModel):
    """Incident SLAs: incidents of the priority closed in the period, and how many missed."""

    model_config = ConfigDict(extra="ignore")

    priority: str
    target_minutes: StrictInt = Field(
        description="The target in minutes of `target_clock` (a target in business days as "
        "its business minutes)."
    )
    target_clock: TargetClock = TargetClock.WALL_CLOCK
    target_business_days: StrictInt | None = Field(
        default=None, description="The target as the contract states it, when in business days."
    )
    incidents: StrictInt
    within_target: StrictInt
    missed_ticket_ids: list[str] = Field(default_factory=list)
    small_sample_applied: StrictBool = False


class MeasurementFigures(BaseModel):
    model_config = ConfigDict(extra="ignore")

    statistic: str
    percentile: Percent | None = None
    unit: str | None = None
    values: StrictInt
    value: Quantity | None


class SlaPeriodClosed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    contract_id: uuid.UUID
    contract_version: StrictInt
    sla_code: str
    metric_kind: MetricKind
    period: Period
    timezone: str
    attainment: Percent | None = Field(description="Null when the period had no data.")
    expected_level: Percent
    minimum_level: Percent
    outcome: Outcome
    figures: AvailabilityFigures | None = None
    incident_figures: IncidentFigures | None = None
    measurement_figures: MeasurementFigures | None = None
    explanation: str
    closed_at: Instant


class SlaAtRisk(BaseModel):
    """The remaining error budget says the period will miss (sent once per SLA and period)."""

    model_config = ConfigDict(extra="ignore")

    contract_id: uuid.UUID
    contract_version: StrictInt
    sla_code: str
    period: Period
    attainment_so_far: Percent | None
    projected_attainment: Percent | None
    expected_level: Percent
    minimum_level: Percent
    remaining_budget_minutes: Quantity | None = Field(
        default=None, description="Availability: downtime still allowed before a failure."
    )
    explanation: str
    detected_at: Instant


class SlaBreached(BaseModel):
    """A failure is certain before the period ends (sent once per SLA and period)."""

    model_config = ConfigDict(extra="ignore")

    contract_id: uuid.UUID
    contract_version: StrictInt
    sla_code: str
    period: Period
    best_possible_attainment: Percent | None = Field(
        description="Even with no more trouble this period, attainment cannot exceed this."
    )
    minimum_level: Percent
    explanation: str
    detected_at: Instant


class PreviousFigures(BaseModel):
    model_config = ConfigDict(extra="ignore")

    attainment: Percent | None
    outcome: Outcome
    figures: dict[str, str] = Field(default_factory=dict)
    expected_level: Percent | None = Field(
        default=None,
        description="The levels the period was judged against before (an amendment may "
        "change them); absent in restatements published before they were carried.",
    )
    minimum_level: Percent | None = None
    contract_version: StrictInt | None = Field(
        default=None, description="The contract version the previous figures were computed with."
    )


class SlaPeriodRestated(SlaPeriodClosed):
    """A closed period changed within the restatement window — late telemetry, an approved
    maintenance window, or an amendment whose terms govern the period: the new figures,
    and the old ones."""

    restatement: StrictInt = Field(ge=1, description="1 for the first restatement of the period.")
    previous: PreviousFigures
    reason: str
