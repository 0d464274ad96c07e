from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_events.schemas.billing import ChargeLine, ChargesFields, Explanation
from crm_events.schemas.contracts import CreditTerms, RebateTier, ResourceUnit
from crm_events.types import Amount, Percent, Quantity
from crm_platform.pagination import Page


class ChargeLineRead(ChargeLine):
    """A statement line as `billing.charges_computed` carries it (same fields, names and
    types); the explanation is always there."""

    explanation: Explanation

    @model_validator(mode="before")
    @classmethod
    def _formula_of_stored_lines(cls, data: Any) -> Any:
        # Statements stored before lines carried `formula` have it in the explanation only.
        if isinstance(data, dict) and "formula" not in data and "explanation" in data:
            explanation = data["explanation"]
            formula = (
                explanation.formula
                if isinstance(explanation, Explanation)
                else explanation.get("formula")
            )
            data = {**data, "formula": formula}
        return data


class PeriodChargesRead(ChargesFields):
    """What the contract says a period owes, line by line, each with its explanation: the
    fields of `billing.charges_computed`, plus the ids of the consumption records behind it
    (HTTP only). `revision` and `computed_at` are null when the figures read have not been
    stored (a period never computed, or one whose inputs changed since)."""

    http_only: ClassVar[frozenset[str]] = frozenset({"consumption_record_ids"})
    # Null here, never in `billing.charges_computed` (which always carries a stored revision).
    null_when_not_stored: ClassVar[frozenset[str]] = frozenset({"revision", "computed_at"})

    lines: Sequence[ChargeLineRead]
    at_risk_pct: Percent
    at_risk_amount: Amount = Field(description="ARA = at_risk_pct × M.")
    units_without_consumption: list[str] = Field(
        description="Resource units with no consumption for the period (baseline assumed)."
    )
    consumption_record_ids: list[str] = Field(
        description="The consumption records behind the period's volumes, the first 50 per "
        "unit (GET /contracts/{id}/periods/{period}/consumption lists them all). HTTP only."
    )
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
