"""The period health of DESIGN's worked example, component by component."""

from datetime import date
from decimal import Decimal as D

from contract_registry.health.scoring import (
    CreditFact,
    InvoiceFact,
    ObligationFact,
    PeriodFacts,
    SlaFact,
    period_health,
)

AVAIL_FAILED = SlaFact("AVAIL-CORE", "availability", "failed", D("99.4609"))
P1_BELOW = SlaFact("P1-RES", "incident_resolution", "below_expected", D("90"))
CREDIT = CreditFact("AVAIL-CORE", D("4414.08"), D("91960.00"), D("11035.20"))
INVOICE = InvoiceFact(
    "INV-2026-03",
    D("87545.92"),
    D("92240.00"),
    2,
    {"consumption_error": D("280.00"), "unapplied_credit": D("4414.08")},
)
ROOT_CAUSE_DUE = date(2026, 4, 17)


def test_the_worked_example_scores_each_component_and_combines_them() -> None:
    facts = PeriodFacts(
        "2026-03",
        slas=[AVAIL_FAILED, P1_BELOW],
        credits=[CREDIT],
        monthly_charges=D("91960.00"),
        invoices=[INVOICE],
        obligations=[
            ObligationFact(ROOT_CAUSE_DUE, "fulfilled", False, date(2026, 4, 15)),
            ObligationFact(ROOT_CAUSE_DUE, "open", True, None),
            ObligationFact(date(2026, 5, 1), "open", False, None),
        ],
    )
    health = period_health(facts, today=date(2026, 4, 20))

    scores = {c.name: c.score for c in health.components}
    assert scores == {
        "sla_outcomes": D("25.00"),  # (failed 0 + below_expected 50) / 2
        "service_credits": D("60.00"),  # 100 × (1 − 4,414.08 / 11,035.20)
        "obligations_on_time": D("50.00"),  # 1 on time, 1 late, 1 not yet due
        "invoice_accuracy": D("0.00"),
        "leakage": D("46.38"),  # 4,694.08 / 87,545.92 = 5.3618% → 100 × (1 − 0.53618)
    }
    # (35 × 25 + 15 × 60 + 20 × 50 + 15 × 0 + 15 × 46.38) / 100
    assert health.score == D("34.71")
    assert health.credits_pct_of_charges == D("4.8000")
    assert health.leakage_total == D("4694.08")
    assert health.leakage_by_class == {
        "consumption_error": D("280.00"),
        "unapplied_credit": D("4414.08"),
    }
    assert health.obligations == {"opened": 3, "on_time": 1, "late": 1, "pending": 1, "waived": 0}
    assert health.outcomes == {"met": 0, "below_expected": 1, "no_data": 0, "failed": 1}


def test_components_without_data_are_left_out_of_the_score() -> None:
    only_sla = period_health(PeriodFacts("2026-02", slas=[AVAIL_FAILED]), date(2026, 3, 5))
    assert only_sla.score == D("0.00")
    assert [c.name for c in only_sla.components if c.score is None] == [
        "service_credits",
        "obligations_on_time",
        "invoice_accuracy",
        "leakage",
    ]
    assert period_health(PeriodFacts("2026-02"), date(2026, 3, 5)).score is None


def test_charges_without_a_credit_score_full_marks_for_credits() -> None:
    met = SlaFact("AVAIL-CORE", "availability", "met", D("99.95"))
    health = period_health(
        PeriodFacts("2026-02", slas=[met], monthly_charges=D("90000.00")), date(2026, 3, 5)
    )
    assert health.score == D("100.00")
    assert health.credits_pct_of_charges == D("0.0000")


def test_an_obligation_past_due_counts_late_even_before_the_overdue_event() -> None:
    open_past_due = ObligationFact(date(2026, 4, 17), "open", False, None)
    fulfilled_late = ObligationFact(date(2026, 4, 17), "fulfilled", False, date(2026, 4, 20))
    waived = ObligationFact(date(2026, 4, 17), "waived", True, None)
    assert open_past_due.timeliness(date(2026, 4, 18)) == "late"
    assert open_past_due.timeliness(date(2026, 4, 17)) == "pending"
    assert fulfilled_late.timeliness(date(2026, 4, 21)) == "late"
    assert waived.timeliness(date(2026, 4, 21)) == "waived"


def test_leakage_of_ten_percent_or_more_scores_zero() -> None:
    invoice = InvoiceFact("I", D("1000.00"), D("1150.00"), 1, {"rate_error": D("150.00")})
    health = period_health(PeriodFacts("2026-02", invoices=[invoice]), date(2026, 3, 5))
    assert {c.name: c.score for c in health.components}["leakage"] == D("0.00")
    # Under-billing is leakage too (the supplier's own): both directions count.
    under = InvoiceFact("J", D("1000.00"), D("950.00"), 1, {"consumption_error": D("-50.00")})
    health = period_health(PeriodFacts("2026-02", invoices=[under]), date(2026, 3, 5))
    assert health.leakage_total == D("50.00")
    assert {c.name: c.score for c in health.components}["leakage"] == D("50.00")
