from datetime import date

import pytest

from obligation_tracker.obligations.calendar import add_business_days


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
