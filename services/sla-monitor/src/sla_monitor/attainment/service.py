"""Attainment per SLA and period: live while open, published when closed."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import MetricKind, SlaDefinition
from crm_events.schemas.sla import AvailabilityFigures, Outcome, Period, SlaPeriodClosed
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.contract_terms import terms_in_force
from crm_platform.emitter import Emit
from crm_platform.errors import Conflict, NotFound, Unprocessable
from sla_monitor.attainment.domain import (
    Interval,
    PeriodBounds,
    availability,
    classify,
    maintenance_intervals,
    minutes,
    month_period,
)
from sla_monitor.attainment.schemas import AttainmentRead, DowntimeInterval
from sla_monitor.models import Outage, SlaDefinitionRow, SlaPeriod


async def _definition(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID, sla_code: str
) -> SlaDefinitionRow:
    row = await session.scalar(
        sa.select(SlaDefinitionRow).where(
            SlaDefinitionRow.contract_id == contract_id,
            SlaDefinitionRow.sla_code == sla_code,
            principal.tenant_filter(SlaDefinitionRow.tenant_id),
        )
    )
    if row is None:
        raise NotFound(f"SLA {sla_code!r} of contract {contract_id} not found")
    return row


def _period(label: str, timezone: str) -> PeriodBounds:
    try:
        return month_period(label, timezone)
    except ValueError as exc:
        raise Unprocessable(
            str(exc), details=[{"loc": "path.period", "message": str(exc)}]
        ) from None


async def compute(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    sla_code: str,
    period_label: str,
) -> AttainmentRead:
    row = await _definition(session, principal, contract_id, sla_code)
    period = _period(period_label, row.timezone)
    local_start = period.start.astimezone(ZoneInfo(row.timezone)).date()
    terms = await terms_in_force(session, contract_id, local_start)
    if terms is None:
        raise NotFound(f"terms of contract {contract_id} not found")
    sla = next((s for s in terms.sla_definitions if s.code == sla_code), None)
    if sla is None:
        raise NotFound(f"SLA {sla_code!r} is not in version {terms.version} of the contract")
    if sla.metric_kind is not MetricKind.AVAILABILITY:
        raise Unprocessable(
            f"SLA {sla_code!r} measures {sla.metric_kind.value}, which this "
            "version of sla-monitor does not compute yet"
        )
    return await _availability(session, row, sla, terms.version, terms.timezone, period)


async def _availability(
    session: AsyncSession,
    row: SlaDefinitionRow,
    sla: SlaDefinition,
    version: int,
    timezone: str,
    period: PeriodBounds,
) -> AttainmentRead:
    outage_rows = (
        await session.execute(
            sa.select(Outage.started_at, Outage.ended_at).where(
                Outage.tenant_id == row.tenant_id,
                Outage.service_key == sla.service_key,
                Outage.started_at < period.end,
                Outage.ended_at > period.start,
            )
        )
    ).all()
    has_data = bool(outage_rows) or bool(
        await session.scalar(
            sa.select(sa.literal(True))
            .where(
                Outage.tenant_id == row.tenant_id,
                Outage.service_key == sla.service_key,
                Outage.started_at < period.end,
            )
            .limit(1)
        )
    )
    outages = [Interval(r.started_at, r.ended_at) for r in outage_rows]
    maintenance = maintenance_intervals(sla.maintenance_windows, timezone, period)
    result = availability(period, outages, maintenance)
    attainment = result.attainment if has_data else None
    outcome = classify(
        attainment, expected=sla.expected_level, minimum=sla.minimum_level, direction=sla.direction
    )
    figures = AvailabilityFigures(
        period_minutes=minutes(result.period_seconds),
        excluded_minutes=minutes(result.excluded_seconds),
        downtime_minutes=minutes(result.downtime_seconds),
    )
    if attainment is None:
        explanation = (
            f"No telemetry for service key {sla.service_key!r} up to the end of "
            f"{period.label}: outcome no_data."
        )
    else:
        explanation = (
            f"availability = (period {figures.period_minutes} − excluded "
            f"{figures.excluded_minutes} − downtime {figures.downtime_minutes}) / (period "
            f"{figures.period_minutes} − excluded {figures.excluded_minutes}) × 100 = "
            f"{result.attainment_rounded}% against expected {sla.expected_level}% and minimum "
            f"{sla.minimum_level}% → {outcome.value}"
        )
    return AttainmentRead(
        contract_id=row.contract_id,
        sla_code=sla.code,
        contract_version=version,
        period=Period(label=period.label, start=period.start, end=period.end),
        timezone=timezone,
        status="open",
        attainment=result.attainment_rounded if attainment is not None else None,
        expected_level=sla.expected_level,
        minimum_level=sla.minimum_level,
        outcome=outcome,
        figures=figures,
        counted_downtime=[
            DowntimeInterval(start=i.start, end=i.end, minutes=minutes(i.seconds))
            for i in result.counted_downtime
        ],
        explanation=explanation,
    )


async def get(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    sla_code: str,
    period_label: str,
) -> AttainmentRead:
    live = await compute(
        session=session,
        principal=principal,
        contract_id=contract_id,
        sla_code=sla_code,
        period_label=period_label,
    )
    closed = await session.get(SlaPeriod, (contract_id, sla_code, period_label))
    if closed is None:
        return live
    return live.model_copy(
        update={
            "status": closed.status,
            "attainment": closed.attainment,
            "outcome": Outcome(closed.outcome),
            "figures": AvailabilityFigures.model_validate(closed.figures)
            if closed.figures
            else None,
            "explanation": closed.explanation,
            "closed_at": closed.closed_at,
        }
    )


async def close(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    contract_id: uuid.UUID,
    sla_code: str,
    period_label: str,
) -> AttainmentRead:
    """Close a period: freeze its figures and publish `sla.period_closed`."""
    result = await compute(
        session=session,
        principal=principal,
        contract_id=contract_id,
        sla_code=sla_code,
        period_label=period_label,
    )
    existing = await session.get(
        SlaPeriod, (contract_id, sla_code, period_label), with_for_update=True
    )
    if existing is not None:
        raise Conflict(f"period {period_label} of SLA {sla_code!r} is already closed")
    now = clock.now()
    row = await _definition(session, principal, contract_id, sla_code)
    event = SlaPeriodClosed(
        contract_id=contract_id,
        contract_version=result.contract_version,
        sla_code=sla_code,
        metric_kind=MetricKind.AVAILABILITY,
        period=result.period,
        timezone=result.timezone,
        attainment=result.attainment,
        expected_level=result.expected_level,
        minimum_level=result.minimum_level,
        outcome=result.outcome,
        figures=result.figures,
        explanation=result.explanation,
        closed_at=now,
    )
    envelope = await emit(
        "sla.period_closed", subject=str(contract_id), data=event, tenant=row.tenant_id
    )
    session.add(
        SlaPeriod(
            contract_id=contract_id,
            sla_code=sla_code,
            period_label=period_label,
            tenant_id=row.tenant_id,
            contract_version=result.contract_version,
            status="closed",
            attainment=result.attainment,
            outcome=result.outcome.value,
            figures=result.figures.model_dump(mode="json") if result.figures else {},
            explanation=result.explanation,
            closed_at=now,
            event_id=envelope.id,
        )
    )
    await session.flush()
    return result.model_copy(update={"status": "closed", "closed_at": now})
