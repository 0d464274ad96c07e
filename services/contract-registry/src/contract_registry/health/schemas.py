from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from crm_events.types import Amount


class PeriodHealthRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    period_label: str
    slas_met: int
    slas_below_expected: int
    slas_failed: int
    slas_no_data: int
    credits_total: Amount
    monthly_charges: Amount | None
    obligations_opened: int
