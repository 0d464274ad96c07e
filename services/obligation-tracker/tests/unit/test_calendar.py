from datetime import date

import pytest

from crm_platform.contract_calendar import (
    add_business_days,
    business_days_late,
    due_after_occurrence,
    next_business_day,
)

NEW_YEAR_2027 = {date(2027, 1, 1)}  # a Friday


@pytest.mark.parametrize(
    "start, days, expected",
    [
        (date(2026, 11, 26), 10, date(2026, 12, 10)),  # Thursday + 10 business days
        (date(2026, 11, 27), 1, date(2026, 11, 30)),  # Friday + 1 skips the weekend
        (date(2026, 11, 28), 1, date(2026, 11, 30)),  # from a Saturday
        (date(2026, 11, 26), 0, date(2026, 11, 26)),
    ],
)
def test_business_days_skip_weekends(start: date, days: int, expected: date) -> None:
    assert add_business_days(start, days) == expected


def test_holidays_are_not_business_days() -> None:
    assert add_business_days(date(2026, 12, 24), 1, {date(2026, 12, 25)}) == date(2026, 12, 28)


def test_negative_offsets_are_refused() -> None:
    with pytest.raises(ValueError):
        add_business_days(date(2026, 1, 1), -1)
    with pytest.raises(ValueError):
        due_after_occurrence(date(2026, 1, 1), -1)


def test_a_holiday_followed_by_a_weekend_rolls_to_monday() -> None:
    assert next_business_day(date(2027, 1, 1), NEW_YEAR_2027) == date(2027, 1, 4)
    assert next_business_day(date(2027, 1, 4), NEW_YEAR_2027) == date(2027, 1, 4)


@pytest.mark.parametrize(
    "occurrence, expected",
    [
        # 1 Dec 2026 is a Tuesday: 1, 2, 3, 4, (weekend), 7.
        (date(2026, 12, 1), date(2026, 12, 7)),
        # 1 Jan 2027 is a holiday (Friday), then a weekend: 4, 5, 6, 7, 8.
        (date(2027, 1, 1), date(2027, 1, 8)),
        # 1 Feb 2027 is a Monday: 1, 2, 3, 4, 5.
        (date(2027, 2, 1), date(2027, 2, 5)),
        # 1 May 2027 is a Saturday: 3, 4, 5, 6, 7.
        (date(2027, 5, 1), date(2027, 5, 7)),
    ],
)
def test_offset_four_from_the_first_is_the_fifth_business_day_of_the_month(
    occurrence: date, expected: date
) -> None:
    assert due_after_occurrence(occurrence, 4, NEW_YEAR_2027) == expected


def test_offset_zero_is_the_occurrence_or_the_next_business_day() -> None:
    assert due_after_occurrence(date(2027, 2, 1), 0) == date(2027, 2, 1)
    assert due_after_occurrence(date(2027, 1, 1), 0, NEW_YEAR_2027) == date(2027, 1, 4)


def test_business_days_late_counts_only_business_days_after_the_due_date() -> None:
    due = date(2027, 1, 8)  # a Friday
    assert business_days_late(due, date(2027, 1, 8)) == 0
    assert business_days_late(due, date(2027, 1, 10)) == 0  # the weekend
    assert business_days_late(due, date(2027, 1, 11)) == 1
    assert business_days_late(due, date(2027, 1, 13)) == 3
    assert business_days_late(due, date(2027, 1, 13), {date(2027, 1, 12)}) == 2
