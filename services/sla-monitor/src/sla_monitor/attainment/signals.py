"""When to say `sla.at_risk` and `sla.breached` during a period (pure).

Availability, with M the measured seconds of the whole period (period − excluded), E the
measured seconds elapsed so far and D the downtime counted so far:
- breached: even with no more downtime this period, (M − D) / M × 100 is already below the
  minimum level — the failure is certain (given the maintenance windows known now);
- at risk: downtime continuing at the rate seen so far (D × M / E by the period's end)
  would end the period below the expected level.
Incident and measurement SLAs cannot fail for certain before the period ends (more
incidents within target, or better values, can always lift the figure), so they are only
ever at risk: when the figure so far would not be met.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crm_events.schemas.sla import Outcome


@dataclass(frozen=True)
class AvailabilityOutlook:
    measured_seconds: int  # M
    elapsed_seconds: int  # E
    downtime_seconds: int  # D

    @property
    def attainment_so_far(self) -> Decimal | None:
        if self.elapsed_seconds <= 0:
            return None
        lapsed_down = min(self.downtime_seconds, self.elapsed_seconds)
        return Decimal(self.elapsed_seconds - lapsed_down) * 100 / Decimal(self.elapsed_seconds)

    @property
    def best_possible(self) -> Decimal | None:
        if self.measured_seconds <= 0:
            return None
        return (
            Decimal(self.measured_seconds - self.downtime_seconds)
            * 100
            / Decimal(self.measured_seconds)
        )

    @property
    def projected(self) -> Decimal | None:
        if self.measured_seconds <= 0 or self.elapsed_seconds <= 0:
            return None
        projected_down = min(
            Decimal(self.downtime_seconds) * self.measured_seconds / self.elapsed_seconds,
            Decimal(self.measured_seconds),
        )
        return (Decimal(self.measured_seconds) - projected_down) * 100 / self.measured_seconds

    def budget_seconds(self, level: Decimal) -> Decimal:
        """Downtime still allowed before the attainment drops below `level`."""
        return Decimal(self.measured_seconds) * (100 - level) / 100 - self.downtime_seconds


def availability_breached(outlook: AvailabilityOutlook, *, minimum: Decimal) -> bool:
    best = outlook.best_possible
    return best is not None and best < minimum


def availability_at_risk(outlook: AvailabilityOutlook, *, expected: Decimal) -> bool:
    projected = outlook.projected
    return projected is not None and projected < expected


def figure_at_risk(outcome: Outcome) -> bool:
    """Incidents and measurements: the figures so far would not be met."""
    return outcome in (Outcome.BELOW_EXPECTED, Outcome.FAILED)
