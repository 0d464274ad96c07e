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

An SLA's service calendar (`ServiceCalendar`) says when a service is measured: local hours
on some weekdays, with or without the contract's holidays. Business time is the time inside
those hours; incident targets such as "P1 resolved in 4 business hours" or "P3 in 3
business days" are measured in it (see `ServiceCalendar.business_seconds`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr

from crm_events.schemas.contracts import ServiceHours

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


MINUTES_PER_DAY = 24 * 60
EVERY_DAY = frozenset(range(7))
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _hhmm(value: str) -> int:
    """`HH:MM` as minutes after midnight (`24:00` is 1,440)."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _local(day: date, minute_of_day: int, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant; minute 1,440 is the next midnight."""
    extra, minute = divmod(minute_of_day, MINUTES_PER_DAY)
    moment = datetime.combine(day + timedelta(days=extra), time(*divmod(minute, 60)), zone)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class ServiceCalendar:
    """When a service is measured, in the contract's time zone (pure).

    Every listed weekday (0 = Monday … 6 = Sunday) that is not a closed day has one service
    window from `day_start` to `day_end`, local wall-clock time. `24:00` is the next
    midnight; an end at or before the start runs overnight into the next day, and such a
    window belongs to the day it starts on: a closed day or an unlisted weekday closes the
    window that starts on it, not the one that runs into it from the day before.

    Windows are real time: on the night clocks go forward a 00:00–24:00 window lasts 23
    hours, on the night they go back 25. A local time the change skips or repeats is read
    the way `zoneinfo` reads it (fold 0): 02:30 on a spring-forward night is 03:30 daylight
    time, 01:30 on a fall-back night is the first 01:30.

    Business time is the time inside the windows. `business_time(a, c)` equals
    `business_time(a, b) + business_time(b, c)` for any a ≤ b ≤ c, and is never more than
    the wall-clock time from a to c.
    """

    timezone: str
    weekdays: frozenset[int] = EVERY_DAY
    day_start: str = "00:00"
    day_end: str = "24:00"
    closed_days: frozenset[date] = frozenset()

    @classmethod
    def of(
        cls, hours: ServiceHours | None, holidays: Iterable[date], timezone: str
    ) -> ServiceCalendar:
        """An SLA's calendar: its service hours (around the clock when it has none), with
        the contract's holidays closed when the hours say `exclude_holidays`."""
        if hours is None:
            return cls(timezone)
        closed = frozenset(holidays) if hours.exclude_holidays else frozenset()
        return cls(timezone, frozenset(hours.weekdays), hours.start, hours.end, closed)

    @property
    def day_minutes(self) -> int:
        """The length of one service day in minutes, by the clock on the wall (10:00–18:00
        is 480, 22:00–06:00 is 480, 00:00–24:00 is 1,440)."""
        start, end = _hhmm(self.day_start), _hhmm(self.day_end)
        return end - start if end > start else end + MINUTES_PER_DAY - start

    def business_days_as_minutes(self, days: int) -> int:
        """A target of `days` business days is that many service days of business time:
        3 business days of 08:00–18:00 service hours are 1,800 business minutes. (So an
        incident opened on Monday at 17:00 meets it when resolved by Thursday 17:00, and
        one opened on a Saturday by the close of Wednesday.)"""
        return days * self.day_minutes

    def describe(self) -> str:
        """`08:00–18:00 Mon–Fri (America/New_York), 2 holidays closed`."""
        runs: list[list[int]] = []
        for d in sorted(self.weekdays):
            if runs and d == runs[-1][-1] + 1:
                runs[-1].append(d)
            else:
                runs.append([d])
        days = ", ".join(
            DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}–{DAY_NAMES[r[-1]]}"
            for r in runs
        )
        text = f"{self.day_start}–{self.day_end} {days} ({self.timezone})"
        if self.closed_days:
            text += f", {len(self.closed_days)} holiday(s) closed"
        return text

    def windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The service windows within [start, end), as UTC instants, in order; windows
        that touch are joined."""
        if end <= start:
            return []
        zone = ZoneInfo(self.timezone)
        opening = _hhmm(self.day_start)
        closing = opening + self.day_minutes
        found: list[tuple[datetime, datetime]] = []
        # The window of the day before may run into `start` (overnight hours).
        day = start.astimezone(zone).date() - timedelta(days=1)
        final = end.astimezone(zone).date()
        while day <= final:
            if day.weekday() in self.weekdays and day not in self.closed_days:
                s = max(_local(day, opening, zone), start)
                e = min(_local(day, closing, zone), end)
                if s < e:
                    if found and s <= found[-1][1]:
                        found[-1] = (found[-1][0], max(e, found[-1][1]))
                    else:
                        found.append((s, e))
            day += timedelta(days=1)
        return found

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Business time in [start, end), exact (zero when end is not after start)."""
        return sum((e - s for s, e in self.windows(start, end)), timedelta())

    def business_minutes(self, start: datetime, end: datetime) -> Decimal:
        """Business time in [start, end) in minutes, as a Decimal (90 seconds are 1.5);
        compare `business_time` with a target for an exact answer."""
        elapsed = self.business_time(start, end)
        return Decimal(elapsed // timedelta(microseconds=1)) / 60_000_000
