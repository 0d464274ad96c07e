from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from crm_events.schemas.billing import Explanation
from crm_events.schemas.contracts import CreditTerms, RebateTier, ResourceUnit
from crm_events.types import Amount, Percent, Quantity
from crm_platform.pagination import Page


class ChargeLineRead(BaseModel):
    kind: str = Field(description="base, arc, rrc, credit, earn_back or rebate")
    item_code: str = Field(
        description="The resource unit (base, arc, rrc), the SLA code (credit, earn_back) "
        "or REBATE.",
        examples=["SRV-WIN"],
    )
    quantity: Quantity
    rate: Amount
    amount: Amount = Field(description="Signed: RRC, credits and rebates are negative.")
    explanation: Explanation


class PeriodChargesRead(BaseModel):
    """What the contract says a period owes, line by line, each with its explanation."""

    contract_id: uuid.UUID
    contract_version: int
    period_label: str
    currency: str
    lines: list[ChargeLineRead]
    monthly_charges: Amount = Field(description="M = base + ARC − RRC, before credits.")
    at_risk_pct: Percent
    at_risk_amount: Amount = Field(description="ARA = at_risk_pct × M.")
    credits_total: Amount = Field(
        description="Signed sum of credit and earn-back lines (credits negative)."
    )
    rebates_total: Amount = Field(description="Signed sum of rebate lines (negative).")
    expected_total: Amount = Field(
        description="What the invoice should total: M + credits_total + rebates_total."
    )
    units_without_consumption: list[str] = Field(
        description="Resource units with no consumption for the period (baseline assumed)."
    )
    consumption_record_ids: list[str]
    revision: int | None = Field(
        default=None,
        description="The stored revision this statement is (None when computed for reading "
        "only); increases when an input changes the figures.",
    )
    computed_at: datetime | None = None


class ConsumptionRevisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    revision: int
    quantity: Quantity
    received_at: datetime


class ConsumptionRecordRead(BaseModel):
    record_id: str
    resource_unit: str
    quantity: Quantity = Field(description="The current quantity (latest revision).")
    revision: int
    revisions: list[ConsumptionRevisionRead]


class ConsumptionRecordPage(Page[ConsumptionRecordRead]):
    """A page of a period's consumption records."""


class PriceBookRead(BaseModel):
    """The terms billing uses for a date: the contract version in force then."""

    contract_id: uuid.UUID
    version: int
    effective_from: date
    currency: str
    price_book: list[ResourceUnit]
    credit_terms: CreditTerms
    rebate_tiers: list[RebateTier]
    contract_year_start: date
    reconciliation_tolerance: Amount
