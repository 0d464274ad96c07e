from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from crm_events.schemas.billing import Explanation
from crm_events.types import Amount, Percent


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
    credit_amount: Amount
    explanation: Explanation
    source_event_id: str
    calculated_at: datetime
