"""Incident response and resolution compliance (pure).

Incidents count in the period in which they were resolved (closed), in the contract's time
zone. An incident is within target when `responded_at − opened_at` (response SLAs) or
`resolved_at − opened_at` (resolution SLAs) is at most the target. A resolved incident
without `responded_at` was responded to at the latest when resolved.

The target is in wall-clock minutes (`target_clock: wall_clock`, the default), or in
business time of the SLA's service calendar (`target_clock: business_hours`): only the time
inside its service hours counts, on its weekdays, with the contract's holidays closed when
the hours exclude them (crm_platform.contract_calendar.ServiceCalendar). A target in
business days (`target_business_days`) is that many service days of business time.
Elapsed time is counted in whole seconds; the target is inclusive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from crm_events.schemas.contracts import (
    ContractTerms,
    Direction,
    MetricKind,
    SlaDefinition,
    SmallSampleRule,
    TargetClock,
)
from crm_events.schemas.sla import Outcome
from crm_platform.contract_calendar import ServiceCalendar
from sla_monitor.attainment.domain import classify


@dataclass(frozen=True)
class Incident:
    ticket_id: str
    opened_at: datetime
    responded_at: datetime | None
    resolved_at: datetime


@dataclass(frozen=True)
class Target:
    """An incident target: `minutes` of wall-clock time, or of business time of `calendar`."""

    minutes: int
    calendar: ServiceCalendar | None = None  # None: wall clock
    business_days: int | None = None  # the target as the contract states it, in days

    @classmethod
    def of(cls, sla: SlaDefinition, terms: ContractTerms) -> Target:
        if sla.target_clock is TargetClock.WALL_CLOCK:
            return cls(sla.target_minutes or 0)
        # Without service hours (activation refuses it) the calendar runs around the clock.
        calendar = ServiceCalendar.of(sla.service_hours, terms.holidays, terms.timezone)
        days = sla.target_business_days
        if days is not None:
            return cls(calendar.business_days_as_minutes(days), calendar, days)
        return cls(sla.target_minutes or 0, calendar)

    @property
    def clock(self) -> TargetClock:
        return TargetClock.WALL_CLOCK if self.calendar is None else TargetClock.BUSINESS_HOURS

    @property
    def unit(self) -> str:
        return "minutes" if self.calendar is None else "business minutes"

    def elapsed_seconds(self, start: datetime, end: datetime) -> int:
        """Whole seconds from start to end by this target's clock."""
        if self.calendar is None:
            return int((end - start).total_seconds())
        return int(self.calendar.business_time(start, end).total_seconds())

    def describe(self) -> str:
        """`240 minutes`, `240 business minutes (4 business hours) of 08:00–18:00 Mon–Fri
        (America/New_York)`, `3 business days (1800 business minutes) of …`."""
        if self.calendar is None:
            return f"{self.minutes} minutes"
        if self.business_days is not None:
            stated = f"{self.business_days} business days ({self.minutes} business minutes)"
        elif self.minutes % 60 == 0:
            stated = f"{self.minutes} business minutes ({self.minutes // 60} business hours)"
        else:
            stated = f"{self.minutes} business minutes"
        return f"{stated} of {self.calendar.describe()}"


def elapsed_seconds(incident: Incident, kind: MetricKind, target: Target) -> int:
    end = incident.resolved_at
    if kind is MetricKind.INCIDENT_RESPONSE and incident.responded_at is not None:
        end = min(incident.responded_at, incident.resolved_at)
    return target.elapsed_seconds(incident.opened_at, end)


@dataclass(frozen=True)
class IncidentResult:
    incidents: int
    within_target: int
    missed: list[tuple[str, Decimal]] = field(default_factory=list)  # (ticket, minutes)
    small_sample_applied: bool = False

    @property
    def attainment(self) -> Decimal | None:
        if self.incidents == 0:
            return None
        return Decimal(self.within_target) * 100 / Decimal(self.incidents)


def compliance(
    incidents: Iterable[Incident],
    *,
    kind: MetricKind,
    target: Target,
    small_sample: SmallSampleRule | None,
) -> IncidentResult:
    """Missed incidents are listed with their minutes by the target's clock."""
    total = 0
    missed: list[tuple[str, Decimal]] = []
    for incident in sorted(incidents, key=lambda i: (i.resolved_at, i.ticket_id)):
        total += 1
        took = elapsed_seconds(incident, kind, target)
        if took > target.minutes * 60:
            missed.append((incident.ticket_id, Decimal(took) / 60))
    return IncidentResult(
        incidents=total,
        within_target=total - len(missed),
        missed=missed,
        small_sample_applied=small_sample is not None and total < small_sample.minimum_sample,
    )


def incident_outcome(
    result: IncidentResult,
    *,
    expected: Decimal,
    minimum: Decimal,
    small_sample: SmallSampleRule | None,
    has_data: bool,
) -> tuple[Decimal | None, Outcome]:
    """(attainment, outcome). No incident of the priority closed in a period that has
    telemetry for the service key means none was missed: 100%, met. Without any telemetry
    the period is no_data. Below the small-sample minimum the percentage is informative
    only: met when misses ≤ allowed_misses, else failed."""
    if result.incidents == 0:
        if not has_data:
            return None, Outcome.NO_DATA
        return Decimal(100), Outcome.MET
    attainment = result.attainment
    if result.small_sample_applied and small_sample is not None:
        misses = result.incidents - result.within_target
        ok = misses <= small_sample.allowed_misses
        return attainment, Outcome.MET if ok else Outcome.FAILED
    return attainment, classify(
        attainment, expected=expected, minimum=minimum, direction=Direction.HIGHER_IS_BETTER
    )
