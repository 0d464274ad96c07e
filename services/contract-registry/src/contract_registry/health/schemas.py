from __future__ import annotations

from pydantic import BaseModel, Field

from crm_events.types import Amount, Percent
from crm_platform.pagination import Page


class ScoreComponent(BaseModel):
    name: str = Field(
        description="sla_outcomes, service_credits, obligations_on_time, invoice_accuracy "
        "or leakage"
    )
    weight: Percent
    score: Percent | None = Field(description="0–100; null when the period has no data for it.")
    formula: str
    inputs: dict[str, str]


class SlaResult(BaseModel):
    sla_code: str
    metric_kind: str
    outcome: str
    attainment: Percent | None


class PeriodHealthRead(BaseModel):
    period_label: str
    score: Percent | None = Field(
        description="0–100, the weighted mean of the components with data; null without any."
    )
    components: list[ScoreComponent]
    slas_met: int
    slas_below_expected: int
    slas_failed: int
    slas_no_data: int
    sla_results: list[SlaResult]
    credits_total: Amount
    monthly_charges: Amount | None
    credits_pct_of_charges: Percent | None
    obligations_opened: int = Field(description="Obligations that follow up or fall due here.")
    obligations_on_time: int
    obligations_late: int
    obligations_pending: int
    obligations_on_time_pct: Percent | None
    invoices: int
    invoices_accurate: int
    invoice_accuracy_pct: Percent | None
    leakage_total: Amount = Field(description="Σ |sums by discrepancy class| of the invoices.")
    leakage_by_class: dict[str, Amount] = Field(
        description="Signed sum per class (positive = over-billed)."
    )
    leakage_pct_of_expected: Percent | None


class PeriodHealthPage(Page[PeriodHealthRead]):
    """A page of a contract's health, one item per period."""
