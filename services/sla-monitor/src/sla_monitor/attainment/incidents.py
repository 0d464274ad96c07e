"""Incident response and resolution compliance (pure).

Incidents count in the period in which they were resolved (closed), in the contract's time
zone. An incident is within target when `responded_at − opened_at` (response SLAs) or
`resolved_at − opened_at` (resolution SLAs) is at most `target_minutes` wall-clock minutes.
A resolved incident without `responded_at` was responded to at the latest when resolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from crm_events.schemas.contracts import Direction, MetricKind, SmallSampleRule
from crm_events.schemas.sla import Outcome
from sla_monitor.attainment.domain import classify


@dataclass(frozen=True)
class Incident:
    ticket_id: str
    opened_at: datetime
    responded_at: datetime | None
    resolved_at: datetime


def elapsed_minutes(incident: Incident, kind: MetricKind) -> Decimal:
    end = incident.resolved_at
    if kind is MetricKind.INCIDENT_RESPONSE and incident.responded_at is not None:
        end = min(incident.responded_at, incident.resolved_at)
    return Decimal(int((end - incident.opened_at).total_seconds())) / 60


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
    target_minutes: int,
    small_sample: SmallSampleRule | None,
) -> IncidentResult:
    total = 0
    missed: list[tuple[str, Decimal]] = []
    for incident in sorted(incidents, key=lambda i: (i.resolved_at, i.ticket_id)):
        total += 1
        took = elapsed_minutes(incident, kind)
        if took > target_minutes:
            missed.append((incident.ticket_id, took))
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
