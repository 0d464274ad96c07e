"""Periods in the contract's zone, service hours, maintenance — exact figures."""

from datetime import UTC, date, datetime
from decimal import Decimal

from crm_events.schemas.contracts import FixedWindow, MaintenanceWindows, ServiceHours
from crm_events.schemas.sla import Outcome
from sla_monitor.attainment.domain import (
    Interval,
    availability,
    classify,
    maintenance_intervals,
    measured_seconds,
    month_period,
    outside_service_hours,
    periods_touching,
)

NY = "America/New_York"


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def test_march_in_new_york_has_743_hours_and_a_two_hour_outage_gives_exact_attainment() -> None:
    march = month_period("2026-03", NY)
    assert (march.start, march.end) == (utc(2026, 3, 1, 5), utc(2026, 4, 1, 4))
    result = availability(march, [Interval(utc(2026, 3, 8, 6), utc(2026, 3, 8, 8))], [])
    assert result.period_seconds == 743 * 3600
    assert result.downtime_seconds == 7200
    # (44,580 − 120) / 44,580 = 99.730821…
    assert result.attainment_rounded == Decimal("99.7308")


def test_november_in_new_york_has_721_hours() -> None:
    november = month_period("2026-11", NY)
    assert (november.start, november.end) == (utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))
    result = availability(november, [Interval(utc(2026, 11, 1, 5), utc(2026, 11, 1, 7))], [])
    assert result.period_seconds == 721 * 3600  # 43,260 minutes
    # The outage falls in the repeated 01:00-02:00 hour of the fall-back night; it is
    # 120 real minutes: (43,260 − 120) / 43,260.
    assert result.downtime_seconds == 7200
    assert result.attainment_rounded == Decimal("99.7226")


def test_leap_year_february_has_29_days() -> None:
    february = month_period("2028-02", "UTC")
    result = availability(february, [Interval(utc(2028, 2, 29, 0), utc(2028, 2, 29, 1))], [])
    assert result.period_seconds == 41_760 * 60
    assert result.attainment_rounded == Decimal("99.8563")  # 41,700 / 41,760


def test_outage_across_a_month_boundary_is_split_in_the_contract_zone() -> None:
    # 23:00 to 02:00 New York time across 31 March → 1 April: 60 minutes in March, 120 in
    # April, each period measured in its own length.
    outage = Interval(utc(2026, 4, 1, 3), utc(2026, 4, 1, 6))
    march, april = month_period("2026-03", NY), month_period("2026-04", NY)
    assert [p.label for p in periods_touching(outage.start, outage.end, NY)] == [
        "2026-03",
        "2026-04",
    ]
    assert availability(march, [outage], []).downtime_seconds == 3600
    assert availability(april, [outage], []).downtime_seconds == 7200
    assert availability(april, [outage], []).attainment_rounded == Decimal("99.7222")


def test_overlapping_outages_count_once() -> None:
    june = month_period("2026-06", "UTC")
    outages = [
        Interval(utc(2026, 6, 2, 10), utc(2026, 6, 2, 11)),
        Interval(utc(2026, 6, 2, 10, 30), utc(2026, 6, 2, 12)),
        Interval(utc(2026, 6, 2, 11, 45), utc(2026, 6, 2, 12, 15)),
    ]
    result = availability(june, outages, [])
    assert result.downtime_seconds == 135 * 60
    assert result.counted_downtime == [Interval(utc(2026, 6, 2, 10), utc(2026, 6, 2, 12, 15))]


def test_outage_partly_inside_a_maintenance_window_counts_only_outside_it() -> None:
    # DESIGN's worked example: 300 minutes down, 60 of them in the agreed window.
    march = month_period("2026-03", NY)
    windows = MaintenanceWindows(
        fixed=[FixedWindow(start=utc(2026, 3, 14, 6), end=utc(2026, 3, 14, 7))]
    )
    result = availability(
        march,
        [Interval(utc(2026, 3, 14, 3), utc(2026, 3, 14, 8))],
        maintenance_intervals(windows, NY, march),
    )
    assert (result.period_seconds, result.excluded_seconds, result.downtime_seconds) == (
        44_580 * 60,
        60 * 60,
        240 * 60,
    )
    assert result.reported_downtime_seconds == 300 * 60
    assert result.counted_downtime == [
        Interval(utc(2026, 3, 14, 3), utc(2026, 3, 14, 6)),
        Interval(utc(2026, 3, 14, 7), utc(2026, 3, 14, 8)),
    ]
    assert result.attainment_rounded == Decimal("99.4609")
    assert classify(result.attainment, expected=Decimal("99.9"), minimum=Decimal("99.5")) is (
        Outcome.FAILED
    )


def test_service_hours_exclude_nights_weekends_and_holidays() -> None:
    # Weekdays 08:00-18:00 New York, holidays excluded; March 2026 has 22 weekdays, one of
    # them (Mon 16 March) a holiday: 21 × 600 = 12,600 measured minutes of 44,580.
    march = month_period("2026-03", NY)
    hours = ServiceHours(
        weekdays=[0, 1, 2, 3, 4], start="08:00", end="18:00", exclude_holidays=True
    )
    outside = outside_service_hours(hours, [date(2026, 3, 16)], NY, march)
    # A 3-hour outage 17:00-20:00 local on Tue 10 March (EDT): 60 minutes inside hours.
    outage = Interval(utc(2026, 3, 10, 21), utc(2026, 3, 11, 0))
    result = availability(march, [outage], outside)
    assert result.excluded_seconds == (44_580 - 12_600) * 60
    assert result.downtime_seconds == 3600
    assert result.attainment_rounded == Decimal("99.5238")  # 12,540 / 12,600


def test_overnight_service_hours_run_into_the_next_day() -> None:
    june = month_period("2026-06", "UTC")
    hours = ServiceHours(start="22:00", end="06:00")
    outside = outside_service_hours(hours, [], "UTC", june)
    # 8 measured hours a night; the 1st's first 6 hours belong to 31 May's night.
    measured = june.seconds - sum(i.seconds for i in outside)
    assert measured == 30 * 8 * 3600


def test_measured_seconds_so_far_leave_out_exclusions() -> None:
    june = month_period("2026-06", "UTC")
    window = [Interval(utc(2026, 6, 1, 1), utc(2026, 6, 1, 2))]
    assert measured_seconds(june, window, utc(2026, 6, 1, 3)) == 2 * 3600
    assert measured_seconds(june, window, utc(2026, 5, 1)) == 0
    assert measured_seconds(june, window, utc(2026, 8, 1)) == june.seconds - 3600


def test_a_wholly_excluded_period_is_no_data() -> None:
    june = month_period("2026-06", "UTC")
    result = availability(june, [], [Interval(june.start, june.end)])
    assert result.attainment is None
    assert classify(result.attainment, expected=Decimal(99), minimum=Decimal(98)) is (
        Outcome.NO_DATA
    )
