"""A contract-period's health from what the other services reported (pure).

Components, each scored 0–100, and their weights:

- sla_outcomes (35): mean over the period's SLAs of met 100, below_expected 50,
  no_data 50, failed 0;
- service_credits (15): 100 × (1 − credits ÷ at-risk amount): 100 without credits, 0 when
  the whole at-risk amount is credited;
- obligations_on_time (20): on time ÷ (on time + late) × 100, over obligations done or late;
- invoice_accuracy (15): invoices without a discrepancy ÷ invoices × 100;
- leakage (15): 100 × (1 − leakage % ÷ 10), floored at 0 (10% leakage scores 0), where
  leakage % = Σ |sums by discrepancy class| ÷ expected totals × 100.

The score is the weighted mean of the components that have data (their weights
renormalised), rounded half-even to 0.01; a period with no data at all has no score.
`no_data` scores like below_expected: a period nobody measured is a governance gap.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

HUNDRED = Decimal(100)
ZERO = Decimal(0)
LEAKAGE_FLOOR_PCT = Decimal(10)  # leakage at this % of expected totals scores 0
OUTCOME_POINTS = {
    "met": HUNDRED,
    "below_expected": Decimal(50),
    "no_data": Decimal(50),
    "failed": ZERO,
}
WEIGHTS = {
    "sla_outcomes": Decimal(35),
    "service_credits": Decimal(15),
    "obligations_on_time": Decimal(20),
    "invoice_accuracy": Decimal(15),
    "leakage": Decimal(15),
}


def _pct(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def _score(value: Decimal) -> Decimal:
    clamped = min(HUNDRED, max(ZERO, value))
    return clamped.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class SlaFact:
    sla_code: str
    metric_kind: str
    outcome: str
    attainment: Decimal | None


@dataclass(frozen=True)
class CreditFact:
    sla_code: str
    credit_amount: Decimal
    monthly_charges: Decimal
    at_risk_amount: Decimal


@dataclass(frozen=True)
class InvoiceFact:
    invoice_number: str
    expected_total: Decimal
    invoiced_total: Decimal
    discrepancies: int
    sums_by_class: dict[str, Decimal]


@dataclass(frozen=True)
class ObligationFact:
    due_date: date
    status: str  # open | fulfilled | waived
    went_overdue: bool
    fulfilled_on: date | None

    def timeliness(self, today: date) -> str:
        """on_time, late, pending or waived."""
        if self.status == "waived":
            return "waived"
        if self.went_overdue:
            return "late"
        if self.status == "fulfilled":
            on_time = self.fulfilled_on is not None and self.fulfilled_on <= self.due_date
            return "on_time" if on_time else "late"
        return "late" if self.due_date < today else "pending"


@dataclass
class PeriodFacts:
    period_label: str
    slas: list[SlaFact] = field(default_factory=list)
    credits: list[CreditFact] = field(default_factory=list)
    monthly_charges: Decimal | None = None  # from billing.charges_computed
    invoices: list[InvoiceFact] = field(default_factory=list)
    obligations: list[ObligationFact] = field(default_factory=list)


@dataclass(frozen=True)
class Component:
    name: str
    weight: Decimal
    score: Decimal | None
    formula: str
    inputs: dict[str, str]


@dataclass(frozen=True)
class PeriodHealth:
    period_label: str
    outcomes: dict[str, int]
    slas: list[SlaFact]
    credits_total: Decimal
    monthly_charges: Decimal | None
    credits_pct_of_charges: Decimal | None
    obligations: dict[str, int]
    obligations_on_time_pct: Decimal | None
    invoices: int
    invoices_accurate: int
    invoice_accuracy_pct: Decimal | None
    leakage_total: Decimal
    leakage_by_class: dict[str, Decimal]
    leakage_pct_of_expected: Decimal | None
    components: list[Component]
    score: Decimal | None


@dataclass(frozen=True)
class PeriodTotals:
    """What scoring reads of a period: its facts aggregated. health/queries.py aggregates
    them in PostgreSQL; `totals_of` is the same aggregation in Python (the reference the
    SQL is tested against, and what the unit tests score)."""

    period_label: str
    slas: list[SlaFact]  # by sla_code
    credits: int
    credits_total: Decimal
    credit_charges: Decimal | None  # the largest monthly charges the credits report
    at_risk_amount: Decimal  # the largest at-risk amount of the credits, 0 without any
    monthly_charges: Decimal | None  # from billing.charges_computed
    obligations: dict[str, int]  # opened, on_time, late, pending, waived
    invoices: int
    invoices_accurate: int
    expected_total: Decimal
    leakage_total: Decimal  # Σ |sums by discrepancy class|
    leakage_by_class: dict[str, Decimal]  # signed sum per class, by class name


TIMELINESS = ("on_time", "late", "pending", "waived")


def totals_of(facts: PeriodFacts, today: date) -> PeriodTotals:
    counts = Counter(o.timeliness(today) for o in facts.obligations)
    by_class: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for invoice in facts.invoices:
        for name, amount in invoice.sums_by_class.items():
            by_class[name] += amount
    credits = facts.credits
    return PeriodTotals(
        period_label=facts.period_label,
        slas=sorted(facts.slas, key=lambda s: s.sla_code),
        credits=len(credits),
        credits_total=sum((c.credit_amount for c in credits), ZERO),
        credit_charges=max((c.monthly_charges for c in credits), default=None),
        at_risk_amount=max((c.at_risk_amount for c in credits), default=ZERO),
        monthly_charges=facts.monthly_charges,
        obligations={"opened": len(facts.obligations)} | {k: counts.get(k, 0) for k in TIMELINESS},
        invoices=len(facts.invoices),
        invoices_accurate=sum(1 for i in facts.invoices if i.discrepancies == 0),
        expected_total=sum((i.expected_total for i in facts.invoices), ZERO),
        leakage_total=sum(
            (abs(amount) for i in facts.invoices for amount in i.sums_by_class.values()), ZERO
        ),
        leakage_by_class=dict(sorted(by_class.items())),
    )


def _sla_component(slas: Sequence[SlaFact]) -> Component:
    points = [OUTCOME_POINTS.get(s.outcome, ZERO) for s in slas]
    counts = Counter(s.outcome for s in slas)
    inputs = {k: str(counts.get(k, 0)) for k in OUTCOME_POINTS}
    score = _score(sum(points, ZERO) / len(points)) if points else None
    return Component(
        "sla_outcomes",
        WEIGHTS["sla_outcomes"],
        score,
        "mean of met 100, below_expected 50, no_data 50, failed 0",
        inputs,
    )


def _credit_component(t: PeriodTotals) -> tuple[Component, Decimal | None, Decimal | None]:
    total, at_risk = t.credits_total, t.at_risk_amount
    charges = t.monthly_charges
    if charges is None and t.credits:
        charges = t.credit_charges
    pct_of_charges = _pct(total / charges * HUNDRED) if charges else None
    score: Decimal | None
    if not t.credits and charges is None:
        score = None  # billing has not reported on this period yet
    elif total == 0 or at_risk == 0:
        score = _score(HUNDRED)
    else:
        score = _score(HUNDRED * (1 - total / at_risk))
    inputs = {"credits_total": str(total), "at_risk_amount": str(at_risk)}
    if charges is not None:
        inputs["monthly_charges"] = str(charges)
    component = Component(
        "service_credits",
        WEIGHTS["service_credits"],
        score,
        "100 × (1 − credits_total ÷ at_risk_amount)",
        inputs,
    )
    return component, charges, pct_of_charges


def _obligation_component(tally: dict[str, int]) -> tuple[Component, Decimal | None]:
    decided = tally["on_time"] + tally["late"]
    pct = _pct(Decimal(tally["on_time"]) / decided * HUNDRED) if decided else None
    component = Component(
        "obligations_on_time",
        WEIGHTS["obligations_on_time"],
        _score(pct) if pct is not None else None,
        "on_time ÷ (on_time + late) × 100",
        {k: str(tally[k]) for k in TIMELINESS},
    )
    return component, pct


def _invoice_components(
    t: PeriodTotals,
) -> tuple[list[Component], Decimal | None, Decimal | None]:
    accuracy = _pct(Decimal(t.invoices_accurate) / t.invoices * HUNDRED) if t.invoices else None
    leakage, expected = t.leakage_total, t.expected_total
    leakage_pct = _pct(leakage / expected * HUNDRED) if expected else None
    leakage_score = (
        _score(HUNDRED * (1 - leakage_pct / LEAKAGE_FLOOR_PCT)) if leakage_pct is not None else None
    )
    components = [
        Component(
            "invoice_accuracy",
            WEIGHTS["invoice_accuracy"],
            _score(accuracy) if accuracy is not None else None,
            "invoices without discrepancy ÷ invoices × 100",
            {"invoices": str(t.invoices), "accurate": str(t.invoices_accurate)},
        ),
        Component(
            "leakage",
            WEIGHTS["leakage"],
            leakage_score,
            f"100 × (1 − leakage_pct ÷ {LEAKAGE_FLOOR_PCT}), leakage_pct = Σ|sums_by_class| "
            "÷ expected totals × 100",
            {
                "leakage_total": str(leakage),
                "expected_total": str(expected),
                "leakage_pct": str(leakage_pct) if leakage_pct is not None else "",
            },
        ),
    ]
    return components, accuracy, leakage_pct


def combine(components: Sequence[Component]) -> Decimal | None:
    scored = [c for c in components if c.score is not None]
    weights = sum((c.weight for c in scored), ZERO)
    if not weights:
        return None
    return _score(sum((c.weight * c.score for c in scored if c.score is not None), ZERO) / weights)


def period_health(facts: PeriodFacts, today: date) -> PeriodHealth:
    return score_period(totals_of(facts, today))


def score_period(t: PeriodTotals) -> PeriodHealth:
    """The decision: a period's components and score from its totals."""
    sla = _sla_component(t.slas)
    credits, charges, credits_pct = _credit_component(t)
    obligations, on_time_pct = _obligation_component(t.obligations)
    invoice_parts, accuracy, leakage_pct = _invoice_components(t)
    components = [sla, credits, obligations, *invoice_parts]
    return PeriodHealth(
        period_label=t.period_label,
        outcomes={k: int(sla.inputs[k]) for k in OUTCOME_POINTS},
        slas=t.slas,
        credits_total=t.credits_total,
        monthly_charges=charges,
        credits_pct_of_charges=credits_pct,
        obligations=dict(t.obligations),
        obligations_on_time_pct=on_time_pct,
        invoices=t.invoices,
        invoices_accurate=t.invoices_accurate,
        invoice_accuracy_pct=accuracy,
        leakage_total=t.leakage_total,
        leakage_by_class=t.leakage_by_class,
        leakage_pct_of_expected=leakage_pct,
        components=components,
        score=combine(components),
    )
