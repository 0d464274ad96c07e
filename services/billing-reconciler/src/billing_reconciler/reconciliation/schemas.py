from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, Field, StrictInt

from billing_reconciler.periods.schemas import PeriodChargesRead
from crm_events.schemas.billing import DiscrepancyFields, Explanation, ReconciliationFields
from crm_events.types import Amount
from crm_platform.pagination import Page


class DiscrepancyRead(DiscrepancyFields):
    """A discrepancy as `reconciliation.discrepancy_found` carries it (same fields, names
    and types)."""

    http_only: ClassVar[frozenset[str]] = frozenset()

    explanation_detail: Explanation


class ReconciliationRead(ReconciliationFields):
    """An invoice checked line by line against the expected charges of its period: the
    fields of `reconciliation.completed`, plus (HTTP only) whether this revision is the
    current one, its discrepancies and the statement it was checked against."""

    http_only: ClassVar[frozenset[str]] = frozenset(
        {"is_current", "discrepancies_found", "expected_charges"}
    )

    reconciliation_id: uuid.UUID
    invoice_version: StrictInt
    contract_version: StrictInt
    lines_total: Amount = Field(description="The sum of the invoice's lines.")
    trigger: str = Field(
        description="What caused this revision: invoice_received, invoice_corrected, "
        "consumption_changed, sla_period_closed, sla_period_restated, contract_amended, "
        "recomputed"
    )
    charges_revision: StrictInt
    revision: StrictInt = Field(description="Increases each time a changed input changed it.")
    is_current: bool = Field(description="False once a later revision replaced it. HTTP only.")
    discrepancies_found: list[DiscrepancyRead] = Field(
        description="The discrepancies of this revision, as `reconciliation.discrepancy_found` "
        "carries each. HTTP only."
    )
    expected_charges: PeriodChargesRead | None = Field(
        default=None,
        description="The statement this revision was reconciled against. HTTP only.",
    )


class ReconciliationSummary(BaseModel):
    """One revision of an invoice's reconciliation, named as `reconciliation.completed`
    names its fields."""

    reconciliation_id: uuid.UUID
    revision: int
    is_current: bool
    expected_total: Amount
    invoiced_total: Amount
    difference: Amount
    status: str
    discrepancies: int = Field(description="How many discrepancies this revision found.")
    trigger: str
    reconciled_at: datetime


class ReconciliationPage(Page[ReconciliationSummary]):
    """A page of an invoice's reconciliation revisions."""
