"""The contract page's four charts, from the health read model's figures (pure).

- attainment: per SLA, its attainment per period against the expected and minimum levels
  in force that period (dashed lines), each point coloured by its outcome;
- credits and leakage: per period, the service credits and the leakage (Σ |sums by
  discrepancy class| of the reconciled invoices), in the contract currency;
- obligations: per period, obligations done on time, late, and still open (not yet due);
- health: per period, the score as the stack of what each component contributes to it
  (weight × component score ÷ the weights of the components with data), so the bar's
  height is the score and each segment says where the points came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from contract_registry.health.scoring import WEIGHTS, PeriodHealth
from contract_registry.pages.svg import BarSeries, Frame, LineSeries, bar_chart, line_chart, stack

OUTCOME_COLOURS = {
    "met": "#2e7d32",
    "below_expected": "#f9a825",
    "failed": "#c62828",
    "no_data": "#9e9e9e",
}
COMPONENT_COLOURS = {
    "sla_outcomes": "#1565c0",
    "service_credits": "#6a1b9a",
    "obligations_on_time": "#00838f",
    "invoice_accuracy": "#ef6c00",
    "leakage": "#ad1457",
}
COMPONENT_NAMES = {
    "sla_outcomes": "SLA outcomes",
    "service_credits": "credits",
    "obligations_on_time": "obligations on time",
    "invoice_accuracy": "invoice accuracy",
    "leakage": "leakage",
}
CHARTS = ("attainment", "credits-leakage", "obligations", "health")


@dataclass(frozen=True)
class SlaPoint:
    period_label: str
    attainment: Decimal | None
    expected_level: Decimal
    minimum_level: Decimal
    outcome: str


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _unit(metric_kind: str) -> str:
    return "measured value" if metric_kind == "measurement" else "attainment (%)"


def attainment_chart(
    sla_code: str, metric_kind: str, points: Sequence[SlaPoint], *, y: int = 0
) -> str:
    labels = [p.period_label for p in points]
    tips = [
        f"{p.period_label}: {'no data' if p.attainment is None else p.attainment} "
        f"({p.outcome.replace('_', ' ')}; expected {p.expected_level}, "
        f"minimum {p.minimum_level})"
        for p in points
    ]
    frame = Frame(
        f"attainment-{sla_code}",
        f"SLA attainment: {sla_code}",
        f"{sla_code} ({metric_kind}) per period against its expected level and its minimum "
        f"level; points coloured by outcome (met, below expected, failed, no data). "
        f"{len(points)} period(s).",
        y=y,
    )
    series = [
        LineSeries("expected", [_f(p.expected_level) for p in points], "#2e7d32", dashed=True),
        LineSeries("minimum", [_f(p.minimum_level) for p in points], "#c62828", dashed=True),
        LineSeries(
            "attainment",
            [_f(p.attainment) for p in points],
            "#1565c0",
            marks=[OUTCOME_COLOURS.get(p.outcome, "#9e9e9e") for p in points],
            tips=tips,
        ),
    ]
    return line_chart(frame, labels, series, _unit(metric_kind))


def attainment_charts(by_sla: Mapping[str, tuple[str, Sequence[SlaPoint]]]) -> str:
    """Every SLA's chart, one under the other, in one document."""
    frame = Frame(
        "attainment",
        "SLA attainment",
        "Each SLA's attainment per period against its expected and minimum levels: "
        + (", ".join(sorted(by_sla)) or "no SLA period closed yet")
        + ".",
    )
    panels = [
        attainment_chart(code, kind, points, y=i * frame.height)
        for i, (code, (kind, points)) in enumerate(sorted(by_sla.items()))
    ]
    return stack(frame, panels)


def credits_leakage_chart(periods: Sequence[PeriodHealth], currency: str) -> str:
    shown = [p for p in periods if p.credits_total or p.monthly_charges is not None or p.invoices]
    labels = [p.period_label for p in shown]
    frame = Frame(
        "credits-leakage",
        "Service credits and leakage",
        f"Per period, in {currency}: service credits due, and leakage found by reconciling "
        "the supplier's invoices (the sum of the absolute differences per discrepancy class).",
    )
    series = [
        BarSeries(
            "service credits",
            [float(p.credits_total) for p in shown],
            "#6a1b9a",
            [f"{p.period_label}: credits {p.credits_total} {currency}" for p in shown],
        ),
        BarSeries(
            "leakage",
            [float(p.leakage_total) for p in shown],
            "#ad1457",
            [
                f"{p.period_label}: leakage {p.leakage_total} {currency} in {p.invoices} invoice(s)"
                for p in shown
            ],
        ),
    ]
    return bar_chart(frame, labels, series, currency)


def obligations_chart(periods: Sequence[PeriodHealth]) -> str:
    shown = [p for p in periods if p.obligations["opened"]]
    frame = Frame(
        "obligations",
        "Obligations on time",
        "Per period: obligations done on time, late (done after their due date or gone "
        "overdue), and open (not yet due). Waived obligations are not counted.",
    )
    parts = (("on_time", "on time", "#2e7d32"), ("late", "late", "#c62828"))
    series = [
        BarSeries(
            name,
            [float(p.obligations[key]) for p in shown],
            colour,
            [f"{p.period_label}: {p.obligations[key]} {name}" for p in shown],
        )
        for key, name, colour in (*parts, ("pending", "open", "#9e9e9e"))
    ]
    return bar_chart(frame, [p.period_label for p in shown], series, "obligations", stacked=True)


def contributions(health: PeriodHealth) -> dict[str, Decimal]:
    """What each component adds to the score: weight × score ÷ Σ weights with data."""
    scored = [c for c in health.components if c.score is not None]
    weights = sum((c.weight for c in scored), Decimal(0))
    return {
        c.name: (c.weight * c.score / weights if weights and c.score is not None else Decimal(0))
        for c in health.components
    }


def health_chart(periods: Sequence[PeriodHealth]) -> str:
    shown = [p for p in periods if p.score is not None]
    frame = Frame(
        "health",
        "Health score and its components",
        "Per period, the health score (0 to 100) as the sum of what each component "
        "contributes: sla_outcomes 35, service_credits 15, obligations_on_time 20, "
        "invoice_accuracy 15, leakage 15, over the components with data.",
    )
    parts = [contributions(p) for p in shown]
    series = []
    for name in WEIGHTS:
        tips = []
        for p, part in zip(shown, parts, strict=True):
            component = next(c for c in p.components if c.name == name)
            scored = "no data" if component.score is None else f"scored {component.score}"
            tips.append(
                f"{p.period_label}: {name} {scored} (weight {component.weight}) adds "
                f"{part[name]:.2f} to the score {p.score}"
            )
        values = [float(part[name]) for part in parts]
        series.append(BarSeries(COMPONENT_NAMES[name], values, COMPONENT_COLOURS[name], tips))
    labels = [p.period_label for p in shown]
    return bar_chart(frame, labels, series, "score", stacked=True, y_max=100)
