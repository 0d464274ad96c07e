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


def _credit_component(
    credits: Sequence[CreditFact], monthly_charges: Decimal | None
) -> tuple[Component, Decimal, Decimal | None, Decimal | None]:
    total = sum((c.credit_amount for c in credits), ZERO)
    charges = monthly_charges
    if charges is None and credits:
        charges = max(c.monthly_charges for c in credits)
    at_risk = max((c.at_risk_amount for c in credits), default=ZERO)
    pct_of_charges = _pct(total / charges * HUNDRED) if charges else None
    score: Decimal | None
    if not credits and charges is None:
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
    return component, total, charges, pct_of_charges


def _obligation_component(
    obligations: Sequence[ObligationFact], today: date
) -> tuple[Component, dict[str, int], Decimal | None]:
    counts = Counter(o.timeliness(today) for o in obligations)
    tally = {k: counts.get(k, 0) for k in ("on_time", "late", "pending", "waived")}
    decided = tally["on_time"] + tally["late"]
    pct = _pct(Decimal(tally["on_time"]) / decided * HUNDRED) if decided else None
    component = Component(
        "obligations_on_time",
        WEIGHTS["obligations_on_time"],
        _score(pct) if pct is not None else None,
        "on_time ÷ (on_time + late) × 100",
        {k: str(v) for k, v in tally.items()},
    )
    return component, tally, pct


def _invoice_components(
    invoices: Sequence[InvoiceFact],
) -> tuple[list[Component], int, Decimal | None, Decimal, dict[str, Decimal], Decimal | None]:
    accurate = sum(1 for i in invoices if i.discrepancies == 0)
    accuracy = _pct(Decimal(accurate) / len(invoices) * HUNDRED) if invoices else None
    by_class: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for invoice in invoices:
        for name, amount in invoice.sums_by_class.items():
            by_class[name] += amount
    leakage = sum((abs(amount) for i in invoices for amount in i.sums_by_class.values()), ZERO)
    expected = sum((i.expected_total for i in invoices), ZERO)
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
            {"invoices": str(len(invoices)), "accurate": str(accurate)},
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
    return components, accurate, accuracy, leakage, dict(sorted(by_class.items())), leakage_pct


def combine(components: Sequence[Component]) -> Decimal | None:
    scored = [c for c in components if c.score is not None]
    weights = sum((c.weight for c in scored), ZERO)
    if not weights:
        return None
    return _score(sum((c.weight * c.score for c in scored if c.score is not None), ZERO) / weights)


def period_health(facts: PeriodFacts, today: date) -> PeriodHealth:
    sla = _sla_component(facts.slas)
    credits, credits_total, charges, credits_pct = _credit_component(
        facts.credits, facts.monthly_charges
    )
    obligations, tally, on_time_pct = _obligation_component(facts.obligations, today)
    invoice_parts, accurate, accuracy, leakage, by_class, leakage_pct = _invoice_components(
        facts.invoices
    )
    components = [sla, credits, obligations, *invoice_parts]
    return PeriodHealth(
        period_label=facts.period_label,
        outcomes={k: int(sla.inputs[k]) for k in OUTCOME_POINTS},
        slas=sorted(facts.slas, key=lambda s: s.sla_code),
        credits_total=credits_total,
        monthly_charges=charges,
        credits_pct_of_charges=credits_pct,
        obligations={"opened": len(facts.obligations), **tally},
        obligations_on_time_pct=on_time_pct,
        invoices=len(facts.invoices),
        invoices_accurate=accurate,
        invoice_accuracy_pct=accuracy,
        leakage_total=leakage,
        leakage_by_class=by_class,
        leakage_pct_of_expected=leakage_pct,
        components=components,
        score=combine(components),
    )
