"""Business time of an SLA's service calendar: exact figures, and the properties it keeps."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from crm_events.schemas.contracts import ServiceHours
from crm_platform.contract_calendar import ServiceCalendar

NY = "America/New_York"
WEEKDAYS = frozenset(range(5))
OFFICE = ServiceCalendar(NY, WEEKDAYS, "08:00", "18:00")


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def test_a_weekend_has_no_business_time() -> None:
    # Friday 13 March 16:00 EDT to Monday 16 March 10:00 EDT: 120 + 120 minutes of
    # 08:00-18:00, against 3,960 wall-clock minutes.
    opened, resolved = utc(2026, 3, 13, 20), utc(2026, 3, 16, 14)
    assert OFFICE.business_minutes(opened, resolved) == 240
    assert (resolved - opened) == timedelta(minutes=3960)


def test_a_holiday_is_closed_only_when_the_calendar_excludes_holidays() -> None:
    # Thursday 2 July 16:00 EDT to Monday 6 July 10:00 EDT, Friday 3 July a holiday.
    opened, resolved = utc(2026, 7, 2, 20), utc(2026, 7, 6, 14)
    hours = ServiceHours(weekdays=[0, 1, 2, 3, 4], start="08:00", end="18:00")
    holidays = [date(2026, 7, 3)]
    working = ServiceCalendar.of(hours, holidays, NY)
    closing = ServiceCalendar.of(hours.model_copy(update={"exclude_holidays": True}), holidays, NY)
    assert working.business_minutes(opened, resolved) == 120 + 600 + 120
    assert closing.business_minutes(opened, resolved) == 120 + 120


def test_the_spring_forward_weekend_counts_real_time() -> None:
    # Friday 6 March 17:00 EST (22:00 UTC) to Monday 9 March 09:00 EDT (13:00 UTC): the
    # clocks went forward on Sunday, so 63 real hours passed though the wall clock shows
    # 64; business time is 60 + 60 minutes.
    opened, resolved = utc(2026, 3, 6, 22), utc(2026, 3, 9, 13)
    assert OFFICE.business_minutes(opened, resolved) == 120
    assert resolved - opened == timedelta(hours=63)


def test_a_round_the_clock_day_lasts_23_or_25_hours_when_the_clocks_change() -> None:
    always = ServiceCalendar(NY)
    spring = (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))  # local midnights, 8 March
    autumn = (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))  # local midnights, 1 November
    assert always.business_minutes(*spring) == 23 * 60
    assert always.business_minutes(*autumn) == 25 * 60
    # A weekday-only calendar is closed on those Sundays.
    assert OFFICE.business_minutes(*spring) == 0


def test_overnight_hours_belong_to_the_day_they_start_on() -> None:
    nights = ServiceCalendar("UTC", WEEKDAYS, "22:00", "06:00")
    # Friday 5 June 23:00 to Monday 8 June 01:00: Friday's night runs to Saturday 06:00
    # (420 minutes); Sunday's night is not listed, Monday's starts at 22:00.
    opened, resolved = utc(2026, 6, 5, 23), utc(2026, 6, 8, 1)
    assert nights.business_minutes(opened, resolved) == 420
    with_sunday = ServiceCalendar("UTC", frozenset({0, 1, 2, 3, 4, 6}), "22:00", "06:00")
    assert with_sunday.business_minutes(opened, resolved) == 420 + 180
    # A holiday on the Friday closes Friday's night, not Thursday's that runs into it.
    closed = ServiceCalendar("UTC", WEEKDAYS, "22:00", "06:00", frozenset({date(2026, 6, 5)}))
    assert closed.business_minutes(utc(2026, 6, 5, 0), utc(2026, 6, 6, 6)) == 360


def test_business_days_are_service_days_of_business_time() -> None:
    assert OFFICE.day_minutes == 600
    assert OFFICE.business_days_as_minutes(3) == 1800
    assert ServiceCalendar("UTC", day_start="22:00", day_end="06:00").day_minutes == 480
    assert ServiceCalendar("UTC").day_minutes == 1440
    assert ServiceCalendar("UTC", day_start="08:00", day_end="08:00").day_minutes == 1440
    # Opened Monday 9 March 17:00 EDT: 3 business days end on Thursday 12 March 17:00.
    opened = utc(2026, 3, 9, 21)
    assert OFFICE.business_minutes(opened, utc(2026, 3, 12, 21)) == 1800


def test_without_service_hours_business_time_is_wall_clock_time() -> None:
    calendar = ServiceCalendar.of(None, [date(2026, 3, 9)], NY)
    a, b = utc(2026, 3, 6, 22, 17), utc(2026, 3, 9, 13, 2)
    assert calendar.business_time(a, b) == b - a
    assert calendar.business_minutes(b, a) == Decimal(0)


def test_a_calendar_describes_itself() -> None:
    assert OFFICE.describe() == "08:00–18:00 Mon–Fri (America/New_York)"
    odd = ServiceCalendar(
        "UTC", frozenset({0, 2, 3, 6}), "22:00", "06:00", frozenset({date(2026, 1, 1)})
    )
    assert odd.describe() == "22:00–06:00 Mon, Wed–Thu, Sun (UTC), 1 holiday(s) closed"


def test_windows_are_clipped_to_the_span_and_in_order() -> None:
    found = OFFICE.windows(utc(2026, 3, 13, 20), utc(2026, 3, 16, 14))
    assert found == [
        (utc(2026, 3, 13, 20), utc(2026, 3, 13, 22)),
        (utc(2026, 3, 16, 12), utc(2026, 3, 16, 14)),
    ]


ZONES = ["UTC", NY, "Europe/Berlin", "Australia/Lord_Howe"]  # Lord Howe moves 30 minutes
HHMM = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45])
)


@st.composite
def calendars(draw: st.DrawFn) -> ServiceCalendar:
    end = draw(st.one_of(HHMM, st.just("24:00")))
    closed = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=30))
    return ServiceCalendar(
        draw(st.sampled_from(ZONES)),
        draw(st.frozensets(st.integers(0, 6), min_size=1)),
        draw(HHMM),
        end,
        closed,
    )


INSTANTS = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@given(calendars(), st.lists(INSTANTS, min_size=3, max_size=3).map(sorted))
def test_business_time_is_additive_over_a_split_point(
    calendar: ServiceCalendar, points: list[datetime]
) -> None:
    a, b, c = points
    whole = calendar.business_time(a, c)
    assert whole == calendar.business_time(a, b) + calendar.business_time(b, c)
    assert timedelta(0) <= whole <= c - a


@given(calendars(), INSTANTS, st.integers(0, 20 * 24 * 60))
def test_windows_never_overlap_and_never_leave_the_span(
    calendar: ServiceCalendar, start: datetime, minutes: int
) -> None:
    end = start + timedelta(minutes=minutes)
    found = calendar.windows(start, end)
    for s, e in found:
        assert start <= s < e <= end
    for (_, e1), (s2, _) in pairwise(found):
        assert e1 < s2
