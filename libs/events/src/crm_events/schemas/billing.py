"""billing.v1 — emitted by billing-reconciler."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from crm_events.types import Amount, Instant, Percent, Quantity


class Explanation(BaseModel):
    """How an amount was computed: the clause, the inputs and the formula."""

    model_config = ConfigDict(extra="ignore")

    clause: str
    contract_version: StrictInt
    formula: str
    inputs: dict[str, str] = Field(description="Every input of the formula, as exact strings.")
    source_ids: list[str] = Field(default_factory=list, description="Ids of the records used.")


class CreditCalculated(BaseModel):
    model_config = ConfigDict(extra="ignore")

    credit_id: uuid.UUID
    contract_id: uuid.UUID
    sla_code: str
    period_label: str
    currency: str
    monthly_charges: Amount
    at_risk_pct: Percent
    at_risk_amount: Amount
    allocation_pct: Percent
    credit_amount: Amount
    outcome: str
    explanation: Explanation
    calculated_at: Instant
    revision: StrictInt = Field(
        default=1, ge=1, description="1 for the first calculation; more after a restatement."
    )
    previous_amount: Amount | None = Field(
        default=None, description="The credit before this revision (none on the first)."
    )
    delta_amount: Amount | None = Field(
        default=None, description="credit_amount − previous_amount: what changes now."
    )


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
    """An SLA met its expected level for the earn-back periods: its credit is returned."""

    model_config = ConfigDict(extra="ignore")

    credit_id: uuid.UUID
    contract_id: uuid.UUID
    sla_code: str
    credited_period: str
    earned_back_in_period: str
    currency: str
    amount: Amount
    explanation: Explanation
    earned_back_at: Instant


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
