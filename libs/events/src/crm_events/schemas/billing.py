"""billing.v1 — emitted by billing-reconciler."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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
    """One line of a period's statement. `billing.charges_computed` and the charges API
    (GET /contracts/{id}/charges/{period}) carry the same fields with the same names and
    types."""

    model_config = ConfigDict(extra="ignore")

    kind: str = Field(description="base, arc, rrc, credit, earn_back or rebate")
    item_code: str = Field(
        description="The resource unit (base, arc, rrc), the SLA code (credit, earn_back) "
        "or REBATE.",
        examples=["SRV-WIN"],
    )
    quantity: Quantity
    rate: Amount
    amount: Amount = Field(description="Signed: credits, RRC and rebates are negative.")
    formula: str = Field(description="The computation with its figures (explanation.formula).")
    explanation: Explanation | None = Field(
        default=None,
        description="The clause, contract version, formula, inputs and source records. "
        "Always present; null only in events published before it was added.",
    )


class ChargesFields(BaseModel):
    """What the contract says a period owes, line by line (before invoice reconciliation).
    `billing.charges_computed` and the charges API carry these same fields with the same
    names and types."""

    model_config = ConfigDict(extra="ignore")

    contract_id: uuid.UUID
    contract_version: StrictInt
    period_label: str
    currency: str
    # A Sequence so that the API's statement can narrow the line type (a list is invariant).
    lines: Sequence[ChargeLine]
    monthly_charges: Amount = Field(description="M = base + ARC − RRC, before credits.")
    at_risk_pct: Percent | None = Field(
        default=None,
        description="The contract's at-risk percentage. Always present; null only in events "
        "published before it was added.",
    )
    at_risk_amount: Amount | None = Field(
        default=None,
        description="ARA = at_risk_pct × M. Always present; null only in events published "
        "before it was added.",
    )
    credits_total: Amount = Field(
        description="Signed sum of credit and earn-back lines (credits negative)."
    )
    rebates_total: Amount = Field(description="Signed sum of rebate lines (negative).")
    expected_total: Amount = Field(
        description="What the invoice should total: M + credits_total + rebates_total."
    )
    units_without_consumption: list[str] = Field(
        default_factory=list,
        description="Resource units with no consumption for the period (baseline assumed).",
    )


class ChargesComputed(ChargesFields):
    """A period's statement got a new revision."""

    revision: StrictInt = Field(
        default=1, description="The stored revision; increases when an input changes a figure."
    )
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


def _added_later(what: str) -> str:
    return f"{what} Always present; null only in events published before it was added."


class ReconciliationFields(BaseModel):
    """An invoice checked line by line against the expected charges of its period (one
    revision). `reconciliation.completed` and the reconciliation API
    (GET /invoices/{id}/reconciliation) carry these same fields with the same names and
    types."""

    model_config = ConfigDict(extra="ignore")

    reconciliation_id: uuid.UUID | None = Field(
        default=None, description=_added_later("This revision's id.")
    )
    invoice_id: uuid.UUID
    invoice_number: str
    invoice_version: StrictInt | None = Field(
        default=None,
        description=_added_later("The invoice version reconciled (1, more after corrections)."),
    )
    contract_id: uuid.UUID
    contract_version: StrictInt | None = Field(
        default=None, description=_added_later("The contract version of the statement.")
    )
    period_label: str
    currency: str
    expected_total: Amount
    invoiced_total: Amount
    lines_total: Amount | None = Field(
        default=None, description=_added_later("The sum of the invoice's lines.")
    )
    difference: Amount = Field(description="invoiced_total − expected_total.")
    sums_by_class: dict[str, Amount] = Field(
        description="Signed sum per discrepancy class, all eight (positive = over-billed)."
    )
    discrepancies: StrictInt = Field(description="How many discrepancies this revision found.")
    status: str = Field(description="matched or discrepancies")
    trigger: str | None = Field(
        default=None,
        description=_added_later(
            "What caused this revision: invoice_received, invoice_corrected, "
            "consumption_changed, sla_period_closed, sla_period_restated, contract_amended, "
            "recomputed."
        ),
    )
    charges_revision: StrictInt | None = Field(
        default=None,
        description=_added_later("The revision of the statement it was reconciled against."),
    )
    revision: StrictInt = Field(default=1, description="Increases when an input changed later.")
    reconciled_at: Instant


class ReconciliationCompleted(ReconciliationFields):
    """An invoice was checked line by line against the expected charges (after the
    `reconciliation.discrepancy_found` events of the same revision)."""


class DiscrepancyFields(BaseModel):
    """One difference between an invoice and what the contract says.
    `reconciliation.discrepancy_found` and the reconciliation API carry these same fields
    with the same names and types."""

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
    explanation: str = Field(
        description="In one line: what differs, then the formula "
        "(explanation_detail holds the same with the clause, inputs and sources)."
    )
    explanation_detail: Explanation | None = Field(
        default=None,
        description=_added_later(
            "The explanation as an object: clause, contract version, formula, inputs, source ids."
        ),
    )
    revision: StrictInt = Field(default=1, description="The reconciliation revision that found it.")
    found_at: Instant


class DiscrepancyFound(DiscrepancyFields):
    """One difference between an invoice and what the contract says."""
