from datetime import date

import pytest

from contract_registry.recurrence import first_occurrence, next_due_dates
from crm_platform.contract_calendar import InvalidRecurrence, add_business_days, parse_rrule

MONTHLY = "FREQ=MONTHLY;BYMONTHDAY=1"
GOOD_FRIDAY = date(2026, 4, 3)


def test_business_days_skip_weekends_and_holidays() -> None:
    assert add_business_days(date(2026, 3, 13), 1) == date(2026, 3, 16)  # Friday → Monday
    assert add_business_days(date(2026, 4, 2), 1, [GOOD_FRIDAY]) == date(2026, 4, 6)
    assert add_business_days(date(2026, 3, 14), 0) == date(2026, 3, 14)  # the occurrence itself


def test_next_due_dates_add_the_offset_in_business_days_around_holidays() -> None:
    pairs = next_due_dates(
        MONTHLY,
        start=date(2026, 1, 1),
        end=date(2028, 12, 31),
        offset_business_days=5,
        holidays=[GOOD_FRIDAY],
        today=date(2026, 3, 3),
        count=3,
    )
    assert pairs == [
        # Sunday 1 March rolls to Monday 2 March, the first business day; five more make
        # Monday 9 March — the date obligation-tracker sets (one calendar for both).
        (date(2026, 3, 1), date(2026, 3, 9)),
        # Wednesday 1 April: Good Friday does not count, so Thursday 9 April.
        (date(2026, 4, 1), date(2026, 4, 9)),
        (date(2026, 5, 1), date(2026, 5, 8)),
    ]


def test_no_due_date_after_the_contract_ends() -> None:
    pairs = next_due_dates(
        MONTHLY,
        start=date(2026, 1, 1),
        end=date(2026, 4, 30),
        offset_business_days=5,
        holidays=[],
        today=date(2026, 3, 9),
        count=3,
    )
    # March's report (due Monday 9 March) is still due today; none after April.
    assert pairs == [(date(2026, 3, 1), date(2026, 3, 9)), (date(2026, 4, 1), date(2026, 4, 8))]


def test_rrules_read_from_the_contract_start() -> None:
    assert first_occurrence("FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15", date(2026, 1, 1), None) == (
        date(2026, 1, 15)
    )
    assert first_occurrence("RRULE:FREQ=WEEKLY;BYDAY=MO", date(2026, 1, 1), None) == date(
        2026, 1, 5
    )
    assert first_occurrence("FREQ=YEARLY;UNTIL=20251231", date(2026, 1, 1), None) is None


@pytest.mark.parametrize(
    "rule", ["", "BYMONTHDAY=1", "FREQ=FORTNIGHTLY", "FREQ=MONTHLY;BYDAY=XX", "FREQ=HOURLY"]
)
def test_unreadable_rrules_are_refused(rule: str) -> None:
    with pytest.raises(InvalidRecurrence):
        parse_rrule(rule, date(2026, 1, 1))
