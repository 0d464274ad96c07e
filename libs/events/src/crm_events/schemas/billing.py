"""billing.v1 — emitted by billing-reconciler."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from crm_events.types import Amount, Instant, Percent, Quantity


class Explanation(BaseModel):
    """How an amount was computed: the clause, the inputs and the formula."""

    model_config = ConfigDict(extra="ignore")

    clause: str
    contract_version: StrictInt
    formula: str
    inputs: dict[str, str] = Field(description="Every input of the formula, as exact strings.")
    source_ids: list[str] = Field(default_factory=list, description="Ids of the records used.")


def _booked_delta(data: Any, amount_field: str) -> Any:
    """Events published before every amount carried its delta had `previous_amount` and
    `delta_amount` null on the first calculation: read them as 0 and the amount."""
    if isinstance(data, dict):
        if data.get("previous_amount") is None:
            data = {**data, "previous_amount": "0"}
        if data.get("delta_amount") is None and data.get(amount_field) is not None:
            previous = Decimal(str(data["previous_amount"]))
            data = {**data, "delta_amount": str(Decimal(str(data[amount_field])) - previous)}
    return data


class CreditFields(BaseModel):
    """A service credit as an ERP books it. `billing.credit_calculated` and the credits API
    (GET /contracts/{id}/credits) carry these same fields with the same names and types."""

    model_config = ConfigDict(extra="ignore")

    credit_id: uuid.UUID
    contract_id: uuid.UUID
    contract_version: StrictInt | None = Field(
        default=None, description="The contract version the credit was computed under."
    )
    sla_code: str
    period_label: str = Field(description="The billing month that carries the credit.")
    measurement_period: str | None = Field(
        default=None,
        description="The SLA period whose outcome is credited (2026-03, 2026-Q1 or 2026); "
        "the billing month for a monthly SLA. Null for a withdrawn credit.",
    )
    currency: str
    monthly_charges: Amount
    at_risk_pct: Percent
    at_risk_amount: Amount
    allocation_pct: Percent
    uncapped_amount: Amount | None = Field(
        default=None, description="ARA × allocation % before the period's ceiling."
    )
    cap_reduction: Amount = Field(
        default=Decimal("0"), description="How much the period's ceiling took (uncapped − credit)."
    )
    credit_amount: Amount = Field(description="The credit now (latest revision).")
    revision: StrictInt = Field(
        default=1, ge=1, description="1 for the first calculation; more after each change."
    )
    previous_amount: Amount = Field(
        default=Decimal("0"), description="The credit before this revision (0.00 on the first)."
    )
    delta_amount: Amount = Field(
        default=Decimal("0"),  # filled from the amounts when absent (see the validator)
        description="credit_amount − previous_amount: what to book now (the whole amount on "
        "the first revision).",
    )
    outcome: str = Field(
        description="The SLA period's outcome (failed, below_expected, met, no_data), or "
        "withdrawn when the SLA or its outcome left the period."
    )
    reason: str = Field(
        default="failed",
        description="Why a credit is due: failed, repeated_default, or none (no credit due).",
    )
    explanation: Explanation
    calculated_at: Instant

    @model_validator(mode="before")
    @classmethod
    def _first_revision_books_the_amount(cls, data: Any) -> Any:
        return _booked_delta(data, "credit_amount")


class CreditCalculated(CreditFields):
    """A service credit was computed or revised: book `delta_amount`."""


class ChargeLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: str = Field(description="base, arc, rrc, credit, earn_back or rebate")
    item_code: str
    quantity: Quantity
    rate: Amount
    amount: Amount = Field(description="Signed: credits, RRC and rebates are negative.")
    formula: str


class ChargesComputed(BaseModel):
    """What the contract says is owed for a period (before invoice reconciliation)."""

    model_config = ConfigDict(extra="ignore")

    contract_id: uuid.UUID
    contract_version: StrictInt
    period_label: str
    currency: str
    lines: list[ChargeLine]
    monthly_charges: Amount = Field(description="M = base + ARC − RRC.")
    credits_total: Amount
    rebates_total: Amount
    expected_total: Amount = Field(description="What the invoice should total.")
    revision: StrictInt = 1
    computed_at: Instant


class CreditEarnedBack(BaseModel):
    """An SLA met its expected level for the earn-back periods: its credit is returned
    (revision > 1: the returned amount changed, book `delta_amount`)."""

    model_config = ConfigDict(extra="ignore")

    credit_id: uuid.UUID
    contract_id: uuid.UUID
    sla_code: str
    credited_period: str = Field(description="The billing month that carried the credit.")
    earned_back_in_period: str = Field(description="The billing month that returns it.")
    currency: str
    amount: Amount = Field(description="The amount returned now.")
    revision: StrictInt = Field(default=1, ge=1)
    previous_amount: Amount = Field(
        default=Decimal("0"), description="The amount returned before this revision."
    )
    delta_amount: Amount = Field(
        default=Decimal("0"),  # filled from the amounts when absent (see the validator)
        description="amount − previous_amount: what to book now.",
    )
    explanation: Explanation
    earned_back_at: Instant

    @model_validator(mode="before")
    @classmethod
    def _first_revision_books_the_amount(cls, data: Any) -> Any:
        return _booked_delta(data, "amount")


class CreditEarnBackReversed(BaseModel):
    """An earn-back published before no longer holds (a restatement changed an outcome of
    its window, or the credit itself): the returned amount is taken back."""

    model_config = ConfigDict(extra="ignore")

    credit_id: uuid.UUID
    contract_id: uuid.UUID
    sla_code: str
    credited_period: str
    earned_back_in_period: str = Field(description="The billing month that had returned it.")
    currency: str
    amount: Amount = Field(description="The amount returned now: 0.00.")
    revision: StrictInt = Field(ge=1)
    previous_amount: Amount = Field(description="The amount that had been returned.")
    delta_amount: Amount = Field(description="−previous_amount: what to book now.")
    explanation: Explanation
    reversed_at: Instant


class VolumeBandExceeded(BaseModel):
    """Actual volume left the resource unit's volume band: time to renegotiate."""

    model_config = ConfigDict(extra="ignore")

    contract_id: uuid.UUID
    period_label: str
    resource_unit: str
    actual: Quantity
    baseline: Quantity
    floor_pct: Percent
    ceiling_pct: Percent
    direction: str = Field(description="above or below")
    detected_at: Instant


