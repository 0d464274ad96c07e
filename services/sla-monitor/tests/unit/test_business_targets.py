"""Incident targets in business hours and business days of the SLA's service calendar —
the worked example of docs/sla-monitor.md, exact."""

from datetime import UTC, date, datetime
from decimal import Decimal

from crm_events.schemas.contracts import ContractTerms, MetricKind, SlaDefinition, TargetClock
from crm_platform.contract_calendar import ServiceCalendar
from crm_testing import examples
from sla_monitor.attainment.incidents import Incident, Target, compliance

NY = "America/New_York"
HOLIDAY = date(2026, 3, 16)  # a Monday
OFFICE = ServiceCalendar(NY, frozenset(range(5)), "08:00", "18:00", frozenset({HOLIDAY}))


def utc(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 3, d, h, mi, tzinfo=UTC)


# P1, 4 business hours (docs/sla-monitor.md, "Business-hour targets").
P1 = [
    # Fri 6 Mar 17:00 EST → Mon 9 Mar 10:30 EDT, over the spring-forward weekend: 60 + 150.
    Incident("BH-1", utc(6, 22), None, utc(9, 14, 30)),
    # Fri 13 Mar 17:00 EDT → Tue 17 Mar 10:00 EDT, Monday a holiday: 60 + 0 + 120.
    Incident("BH-2", utc(13, 21), None, utc(17, 14)),
    # Wed 18 Mar 09:00 → 13:30 EDT: 270, missed.
    Incident("BH-3", utc(18, 13), None, utc(18, 17, 30)),
    # Sat 21 Mar 10:00 → Mon 23 Mar 11:00 EDT: the weekend is closed, 180.
    Incident("BH-4", utc(21, 14), None, utc(23, 15)),
]
# P3, 3 business days = 1,800 business minutes.
P3 = [
    # Mon 9 Mar 17:00 → Thu 12 Mar 17:00 EDT: 60 + 600 + 600 + 540 = 1,800 (inclusive).
    Incident("P3-A", utc(9, 21), None, utc(12, 21)),
    # Thu 12 Mar 12:00 → Wed 18 Mar 12:00 EDT: 360 + 600 + 0 (holiday) + 600 + 240.
    Incident("P3-B", utc(12, 16), None, utc(18, 16)),
    # Mon 23 Mar 08:00 → Thu 26 Mar 08:01 EDT: 1,801, missed.
    Incident("P3-C", utc(23, 12), None, utc(26, 12, 1)),
]


def test_four_business_hours_count_only_service_hours() -> None:
    target = Target(240, OFFICE)
    result = compliance(P1, kind=MetricKind.INCIDENT_RESOLUTION, target=target, small_sample=None)
    assert (result.incidents, result.within_target) == (4, 3)
    assert result.missed == [("BH-3", Decimal(270))]
    assert result.attainment == Decimal(75)
    # On the wall clock every one of them took more than 4 hours.
    wall = compliance(
        P1, kind=MetricKind.INCIDENT_RESOLUTION, target=Target(240), small_sample=None
    )
    assert wall.within_target == 0
    assert [m for _, m in wall.missed] == [
        Decimal(3870),  # 64.5 real hours: the clocks went forward that Sunday
        Decimal(5340),
        Decimal(270),
        Decimal(2940),
    ]


def test_a_holiday_only_counts_when_the_service_hours_exclude_holidays() -> None:
    working_holiday = ServiceCalendar(NY, frozenset(range(5)), "08:00", "18:00")
    result = compliance(
        P1,
        kind=MetricKind.INCIDENT_RESOLUTION,
        target=Target(240, working_holiday),
        small_sample=None,
    )
    assert [(t, m) for t, m in result.missed] == [("BH-2", Decimal(780)), ("BH-3", Decimal(270))]


def test_three_business_days_are_three_service_days_of_business_time() -> None:
    target = Target(OFFICE.business_days_as_minutes(3), OFFICE, business_days=3)
    assert target.minutes == 1800
    result = compliance(P3, kind=MetricKind.INCIDENT_RESOLUTION, target=target, small_sample=None)
    assert result.missed == [("P3-C", Decimal(1801))]
    assert result.attainment is not None
    assert result.attainment.quantize(Decimal("0.0001")) == Decimal("66.6667")


def test_response_targets_in_business_hours_use_the_response_time() -> None:
    # Opened Fri 13 Mar 17:50 EDT, responded Tue 17 Mar 08:20 EDT (Monday a holiday),
    # resolved that afternoon: 10 + 20 = 30 business minutes to respond, the target 30.
    ticket = Incident("R-1", utc(13, 21, 50), utc(17, 12, 20), utc(17, 20))
    result = compliance(
        [ticket], kind=MetricKind.INCIDENT_RESPONSE, target=Target(30, OFFICE), small_sample=None
    )
    assert result.within_target == 1
    late = compliance(
        [ticket], kind=MetricKind.INCIDENT_RESPONSE, target=Target(29, OFFICE), small_sample=None
    )
    assert late.missed == [("R-1", Decimal(30))]


def _sla(**changes: object) -> SlaDefinition:
    return SlaDefinition.model_validate(
        {
            "code": "P1-RES",
            "metric_kind": "incident_resolution",
            "service_key": "core",
            "expected_level": "95",
            "minimum_level": "90",
            "priority": "P1",
            "allocation_pct": "20",
            "service_hours": {
                "weekdays": [0, 1, 2, 3, 4],
                "start": "08:00",
                "end": "18:00",
                "exclude_holidays": True,
            },
            **changes,
        }
    )


def _terms() -> ContractTerms:
    return examples.contract_terms().model_copy(update={"holidays": [HOLIDAY]})


def test_the_target_follows_the_slas_terms() -> None:
    wall = Target.of(_sla(target_minutes=240), _terms())
    assert (wall.minutes, wall.calendar, wall.clock) == (240, None, TargetClock.WALL_CLOCK)
    assert wall.describe() == "240 minutes"
    hours = Target.of(_sla(target_minutes=240, target_clock="business_hours"), _terms())
    assert hours.calendar == OFFICE
    assert hours.describe() == (
        "240 business minutes (4 business hours) of 08:00–18:00 Mon–Fri (America/New_York), "
        "1 holiday(s) closed"
    )
    days = Target.of(_sla(target_business_days=3, target_clock="business_hours"), _terms())
    assert (days.minutes, days.business_days, days.clock) == (1800, 3, "business_hours")
    assert days.describe().startswith("3 business days (1800 business minutes) of 08:00–18:00")
