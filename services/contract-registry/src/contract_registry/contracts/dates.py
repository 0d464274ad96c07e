"""Days in a contract's time zone (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_today(now: datetime, timezone: str) -> date:
    """The calendar date at `now` in the contract's zone (UTC when the zone is unknown)."""
    tz = zone(timezone)
    return now.astimezone(tz or UTC).date()


def start_of_day(day: date, timezone: str) -> datetime | None:
    """The UTC instant the local day starts; None when the zone is unknown (drafts)."""
    tz = zone(timezone)
    if tz is None:
        return None
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def end_instant(end_date: date | None, timezone: str) -> datetime | None:
    """The instant a contract whose last day is `end_date` ends (the next local midnight)."""
    if end_date is None:
        return None
    return start_of_day(end_date + timedelta(days=1), timezone)
