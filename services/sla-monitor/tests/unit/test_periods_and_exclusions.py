"""Periods in the contract's zone, service hours, maintenance — exact figures."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm_events.schemas.contracts import (
    FixedWindow,
    MaintenanceWindows,
    ServiceHours,
    SlaDefinition,
    WeeklyWindow,
)
from crm_events.schemas.sla import Outcome
from crm_platform.periods import PeriodKind
from sla_monitor.attainment.domain import (
    Interval,
    availability,
    classify,
    maintenance_intervals,
    measured_seconds,
    outside_service_hours,
    period_bounds,
    periods_touching,
)
from sla_monitor.attainment.schedule import WrongPeriodKind, check_kind

NY = "America/New_York"


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def test_march_in_new_york_has_743_hours_and_a_two_hour_outage_gives_exact_attainment() -> None:
    march = period_bounds("2026-03", NY)
    assert (march.start, march.end) == (utc(2026, 3, 1, 5), utc(2026, 4, 1, 4))
    result = availability(march, [Interval(utc(2026, 3, 8, 6), utc(2026, 3, 8, 8))], [])
    assert result.period_seconds == 743 * 3600
    assert result.downtime_seconds == 7200
    # (44,580 − 120) / 44,580 = 99.730821…
    assert result.attainment_rounded == Decimal("99.7308")


def test_november_in_new_york_has_721_hours() -> None:
    november = period_bounds("2026-11", NY)
    assert (november.start, november.end) == (utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))
    result = availability(november, [Interval(utc(2026, 11, 1, 5), utc(2026, 11, 1, 7))], [])
    assert result.period_seconds == 721 * 3600  # 43,260 minutes
    # The outage falls in the repeated 01:00-02:00 hour of the fall-back night; it is
    # 120 real minutes: (43,260 − 120) / 43,260.
    assert result.downtime_seconds == 7200
    assert result.attainment_rounded == Decimal("99.7226")


def test_leap_year_february_has_29_days() -> None:
    february = period_bounds("2028-02", "UTC")
    result = availability(february, [Interval(utc(2028, 2, 29, 0), utc(2028, 2, 29, 1))], [])
    assert result.period_seconds == 41_760 * 60
    assert result.attainment_rounded == Decimal("99.8563")  # 41,700 / 41,760


def test_outage_across_a_month_boundary_is_split_in_the_contract_zone() -> None:
    # 23:00 to 02:00 New York time across 31 March → 1 April: 60 minutes in March, 120 in
    # April, each period measured in its own length.
    outage = Interval(utc(2026, 4, 1, 3), utc(2026, 4, 1, 6))
    march, april = period_bounds("2026-03", NY), period_bounds("2026-04", NY)
    assert [p.label for p in periods_touching(outage.start, outage.end, NY, PeriodKind.MONTH)] == [
        "2026-03",
        "2026-04",
    ]
    assert availability(march, [outage], []).downtime_seconds == 3600
    assert availability(april, [outage], []).downtime_seconds == 7200
    assert availability(april, [outage], []).attainment_rounded == Decimal("99.7222")


def test_overlapping_outages_count_once() -> None:
    june = period_bounds("2026-06", "UTC")
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
    march = period_bounds("2026-03", NY)
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
    march = period_bounds("2026-03", NY)
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
    june = period_bounds("2026-06", "UTC")
    hours = ServiceHours(start="22:00", end="06:00")
    outside = outside_service_hours(hours, [], "UTC", june)
    # 8 measured hours a night; the 1st's first 6 hours belong to 31 May's night.
    measured = june.seconds - sum(i.seconds for i in outside)
    assert measured == 30 * 8 * 3600


def test_measured_seconds_so_far_leave_out_exclusions() -> None:
    june = period_bounds("2026-06", "UTC")
    window = [Interval(utc(2026, 6, 1, 1), utc(2026, 6, 1, 2))]
    assert measured_seconds(june, window, utc(2026, 6, 1, 3)) == 2 * 3600
    assert measured_seconds(june, window, utc(2026, 5, 1)) == 0
    assert measured_seconds(june, window, utc(2026, 8, 1)) == june.seconds - 3600


def test_a_wholly_excluded_period_is_no_data() -> None:
    june = period_bounds("2026-06", "UTC")
    result = availability(june, [], [Interval(june.start, june.end)])
    assert result.attainment is None
    assert classify(result.attainment, expected=Decimal(99), minimum=Decimal(98)) is (
        Outcome.NO_DATA
    )


def test_the_first_quarter_in_new_york_has_2159_hours_and_a_year_8760() -> None:
    q1 = period_bounds("2026-Q1", NY)
    assert (q1.start, q1.end, q1.kind) == (utc(2026, 1, 1, 5), utc(2026, 4, 1, 4), "quarter")
    assert q1.seconds == 2_159 * 3600  # 90 days less the spring-forward hour
    assert period_bounds("2026-Q4", NY).seconds == (92 * 24 + 1) * 3600  # the hour back
    assert period_bounds("2026", NY).seconds == 8_760 * 3600
    assert q1.as_model().model_dump(mode="json")["kind"] == "quarter"


def test_quarterly_availability_is_computed_over_the_whole_quarter() -> None:
    # Q1 2026 in New York: 129,540 minutes. Weekly maintenance on Sundays 02:00-04:00 local
    # (13 Sundays × 120 = 1,560 minutes, the one of 8 March included though 02:00 does not
    # exist that night) plus DESIGN's fixed hour on 14 March: 1,620 excluded. DESIGN's
    # 300-minute outage (240 outside the window) plus 90 minutes on 20 January: 330.
    q1 = period_bounds("2026-Q1", NY)
    windows = MaintenanceWindows(
        weekly=[WeeklyWindow(weekday=6, start="02:00", duration_minutes=120)],
        fixed=[FixedWindow(start=utc(2026, 3, 14, 6), end=utc(2026, 3, 14, 7))],
    )
    outages = [
        Interval(utc(2026, 3, 14, 3), utc(2026, 3, 14, 8)),
        Interval(utc(2026, 1, 20, 15), utc(2026, 1, 20, 16, 30)),
    ]
    result = availability(q1, outages, maintenance_intervals(windows, NY, q1))
    assert (result.period_seconds, result.excluded_seconds, result.downtime_seconds) == (
        129_540 * 60,
        1_620 * 60,
        330 * 60,
    )
    # (129,540 − 1,620 − 330) / (129,540 − 1,620) = 127,590 / 127,920
    assert result.attainment == Decimal(127_590) * 100 / Decimal(127_920)
    assert result.attainment_rounded == Decimal("99.7420")
    # March alone is another figure: (44,580 − 660 − 240) / (44,580 − 660) = 99.4536%.
    march = period_bounds("2026-03", NY)
    in_march = availability(march, outages, maintenance_intervals(windows, NY, march))
    assert in_march.attainment_rounded == Decimal("99.4536")


def test_service_hours_over_a_quarter() -> None:
    # 64 weekdays in Q1 2026 (22 + 20 + 22), 600 minutes each.
    q1 = period_bounds("2026-Q1", NY)
    hours = ServiceHours(weekdays=[0, 1, 2, 3, 4], start="08:00", end="18:00")
    outside = outside_service_hours(hours, [], NY, q1)
    assert q1.seconds - sum(i.seconds for i in outside) == 64 * 600 * 60


def test_periods_touching_follow_the_kind() -> None:
    outage = Interval(utc(2026, 4, 1, 3), utc(2026, 4, 1, 6))  # 23:00-02:00 New York
    quarters = periods_touching(outage.start, outage.end, NY, PeriodKind.QUARTER)
    assert [p.label for p in quarters] == ["2026-Q1", "2026-Q2"]
    years = periods_touching(outage.start, outage.end, NY, PeriodKind.YEAR)
    assert [p.label for p in years] == ["2026"]


def test_a_label_of_another_kind_than_the_slas_is_refused_naming_the_form() -> None:
    sla = SlaDefinition.model_validate(
        {
            "code": "AVAIL-Q",
            "metric_kind": "availability",
            "service_key": "core",
            "expected_level": "99.9",
            "minimum_level": "99.5",
            "measurement_period": "quarter",
            "allocation_pct": "40",
        }
    )
    check_kind(sla, period_bounds("2026-Q1", NY))
    with pytest.raises(WrongPeriodKind) as err:
        check_kind(sla, period_bounds("2026-03", NY))
    assert err.value.status_code == 422
    assert err.value.details[0]["loc"] == "path.period"
    assert "measured per quarter" in err.value.message
    assert "YYYY-Qn (e.g. 2026-Q1), not '2026-03'" in err.value.message
    monthly = sla.model_copy(update={"measurement_period": PeriodKind.MONTH})
    with pytest.raises(WrongPeriodKind, match=r"YYYY-MM \(e.g. 2026-04\), not '2026-Q2'"):
        check_kind(monthly, period_bounds("2026-Q2", NY))
