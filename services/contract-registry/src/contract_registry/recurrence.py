"""Recurrences (RFC 5545 RRULEs) and business days in a contract's calendar (pure).

An RRULE in the contract (an obligation's recurrence, the governance review) is read with
the contract's start date as DTSTART, in local dates: the contract's time zone decides what
"today" is, the rule itself speaks in calendar days. A due date is the occurrence plus the
due offset in business days (Monday to Friday, not a contract holiday); the occurrence day
itself does not count, so an offset of 0 is due on the occurrence.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date, datetime, time, timedelta
from itertools import islice

from dateutil.rrule import rrule, rruleset, rrulestr


class InvalidRecurrence(ValueError):
    pass


def parse_rrule(rule: str, start: date) -> rrule | rruleset:
    """The rule with DTSTART at the contract start; InvalidRecurrence if it does not parse."""
    text = rule.strip()
    if not text:
        raise InvalidRecurrence("the RRULE is empty")
    if "FREQ=" not in text.upper():
        raise InvalidRecurrence("an RRULE needs FREQ= (RFC 5545), e.g. FREQ=MONTHLY;BYMONTHDAY=1")
    try:
        parsed = rrulestr(text, dtstart=datetime.combine(start, time()))
    except (ValueError, TypeError, IndexError) as exc:
        raise InvalidRecurrence(f"the RRULE does not parse: {exc}") from None
    if not isinstance(parsed, rrule | rruleset):
        raise InvalidRecurrence("the RRULE does not parse")
    return parsed


def occurrences(rule: str, start: date, *, on_or_after: date, until: date | None) -> Iterator[date]:
    """Occurrence dates on or after `on_or_after` (and on or before `until`), in order."""
    parsed = parse_rrule(rule, start)
    cursor = datetime.combine(on_or_after, time())
    limit = datetime.combine(until, time()) if until is not None else None
    first = parsed.after(cursor, inc=True)
    current = first
    while current is not None and (limit is None or current <= limit):
        yield current.date()
        current = parsed.after(current, inc=False)


def first_occurrence(rule: str, start: date, until: date | None) -> date | None:
    return next(occurrences(rule, start, on_or_after=start, until=until), None)


def is_business_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """The date `days` business days after `start` (start itself does not count)."""
    if days < 0:
        raise ValueError("days must be zero or more")
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current, holidays):
            remaining -= 1
    return current


def next_due_dates(
    rule: str,
    *,
    start: date,
    end: date | None,
    offset_business_days: int,
    holidays: Collection[date],
    today: date,
    count: int,
) -> list[tuple[date, date]]:
    """The next `count` (occurrence, due date) pairs whose due date is today or later.

    Occurrences before today are looked at too: one on Friday with a 3-business-day offset
    is still due next Wednesday. Occurrences after the contract end are not."""
    # An offset of n business days spans at most n + 2 weeks of calendar days with holidays
    # sprinkled in; looking back that far finds every occurrence still due.
    look_back = today - timedelta(days=offset_business_days * 2 + 14)
    pairs = (
        (occ, add_business_days(occ, offset_business_days, holidays))
        for occ in occurrences(rule, start, on_or_after=max(start, look_back), until=end)
    )
    return list(islice((p for p in pairs if p[1] >= today), count))
