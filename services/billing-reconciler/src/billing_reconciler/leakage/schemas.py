from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from crm_events.types import Amount
from crm_platform.pagination import Page


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


class LeakageLedger(Page[LeakageRow]):
    """The value-leakage ledger: current discrepancies of every reconciled invoice.

    A page of its rows (one per group, in the order of the group columns, then currency),
    with two extras: `group_by`, and `totals` per currency over every row the filters
    select, on every page."""

    group_by: list[str]
    totals: list[LeakageTotal]
