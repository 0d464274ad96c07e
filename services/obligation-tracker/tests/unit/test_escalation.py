from datetime import date

from obligation_tracker.obligations.escalation import Step, steps_due

LEVELS = ["service_delivery_manager", "account_executive", "executive_sponsor"]
DUE = date(2027, 1, 8)  # a Friday


def steps(
    status: str, today: date, level: int = 0, sent: bool = False, delay: int = 3
) -> list[Step]:
    return steps_due(
        status=status,
        due=DUE,
        today=today,
        escalation_level=level,
        due_soon_sent=sent,
        due_soon_days=3,
        delay_business_days=delay,
        levels=LEVELS,
    )


def test_due_soon_is_announced_once_within_the_window() -> None:
    assert steps("open", date(2027, 1, 4)) == []
    assert steps("open", date(2027, 1, 5)) == [Step("due_soon")]
    assert steps("open", date(2027, 1, 8)) == [Step("due_soon")]
    assert steps("open", date(2027, 1, 6), sent=True) == []


def test_overdue_the_day_after_the_due_date() -> None:
    assert steps("open", date(2027, 1, 9)) == [Step("overdue")]


def test_escalated_level_by_level_after_the_delay_in_business_days() -> None:
    assert steps("overdue", date(2027, 1, 12)) == []  # two business days late
    assert steps("overdue", date(2027, 1, 13)) == [
        Step("escalated", level=1, escalated_to="service_delivery_manager")
    ]
    assert steps("escalated", date(2027, 1, 18), level=1) == [
        Step("escalated", level=2, escalated_to="account_executive")
    ]
    # Never past the last level.
    assert steps("escalated", date(2027, 3, 1), level=3) == []


def test_a_check_that_ran_late_catches_up_every_step_in_order() -> None:
    assert steps("open", date(2027, 1, 18)) == [
        Step("overdue"),
        Step("escalated", level=1, escalated_to="service_delivery_manager"),
        Step("escalated", level=2, escalated_to="account_executive"),
    ]


def test_a_zero_delay_tells_every_level_at_once() -> None:
    assert [s.level for s in steps("open", date(2027, 1, 9), delay=0)] == [0, 1, 2, 3]


def test_fulfilled_and_waived_obligations_never_move() -> None:
    assert steps("fulfilled", date(2027, 2, 1)) == []
    assert steps("waived", date(2027, 2, 1)) == []
