"""A period's downtime figures kept up to date as spans change, without re-reading the period.

Pure: no I/O. `measure` gives the figures of a period from all its downtime spans at once,
exactly as `domain.availability` counts them (merged, cut at the period's edges, the
exclusions taken out, whole seconds per merged piece). `fold` moves stored figures by a
change of spans: the spans of the changed region as they were (`before`) and as they are
(`after`). The region must be *closed*: every span that overlaps or touches one of its spans
is in it too (`closure_complete` says when a read is). Then the merged pieces outside it are
the same before and after, and each figure is a sum over merged pieces, so

    measure(all spans after) = measure(all spans before) − measure(before) + measure(after)

— the same numbers whatever order and however split the telemetry arrived in, for the cost
of the change instead of the cost of the period.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sla_monitor.attainment.domain import (
    AvailabilityResult,
    Interval,
    PeriodBounds,
    clip,
    merge,
    subtract,
    total_seconds,
)


@dataclass(frozen=True)
class DowntimeBasis:
    """What a period's downtime is measured against: the period and its exclusions
    (maintenance and time outside service hours, merged). Figures stored on one basis are
    only valid while the SLA's exclusions for the period are still these."""

    start: datetime
    end: datetime
    excluded: tuple[Interval, ...]

    @classmethod
    def of(cls, period: PeriodBounds, excluded: Iterable[Interval]) -> DowntimeBasis:
        return cls(period.start, period.end, tuple(merge(clip(excluded, period.start, period.end))))

    @property
    def period_seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def excluded_seconds(self) -> int:
        return total_seconds(self.excluded)


@dataclass(frozen=True)
class PeriodDowntime:
    """A period's downtime figures on a basis."""

    basis: DowntimeBasis
    spans: int = 0  # downtime spans touching the period (evidence it was observed)
    reported_seconds: int = 0  # downtime inside the period, before exclusions
    downtime_seconds: int = 0  # downtime counted: inside the period, outside the exclusions

    def result(self, counted: Sequence[Interval] = ()) -> AvailabilityResult:
        """The figures as domain.availability gives them (`counted`: the counted intervals,
        when the caller has read them)."""
        return AvailabilityResult(
            period_seconds=self.basis.period_seconds,
            excluded_seconds=self.basis.excluded_seconds,
            downtime_seconds=self.downtime_seconds,
            counted_downtime=list(counted),
            reported_downtime_seconds=self.reported_seconds,
        )


def _touches_period(iv: Interval, basis: DowntimeBasis) -> bool:
    # The predicate inputs.downtime_spans selects spans by.
    return iv.end > basis.start and iv.start < basis.end


def _contribution(basis: DowntimeBasis, spans: Sequence[Interval]) -> tuple[int, int, int]:
    in_period = clip(merge(spans), basis.start, basis.end)
    if not in_period:
        return sum(_touches_period(iv, basis) for iv in spans), 0, 0
    # Only the exclusions near the downtime can cut it.
    lo, hi = in_period[0].start, in_period[-1].end
    cuts = [iv for iv in basis.excluded if iv.end > lo and iv.start < hi]
    return (
        sum(_touches_period(iv, basis) for iv in spans),
        total_seconds(in_period),
        total_seconds(subtract(in_period, cuts)),
    )


def measure(basis: DowntimeBasis, spans: Sequence[Interval]) -> PeriodDowntime:
    """The period's figures from every downtime span touching it."""
    return fold(PeriodDowntime(basis), before=(), after=spans)


def fold(
    state: PeriodDowntime, *, before: Sequence[Interval], after: Sequence[Interval]
) -> PeriodDowntime:
    """Stored figures moved by a change of spans in a closed region (see the module doc)."""
    was = _contribution(state.basis, before)
    now = _contribution(state.basis, after)
    return PeriodDowntime(
        basis=state.basis,
        spans=state.spans + now[0] - was[0],
        reported_seconds=state.reported_seconds + now[1] - was[1],
        downtime_seconds=state.downtime_seconds + now[2] - was[2],
    )


def closure_complete(read: Sequence[Interval], queried: Sequence[Interval]) -> bool:
    """Whether spans read as those touching `queried` are a closed region: every merged
    piece of them lies inside the queried intervals, so any span touching a piece touches
    what was queried and was read."""
    regions = merge(queried)
    return all(
        any(r.start <= piece.start and piece.end <= r.end for r in regions) for piece in merge(read)
    )
