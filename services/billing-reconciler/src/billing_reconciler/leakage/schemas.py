from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from crm_events.types import Amount


class LeakageRow(BaseModel):
    contract_id: uuid.UUID | None = None
    period_label: str | None = None
    discrepancy_class: str | None = None
    direction: str | None = Field(default=None, description="over_billed or under_billed")
    currency: str
    amount: Amount = Field(description="Signed sum: positive = over-billed.")
    count: int


class LeakageTotal(BaseModel):
    currency: str
    over_billed: Amount = Field(description="Sum of positive discrepancies.")
    under_billed: Amount = Field(description="Sum of negative discrepancies (negative).")
    net: Amount
    count: int


class LeakageLedger(BaseModel):
    """The value-leakage ledger: current discrepancies of every reconciled invoice."""

    group_by: list[str]
    rows: list[LeakageRow]
    totals: list[LeakageTotal]
