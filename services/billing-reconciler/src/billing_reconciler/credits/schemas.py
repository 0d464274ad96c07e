from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from crm_events.schemas.billing import CreditFields, Explanation
from crm_events.types import Amount
from crm_platform.pagination import Page


class CreditRevisionRead(BaseModel):
    """One calculation of a credit: what it became, what it was, and the change."""

    model_config = ConfigDict(from_attributes=True)

    revision: int
    credit_amount: Amount
    previous_amount: Amount = Field(description="0.00 on the first revision.")
    delta_amount: Amount = Field(description="What this revision books.")
    uncapped_amount: Amount | None
    cap_reduction: Amount
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


class CreditRead(CreditFields):
    """A credit as `billing.credit_calculated` carries it (same fields, names and types;
    `previous_amount` and `delta_amount` are those of the latest revision), plus its
    revisions and its earn-back."""

    # The fields an event of the same resource does not carry (docs/billing-reconciler.md,
    # "One shape in the API and the events"); a contract test allows no others.
    http_only: ClassVar[frozenset[str]] = frozenset({"source_event_id", "revisions", "earn_back"})

    source_event_id: str = Field(description="The event (or request) that last changed it.")
    revisions: list[CreditRevisionRead] = Field(default_factory=list)
    earn_back: EarnBackRead | None = None


class CreditPage(Page[CreditRead]):
    """A page of a contract's service credits."""
