from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from crm_events.types import Amount, Percent, Quantity


class ChargeLineRead(BaseModel):
    kind: str = Field(description="base, arc or rrc")
    resource_unit: str
    quantity: Quantity
    rate: Amount
    amount: Amount
    formula: str
    inputs: dict[str, str]


class PeriodChargesRead(BaseModel):
    contract_id: uuid.UUID
    contract_version: int
    period_label: str
    currency: str
    lines: list[ChargeLineRead]
    monthly_charges: Amount = Field(description="M = base + ARC − RRC, before credits.")
    at_risk_pct: Percent
    at_risk_amount: Amount
    units_without_consumption: list[str] = Field(
        description="Resource units with no consumption for the period (baseline assumed)."
    )
    consumption_record_ids: list[str]
