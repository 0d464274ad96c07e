from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm_events.schemas.contracts import Direction, FixedWindow, MaintenanceWindows, WeeklyWindow
from crm_events.schemas.sla import Outcome
from sla_monitor.attainment.domain import (
    Interval,
    availability,
    classify,
    maintenance_intervals,
    merge,
    period_bounds,
)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_design_worked_example_comes_out_exactly() -> None:
    # March 2026 in New York (743 h), a 300-minute outage, 60 minutes of it in maintenance.
    period = period_bounds("2026-03", "America/New_York")
    window = MaintenanceWindows(
        fixed=[FixedWindow(start=utc(2026, 3, 14, 6), end=utc(2026, 3, 14, 7))]
    )
    result = availability(
        period,
        [Interval(utc(2026, 3, 14, 3), utc(2026, 3, 14, 8))],
        maintenance_intervals(window, "America/New_York", period),
    )
    assert result.period_seconds == 44_580 * 60
    assert result.excluded_seconds == 60 * 60
    assert result.downtime_seconds == 240 * 60
    assert result.attainment == Decimal(44_280) * 100 / Decimal(44_520)
    assert result.attainment_rounded == Decimal("99.4609")
    outcome = classify(result.attainment, expected=Decimal("99.9"), minimum=Decimal("99.5"))
    assert outcome is Outcome.FAILED


@pytest.mark.parametrize(
    "label, zone, hours",
    [
        ("2026-03", "America/New_York", 743),  # spring forward
        ("2026-11", "America/New_York", 721),  # fall back
        ("2028-02", "UTC", 29 * 24),  # leap year
        ("2026-02", "UTC", 28 * 24),
    ],
)
def test_period_length_follows_the_contract_time_zone(label: str, zone: str, hours: int) -> None:
    assert period_bounds(label, zone).seconds == hours * 3600


def test_outage_across_a_month_boundary_counts_only_inside_each_period() -> None:
    outage = Interval(utc(2026, 4, 30, 23), utc(2026, 5, 1, 2))
    april = period_bounds("2026-04", "UTC")
    may = period_bounds("2026-05", "UTC")
    assert availability(april, [outage], []).downtime_seconds == 3600
    assert availability(may, [outage], []).downtime_seconds == 2 * 3600


def test_overlapping_and_duplicate_outages_are_merged() -> None:
    a = Interval(utc(2026, 6, 1, 10), utc(2026, 6, 1, 12))
    b = Interval(utc(2026, 6, 1, 11), utc(2026, 6, 1, 13))
    assert merge([a, b, a]) == [Interval(a.start, b.end)]
    result = availability(period_bounds("2026-06", "UTC"), [a, b, a], [])
    assert result.downtime_seconds == 3 * 3600


def test_weekly_maintenance_windows_use_local_wall_clock_time() -> None:
    # Sundays 02:00-04:00 New York. On 2026-03-08 (DST starts 02:00) the window is
    # 02:00 EST-equivalent -> 07:00 UTC; before DST Sundays are 07:00 UTC, after 06:00 UTC.
    period = period_bounds("2026-03", "America/New_York")
    windows = MaintenanceWindows(
        weekly=[WeeklyWindow(weekday=6, start="02:00", duration_minutes=120)]
    )
    found = maintenance_intervals(windows, "America/New_York", period)
    assert [w.start for w in found] == [
        utc(2026, 3, 1, 7),
        utc(2026, 3, 8, 7),
        utc(2026, 3, 15, 6),
        utc(2026, 3, 22, 6),
        utc(2026, 3, 29, 6),
    ]
    assert all(w.seconds == 7200 for w in found)


@pytest.mark.parametrize(
    "value, direction, expected",
    [
        ("99.95", Direction.HIGHER_IS_BETTER, Outcome.MET),
        ("99.9", Direction.HIGHER_IS_BETTER, Outcome.MET),
        ("99.7", Direction.HIGHER_IS_BETTER, Outcome.BELOW_EXPECTED),
        ("99.5", Direction.HIGHER_IS_BETTER, Outcome.BELOW_EXPECTED),
        ("99.49", Direction.HIGHER_IS_BETTER, Outcome.FAILED),
        ("3", Direction.LOWER_IS_BETTER, Outcome.MET),
        ("6", Direction.LOWER_IS_BETTER, Outcome.BELOW_EXPECTED),
        ("9", Direction.LOWER_IS_BETTER, Outcome.FAILED),
    ],
)
def test_outcome_rule(value: str, direction: Direction, expected: Outcome) -> None:
    exp, mini = (
        (Decimal("99.9"), Decimal("99.5"))
        if direction is Direction.HIGHER_IS_BETTER
        else (Decimal("4"), Decimal("8"))
    )
    assert classify(Decimal(value), expected=exp, minimum=mini, direction=direction) is expected


def test_a_period_without_data_is_no_data_never_met() -> None:
    assert classify(None, expected=Decimal("99"), minimum=Decimal("98")) is Outcome.NO_DATA
