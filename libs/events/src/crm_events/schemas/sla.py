"""sla.v1 — emitted by sla-monitor."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from crm_events.schemas.contracts import MetricKind
from crm_events.types import Percent, Quantity


class Outcome(StrEnum):
    MET = "met"
    BELOW_EXPECTED = "below_expected"
    FAILED = "failed"
    NO_DATA = "no_data"


class Period(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: str = Field(examples=["2026-03"], description="Calendar period in the contract's zone.")
    start: datetime = Field(description="UTC instant the period starts (inclusive).")
    end: datetime = Field(description="UTC instant the period ends (exclusive).")


class AvailabilityFigures(BaseModel):
    model_config = ConfigDict(extra="ignore")

    period_minutes: Quantity
    excluded_minutes: Quantity
    downtime_minutes: Quantity


class SlaPeriodClosed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    contract_id: uuid.UUID
    contract_version: int
    sla_code: str
    metric_kind: MetricKind
    period: Period
    timezone: str
    attainment: Percent | None = Field(description="Null when the period had no data.")
    expected_level: Percent
    minimum_level: Percent
    outcome: Outcome
    figures: AvailabilityFigures | None = None
    explanation: str
    closed_at: datetime
