"""contracts.v1 — emitted by contract-registry.

Every event carries the full terms of the version in force (event-carried state transfer):
consumers keep the projection they need and never call the registry.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from crm_events.types import Amount, Date, Instant, Percent, Quantity


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
    """A calendar period in the contract's time zone (labels `2026-03`, `2026-Q1`, `2026`)."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


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

    weekday: StrictInt = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday.")
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["02:00"])
    duration_minutes: StrictInt = Field(gt=0, le=7 * 24 * 60)


class FixedWindow(_Model):
    """A one-off maintenance window (UTC instants)."""

    start: Instant
    end: Instant
    description: str = ""


class MaintenanceWindows(_Model):
    weekly: list[WeeklyWindow] = Field(default_factory=list)
    fixed: list[FixedWindow] = Field(default_factory=list)


_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


class ServiceHours(_Model):
    """When the service is measured, in the contract's time zone. Outside these hours
    downtime does not count and the minutes are not part of the measured period."""

    weekdays: list[StrictInt] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4, 5, 6], description="0 = Monday … 6 = Sunday."
    )
    start: str = Field(default="00:00", pattern=_HHMM, examples=["07:00"])
    end: str = Field(default="24:00", pattern=_HHMM, examples=["19:00"])
    exclude_holidays: StrictBool = Field(
        default=False, description="Holidays of the contract's calendar are outside hours."
    )


class SmallSampleRule(_Model):
    """Incident SLAs with few incidents: below `minimum_sample` incidents in a period the
    percentage is not used; the period is met when misses ≤ `allowed_misses`, else failed."""

    minimum_sample: StrictInt = Field(ge=1, examples=[20])
    allowed_misses: StrictInt = Field(default=0, ge=0, examples=[1])


class TargetClock(StrEnum):
    """Which time an incident target counts."""

    WALL_CLOCK = "wall_clock"
    BUSINESS_HOURS = "business_hours"


class Statistic(StrEnum):
    MEAN = "mean"
    PERCENTILE = "percentile"


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
    target_minutes: StrictInt | None = Field(
        default=None,
        description="Incident response/resolution target in minutes of `target_clock`: "
        "wall-clock minutes, or business minutes (240 = 4 business hours).",
    )
    target_clock: TargetClock = Field(
        default=TargetClock.WALL_CLOCK,
        description="wall_clock: the target counts all elapsed time. business_hours: only "
        "time inside the SLA's `service_hours` (its weekdays and hours in the contract's "
        "time zone; the contract's `holidays` closed when `exclude_holidays`).",
    )
    target_business_days: StrictInt | None = Field(
        default=None,
        ge=1,
        description="Incident target in business days instead of `target_minutes` (needs "
        "target_clock=business_hours): N days = N × the length of the SLA's service day in "
        "business time (3 days of 08:00-18:00 = 1,800 business minutes).",
    )
    maintenance_windows: MaintenanceWindows = Field(default_factory=MaintenanceWindows)
    allocation_pct: Percent = Field(description="Share of the at-risk amount credited on failure.")
    performance_category: str | None = None
    cap_priority: StrictInt | None = Field(
        default=None,
        ge=1,
        description="With credit_terms.cap_split = priority: the order in which a capped "
        "period's credits are paid (1 first).",
    )
    earn_back_periods: StrictInt = Field(default=0, ge=0)
    repeated_default_count: StrictInt | None = Field(
        default=None,
        ge=2,
        le=12,
        description="below_expected in this many of the last 12 periods counts as a failure.",
    )
    service_hours: ServiceHours | None = Field(
        default=None, description="Measured hours; none means around the clock."
    )
    small_sample: SmallSampleRule | None = None
    statistic: Statistic = Field(
        default=Statistic.MEAN, description="Measurement SLAs: the statistic of the values."
    )
    percentile: Percent | None = Field(
        default=None, description="Measurement SLAs with statistic=percentile, e.g. 95."
    )
    unit: str | None = Field(default=None, description="Measurement SLAs: unit, e.g. ms.")
    clause: str = Field(default="", description="The clause that defines this SLA.")


class PerformanceCategory(_Model):
    name: str
    allocation_pct: Percent


class CapBasis(StrEnum):
    AT_RISK_AMOUNT = "at_risk_amount"
    AMOUNT = "amount"
    PCT_OF_CHARGES = "pct_of_charges"


class CreditCap(_Model):
    """A ceiling on service credits: the at-risk amount (periods only), a fixed amount in
    the contract currency, or a percentage of charges (a period's monthly charges M; for a
    contract year, the monthly charges of the year's periods up to the one credited)."""

    basis: CapBasis = Field(examples=["pct_of_charges"])
    amount: Amount | None = Field(default=None, description="basis = amount: the ceiling.")
    pct: Percent | None = Field(default=None, description="basis = pct_of_charges: the %.")


class CapSplit(StrEnum):
    PRO_RATA = "pro_rata"
    PRIORITY = "priority"


class CreditedIn(StrEnum):
    LAST_MONTH_OF_PERIOD = "last_month_of_period"
    MONTH_AFTER_PERIOD = "month_after_period"


