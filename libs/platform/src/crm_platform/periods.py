"""Period labels and their arithmetic, once for every service (pure).

A contract measures and bills in calendar periods of its own time zone:

| kind    | label      | example   |
|---------|------------|-----------|
| month   | `YYYY-MM`  | `2026-03` |
| quarter | `YYYY-Qn`  | `2026-Q1` (January to March) |
| year    | `YYYY`     | `2026`    |

Quarters and years are calendar ones. Labels of one kind sort as strings in time order.
`bounds` turns a label into UTC instants in a zone, DST-exact (March 2026 in New York is
743 hours, the first quarter of 2026 there 2,159).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from crm_events.schemas.contracts import MeasurementPeriod as PeriodKind

__all__ = ["PeriodKind"]  # the contract's MeasurementPeriod: one enum for both


MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
"""A monthly label, for path and query parameters that take months only."""

LABEL_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2]|Q[1-4]))?$"
"""Any period label: `2026-03`, `2026-Q1` or `2026`."""

_MONTH = re.compile(MONTH_PATTERN)
_QUARTER = re.compile(r"^\d{4}-Q[1-4]$")
_YEAR = re.compile(r"^\d{4}$")
_MONTHS_IN = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}


class InvalidPeriod(ValueError):
    """A label that is not one of the three forms (the message says which are)."""


@dataclass(frozen=True, order=True)
class Period:
    """A parsed label: its kind, year and index within the year (month 1–12, quarter 1–4,
    or 1 for a year)."""

    kind: PeriodKind
    year: int
    index: int

    @property
    def label(self) -> str:
        return _label(self.kind, self.year, self.index)

    @property
    def months(self) -> int:
        return _MONTHS_IN[self.kind]

    @property
    def first_month(self) -> int:
        """The period's first month (1–12)."""
        return (self.index - 1) * self.months + 1


# Labels are few (a contract's months and quarters) and their arithmetic runs for every line
# of every statement: parsed and formatted once each, then remembered.
_CACHED = 8192


@lru_cache(maxsize=_CACHED)
def _label(kind: PeriodKind, year: int, index: int) -> str:
    if kind is PeriodKind.MONTH:
        return f"{year:04d}-{index:02d}"
    if kind is PeriodKind.QUARTER:
        return f"{year:04d}-Q{index}"
    return f"{year:04d}"


def parse(label: str, kind: PeriodKind | None = None) -> Period:
    """The period a label names; InvalidPeriod when it is not a label (of `kind`, if given)."""
    if not isinstance(label, str):
        raise InvalidPeriod(f"period label {label!r} is not a string")
    found = _parse(label)
    if kind is not None and found.kind is not kind:
        raise InvalidPeriod(f"period label {label!r} is not a {kind.value} ({example(kind)})")
    return found


@lru_cache(maxsize=_CACHED)
def _parse(label: str) -> Period:
    if _MONTH.match(label):
        found = Period(PeriodKind.MONTH, int(label[:4]), int(label[5:7]))
    elif _QUARTER.match(label):
        found = Period(PeriodKind.QUARTER, int(label[:4]), int(label[6]))
    elif _YEAR.match(label):
        found = Period(PeriodKind.YEAR, int(label), 1)
    else:
        raise InvalidPeriod(
            f"period label {label!r} is not YYYY-MM (month), YYYY-Qn (quarter) or YYYY (year)"
        )
    if found.year < 1:
        raise InvalidPeriod(f"period label {label!r} has no year 0000")
    return found


def example(kind: PeriodKind) -> str:
    return {PeriodKind.MONTH: "YYYY-MM", PeriodKind.QUARTER: "YYYY-Qn", PeriodKind.YEAR: "YYYY"}[
        kind
    ]


def kind_of(label: str) -> PeriodKind:
    return parse(label).kind


