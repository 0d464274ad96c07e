"""Business-day arithmetic on local dates of the contract's calendar (pure).

A business day is Monday to Friday and not one of the contract's holidays.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta


def is_business_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """The date `days` business days after `start` (start itself does not count).

    "Due in 10 business days after the close" reads this way: a close on Friday 3 April is
    due on Friday 17 April.
    """
    if days < 0:
        raise ValueError("days must be zero or more")
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current, holidays):
            remaining -= 1
    return current


def next_business_day(day: date, holidays: Collection[date] = ()) -> date:
    """`day` itself when it is a business day, else the first business day after it."""
    current = day
    while not is_business_day(current, holidays):
        current += timedelta(days=1)
    return current


def due_after_occurrence(occurrence: date, offset: int, holidays: Collection[date] = ()) -> date:
    """The due date of a recurring obligation: the (offset + 1)-th business day on or after
    its occurrence date.

    The occurrence counts as the first business day when it is one; when it falls on a
    weekend or holiday it rolls forward to the next business day, which counts instead.
    So `FREQ=MONTHLY;BYMONTHDAY=1` with offset 4 is due on the 5th business day of every
    month, whatever day of the week the 1st is.
    """
    if offset < 0:
        raise ValueError("offset must be zero or more")
    return add_business_days(next_business_day(occurrence, holidays), offset, holidays)


def business_days_late(due: date, today: date, holidays: Collection[date] = ()) -> int:
    """How many business days after `due` have begun by `today` (0 when not yet late)."""
    late = 0
    current = due + timedelta(days=1)
    while current <= today:
        if is_business_day(current, holidays):
            late += 1
        current += timedelta(days=1)
    return late
