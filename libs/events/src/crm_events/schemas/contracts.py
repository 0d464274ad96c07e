"""contracts.v1 — emitted by contract-registry.

Every event carries the full terms of the version in force (event-carried state transfer):
consumers keep the projection they need and never call the registry.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from crm_events.types import Amount, Percent, Quantity


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DeadbandMode(StrEnum):
    FULL_VARIANCE = "full_variance"
    EXCESS_ONLY = "excess_only"


class MetricKind(StrEnum):
    AVAILABILITY = "availability"
    INCIDENT_RESPONSE = "incident_response"
    INCIDENT_RESOLUTION = "incident_resolution"
    MEASUREMENT = "measurement"


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class MeasurementPeriod(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


class VolumeBand(_Model):
    floor_pct: Percent = Field(description="Lower edge of the band, % of baseline (e.g. 80).")
    ceiling_pct: Percent = Field(description="Upper edge of the band, % of baseline (e.g. 120).")


class BandRate(_Model):
    """ARC/RRC rates that apply when actual volume falls within [from_pct, to_pct) of baseline."""

    from_pct: Percent
    to_pct: Percent
    arc_rate: Amount | None = None
    rrc_rate: Amount | None = None


class ResourceUnit(_Model):
    code: str = Field(examples=["SRV-WIN"], description="Item code used on invoices.")
    name: str = ""
    unit: str = Field(default="unit", examples=["server", "ticket"])
    unit_price: Amount
    baseline_volume: Quantity
    arc_rate: Amount
    rrc_rate: Amount
    deadband_pct: Percent = Field(default=Percent("0"))
    deadband_mode: DeadbandMode = DeadbandMode.FULL_VARIANCE
    volume_band: VolumeBand | None = None
    band_rates: list[BandRate] = Field(default_factory=list)


class WeeklyWindow(_Model):
    """A recurring maintenance window in the contract's time zone."""

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday.")
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["02:00"])
    duration_minutes: int = Field(gt=0, le=7 * 24 * 60)


class FixedWindow(_Model):
    """A one-off maintenance window (UTC instants)."""

    start: datetime
    end: datetime
    description: str = ""


class MaintenanceWindows(_Model):
    weekly: list[WeeklyWindow] = Field(default_factory=list)
    fixed: list[FixedWindow] = Field(default_factory=list)


class SlaDefinition(_Model):
    code: str = Field(examples=["AVAIL-CORE"])
    name: str = ""
    metric_kind: MetricKind
    service_key: str = Field(description="The telemetry service key this SLA reads.")
    direction: Direction = Direction.HIGHER_IS_BETTER
    expected_level: Percent
    minimum_level: Percent
    measurement_period: MeasurementPeriod = MeasurementPeriod.MONTH
    priority: str | None = Field(default=None, description="Incident priority, for incident SLAs.")
    target_minutes: int | None = Field(
        default=None, description="Incident response/resolution target."
    )
    maintenance_windows: MaintenanceWindows = Field(default_factory=MaintenanceWindows)
    allocation_pct: Percent = Field(description="Share of the at-risk amount credited on failure.")
    performance_category: str | None = None
    earn_back_periods: int = Field(default=0, ge=0)
    repeated_default_count: int | None = Field(
        default=None,
        ge=2,
        le=12,
        description="below_expected in this many of the last 12 periods counts as a failure.",
    )


class PerformanceCategory(_Model):
    name: str
    allocation_pct: Percent


class CreditTerms(_Model):
    at_risk_pct: Percent = Field(description="At-risk amount as % of monthly charges.")
    pool_pct: Percent = Field(
        default=Percent("100"), description="Total of SLA allocations allowed."
    )
    performance_categories: list[PerformanceCategory] = Field(default_factory=list)
    root_cause_due_business_days: int = Field(default=10, ge=1)


class ObligationDefinition(_Model):
    code: str
    title: str
    clause: str = ""
    owner_role: str
    rrule: str | None = Field(default=None, examples=["FREQ=MONTHLY;BYMONTHDAY=1"])
    due_offset_business_days: int = 0
    evidence_required: bool = False
    severity: str = "medium"


class RebateTier(_Model):
    from_amount: Amount
    to_amount: Amount | None = None
    rebate_pct: Percent
    retroactive: bool = False


class ContractDocument(_Model):
    """A contract's terms as a deal team writes them (no ids, no version)."""

    reference: str = Field(min_length=1, max_length=100, examples=["ACME-ITO-2026"])
    customer: str = Field(min_length=1, max_length=200)
    supplier: str = Field(min_length=1, max_length=200)
    currency: str = Field(
        min_length=3, max_length=3, examples=["USD"], description="ISO 4217 code."
    )
    timezone: str = Field(examples=["America/New_York"], description="IANA time zone.")
    start_date: date
    end_date: date | None = None
    price_book: list[ResourceUnit] = Field(default_factory=list)
    sla_definitions: list[SlaDefinition] = Field(default_factory=list)
    credit_terms: CreditTerms
    obligation_definitions: list[ObligationDefinition] = Field(default_factory=list)
    rebate_tiers: list[RebateTier] = Field(default_factory=list)
    period_close_grace_hours: int = Field(default=72, ge=0)


class ContractTerms(ContractDocument):
    """The full terms of one version of a contract, as carried by contracts.v1."""

    contract_id: uuid.UUID
    tenant_id: str
    version: int
    effective_from: date


class ContractActivated(_Model):
    terms: ContractTerms
    activated_at: datetime


class ContractAmended(_Model):
    terms: ContractTerms
    previous_version: int
    amended_at: datetime


class ContractTerminated(_Model):
    terms: ContractTerms
    terminated_at: datetime
    reason: str = ""
