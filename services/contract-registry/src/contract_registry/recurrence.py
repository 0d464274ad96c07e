"""Next due dates for the handover brief, on the contract calendar every service shares
(`crm_platform.contract_calendar`): the dates obligation-tracker will hold people to."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from itertools import islice

from crm_platform.contract_calendar import due_after_occurrence, occurrences


def first_occurrence(rule: str, start: date, until: date | None) -> date | None:
    return next(occurrences(rule, start, on_or_after=start, until=until), None)


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
    is still due next Tuesday. Occurrences after the contract end are not."""
    # An offset of n business days spans at most n + 2 weeks of calendar days with holidays
    # sprinkled in; looking back that far finds every occurrence still due.
    look_back = today - timedelta(days=offset_business_days * 2 + 14)
    pairs = (
        (occ, due_after_occurrence(occ, offset_business_days, holidays))
        for occ in occurrences(rule, start, on_or_after=max(start, look_back), until=end)
    )
    return list(islice((p for p in pairs if p[1] >= today), count))
