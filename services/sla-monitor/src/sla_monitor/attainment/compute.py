"""One SLA in one period: gather the inputs, apply the pure rules, explain the result."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import ContractTerms, MetricKind, SlaDefinition, Statistic
from crm_events.schemas.sla import (
    AvailabilityFigures,
    IncidentFigures,
    MeasurementFigures,
    Outcome,
    Period,
    SlaPeriodClosed,
)
from sla_monitor.attainment import inputs
from sla_monitor.attainment.domain import (
    ATTAINMENT_PLACES,
    AvailabilityResult,
    Interval,
    PeriodBounds,
    availability,
    classify,
    measured_seconds,
    minutes,
    subtract,
    total_seconds,
)
from sla_monitor.attainment.downtime_store import period_figures
from sla_monitor.attainment.incidents import IncidentResult, Target, compliance, incident_outcome
from sla_monitor.attainment.measurements import mean, nearest_rank
from sla_monitor.attainment.signals import AvailabilityOutlook
from sla_monitor.telemetry.kinds import observed


@dataclass(frozen=True)
class SlaRef:
    contract_id: uuid.UUID
    tenant_id: str
    terms: ContractTerms
    sla: SlaDefinition


@dataclass
class MeasurementResult:
    values: int
    value: Decimal | None


@dataclass
class Computation:
    ref: SlaRef
    period: PeriodBounds
    attainment: Decimal | None  # exact; rounded for display and events
    outcome: Outcome
    has_data: bool
    explanation: str
    availability: AvailabilityResult | None = None
    exclusions: inputs.Exclusions | None = None
    incidents: IncidentResult | None = None
    target: Target | None = None
    measurement: MeasurementResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sla(self) -> SlaDefinition:
        return self.ref.sla

    @property
    def attainment_rounded(self) -> Decimal | None:
        if self.attainment is None:
            return None
        return self.attainment.quantize(ATTAINMENT_PLACES, ROUND_HALF_EVEN)

    @property
    def availability_figures(self) -> AvailabilityFigures | None:
        a = self.availability
        if a is None:
            return None
        return AvailabilityFigures(
            period_minutes=minutes(a.period_seconds),
            excluded_minutes=minutes(a.excluded_seconds),
            downtime_minutes=minutes(a.downtime_seconds),
        )

    @property
    def incident_figures(self) -> IncidentFigures | None:
        i, target = self.incidents, self.target
        if i is None or target is None:
            return None
        return IncidentFigures(
            priority=self.sla.priority or "",
            target_minutes=target.minutes,
            target_clock=target.clock,
            target_business_days=target.business_days,
            incidents=i.incidents,
            within_target=i.within_target,
            missed_ticket_ids=[t for t, _ in i.missed],
            small_sample_applied=i.small_sample_applied,
        )

    @property
    def measurement_figures(self) -> MeasurementFigures | None:
        m = self.measurement
        if m is None:
            return None
        return MeasurementFigures(
            statistic=self.sla.statistic.value,
            percentile=self.sla.percentile,
            unit=self.sla.unit,
            values=m.values,
            value=m.value,
        )

    def figures_strings(self) -> dict[str, str]:
        return figures_strings(self.closed_payload(self.period.end))

    def period_model(self) -> Period:
        return self.period.as_model()

    def closed_payload(self, closed_at: datetime) -> SlaPeriodClosed:
        return SlaPeriodClosed(
            contract_id=self.ref.contract_id,
            contract_version=self.ref.terms.version,
            sla_code=self.sla.code,
            metric_kind=self.sla.metric_kind,
            period=self.period_model(),
            timezone=self.ref.terms.timezone,
            attainment=self.attainment_rounded,
            expected_level=self.sla.expected_level,
            minimum_level=self.sla.minimum_level,
            outcome=self.outcome,
            figures=self.availability_figures,
            incident_figures=self.incident_figures,
            measurement_figures=self.measurement_figures,
            explanation=self.explanation,
            closed_at=closed_at,
        )

    def detail(self) -> dict[str, Any]:
        """The evidence behind the figures, for the explanation API."""
        out: dict[str, Any] = {"has_data": self.has_data}
        if self.availability is not None and self.exclusions is not None:
            outside = self.exclusions.outside_hours
            maintenance_only = subtract(self.exclusions.maintenance, outside)
            out.update(
                {
                    "period_minutes": str(minutes(self.availability.period_seconds)),
                    "excluded_minutes": str(minutes(self.availability.excluded_seconds)),
                    "maintenance_minutes": str(minutes(total_seconds(maintenance_only))),
                    "outside_service_hours_minutes": str(minutes(total_seconds(outside))),
                    "reported_downtime_minutes": str(
                        minutes(self.availability.reported_downtime_seconds)
                    ),
                    "downtime_minutes": str(minutes(self.availability.downtime_seconds)),
                    "counted_downtime": [
                        {
                            "start": iv.start.isoformat(),
                            "end": iv.end.isoformat(),
                            "minutes": str(minutes(iv.seconds)),
                        }
                        for iv in self.availability.counted_downtime
                    ],
                    "maintenance_windows": [
                        {"start": iv.start.isoformat(), "end": iv.end.isoformat()}
                        for iv in self.exclusions.maintenance
                    ],
                }
            )
        if self.incidents is not None and self.target is not None:
            out.update(
                {
                    "target": self.target.describe(),
                    "target_clock": self.target.clock.value,
                    "incidents": self.incidents.incidents,
                    "within_target": self.incidents.within_target,
                    "missed_incidents": [
                        {
                            "ticket_id": t,
                            "minutes": str(m.quantize(ATTAINMENT_PLACES)),
                            "unit": self.target.unit,
                        }
                        for t, m in self.incidents.missed
                    ],
                    "small_sample_applied": self.incidents.small_sample_applied,
                }
            )
        if self.measurement is not None:
            out.update(
                {
                    "values": self.measurement.values,
                    "value": None
                    if self.measurement.value is None
                    else str(self.measurement.value),
                }
            )
        out.update(self.extra)
        return out

    def outlook(self, now: datetime) -> AvailabilityOutlook | None:
        if self.availability is None or self.exclusions is None:
            return None
        excluded = self.exclusions.all
        return AvailabilityOutlook(
            measured_seconds=self.availability.period_seconds - self.availability.excluded_seconds,
            elapsed_seconds=measured_seconds(self.period, excluded, now),
            downtime_seconds=self.availability.downtime_seconds,
        )


def figures_strings(payload: SlaPeriodClosed) -> dict[str, str]:
    """A published period's figures as flat strings: what a restatement compares and
    reports as the previous figures."""
    out: dict[str, str] = {}
    for model in (payload.figures, payload.incident_figures, payload.measurement_figures):
        if model is not None:
            for k, v in model.model_dump(mode="json").items():
                out[k] = ",".join(v) if isinstance(v, list) else ("" if v is None else str(v))
    return out


def published_key(payload: SlaPeriodClosed) -> tuple[Any, ...]:
    """What must differ for a closed period to be restated: its figures, its outcome, and
    the levels it is judged against (an amendment may lower them without moving the
    attainment). The contract version alone is not a change."""
    return (
        payload.attainment,
        payload.outcome,
        payload.expected_level,
        payload.minimum_level,
        figures_strings(payload),
    )


def _levels(sla: SlaDefinition) -> str:
    return f"expected {sla.expected_level} and minimum {sla.minimum_level}"


async def _downtime(
    session: AsyncSession,
    ref: SlaRef,
    period: PeriodBounds,
    excluded: list[Interval],
    evidence: bool,
) -> tuple[AvailabilityResult, bool]:
    """The period's downtime figures and whether any span touches it: with the counted
    intervals (evidence) from the spans, else the stored figures (period_downtime)."""
    sla = ref.sla
    if evidence:
        spans, _ = await inputs.downtime_spans(session, ref.tenant_id, sla.service_key, period)
        return availability(period, spans, excluded), bool(spans)
    stored = await period_figures(
        session,
        tenant_id=ref.tenant_id,
        contract_id=ref.contract_id,
        sla_code=sla.code,
        service_key=sla.service_key,
        period=period,
        excluded=excluded,
    )
    return stored.result(), stored.spans > 0


async def _availability(
    session: AsyncSession, ref: SlaRef, period: PeriodBounds, evidence: bool
) -> Computation:
    sla = ref.sla
    excl = await inputs.exclusions(session, ref.contract_id, ref.terms, sla, period)
    result, spanned = await _downtime(session, ref, period, excl.all, evidence)
    # Evidence of observation: a downtime span (an outage or a down run) touching the
    # period, or any sample inside it. A clean month reported by outages alone is
    # indistinguishable from a silent monitor, so it needs at least one `up` sample.
    has_data = spanned or await observed(
        session, ref.tenant_id, sla.service_key, period, MetricKind.AVAILABILITY
    )
    attainment = result.attainment if has_data else None
    outcome = classify(
        attainment, expected=sla.expected_level, minimum=sla.minimum_level, direction=sla.direction
    )
    pm, xm, dm = (
        minutes(result.period_seconds),
        minutes(result.excluded_seconds),
        minutes(result.downtime_seconds),
    )
    if not has_data:
        explanation = (
            f"No outage or sample for service key {sla.service_key!r} in {period.label}: "
            "nothing shows the service was observed, so the outcome is no_data."
        )
    elif attainment is None:
        explanation = f"All of {period.label} was excluded ({xm} minutes): no_data."
    else:
        rounded = attainment.quantize(ATTAINMENT_PLACES, ROUND_HALF_EVEN)
        explanation = (
            f"availability = (period {pm} − excluded {xm} − downtime {dm}) / "
            f"(period {pm} − excluded {xm}) × 100 = {rounded}% against {_levels(sla)} → "
            f"{outcome.value}. Excluded: maintenance windows and time outside service hours; "
            f"downtime {minutes(result.reported_downtime_seconds)} minutes reported in the "
            f"period, {dm} of it outside the exclusions."
        )
    return Computation(
        ref=ref,
        period=period,
        attainment=attainment,
        outcome=outcome,
        has_data=has_data,
        explanation=explanation,
        availability=result,
        exclusions=excl,
    )


async def _incidents(
    session: AsyncSession, ref: SlaRef, period: PeriodBounds, evidence: bool
) -> Computation:
    # `evidence` is availability's (counted intervals); an incident period reads its tickets.
    sla = ref.sla
    priority = sla.priority or ""
    target = Target.of(sla, ref.terms)
    found = await inputs.resolved_incidents(
        session, ref.tenant_id, sla.service_key, priority, period
    )
    result = compliance(found, kind=sla.metric_kind, target=target, small_sample=sla.small_sample)
    has_data = bool(found) or await observed(
        session, ref.tenant_id, sla.service_key, period, sla.metric_kind
    )
    attainment, outcome = incident_outcome(
        result,
        expected=sla.expected_level,
        minimum=sla.minimum_level,
        small_sample=sla.small_sample,
        has_data=has_data,
    )
    what = "responded to" if sla.metric_kind is MetricKind.INCIDENT_RESPONSE else "resolved"
    if not has_data:
        explanation = (
            f"No telemetry for service key {sla.service_key!r} in {period.label}: no_data."
        )
    elif result.incidents == 0:
        explanation = (
            f"No {priority} incident was resolved in {period.label}, so none missed its "
            f"target: 100% → {outcome.value}."
        )
    else:
        rounded = (attainment or Decimal(0)).quantize(ATTAINMENT_PLACES, ROUND_HALF_EVEN)
        explanation = (
            f"{result.within_target} of {result.incidents} {priority} incidents resolved in "
            f"{period.label} were {what} within {target.describe()} = {rounded}%"
        )
        if result.small_sample_applied and sla.small_sample is not None:
            misses = result.incidents - result.within_target
            explanation += (
                f"; fewer than {sla.small_sample.minimum_sample} incidents, so the small-sample "
                f"rule applies: {misses} missed against {sla.small_sample.allowed_misses} "
                f"allowed → {outcome.value}."
            )
        else:
            explanation += f" against {_levels(sla)} → {outcome.value}."
    return Computation(
        ref=ref,
        period=period,
        attainment=attainment,
        outcome=outcome,
        has_data=has_data,
        explanation=explanation,
        incidents=result,
        target=target,
    )


async def _measurement(
    session: AsyncSession, ref: SlaRef, period: PeriodBounds, evidence: bool
) -> Computation:
    # `evidence` is availability's (counted intervals); a measurement period reads its values.
    sla = ref.sla
    if sla.statistic is Statistic.MEAN:
        count, total = await inputs.measurement_mean(
            session, ref.tenant_id, sla.service_key, sla.unit, period
        )
        value = mean(total, count) if count and total is not None else None
        how = "mean"
    else:
        count = await inputs.measurement_count(
            session, ref.tenant_id, sla.service_key, sla.unit, period
        )
        pct = sla.percentile or Decimal(100)
        value = None
        rank = 0
        if count:
            rank = nearest_rank(pct, count)
            value = await inputs.measurement_at_rank(
                session, ref.tenant_id, sla.service_key, sla.unit, period, rank
            )
        how = f"p{pct} (nearest rank {rank} of {count})"
    outcome = classify(
        value, expected=sla.expected_level, minimum=sla.minimum_level, direction=sla.direction
    )
    unit = f" {sla.unit}" if sla.unit else ""
    if value is None:
        explanation = (
            f"No measurement for service key {sla.service_key!r}{unit} in {period.label}: no_data."
        )
    else:
        shown = value.quantize(ATTAINMENT_PLACES, ROUND_HALF_EVEN)
        explanation = (
            f"{how} of {count} values in {period.label} = {shown}{unit} against "
            f"{_levels(sla)} ({sla.direction.value.replace('_', ' ')}) → {outcome.value}."
        )
    return Computation(
        ref=ref,
        period=period,
        attainment=value,
        outcome=outcome,
        has_data=value is not None,
        explanation=explanation,
        measurement=MeasurementResult(values=count, value=value),
    )


@dataclass(frozen=True)
class MetricComputation:
    """How one kind of SLA metric is computed for a period, and its formula in words."""

    # (session, SLA, period, evidence): evidence asks for the counted intervals, which only
    # the explanation, the published detail and the API's live figures show.
    compute: Callable[[AsyncSession, SlaRef, PeriodBounds, bool], Awaitable[Computation]]
    formula: str


_INCIDENT_FORMULA = (
    "incidents of the priority {} within the target / "
    "incidents of the priority resolved in the period × 100"
)

# Every MetricKind has an entry (tests/unit/test_registries.py).
COMPUTATIONS: dict[MetricKind, MetricComputation] = {
    MetricKind.AVAILABILITY: MetricComputation(
        _availability,
        "(period minutes − excluded − downtime) / (period minutes − excluded) × 100",
    ),
    MetricKind.INCIDENT_RESPONSE: MetricComputation(
        _incidents, _INCIDENT_FORMULA.format("responded to")
    ),
    MetricKind.INCIDENT_RESOLUTION: MetricComputation(
        _incidents, _INCIDENT_FORMULA.format("resolved")
    ),
    MetricKind.MEASUREMENT: MetricComputation(
        _measurement,
        "the SLA's statistic (mean, or nearest-rank percentile) of the period's values, "
        "in the SLA's unit",
    ),
}


async def compute(
    session: AsyncSession, ref: SlaRef, period: PeriodBounds, *, evidence: bool = True
) -> Computation:
    """One SLA's figures in one period. Without `evidence`, availability's come from the
    stored period figures (no counted intervals): what the early warnings read per batch."""
    return await COMPUTATIONS[ref.sla.metric_kind].compute(session, ref, period, evidence)


@contextlib.asynccontextmanager
async def inputs_read_ahead(
    session: AsyncSession, pairs: Iterable[tuple[SlaRef, PeriodBounds]], *, evidence: bool
) -> AsyncIterator[None]:
    """Inside the block, `compute` of these pairs (with this `evidence`) reads their
    downtime spans, incidents and measurement figures from one query per kind instead of
    its own (`inputs.periods_read_ahead`)."""
    requests = inputs.AheadRequests()
    for ref, period in pairs:
        sla, tenant, kind = ref.sla, ref.tenant_id, ref.sla.metric_kind
        if kind is MetricKind.AVAILABILITY:
            if evidence:  # else the stored period figures, read per period
                requests.spans.add((tenant, sla.service_key, period.start, period.end))
        elif kind is MetricKind.MEASUREMENT:
            key = (tenant, sla.service_key, sla.unit or "", period.start, period.end)
            if sla.statistic is Statistic.MEAN:
                requests.means.add(key)
            else:
                requests.percentiles.add((key, sla.percentile or Decimal(100)))
        else:
            priority = sla.priority or ""
            requests.incidents.add((tenant, sla.service_key, priority, period.start, period.end))
    async with inputs.periods_read_ahead(session, requests):
        yield
