from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from billing_reconciler.common import PERIOD_PATTERN
from billing_reconciler.reconciliation.schemas import ReconciliationRead
from crm_events.types import Amount, Date, Quantity
from crm_platform.pagination import Page

InvoiceKind = Literal["base", "arc", "rrc", "credit", "earn_back", "rebate", "other"]

EXAMPLE_INVOICE: dict[str, Any] = {
    "invoice_number": "GLX-2026-03-0042",
    "contract_id": "7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f",
    "period_label": "2026-03",
    "currency": "USD",
    "issued_on": "2026-04-05",
    "total": "92240.00",
    "lines": [
        {
            "line_number": 1,
            "item_code": "SRV-WIN",
            "kind": "base",
            "description": "Windows servers, baseline",
            "quantity": "200",
            "unit_price": "150.00",
            "amount": "30000.00",
        },
        {
            "line_number": 2,
            "item_code": "SRV-WIN",
            "kind": "arc",
            "description": "Windows servers above baseline",
            "quantity": "16",
            "unit_price": "140.00",
            "amount": "2240.00",
        },
        {
            "line_number": 3,
            "item_code": "TCK-L1",
            "kind": "base",
            "quantity": "5000",
            "unit_price": "12.00",
            "amount": "60000.00",
        },
    ],
}


class InvoiceLineIn(BaseModel):
    """One invoice line. Amounts are signed as they add up to the total: RRC, credit and
    rebate lines are negative (or zero), base, ARC and earn-back lines positive."""

    model_config = ConfigDict(extra="forbid")

    line_number: StrictInt | None = Field(
        default=None, ge=1, description="The ERP's line number; 1, 2, … when omitted."
    )
    item_code: str = Field(
        min_length=1,
        max_length=100,
        description="Resource unit (base, arc, rrc), SLA code (credit, earn_back), any code "
        "for rebate and other lines.",
        examples=["SRV-WIN"],
    )
    kind: InvoiceKind
    description: str = Field(default="", max_length=500)
    quantity: Quantity | None = Field(default=None, description="Required for base, arc, rrc.")
    unit_price: Amount | None = Field(default=None, description="Required for base, arc, rrc.")
    amount: Amount
    period_label: str | None = Field(
        default=None,
        pattern=PERIOD_PATTERN,
        description="The period the line bills, when not the invoice's (out_of_period).",
    )


class InvoiceIn(BaseModel):
    """A supplier invoice from the ERP, for one contract and period."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_INVOICE]})

    invoice_number: str = Field(min_length=1, max_length=100, description="Unique per tenant.")
    contract_id: uuid.UUID
    period_label: str = Field(pattern=PERIOD_PATTERN, examples=["2026-03"])
    currency: str | None = Field(
        default=None, min_length=3, max_length=3, description="Must be the contract's."
    )
    issued_on: Date | None = None
    total: Amount = Field(description="The invoice total as printed.")
    lines: list[InvoiceLineIn] = Field(min_length=1, max_length=50_000)
    correction: StrictBool = Field(
        default=False,
        description="True to replace an invoice already received under this number.",
    )


class InvoiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_number: str
    contract_id: uuid.UUID
    period_label: str
    currency: str
    total: Amount
    issued_on: date | None
    line_count: int
    version: int = Field(description="1, then one more per correction.")
    received_at: datetime
    updated_at: datetime


class InvoicePage(Page[InvoiceRead]):
    """A page of invoices."""


class InvoiceDetail(InvoiceRead):
    lines: list[InvoiceLineIn]


class InvoiceReceipt(BaseModel):
    status: Literal["created", "duplicate", "corrected"] = Field(
        description="duplicate: the same invoice was already received (nothing changed)."
    )
    invoice: InvoiceRead
    reconciliation: ReconciliationRead


class InvoiceBatchReceipt(BaseModel):
    invoices: list[InvoiceReceipt]