def _from_month_index(kind: PeriodKind, month_index: int) -> Period:
    """The period of `kind` holding the month `month_index` (year × 12 + month − 1)."""
    year, month0 = divmod(month_index, 12)
    return Period(kind, year, month0 // _MONTHS_IN[kind] + 1)


def _month_index(p: Period) -> int:
    return p.year * 12 + p.first_month - 1


@lru_cache(maxsize=_CACHED)
def shift(label: str, n: int) -> str:
    """The label `n` periods of the same kind later (earlier when negative):
    shift('2026-03', -3) = '2025-12', shift('2026-Q1', 1) = '2026-Q2'."""
    p = parse(label)
    return _from_month_index(p.kind, _month_index(p) + n * p.months).label


def next_label(label: str) -> str:
    return shift(label, 1)


def label_of(day: date, kind: PeriodKind = PeriodKind.MONTH) -> str:
    """The label of the period of `kind` that holds a (local) date."""
    return _from_month_index(kind, day.year * 12 + day.month - 1).label


def label_at(instant: datetime, timezone: str, kind: PeriodKind = PeriodKind.MONTH) -> str:
    """The label of the period holding an instant, in the contract's zone."""
    return label_of(instant.astimezone(ZoneInfo(timezone)).date(), kind)


def first_day(label: str) -> date:
    p = parse(label)
    return date(p.year, p.first_month, 1)


def end_day(label: str) -> date:
    """The first day after the period (exclusive end)."""
    return first_day(shift(label, 1))


def months_of(label: str) -> list[str]:
    """The month labels of a period, in order: months_of('2026-Q1') = 2026-01..2026-03."""
    p = parse(label)
    start = _month_index(p)
    return [_from_month_index(PeriodKind.MONTH, start + i).label for i in range(p.months)]


def last_month(label: str) -> str:
    return months_of(label)[-1]


def containing(month: str, kind: PeriodKind) -> str:
    """The label of the period of `kind` that holds a month: containing('2026-05',
    QUARTER) = '2026-Q2'."""
    return label_of(first_day(parse(month, PeriodKind.MONTH).label), kind)


def between(first: str, last: str) -> list[str]:
    """Labels from first to last of one kind, both included (empty when first > last)."""
    return list(_between(first, last))


@lru_cache(maxsize=_CACHED)
def _between(first: str, last: str) -> tuple[str, ...]:
    a, b = parse(first), parse(last)
    if a.kind is not b.kind:
        raise InvalidPeriod(f"{first!r} and {last!r} are periods of different kinds")
    return tuple(
        _from_month_index(a.kind, i).label
        for i in range(_month_index(a), _month_index(b) + 1, a.months)
    )


def bounds(label: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of the period as UTC instants: local midnights in the zone.
    InvalidPeriod when it is no label, or when its start or end is not a date Python
    holds (the end of 9999-12, the start of 0001-01 east of UTC)."""
    parse(label)
    zone = ZoneInfo(timezone)
    try:
        start = datetime.combine(first_day(label), time(0), zone).astimezone(UTC)
        end = datetime.combine(end_day(label), time(0), zone).astimezone(UTC)
    except (OverflowError, InvalidPeriod):
        raise InvalidPeriod(
            f"period {label!r} starts or ends outside the dates this system holds "
            "(years 0001 to 9999)"
        ) from None
    return start, end


def touching(start: datetime, end: datetime, timezone: str, kind: PeriodKind) -> list[str]:
    """Labels of the periods of `kind` that [start, end] touches (end inclusive)."""
    return between(label_at(start, timezone, kind), label_at(end, timezone, kind))


def contract_year(month: str, year_start: date) -> tuple[str, str]:
    """The first and last months of the contract year that holds `month`, for a contract
    whose year 1 starts in the month of `year_start` (contract years run 12 months from
    that month; a start on any day counts from the first of its month)."""
    m = parse(month, PeriodKind.MONTH)
    anchor = year_start.month - 1
    index = m.year * 12 + m.index - 1
    offset = (index - anchor) % 12
    first = _from_month_index(PeriodKind.MONTH, index - offset).label
    return first, shift(first, 11)
