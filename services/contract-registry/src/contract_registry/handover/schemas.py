"""The handover brief: what a new governance team must know about a contract."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from crm_events.schemas.contracts import (
    Clause,
    Escalation,
    InterpretationNote,
    RebateTier,
    ServiceHours,
    SmallSampleRule,
)
from crm_events.types import Amount, Percent, Quantity


class ContractFacts(BaseModel):
    id: uuid.UUID
    tenant_id: str
    reference: str
    customer: str
    supplier: str
    currency: str
    timezone: str
    status: str
    start_date: date
    end_date: date | None
    version: int = Field(description="The version in force on as_of, which the brief describes.")
    effective_from: date
    terminates_on: date | None = None
    termination_reason: str | None = None
    days_to_end: int | None = Field(description="From as_of to the last day in force.")


class KeyDate(BaseModel):
    date: date
    what: str


class Commercials(BaseModel):
    """Monthly charges at baseline volumes and what is at risk from them."""

    monthly_base_charges: Amount = Field(description="Σ baseline volume × unit price.")
    at_risk_pct: Percent
    at_risk_amount_at_baseline: Amount
    pool_pct: Percent
    allocated_pct: Percent = Field(description="Σ of the SLAs' allocations.")
    explanation: str


class ResourceUnitBrief(BaseModel):
    code: str
    name: str
    unit: str
    unit_price: Amount
    baseline_volume: Quantity
    base_charge: Amount = Field(description="baseline_volume × unit_price.")
    arc_rate: Amount
    rrc_rate: Amount
    deadband_pct: Percent
    deadband_mode: str
    no_adjustment_between: tuple[Quantity, Quantity] = Field(
        description="Volumes within baseline ± deadband: no ARC and no RRC."
    )
    volume_band: tuple[Quantity, Quantity] | None = Field(
        description="Volumes outside this band call for renegotiation."
    )
    band_rates: list[dict[str, str | None]]
    how_adjustments_work: str


class SlaBrief(BaseModel):
    code: str
    name: str
    metric_kind: str
    service_key: str
    direction: str
    expected_level: Percent
    minimum_level: Percent
    unit: str | None
    measurement_period: str
    measured: str = Field(description="What is measured and how, in words.")
    service_hours: ServiceHours | None
    maintenance_windows: list[str]
    small_sample: SmallSampleRule | None
    allocation_pct: Percent
    performance_category: str | None
    category_allocation_pct: Percent | None
    credit_pct_of_monthly_charges: Percent = Field(
        description="at_risk_pct × (category allocation ×) allocation_pct."
    )
    credit_at_baseline: Amount = Field(description="The credit of a failed period at baseline.")
    credit_formula: str
    earn_back_periods: int
    repeated_default_count: int | None
    clause: str
    interpretation_notes: list[InterpretationNote]


class DueDate(BaseModel):
    occurrence: date
    due_date: date


class ObligationBrief(BaseModel):
    code: str
    title: str
    clause: str
    owner_role: str
    rrule: str | None
    due_offset_business_days: int
    evidence_required: bool
    severity: str
    next_due: list[DueDate] = Field(
        description="The next due dates from as_of: occurrence + offset in business days "
        "(Monday–Friday, not a contract holiday)."
    )


class EventObligation(BaseModel):
    """Obligations the contract opens on events rather than on a calendar."""

    trigger: str
    obligation: str
    due: str


class GovernanceBrief(BaseModel):
    review_rrule: str
    owner_role: str
    due_offset_business_days: int
    next_reviews: list[DueDate]


class VersionLine(BaseModel):
    version: int
    state: str
    effective_from: date
    note: str
    activated_at: datetime | None


class HealthLine(BaseModel):
    period_label: str
    score: Percent | None
    slas_failed: int
    slas_below_expected: int
    credits_total: Amount
    leakage_total: Amount


class HandoverBrief(BaseModel):
    as_of: date
    generated_at: datetime
    contract: ContractFacts
    key_dates: list[KeyDate]
    commercials: Commercials
    price_book: list[ResourceUnitBrief]
    slas: list[SlaBrief]
    credit_cap: str
    obligations: list[ObligationBrief]
    event_obligations: list[EventObligation]
    governance: GovernanceBrief | None
    escalation: Escalation
    rebate_tiers: list[RebateTier]
    clauses: list[Clause]
    holidays: list[date]
    versions: list[VersionLine]
    recent_health: list[HealthLine]