class CreditTerms(_Model):
    at_risk_pct: Percent = Field(description="At-risk amount as % of monthly charges.")
    pool_pct: Percent = Field(
        default=Percent("100"), description="Total of SLA allocations allowed."
    )
    performance_categories: list[PerformanceCategory] = Field(default_factory=list)
    root_cause_due_business_days: StrictInt = Field(default=10, ge=1)
    period_cap: CreditCap = Field(
        default_factory=lambda: CreditCap(basis=CapBasis.AT_RISK_AMOUNT),
        description="The most a billing period's credits may total (default: the at-risk amount).",
    )
    contract_year_cap: CreditCap | None = Field(
        default=None,
        description="The most a contract year's credits may total (amount or "
        "pct_of_charges); none: no yearly ceiling.",
    )
    cap_split: CapSplit = Field(
        default=CapSplit.PRO_RATA,
        description="How a capped period's ceiling is shared: pro rata to the uncapped "
        "credits, or in the order of the SLAs' cap_priority.",
    )
    credited_in: CreditedIn = Field(
        default=CreditedIn.LAST_MONTH_OF_PERIOD,
        description="The billing month that carries the credit of an SLA measured over a "
        "quarter or a year: its last month, or the month after it.",
    )


class ObligationDefinition(_Model):
    code: str
    title: str
    clause: str = ""
    owner_role: str
    rrule: str | None = Field(default=None, examples=["FREQ=MONTHLY;BYMONTHDAY=1"])
    due_offset_business_days: StrictInt = 0
    evidence_required: StrictBool = False
    severity: str = "medium"


class Governance(_Model):
    """The governance cadence: a recurring review with the customer."""

    review_rrule: str = Field(
        default="FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1",
        description="RFC 5545 RRULE of the review (quarterly by default).",
    )
    owner_role: str = "account_executive"
    due_offset_business_days: StrictInt = Field(default=0, ge=0)


class Escalation(_Model):
    """Who hears of an overdue obligation, and when."""

    delay_business_days: StrictInt = Field(
        default=3, ge=0, description="Business days overdue before each escalation."
    )
    levels: list[str] = Field(
        default_factory=lambda: [
            "service_delivery_manager",
            "account_executive",
            "executive_sponsor",
        ],
        description="Roles escalated to, in order.",
    )


class InterpretationNote(_Model):
    """The agreed reading of a clause, who agreed it and when."""

    note: str
    agreed_by: list[str] = Field(min_length=1, examples=[["J. Smith (Acme)", "A. Lee (Globex)"]])
    agreed_on: Date


class Clause(_Model):
    ref: str = Field(examples=["Schedule 3 §2.1"])
    title: str = ""
    text: str = ""
    interpretation_notes: list[InterpretationNote] = Field(default_factory=list)


class RebateTier(_Model):
    from_amount: Amount
    to_amount: Amount | None = None
    rebate_pct: Percent
    retroactive: StrictBool = False


class ContractDocument(_Model):
    """A contract's terms as a deal team writes them (no ids, no version)."""

    reference: str = Field(min_length=1, max_length=100, examples=["ACME-ITO-2026"])
    customer: str = Field(min_length=1, max_length=200)
    supplier: str = Field(min_length=1, max_length=200)
    currency: str = Field(
        min_length=3, max_length=3, examples=["USD"], description="ISO 4217 code."
    )
    timezone: str = Field(examples=["America/New_York"], description="IANA time zone.")
    start_date: Date
    end_date: Date | None = None
    price_book: list[ResourceUnit] = Field(default_factory=list)
    sla_definitions: list[SlaDefinition] = Field(default_factory=list)
    credit_terms: CreditTerms
    obligation_definitions: list[ObligationDefinition] = Field(default_factory=list)
    rebate_tiers: list[RebateTier] = Field(default_factory=list)
    period_close_grace_hours: StrictInt = Field(default=72, ge=0)
    restatement_window_days: StrictInt = Field(
        default=90, ge=0, description="Telemetry this many days after a close restates it."
    )
    holidays: list[Date] = Field(
        default_factory=list, description="The contract's holiday calendar (local dates)."
    )
    governance: Governance | None = None
    escalation: Escalation = Field(default_factory=Escalation)
    clauses: list[Clause] = Field(default_factory=list)
    reconciliation_tolerance: Amount = Field(
        default=Amount("0.00"),
        description="Invoice differences up to this amount per line are not discrepancies.",
    )
    contract_year_start: Date | None = Field(
        default=None, description="First day of contract year 1 (rebates); start_date if empty."
    )


class ContractTerms(ContractDocument):
    """The full terms of one version of a contract, as carried by contracts.v1."""

    contract_id: uuid.UUID
    tenant_id: str
    version: StrictInt
    effective_from: Date


class ContractActivated(_Model):
    terms: ContractTerms
    activated_at: Instant


class ContractAmended(_Model):
    terms: ContractTerms
    previous_version: StrictInt
    amended_at: Instant


class ContractTerminated(_Model):
    terms: ContractTerms
    terminated_at: Instant
    reason: str = ""
