"""Pure SLA arithmetic: periods in the contract's time zone, outage intervals, availability,
and the outcome rule. No I/O; every figure is exact (integer seconds, Decimal percentages).
Period labels and their arithmetic are crm_platform.periods'; service hours are the SLA's
crm_platform.contract_calendar.ServiceCalendar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from crm_events.schemas.contracts import Direction, MaintenanceWindows, ServiceHours
from crm_events.schemas.sla import Outcome, Period
from crm_platform import periods
from crm_platform.contract_calendar import ServiceCalendar
from crm_platform.periods import PeriodKind

ATTAINMENT_PLACES = Decimal("0.0001")


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class PeriodBounds:
    label: str  # a month, quarter or year (crm_platform.periods)
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def kind(self) -> PeriodKind:
        return periods.kind_of(self.label)

    def as_model(self) -> Period:
        """The period as events and the API show it."""
        return Period(label=self.label, start=self.start, end=self.end, kind=self.kind)


def period_bounds(label: str, timezone: str) -> PeriodBounds:
    """The calendar period a label names (`2026-03`, `2026-Q1`, `2026`) in the contract's
    zone, as UTC instants (crm_platform.periods; InvalidPeriod when it is no label)."""
    start, end = periods.bounds(label, timezone)
    return PeriodBounds(label=periods.parse(label).label, start=start, end=end)


def periods_touching(
    start: datetime, end: datetime, timezone: str, kind: PeriodKind
) -> list[PeriodBounds]:
    """The periods of `kind` in the zone that [start, end] touches (end inclusive)."""
    return [
        period_bounds(label, timezone) for label in periods.touching(start, end, timezone, kind)
    ]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals: overlapping or touching ones become one."""
    out: list[Interval] = []
    for iv in sorted(intervals):
        if out and iv.start <= out[-1].end:
            if iv.end > out[-1].end:
                out[-1] = Interval(out[-1].start, iv.end)
        else:
            out.append(iv)
    return out


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    out = []
    for iv in intervals:
        s, e = max(iv.start, start), min(iv.end, end)
        if s < e:
            out.append(Interval(s, e))
    return out


def subtract(intervals: Sequence[Interval], cuts: Sequence[Interval]) -> list[Interval]:
    """Parts of merged `intervals` not covered by merged `cuts`."""
    out: list[Interval] = []
    cuts = merge(cuts)
    for iv in merge(intervals):
        pieces = [iv]
        for cut in cuts:
            nxt = []
            for p in pieces:
                if cut.end <= p.start or cut.start >= p.end:
                    nxt.append(p)
                    continue
                if p.start < cut.start:
                    nxt.append(Interval(p.start, cut.start))
                if cut.end < p.end:
                    nxt.append(Interval(cut.end, p.end))
            pieces = nxt
        out.extend(pieces)
    return out


def total_seconds(intervals: Iterable[Interval]) -> int:
    return sum(iv.seconds for iv in merge(intervals))


def maintenance_intervals(
    windows: MaintenanceWindows, timezone: str, period: PeriodBounds
) -> list[Interval]:
    """Recurring (weekly, local wall-clock) and one-off windows that touch the period."""
    zone = ZoneInfo(timezone)
    found = [Interval(w.start.astimezone(UTC), w.end.astimezone(UTC)) for w in windows.fixed]
    if windows.weekly:
        # Walk local dates from a week before the period (a window may start earlier and
        # run into it) to its end.
        day = period.start.astimezone(zone).date() - timedelta(days=7)
        last = period.end.astimezone(zone).date()
        while day <= last:
            for w in windows.weekly:
                if day.weekday() != w.weekday:
                    continue
                hh, mm = (int(x) for x in w.start.split(":"))
                local_start = datetime.combine(day, time(hh, mm), zone)
                start = local_start.astimezone(UTC)
                found.append(Interval(start, start + timedelta(minutes=w.duration_minutes)))
            day += timedelta(days=1)
    return merge(clip(found, period.start, period.end))


