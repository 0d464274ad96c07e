"""Samples into downtime, incident compliance, measurement statistics, signals."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crm_events.schemas.contracts import MetricKind, SmallSampleRule, Statistic
from crm_events.schemas.sla import Outcome
from sla_monitor.attainment.domain import Interval
from sla_monitor.attainment.incidents import Incident, Target, compliance, incident_outcome
from sla_monitor.attainment.measurements import nearest_rank, statistic_of
from sla_monitor.attainment.signals import (
    AvailabilityOutlook,
    availability_at_risk,
    availability_breached,
)
from sla_monitor.telemetry.samples import down_runs

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_down_samples_are_downtime_until_the_next_up_sample() -> None:
    samples = [(at(0), "up"), (at(5), "down"), (at(6), "down"), (at(9), "up"), (at(20), "down")]
    # The open run at 20 has one sample: nothing observed beyond that instant yet.
    assert down_runs(samples) == [Interval(at(5), at(9))]
    assert down_runs([*samples, (at(22), "down")]) == [
        Interval(at(5), at(9)),
        Interval(at(20), at(22)),
    ]
    assert down_runs([*samples, (at(22), "down"), (at(30), "up")])[-1] == Interval(at(20), at(30))


def test_samples_out_of_order_and_ties_resolve_to_down() -> None:
    samples = [(at(9), "up"), (at(5), "down"), (at(5), "up"), (at(7), "up")]
    # At minute 5 both were reported: down wins; minute 7 is the next sample.
    assert down_runs(samples) == [Interval(at(5), at(7))]


def _incident(ticket: str, opened: int, responded: int | None, resolved: int) -> Incident:
    return Incident(
        ticket, at(opened), at(responded) if responded is not None else None, at(resolved)
    )


def test_resolution_compliance_is_the_design_example_90_percent() -> None:
    # DESIGN: 18 of 20 P1 incidents within 4 h → 90% → below_expected (95 / 90).
    incidents = [_incident(f"INC{i}", 0, 5, 200) for i in range(18)]
    incidents += [_incident("INC-LATE-1", 0, 5, 241), _incident("INC-LATE-2", 0, 5, 300)]
    result = compliance(
        incidents, kind=MetricKind.INCIDENT_RESOLUTION, target=Target(240), small_sample=None
    )
    assert (result.incidents, result.within_target) == (20, 18)
    assert [t for t, _ in result.missed] == ["INC-LATE-1", "INC-LATE-2"]
    assert result.attainment == Decimal(90)
    attainment, outcome = incident_outcome(
        result, expected=Decimal(95), minimum=Decimal(90), small_sample=None, has_data=True
    )
    assert (attainment, outcome) == (Decimal(90), Outcome.BELOW_EXPECTED)


def test_response_compliance_uses_the_response_time() -> None:
    incidents = [_incident("A", 0, 14, 600), _incident("B", 0, 16, 20), _incident("C", 0, None, 12)]
    result = compliance(
        incidents, kind=MetricKind.INCIDENT_RESPONSE, target=Target(15), small_sample=None
    )
    # C has no response time: resolved after 12 minutes, so it was responded to by then.
    assert (result.incidents, result.within_target, [t for t, _ in result.missed]) == (3, 2, ["B"])


def test_target_is_inclusive() -> None:
    result = compliance(
        [_incident("A", 0, 1, 240)],
        kind=MetricKind.INCIDENT_RESOLUTION,
        target=Target(240),
        small_sample=None,
    )
    assert result.within_target == 1


@pytest.mark.parametrize(
    "misses, outcome", [(0, Outcome.MET), (1, Outcome.MET), (2, Outcome.FAILED)]
)
def test_small_samples_use_the_allowed_misses(misses: int, outcome: Outcome) -> None:
    rule = SmallSampleRule(minimum_sample=20, allowed_misses=1)
    incidents = [_incident(f"OK{i}", 0, 1, 10) for i in range(5 - misses)]
    incidents += [_incident(f"MISS{i}", 0, 1, 500) for i in range(misses)]
    result = compliance(
        incidents, kind=MetricKind.INCIDENT_RESOLUTION, target=Target(240), small_sample=rule
    )
    assert result.small_sample_applied
    _, got = incident_outcome(
        result, expected=Decimal(95), minimum=Decimal(90), small_sample=rule, has_data=True
    )
    assert got is outcome


def test_no_incident_closed_is_met_with_evidence_and_no_data_without() -> None:
    empty = compliance(
        [], kind=MetricKind.INCIDENT_RESOLUTION, target=Target(60), small_sample=None
    )
    levels: dict[str, Any] = {"expected": Decimal(95), "minimum": Decimal(90), "small_sample": None}
    assert incident_outcome(empty, has_data=True, **levels) == (Decimal(100), Outcome.MET)
    assert incident_outcome(empty, has_data=False, **levels) == (None, Outcome.NO_DATA)


def test_nearest_rank_percentile_is_exact() -> None:
    values = [
        Decimal(v) for v in ("120", "80", "300", "95", "410", "101", "99", "250", "180", "130")
    ]
    # p90 of 10 values: rank ⌈9⌉ = 9 → the 9th smallest (300); p95: rank ⌈9.5⌉ = 10 → 410.
    assert nearest_rank(Decimal(90), 10) == 9
    assert statistic_of(values, Statistic.PERCENTILE, Decimal(90)) == Decimal(300)
    assert statistic_of(values, Statistic.PERCENTILE, Decimal(95)) == Decimal(410)
    assert statistic_of(values, Statistic.PERCENTILE, Decimal("99.9")) == Decimal(410)
    assert statistic_of(values, Statistic.MEAN, None) == Decimal("176.5")
    assert statistic_of([], Statistic.MEAN, None) is None


def test_breached_when_even_no_more_downtime_cannot_reach_the_minimum() -> None:
    # 30-day month, 43,200 measured minutes; minimum 99.5 allows 216 minutes.
    month = 43_200 * 60
    ok = AvailabilityOutlook(month, month // 2, 216 * 60)
    over = AvailabilityOutlook(month, month // 2, 217 * 60)
    assert not availability_breached(ok, minimum=Decimal("99.5"))
    assert availability_breached(over, minimum=Decimal("99.5"))


def test_at_risk_when_the_downtime_rate_would_miss_the_expected_level() -> None:
    # Expected 99.9 allows 43.2 minutes. 10 minutes down in the first 10 days projects
    # to 30 minutes (met); 15 minutes projects to 45 (at risk).
    month, ten_days = 43_200 * 60, 14_400 * 60
    assert not availability_at_risk(
        AvailabilityOutlook(month, ten_days, 10 * 60), expected=Decimal("99.9")
    )
    risky = AvailabilityOutlook(month, ten_days, 15 * 60)
    assert availability_at_risk(risky, expected=Decimal("99.9"))
    assert risky.projected == Decimal("99.89583333333333333333333333")
    assert risky.budget_seconds(Decimal("99.5")) == Decimal(201 * 60)
