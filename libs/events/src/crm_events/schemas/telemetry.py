"""telemetry.v1 — produced by monitoring systems (directly, or via sla-monitor's HTTP API)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class OutageItem(BaseModel):
    """A period during which a service was down (UTC instants, end exclusive)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["outage"] = "outage"
    service_key: str = Field(min_length=1, max_length=200, examples=["core-banking"])
    started_at: datetime
    ended_at: datetime
    source_id: str | None = Field(
        default=None, max_length=200, description="The monitoring system's id for the outage."
    )

    @model_validator(mode="after")
    def _ordered(self) -> OutageItem:
        if self.started_at.tzinfo is None or self.ended_at.tzinfo is None:
            raise ValueError(
                "started_at and ended_at need a UTC offset (e.g. 2026-03-10T14:00:00Z)"
            )
        if self.ended_at <= self.started_at:
            raise ValueError("ended_at must be after started_at")
        return self


class TelemetryRecorded(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[OutageItem] = Field(min_length=1, max_length=10_000)
