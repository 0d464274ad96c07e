"""Repeated defaults and earn-back, derived from the outcomes of an SLA's periods."""

from decimal import Decimal

from billing_reconciler.credits.domain import (
    EarnBackStatus,
    credit_due,
    earn_back_state,
    shift_period,
)


def test_periods_shift_across_years() -> None:
    assert shift_period("2026-03", -3) == "2025-12"
    assert shift_period("2025-12", 1) == "2026-01"
    assert shift_period("2026-03", -11) == "2025-04"


def test_failed_period_is_always_due_and_met_never() -> None:
    assert credit_due(
        period_label="2026-03", outcome="failed", repeated_default_count=None, outcomes={}
    ).due
    assert not credit_due(
        period_label="2026-03", outcome="met", repeated_default_count=3, outcomes={}
    ).due


def test_third_below_expected_in_twelve_periods_is_a_failure() -> None:
    history = {"2025-05": "below_expected", "2025-11": "below_expected", "2026-01": "met"}
    due = credit_due(
        period_label="2026-03", outcome="below_expected", repeated_default_count=3, outcomes=history
    )
    assert due.due and due.reason == "repeated_default"
    assert due.below_expected_periods == ("2025-05", "2025-11", "2026-03")
    assert "3 of the 12 periods 2025-04..2026-03" in due.explanation


def test_below_expected_outside_the_twelve_period_window_does_not_count() -> None:
    history = {"2025-03": "below_expected", "2025-11": "below_expected"}  # 2025-03 is 13 back
    due = credit_due(
        period_label="2026-03", outcome="below_expected", repeated_default_count=3, outcomes=history
    )
    assert not due.due and len(due.below_expected_periods) == 2


def test_below_expected_without_a_repeated_default_rule_is_no_credit() -> None:
    history = {f"2025-{m:02d}": "below_expected" for m in range(4, 13)}
    assert not credit_due(
        period_label="2026-03",
        outcome="below_expected",
        repeated_default_count=None,
        outcomes=history,
    ).due


def test_earn_back_over_three_periods_moves_from_pending_to_earned_back() -> None:
    credit = dict(credited_period="2026-03", earn_back_periods=3, credit_amount=Decimal("4414.08"))
    outcomes: dict[str, str] = {}
    states = []
    for label in ("2026-04", "2026-05", "2026-06"):
        states.append(earn_back_state(**credit, outcomes=outcomes))  # type: ignore[arg-type]
        outcomes[label] = "met"
    final = earn_back_state(**credit, outcomes=outcomes)  # type: ignore[arg-type]
    assert [(s.status, s.progress) for s in states] == [
        (EarnBackStatus.PENDING, 0),
        (EarnBackStatus.PENDING, 1),
        (EarnBackStatus.PENDING, 2),
    ]
    assert (final.status, final.progress, final.decided_in) == (
        EarnBackStatus.EARNED_BACK,
        3,
        "2026-06",
    )


def test_a_period_not_met_in_the_window_cancels_the_earn_back() -> None:
    state = earn_back_state(
        credited_period="2026-03",
        earn_back_periods=3,
        credit_amount=Decimal("4414.08"),
        outcomes={"2026-04": "met", "2026-05": "below_expected", "2026-06": "met"},
    )
    assert (state.status, state.decided_in, state.progress) == (
        EarnBackStatus.CANCELLED,
        "2026-05",
        1,
    )
    no_data = earn_back_state(
        credited_period="2026-03",
        earn_back_periods=1,
        credit_amount=Decimal(1),
        outcomes={"2026-04": "no_data"},
    )
    assert no_data.status == EarnBackStatus.CANCELLED


def test_earn_back_without_a_clause_or_a_credit() -> None:
    assert (
        earn_back_state(
            credited_period="2026-03", earn_back_periods=0, credit_amount=Decimal(5), outcomes={}
        ).status
        == EarnBackStatus.NOT_APPLICABLE
    )
    assert (
        earn_back_state(
            credited_period="2026-03", earn_back_periods=2, credit_amount=Decimal(0), outcomes={}
        ).status
        == EarnBackStatus.VOID
    )
