from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from crm_events.types import Amount
from crm_platform.pagination import Page

Severity = Literal["low", "medium", "high", "critical"]
RuleEventType = Literal[
    "sla.breached",
    "sla.at_risk",
    "sla.period_closed",
    "sla.period_restated",
    "billing.credit_calculated",
    "billing.volume_band_exceeded",
    "reconciliation.discrepancy_found",
    "obligation.overdue",
    "obligation.escalated",
]


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    severity: str
    title: str
    dedup_key: str = Field(description="The breach this alert stands for; one alert per key.")
    source_event_id: str = Field(description="The event that raised it.")
    source_event_type: str
    details: dict[str, Any] = Field(description="Facts from every event about the breach.")
    raised_at: datetime
    rule_id: uuid.UUID | None
    occurrences: int = Field(description="How many events spoke of this breach.")
    event_types: list[str]
    updated_at: datetime | None


class AlertRuleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_type": "reconciliation.discrepancy_found",
                    "min_amount": "500.00",
                    "alert_severity": "high",
                    "description": "Only invoice differences of 500 or more",
                },
                {
                    "event_type": "sla.at_risk",
                    "contract_id": "7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f",
                    "enabled": False,
                },
            ]
        },
    )

    event_type: RuleEventType
    tenant_id: str | None = Field(
        default=None,
        description="Operators: the tenant the rule is for (none = every tenant). Tenants' "
        "own rules are theirs.",
    )
    contract_id: uuid.UUID | None = Field(default=None, description="Only this contract.")
    min_severity: Severity = Field(
        default="low", description="Events below this severity raise nothing."
    )
    alert_severity: Severity | None = Field(
        default=None, description="The alert's severity (default: the event's own)."
    )
    min_amount: Amount | None = Field(
        default=None,
        description="Events with an amount (credits, invoice differences) below it raise nothing.",
    )
    enabled: StrictBool = Field(default=True, description="false silences this event type here.")
    description: str = Field(default="", max_length=500)


class AlertRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_severity: Severity | None = None
    alert_severity: Severity | None = Field(default=None, description="null: the event's own")
    min_amount: Amount | None = Field(default=None, description="null: any amount")
    enabled: StrictBool | None = None
    description: str | None = Field(default=None, max_length=500)

    @field_validator("min_severity", "enabled", "description")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Omitted keeps the rule's value; null cannot be stored for these (it is for the two
        # above, which mean "the event's own severity" and "any amount").
        if value is None:
            raise ValueError("may not be null; omit the field to keep its value")
        return value


class AlertRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: str
    tenant_id: str | None
    contract_id: uuid.UUID | None
    min_severity: str
    alert_severity: str | None
    min_amount: Amount | None
    enabled: bool
    description: str
    created_at: datetime
    updated_at: datetime | None


class AlertPage(Page[AlertRead]):
    """A page of alerts."""


class AlertRulePage(Page[AlertRuleRead]):
    """A page of alert rules."""