class ReconciliationCompleted(BaseModel):
    """An invoice was checked line by line against the expected charges."""

    model_config = ConfigDict(extra="ignore")

    invoice_id: uuid.UUID
    invoice_number: str
    contract_id: uuid.UUID
    period_label: str
    currency: str
    expected_total: Amount
    invoiced_total: Amount
    difference: Amount = Field(description="invoiced − expected.")
    sums_by_class: dict[str, Amount] = Field(
        description="Signed sum per discrepancy class (positive = over-billed)."
    )
    discrepancies: StrictInt
    status: str = Field(description="matched or discrepancies")
    revision: StrictInt = Field(default=1, description="Increases when an input changed later.")
    reconciled_at: Instant


class DiscrepancyFound(BaseModel):
    """One difference between an invoice and what the contract says."""

    model_config = ConfigDict(extra="ignore")

    discrepancy_id: uuid.UUID
    invoice_id: uuid.UUID
    invoice_number: str
    contract_id: uuid.UUID
    period_label: str
    currency: str
    discrepancy_class: str = Field(
        description="consumption_error, rate_error, computation_error, unapplied_credit, "
        "unapplied_rebate, duplicate_line, unknown_item or out_of_period"
    )
    direction: str = Field(description="over_billed or under_billed")
    amount: Amount = Field(description="Signed: positive when over-billed.")
    item_code: str | None = None
    line_number: StrictInt | None = None
    expected: str | None = None
    invoiced: str | None = None
    explanation: str
    revision: StrictInt = 1
    found_at: Instant
