"""The credits of a billing period as a pure decision: caps, the split, quarterly SLAs,
withdrawn credits — and the properties that make it safe to book: the same inputs give the
same amounts whatever order they arrived in, and deciding again changes nothing."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_reconciler.charges.domain import monthly_charges
from billing_reconciler.credits.domain import at_risk_amount
from billing_reconciler.credits.settlement import (
    OutcomeFact,
    PeriodCase,
    YearToDate,
    credit_month,
    settle,
    settled_period,
    split_pro_rata,
    supersedes,
)
from crm_events.schemas.contracts import ContractTerms, CreditedIn, MeasurementPeriod
from crm_testing import examples

USD = "USD"
WORKED_ACTUALS = {"SRV-WIN": Decimal(214), "TCK-L1": Decimal(4700)}  # M = 91,960.00


def terms(slas: list[dict[str, Any]] | None = None, **credit_terms: Any) -> ContractTerms:
    base = examples.contract_terms()
    doc = base.model_dump(mode="json")
    sla = doc["sla_definitions"][0]
    if slas is not None:
        doc["sla_definitions"] = [{**sla, **s} for s in slas]
    doc["credit_terms"] = {**doc["credit_terms"], **credit_terms}
    return ContractTerms.model_validate(doc)


def fact(outcome: str, restatement: int = 0, source: str = "e1") -> OutcomeFact:
    levels = {"failed": "99.4609", "below_expected": "99.7", "met": "99.95"}
    return OutcomeFact(
        outcome=outcome,
        attainment=Decimal(levels.get(outcome, "0")),
        expected_level=Decimal("99.9"),
        minimum_level=Decimal("99.5"),
        restatement=restatement,
        source_event_id=source,
    )


def case(
    t: ContractTerms,
    outcomes: dict[str, dict[str, OutcomeFact]],
    *,
    period: str = "2026-03",
    actuals: dict[str, Decimal] | None = None,
    year: YearToDate | None = None,
    held: frozenset[str] = frozenset(),
) -> PeriodCase:
    charges = monthly_charges(t.price_book, actuals or WORKED_ACTUALS, t.currency)
    return PeriodCase(
        terms=t,
        period_label=period,
        charges=charges,
        at_risk_amount=at_risk_amount(charges.total, t.credit_terms.at_risk_pct, t.currency),
        outcomes=outcomes,
        year=year,
        held_before=held,
    )


THREE: list[dict[str, Any]] = [
    {"code": "AVAIL-CORE", "allocation_pct": "40", "cap_priority": 2},
    {"code": "AVAIL-EDGE", "allocation_pct": "50", "service_key": "edge", "cap_priority": 1},
    {"code": "AVAIL-WEB", "allocation_pct": "60", "service_key": "web", "cap_priority": 3},
]
ALL_FAILED: dict[str, dict[str, OutcomeFact]] = {
    s["code"]: {"2026-03": fact("failed")} for s in THREE
}


def amounts(result: Any) -> dict[str, str]:
    return {ln.sla_code: str(ln.amount) for ln in result.lines}


def test_the_worked_example_is_one_uncapped_credit_of_4414_08() -> None:
    result = settle(case(terms(), {"AVAIL-CORE": {"2026-03": fact("failed")}}))
    [line] = result.lines
    assert (line.amount, line.uncapped_amount, line.cap_reduction) == (
        Decimal("4414.08"),
        Decimal("4414.08"),
        Decimal("0.00"),
    )
    assert (line.reason, line.measurement_period) == ("failed", "2026-03")
    assert "at-risk 11035.20 × allocation 40% = 4414.08" in line.explanation.formula
    assert "within the ceiling (the period cap is the at-risk amount 11035.20)" in (
        line.explanation.formula
    )


def test_three_failures_beyond_the_at_risk_amount_share_it_pro_rata_to_the_cent() -> None:
    # ARA 11,035.20; uncapped 4,414.08 + 5,517.60 + 6,621.12 = 16,552.80 (150%).
    result = settle(case(terms(THREE), ALL_FAILED))
    assert amounts(result) == {
        "AVAIL-CORE": "2942.72",  # 4,414.08 × 11,035.20 / 16,552.80 = 2,942.72 exactly
        "AVAIL-EDGE": "3678.40",
        "AVAIL-WEB": "4414.08",
    }
    assert result.total == Decimal("11035.20")
    core = result.line("AVAIL-CORE")
    assert core is not None and core.cap_reduction == Decimal("1471.36")
    assert "the cap took 1471.36" in core.explanation.formula
    assert core.explanation.inputs["cap_reduction"] == "1471.36"


def test_the_cents_a_pro_rata_split_leaves_go_to_the_largest_remainders() -> None:
    shares = split_pro_rata(
        {"A": Decimal("50.00"), "B": Decimal("50.00"), "C": Decimal("50.00")},
        Decimal("100.00"),
        USD,
    )
    assert shares == {"A": Decimal("33.34"), "B": Decimal("33.33"), "C": Decimal("33.33")}
    yen = split_pro_rata({"A": Decimal(700), "B": Decimal(300)}, Decimal(999), "JPY")
    assert yen == {"A": Decimal(699), "B": Decimal(300)}
    assert sum(yen.values()) == 999


def test_priority_split_pays_in_the_order_the_contract_states() -> None:
    result = settle(case(terms(THREE, cap_split="priority"), ALL_FAILED))
    # EDGE (1) 5,517.60, then CORE (2) 4,414.08, then WEB (3) gets the 1,103.52 left.
    assert amounts(result) == {
        "AVAIL-CORE": "4414.08",
        "AVAIL-EDGE": "5517.60",
        "AVAIL-WEB": "1103.52",
    }
    web = result.line("AVAIL-WEB")
    assert web is not None and web.cap_reduction == Decimal("5517.60")
    assert "paid in the order of cap_priority (this SLA: 3)" in web.explanation.formula


@pytest.mark.parametrize(
    "cap, ceiling",
    [
        ({"basis": "amount", "amount": "5000"}, "5000.00"),
        ({"basis": "pct_of_charges", "pct": "5"}, "4598.00"),  # 5% × 91,960.00
    ],
)
def test_a_period_cap_of_a_fixed_amount_or_a_share_of_charges(
    cap: dict[str, str], ceiling: str
) -> None:
    result = settle(case(terms(THREE, period_cap=cap), ALL_FAILED))
    assert result.ceiling.amount == Decimal(ceiling)
    assert result.total == Decimal(ceiling)


def test_the_contract_year_cap_leaves_what_earlier_months_did_not_use() -> None:
    t = terms(THREE, contract_year_cap={"basis": "amount", "amount": "30000"})
    year = YearToDate("2026-01", credits_before=Decimal("25000.00"), charges_through=Decimal(0))
    result = settle(case(t, ALL_FAILED, year=year))
    assert result.ceiling.amount == Decimal("5000.00")
    assert result.total == Decimal("5000.00")
    assert "less 25000.00 credited in the year's earlier months leaves 5000.00" in (
        result.ceiling.story
    )
    spent = YearToDate("2026-01", credits_before=Decimal("31000.00"), charges_through=Decimal(0))
    assert settle(case(t, ALL_FAILED, year=spent)).total == Decimal(0)


def test_a_contract_year_cap_in_percent_counts_the_years_charges_so_far() -> None:
    t = terms(THREE, contract_year_cap={"basis": "pct_of_charges", "pct": "4"})
    year = YearToDate(
        "2026-01", credits_before=Decimal("1000.00"), charges_through=Decimal("275880.00")
    )
    result = settle(case(t, ALL_FAILED, year=year))
    # 4% × 275,880.00 = 11,035.20; less 1,000.00 = 10,035.20 < ARA.
    assert result.ceiling.amount == Decimal("10035.20")


def test_a_quarterly_slas_credit_falls_in_the_month_the_contract_says() -> None:
    assert credit_month("2026-Q1", CreditedIn.LAST_MONTH_OF_PERIOD) == "2026-03"
    assert credit_month("2026-Q1", CreditedIn.MONTH_AFTER_PERIOD) == "2026-04"
    assert credit_month("2026", CreditedIn.MONTH_AFTER_PERIOD) == "2027-01"
    assert credit_month("2026-03", CreditedIn.MONTH_AFTER_PERIOD) == "2026-03"  # months: own
    last, after = CreditedIn.LAST_MONTH_OF_PERIOD, CreditedIn.MONTH_AFTER_PERIOD
    assert settled_period("2026-02", MeasurementPeriod.QUARTER, last) is None
    assert settled_period("2026-03", MeasurementPeriod.QUARTER, last) == "2026-Q1"
    assert settled_period("2026-04", MeasurementPeriod.QUARTER, after) == "2026-Q1"
    assert settled_period("2026-03", MeasurementPeriod.QUARTER, after) is None
    assert settled_period("2026-12", MeasurementPeriod.YEAR, last) == "2026"

    quarterly = [{"measurement_period": "quarter"}]
    outcomes = {"AVAIL-CORE": {"2026-Q1": fact("failed")}}
    t = terms(quarterly, credited_in="month_after_period")
    assert settle(case(t, outcomes, period="2026-03")).lines == ()
    [line] = settle(case(t, outcomes, period="2026-04")).lines
    assert (line.measurement_period, line.amount) == ("2026-Q1", Decimal("4414.08"))
    assert line.explanation.formula.startswith("2026-Q1 failed")


def test_a_quarterly_repeated_default_counts_quarters() -> None:
    t = terms([{"measurement_period": "quarter", "repeated_default_count": 2}])
    first = {"AVAIL-CORE": {"2025-Q4": fact("below_expected")}}
    both = {"AVAIL-CORE": {**first["AVAIL-CORE"], "2026-Q1": fact("below_expected")}}
    [line] = settle(case(t, both)).lines
    assert line.reason == "repeated_default"
    assert "below_expected in 2 of the 12 periods 2023-Q2..2026-Q1" in line.explanation.formula


def test_a_credit_held_before_whose_outcome_is_gone_is_withdrawn_to_zero() -> None:
    result = settle(case(terms(), {}, held=frozenset({"AVAIL-CORE", "OLD-SLA"})))
    assert amounts(result) == {"AVAIL-CORE": "0.00", "OLD-SLA": "0.00"}
    assert {ln.outcome for ln in result.lines} == {"withdrawn"}
    met = settle(
        case(terms(), {"AVAIL-CORE": {"2026-03": fact("met")}}, held=frozenset({"AVAIL-CORE"}))
    )
    [line] = met.lines
    assert (line.outcome, line.reason, line.amount) == ("met", "none", Decimal("0.00"))


def test_a_close_never_overwrites_a_restatement() -> None:
    assert supersedes(None, 0)
    assert supersedes(1, 2) and supersedes(2, 2)
    assert not supersedes(2, 0) and not supersedes(3, 1)


# Properties ------------------------------------------------------------------------------

OUTCOMES = ["failed", "below_expected", "met", "no_data"]


@st.composite
def contracts(draw: st.DrawFn) -> ContractTerms:
    n = draw(st.integers(1, 5))
    slas = [
        {
            "code": f"SLA-{i}",
            "service_key": f"k{i}",
            "allocation_pct": str(draw(st.integers(1, 100))),
            "cap_priority": draw(st.integers(1, 5)),
            "repeated_default_count": draw(st.sampled_from([None, 2, 3])),
        }
        for i in range(n)
    ]
    cap = draw(
        st.sampled_from(
            [
                {"basis": "at_risk_amount"},
                {"basis": "amount", "amount": str(draw(st.integers(0, 20000)))},
                {"basis": "pct_of_charges", "pct": str(draw(st.integers(0, 20)))},
            ]
        )
    )
    return terms(
        slas,
        period_cap=cap,
        cap_split=draw(st.sampled_from(["pro_rata", "priority"])),
        at_risk_pct=str(draw(st.integers(1, 25))),
    )


@st.composite
def histories(draw: st.DrawFn, t: ContractTerms) -> dict[str, dict[str, OutcomeFact]]:
    months = ["2025-12", "2026-01", "2026-02", "2026-03"]
    return {
        s.code: {m: fact(draw(st.sampled_from(OUTCOMES))) for m in months}
        for s in t.sla_definitions
    }


@st.composite
def cases(draw: st.DrawFn) -> PeriodCase:
    t = draw(contracts())
    actuals = {
        "SRV-WIN": Decimal(draw(st.integers(0, 400))),
        "TCK-L1": Decimal(draw(st.integers(0, 9000))),
    }
    return case(t, draw(histories(t)), actuals=actuals)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_credits_never_exceed_the_ceiling_nor_what_each_sla_is_owed(c: PeriodCase) -> None:
    result = settle(c)
    assert result.ceiling.amount is not None
    assert result.total <= result.ceiling.amount
    uncapped = sum((ln.uncapped_amount for ln in result.lines), Decimal(0))
    if uncapped > result.ceiling.amount:  # capped: the ceiling is used exactly
        assert result.total == result.ceiling.amount
    for ln in result.lines:
        assert Decimal(0) <= ln.amount <= ln.uncapped_amount
        assert ln.amount == ln.amount.quantize(Decimal("0.01"))
        if c.terms.credit_terms.cap_split.value == "pro_rata" and uncapped:
            exact = ln.uncapped_amount * min(result.ceiling.amount, uncapped) / uncapped
            assert abs(ln.amount - exact) < Decimal("0.01")


@settings(max_examples=200, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_the_order_of_slas_and_outcomes_never_changes_an_amount(
    c: PeriodCase, rnd: random.Random
) -> None:
    slas = list(c.terms.sla_definitions)
    rnd.shuffle(slas)
    shuffled_terms = c.terms.model_copy(update={"sla_definitions": slas})
    keys = list(c.outcomes)
    rnd.shuffle(keys)
    shuffled = {k: dict(reversed(list(c.outcomes[k].items()))) for k in keys}
    again = settle(
        PeriodCase(
            terms=shuffled_terms,
            period_label=c.period_label,
            charges=c.charges,
            at_risk_amount=c.at_risk_amount,
            outcomes=shuffled,
            year=c.year,
            held_before=c.held_before,
        )
    )
    assert amounts(again) == amounts(settle(c))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_closes_and_restatements_arriving_in_any_order_give_the_same_credits(
    data: st.DataObject,
) -> None:
    t = data.draw(contracts())
    # Each SLA's March: a close and up to three restatements, each with its outcome.
    arrivals = [
        (s.code, n, data.draw(st.sampled_from(OUTCOMES)))
        for s in t.sla_definitions
        for n in range(data.draw(st.integers(1, 4)))
    ]

    def fold(order: list[tuple[str, int, str]]) -> dict[str, str]:
        stored: dict[str, OutcomeFact] = {}
        for code, restatement, outcome in order:
            current = stored.get(code)
            if supersedes(None if current is None else current.restatement, restatement):
                stored[code] = fact(outcome, restatement)
        return amounts(settle(case(t, {k: {"2026-03": v} for k, v in stored.items()})))

    shuffled = data.draw(st.permutations(arrivals))
    assert fold(shuffled) == fold(arrivals)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_deciding_again_on_the_credits_already_held_changes_nothing(c: PeriodCase) -> None:
    first = settle(c)
    held = frozenset(ln.sla_code for ln in first.lines)
    again = settle(
        PeriodCase(
            terms=c.terms,
            period_label=c.period_label,
            charges=c.charges,
            at_risk_amount=c.at_risk_amount,
            outcomes=c.outcomes,
            year=c.year,
            held_before=held,
        )
    )
    assert amounts(again) == amounts(first)
    assert settle(c) == first
