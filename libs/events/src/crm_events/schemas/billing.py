"""billing.v1 — emitted by billing-reconciler."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from crm_events.types import Amount, Percent


class Explanation(BaseModel):
    """How an amount was computed: the clause, the inputs and the formula."""

    model_config = ConfigDict(extra="ignore")

    clause: str
    contract_version: int
    formula: str
    inputs: dict[str, str] = Field(description="Every input of the formula, as exact strings.")
    source_ids: list[str] = Field(default_factory=list, description="Ids of the records used.")


class CreditCalculated(BaseModel):
    model_config = ConfigDict(extra="ignore")

    credit_id: uuid.UUID
    contract_id: uuid.UUID
    sla_code: str
    period_label: str
    currency: str
    monthly_charges: Amount
    at_risk_pct: Percent
    at_risk_amount: Amount
    allocation_pct: Percent
    credit_amount: Amount
    outcome: str
    explanation: Explanation
    calculated_at: datetime
