from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from crm_events.schemas.billing import Explanation
from crm_events.types import Amount, Percent


class CreditRevisionRead(BaseModel):
    """One calculation of a credit: what it became, what it was, and the change."""

    model_config = ConfigDict(from_attributes=True)

    revision: int
    credit_amount: Amount
    previous_amount: Amount | None
    delta_amount: Amount
    monthly_charges: Amount
    at_risk_amount: Amount
    outcome: str
    reason: str = Field(description="failed, repeated_default or none (no credit due any more)")
    explanation: Explanation
    source_event_id: str
    calculated_at: datetime


class EarnBackTransitionRead(BaseModel):
    from_status: str | None
    to_status: str
    progress: int
    period_label: str | None
    explanation: str
    at: datetime


class EarnBackRead(BaseModel):
    """The credit's earn-back state machine."""

    status: str = Field(
        description="not_applicable, pending, earned_back, cancelled or void (no credit)"
    )
    periods: int = Field(description="Periods the SLA must meet its expected level in.")
    progress: int = Field(description="Consecutive met periods so far.")
    earned_back_in_period: str | None
    explanation: Explanation | None
    transitions: list[EarnBackTransitionRead]


class CreditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    contract_version: int
    sla_code: str
    period_label: str
    currency: str
    monthly_charges: Amount
    at_risk_pct: Percent
    at_risk_amount: Amount
    allocation_pct: Percent
    credit_amount: Amount = Field(description="The current amount (latest revision).")
    revision: int
    reason: str = Field(description="failed, repeated_default or none")
    explanation: Explanation
    source_event_id: str
    calculated_at: datetime
    revisions: list[CreditRevisionRead] = Field(default_factory=list)
    earn_back: EarnBackRead | None = None
