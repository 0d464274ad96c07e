"""The attainment decisions are pure: the same telemetry gives the same figures whatever
order it arrived in, however it was split into reports, and deciding again changes nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_events.schemas.contracts import MetricKind
from sla_monitor.attainment.domain import Interval, PeriodBounds, availability, period_bounds
from sla_monitor.attainment.incidents import Incident, Target, compliance

MARCH = period_bounds("2026-03", "America/New_York")
SECOND = timedelta(seconds=1)


@st.composite
def intervals(draw: st.DrawFn, period: PeriodBounds = MARCH) -> Interval:
    """Intervals around and across the period's edges, to the second."""
    span = int((period.end - period.start).total_seconds())
    start = draw(st.integers(-86_400, span + 86_400))
    length = draw(st.integers(1, 3 * 86_400))
    at = period.start + start * SECOND
    return Interval(at, at + length * SECOND)


def _split(iv: Interval, cut: float) -> list[Interval]:
    """An outage reported as two adjoining parts (a monitor restarting mid-outage)."""
    middle = iv.start + timedelta(seconds=int((iv.end - iv.start).total_seconds() * cut))
    if middle <= iv.start or middle >= iv.end:
        return [iv]
    return [Interval(iv.start, middle), Interval(middle, iv.end)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(intervals(), max_size=12),
    st.lists(intervals(), max_size=4),
    st.randoms(use_true_random=False),
    st.floats(0.01, 0.99),
)
def test_availability_is_the_same_whatever_order_and_split_outages_arrive_in(
    outages: list[Interval], maintenance: list[Interval], rnd: random.Random, cut: float
) -> None:
    first = availability(MARCH, outages, maintenance)
    reported = [part for iv in outages for part in _split(iv, cut)]
    reported += outages[: len(outages) // 2]  # some reported twice
    rnd.shuffle(reported)
    again = availability(MARCH, reported, list(reversed(maintenance)))
    assert again.attainment == first.attainment
    assert (again.downtime_seconds, again.excluded_seconds) == (
        first.downtime_seconds,
        first.excluded_seconds,
    )
    assert again.counted_downtime == first.counted_downtime
    if first.attainment is not None:
        assert Decimal(0) <= first.attainment <= Decimal(100)
    assert availability(MARCH, outages, maintenance) == first


@st.composite
def incidents(draw: st.DrawFn) -> Incident:
    opened = MARCH.start + draw(st.integers(0, 30 * 86_400)) * SECOND
    took = draw(st.integers(1, 20 * 3_600))
    responded = draw(st.one_of(st.none(), st.integers(0, took)))
    return Incident(
        ticket_id=f"INC{draw(st.integers(0, 10**6))}",
        opened_at=opened,
        responded_at=None if responded is None else opened + responded * SECOND,
        resolved_at=opened + took * SECOND,
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(incidents(), max_size=30, unique_by=lambda i: i.ticket_id),
    st.sampled_from([MetricKind.INCIDENT_RESPONSE, MetricKind.INCIDENT_RESOLUTION]),
    st.integers(1, 600),
    st.randoms(use_true_random=False),
)
def test_incident_compliance_does_not_depend_on_the_order_tickets_arrive_in(
    tickets: list[Incident], kind: MetricKind, minutes: int, rnd: random.Random
) -> None:
    target = Target(minutes)
    first = compliance(tickets, kind=kind, target=target, small_sample=None)
    shuffled = list(tickets)
    rnd.shuffle(shuffled)
    again = compliance(shuffled, kind=kind, target=target, small_sample=None)
    assert again == first
    assert first.incidents == len(tickets)
    assert 0 <= first.within_target <= first.incidents
    # A longer target never makes fewer incidents on time.
    looser = compliance(tickets, kind=kind, target=Target(minutes + 60), small_sample=None)
    assert looser.within_target >= first.within_target


def test_the_property_strategies_reach_the_cases_that_matter() -> None:
    """Guard against vacuous properties: the generated outages straddle the edges."""
    edge = Interval(MARCH.start - timedelta(hours=1), MARCH.start + timedelta(hours=1))
    result = availability(MARCH, [edge], [])
    assert result.downtime_seconds == 3_600
    assert result.counted_downtime == [Interval(MARCH.start, MARCH.start + timedelta(hours=1))]
    assert MARCH.start == datetime(2026, 3, 1, 5, tzinfo=UTC)
