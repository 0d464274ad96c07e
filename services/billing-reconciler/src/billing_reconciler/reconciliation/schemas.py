from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from billing_reconciler.periods.schemas import PeriodChargesRead
from crm_events.schemas.billing import Explanation
from crm_events.types import Amount
from crm_platform.pagination import Page


class DiscrepancyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    discrepancy_class: str = Field(
        description="consumption_error, rate_error, computation_error, unapplied_credit, "
        "unapplied_rebate, duplicate_line, unknown_item or out_of_period"
    )
    direction: str = Field(description="over_billed or under_billed")
    amount: Amount = Field(description="Signed: positive when the customer is over-billed.")
    item_code: str | None
    line_number: int | None
    expected: str | None
    invoiced: str | None
    summary: str
    explanation: Explanation


class ReconciliationRead(BaseModel):
    """An invoice checked line by line against the expected charges of its period."""

    id: uuid.UUID
    invoice_id: uuid.UUID
    invoice_number: str
    invoice_version: int
    contract_id: uuid.UUID
    contract_version: int
    period_label: str
    revision: int = Field(description="Increases each time a changed input changed the result.")
    is_current: bool
    currency: str
    expected_total: Amount
    invoiced_total: Amount
    lines_total: Amount = Field(description="The sum of the invoice's lines.")
    difference: Amount = Field(description="invoiced_total − expected_total.")
    sums_by_class: dict[str, Amount] = Field(
        description="Signed sum per discrepancy class (positive = over-billed)."
    )
    status: str = Field(description="matched or discrepancies")
    discrepancy_count: int
    trigger: str = Field(
        description="What caused this revision: invoice_received, invoice_corrected, "
        "consumption_changed, sla_period_closed, sla_period_restated, contract_amended, "
        "recomputed"
    )
    charges_revision: int
    reconciled_at: datetime
    discrepancies: list[DiscrepancyRead]
    expected_charges: PeriodChargesRead | None = Field(
        default=None, description="The statement this revision was reconciled against."
    )


class ReconciliationSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    revision: int
    is_current: bool
    expected_total: Amount
    invoiced_total: Amount
    difference: Amount
    status: str
    discrepancy_count: int
    trigger: str
    reconciled_at: datetime


class ReconciliationPage(Page[ReconciliationSummary]):
    """A page of an invoice's reconciliation revisions."""