def service_hours_intervals(
    hours: ServiceHours, holidays: Iterable[date], timezone: str, period: PeriodBounds
) -> list[Interval]:
    """The measured hours inside the period, as UTC intervals: the windows of the SLA's
    service calendar (crm_platform.contract_calendar.ServiceCalendar — local hours on the
    listed weekdays, overnight when the end is not after the start, holidays closed with
    `exclude_holidays`)."""
    calendar = ServiceCalendar.of(hours, holidays, timezone)
    return [Interval(s, e) for s, e in calendar.windows(period.start, period.end)]


def outside_service_hours(
    hours: ServiceHours | None, holidays: Iterable[date], timezone: str, period: PeriodBounds
) -> list[Interval]:
    """The parts of the period outside the measured hours (none when measured 24×7)."""
    if hours is None:
        return []
    inside = service_hours_intervals(hours, holidays, timezone, period)
    return subtract([Interval(period.start, period.end)], inside)


def measured_seconds(period: PeriodBounds, excluded: Sequence[Interval], until: datetime) -> int:
    """Seconds of the period up to `until` that are measured (not excluded)."""
    end = min(max(until, period.start), period.end)
    if end <= period.start:
        return 0
    return int((end - period.start).total_seconds()) - total_seconds(
        clip(excluded, period.start, end)
    )


@dataclass(frozen=True)
class AvailabilityResult:
    period_seconds: int
    excluded_seconds: int
    downtime_seconds: int
    counted_downtime: list[Interval]
    reported_downtime_seconds: int = 0  # in the period, before exclusions

    @property
    def attainment(self) -> Decimal | None:
        """Exact percentage; None when the whole period was excluded."""
        measured = self.period_seconds - self.excluded_seconds
        if measured <= 0:
            return None
        return Decimal(measured - self.downtime_seconds) * 100 / Decimal(measured)

    @property
    def attainment_rounded(self) -> Decimal | None:
        value = self.attainment
        return None if value is None else value.quantize(ATTAINMENT_PLACES, ROUND_HALF_EVEN)


def availability(
    period: PeriodBounds, outages: Iterable[Interval], maintenance: Sequence[Interval]
) -> AvailabilityResult:
    """(period − excluded − downtime) / (period − excluded) × 100.

    Maintenance windows are excluded from the period; downtime inside them is not counted.
    Overlapping outages are merged; outages crossing the period's edges are cut at them.
    """
    in_period = clip(merge(outages), period.start, period.end)
    excluded = merge(clip(maintenance, period.start, period.end))
    counted = subtract(in_period, excluded)
    return AvailabilityResult(
        period_seconds=period.seconds,
        excluded_seconds=total_seconds(clip(excluded, period.start, period.end)),
        downtime_seconds=total_seconds(counted),
        counted_downtime=counted,
        reported_downtime_seconds=total_seconds(in_period),
    )


def classify(
    attainment: Decimal | None,
    *,
    expected: Decimal,
    minimum: Decimal,
    direction: Direction = Direction.HIGHER_IS_BETTER,
) -> Outcome:
    """met at or better than expected; below_expected down to minimum; failed beyond it."""
    if attainment is None:
        return Outcome.NO_DATA
    if direction is Direction.HIGHER_IS_BETTER:
        if attainment >= expected:
            return Outcome.MET
        return Outcome.BELOW_EXPECTED if attainment >= minimum else Outcome.FAILED
    if attainment <= expected:
        return Outcome.MET
    return Outcome.BELOW_EXPECTED if attainment <= minimum else Outcome.FAILED


def minutes(seconds: int) -> Decimal:
    """Seconds as minutes, exact where it divides, else to 4 places."""
    value = Decimal(seconds) / 60
    return value if value == value.to_integral_value() else value.quantize(ATTAINMENT_PLACES)
