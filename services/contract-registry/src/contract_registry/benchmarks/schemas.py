from __future__ import annotations

from pydantic import BaseModel, Field

from crm_events.types import Percent


class Distribution(BaseModel):
    count: int
    p50: Percent | None
    p90: Percent | None


class SlaKindBenchmark(BaseModel):
    metric_kind: str
    unit: str | None = Field(
        description="Measurement SLAs: the unit of their values (ms, …); one entry per kind "
        "and unit, never pooled. Null for the other kinds (attainment in %)."
    )
    contracts: int
    sla_periods: int = Field(description="Closed SLA periods (latest restatement).")
    outcomes: dict[str, int]
    attainment: Distribution = Field(description="Attainment of the periods that had data.")
    credit_rate_pct: Distribution = Field(
        description="Credit ÷ monthly charges × 100 per SLA period whose charges are known "
        "(periods without a credit count as 0)."
    )


class ResourceUnitBenchmark(BaseModel):
    resource_unit: str
    contracts: int
    periods: int = Field(description="Contract periods with a base line for the unit.")
    arc_pct: Distribution = Field(description="ARC amount ÷ base amount × 100.")
    rrc_pct: Distribution = Field(description="RRC amount ÷ base amount × 100 (as a positive).")
    net_variance_pct: Distribution = Field(
        description="(ARC − RRC) ÷ base amount × 100: positive when consumption ran above."
    )


class Benchmarks(BaseModel):
    period_from: str | None
    period_to: str | None
    contracts: int
    credit_rate_pct: Distribution = Field(
        description="Per contract period: all credits ÷ monthly charges × 100."
    )
    sla_metric_kinds: list[SlaKindBenchmark]
    resource_units: list[ResourceUnitBenchmark]
    method: str
