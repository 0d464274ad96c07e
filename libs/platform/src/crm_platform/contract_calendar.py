"""A contract's calendar: its recurrences (RFC 5545 RRULEs) and its business days (pure).

One definition for every service, so the handover brief of contract-registry shows the due
dates obligation-tracker will hold people to.

- An RRULE is read with the contract's start date as DTSTART, on local dates; finer than
  daily is refused (a year of it would be thousands of obligations).
- A business day is Monday to Friday and not one of the contract's holidays.
- A recurring obligation is due on the (offset + 1)-th business day on or after its
  occurrence: the occurrence counts as the first when it is a business day, else it rolls
  forward to the next one. `FREQ=MONTHLY;BYMONTHDAY=1` with offset 4 is due on the 5th
  business day of every month, whatever day of the week the 1st is.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from datetime import date, datetime, time, timedelta

from dateutil.rrule import rrule, rruleset, rrulestr

ALLOWED_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")


class InvalidRecurrence(ValueError):
    pass


def parse_rrule(rule: str, dtstart: date) -> rrule | rruleset:
    """The rule anchored at `dtstart`; InvalidRecurrence (with the reason) otherwise."""
    text = rule.strip()
    if not text:
        raise InvalidRecurrence("the RRULE is empty")
    freq = re.search(r"FREQ=([A-Z]+)", text.upper())
    if freq is None:
        raise InvalidRecurrence("an RRULE needs FREQ= (RFC 5545), e.g. FREQ=MONTHLY;BYMONTHDAY=1")
    if freq.group(1) not in ALLOWED_FREQUENCIES:
        raise InvalidRecurrence(
            f"RRULE frequency {freq.group(1)} is finer than daily; use one of "
            f"{', '.join(ALLOWED_FREQUENCIES)}"
        )
    try:
        parsed = rrulestr(text, dtstart=datetime.combine(dtstart, time()), ignoretz=True)
    except (ValueError, TypeError, IndexError) as exc:
        raise InvalidRecurrence(f"the RRULE does not parse: {exc}") from None
    if not isinstance(parsed, rrule | rruleset):
        raise InvalidRecurrence("the RRULE does not parse")
    return parsed


def occurrences(
    rule: str, dtstart: date, *, on_or_after: date, until: date | None
) -> Iterator[date]:
    """Occurrence dates on or after `on_or_after` (and on or before `until`), in order."""
    parsed = parse_rrule(rule, dtstart)
    limit = datetime.combine(until, time()) if until is not None else None
    for moment in parsed.xafter(datetime.combine(on_or_after, time()), inc=True):
        if limit is not None and moment > limit:
            return
        yield moment.date()


def previous_occurrence(rule: str, dtstart: date, *, before: date) -> date | None:
    """The occurrence just before `before` (e.g. the last review)."""
    moment = parse_rrule(rule, dtstart).before(datetime.combine(before, time()), inc=False)
    return moment.date() if moment is not None else None


def is_business_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """The date `days` business days after `start` (start itself does not count).

    "Due in 10 business days after the close": a close on Friday 3 April is due on Friday
    17 April.
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
    """The due date of a recurring obligation's occurrence (see the module's rule)."""
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
