from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from crm_events.schemas.sla import AvailabilityFigures, Outcome, Period
from crm_events.types import Percent


class DowntimeInterval(BaseModel):
    start: datetime
    end: datetime
    minutes: Percent = Field(description="Length in minutes (exact decimal).")


class AttainmentRead(BaseModel):
    contract_id: uuid.UUID
    sla_code: str
    contract_version: int
    period: Period
    timezone: str
    status: str = Field(description="`open` (live figure) or `closed` (published).")
    attainment: Percent | None
    expected_level: Percent
    minimum_level: Percent
    outcome: Outcome
    figures: AvailabilityFigures | None
    counted_downtime: list[DowntimeInterval] = Field(
        default_factory=list, description="The downtime intervals that counted, in UTC."
    )
    explanation: str
    closed_at: datetime | None = None
