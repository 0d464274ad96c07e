"""What new telemetry does to the periods it lands in: `sla.at_risk` / `sla.breached` for
open periods (once each, keyed by a row), `sla.period_restated` for closed ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import MetricKind
from crm_events.schemas.sla import SlaAtRisk, SlaBreached
from crm_platform.db import any_of, tuple_in
from crm_platform.emitter import Emit
from sla_monitor.attainment.compute import Computation, SlaRef, compute
from sla_monitor.attainment.domain import ATTAINMENT_PLACES, PeriodBounds
from sla_monitor.attainment.inputs import ContractVersions, adhoc_windows_read_ahead
from sla_monitor.attainment.restatement import restate_if_changed
from sla_monitor.attainment.schedule import measured_periods
from sla_monitor.attainment.signals import (
    AvailabilityOutlook,
    availability_at_risk,
    availability_breached,
    figure_at_risk,
)
from sla_monitor.models import SlaDefinitionRow, SlaPeriod, SlaSignal

AT_RISK = "at_risk"
BREACHED = "breached"


def _q(value: object) -> object:
    return value.quantize(ATTAINMENT_PLACES) if isinstance(value, Decimal) else value


async def affected(
    session: AsyncSession,
    tenant_id: str,
    touched: dict[str, tuple[datetime, datetime]],
    versions: ContractVersions,
    *,
    contract_id: uuid.UUID | None = None,
) -> list[tuple[SlaRef, PeriodBounds]]:
    """The (SLA, period) pairs whose figures telemetry in `touched` may have moved."""
    where = [SlaDefinitionRow.tenant_id == tenant_id, any_of(SlaDefinitionRow.service_key, touched)]
    if contract_id is not None:
        where.append(SlaDefinitionRow.contract_id == contract_id)
    rows = (await session.scalars(sa.select(SlaDefinitionRow).where(*where))).all()
    await versions.load(r.contract_id for r in rows)
    out = []
    for row in rows:
        out += [
            (ref, period)
            for ref, period in measured_periods(
                versions,
                contract_id=row.contract_id,
                tenant_id=tenant_id,
                sla_code=row.sla_code,
                timezone=row.timezone,
                touching=touched[row.service_key],
            )
            if ref.sla.service_key == row.service_key
        ]
    return out


async def on_telemetry(
    *,
    session: AsyncSession,
    emit: Emit,
    now: datetime,
    tenant_id: str,
    touched: dict[str, tuple[datetime, datetime]],
) -> None:
    if not touched:
        return
    pairs = await affected(session, tenant_id, touched, ContractVersions(session))
    if not pairs:
        return
    # The other inputs are read per pair: most pairs of a batch are skipped (a warning
    # already sent) or few, and reading them all ahead measured slower on telemetry.v1.
    async with adhoc_windows_read_ahead(
        session,
        [tenant_id],
        (r.contract_id for r, _ in pairs),
        min(p.start for _, p in pairs),
        max(p.end for _, p in pairs),
    ):
        await _check_pairs(session, emit, now, tenant_id, pairs)


async def _check_pairs(
    session: AsyncSession,
    emit: Emit,
    now: datetime,
    tenant_id: str,
    pairs: list[tuple[SlaRef, PeriodBounds]],
) -> None:
    # One order for every transaction, so two batches never wait on each other's rows.
    pairs.sort(key=lambda rp: (str(rp[0].contract_id), rp[0].sla.code, rp[1].label))
    keys = [(r.contract_id, r.sla.code, p.label) for r, p in pairs]
    period_key = (SlaPeriod.contract_id, SlaPeriod.sla_code, SlaPeriod.period_label)
    closed = set(
        (
            await session.execute(
                sa.select(*period_key).where(
                    SlaPeriod.tenant_id == tenant_id, tuple_in(period_key, keys)
                )
            )
        ).all()
    )
    sent: dict[tuple[uuid.UUID, str, str], set[str]] = {}
    for r in (
        await session.execute(
            sa.select(
                SlaSignal.contract_id, SlaSignal.sla_code, SlaSignal.period_label, SlaSignal.kind
            ).where(
                SlaSignal.tenant_id == tenant_id,
                tuple_in((SlaSignal.contract_id, SlaSignal.sla_code, SlaSignal.period_label), keys),
            )
        )
    ).all():
        sent.setdefault((r[0], r[1], r[2]), set()).add(r[3])
    for (ref, period), key in zip(pairs, keys, strict=True):
        if key in closed:
            await restate_if_changed(
                session=session,
                emit=emit,
                now=now,
                ref=ref,
                period=period,
                reason="telemetry received after the period was closed",
            )
        elif period.start <= now < period.end + timedelta(hours=ref.terms.period_close_grace_hours):
            # Early warnings while the period runs and until its close is due; for older
            # periods (history being loaded) the close publishes the outcome.
            await detect(
                session=session,
                emit=emit,
                now=now,
                ref=ref,
                period=period,
                sent=sent.get(key, set()),
            )


async def _signal(
    session: AsyncSession,
    emit: Emit,
    ref: SlaRef,
    period: PeriodBounds,
    kind: str,
    now: datetime,
    data: SlaAtRisk | SlaBreached,
) -> bool:
    inserted = await session.scalar(
        pg_insert(SlaSignal)
        .values(
            contract_id=ref.contract_id,
            sla_code=ref.sla.code,
            period_label=period.label,
            kind=kind,
            tenant_id=ref.tenant_id,
            detected_at=now,
            event_id="",
            details=data.model_dump(mode="json"),
        )
        .on_conflict_do_nothing()
        .returning(SlaSignal.kind)
    )
    if inserted is None:
        return False  # another transaction said it first
    envelope = await emit(
        f"sla.{kind}", subject=str(ref.contract_id), data=data, tenant=ref.tenant_id
    )
    await session.execute(
        sa.update(SlaSignal)
        .where(
            SlaSignal.contract_id == ref.contract_id,
            SlaSignal.sla_code == ref.sla.code,
            SlaSignal.period_label == period.label,
            SlaSignal.kind == kind,
        )
        .values(event_id=envelope.id)
    )
    return True


def _breached(c: Computation, outlook: AvailabilityOutlook, now: datetime) -> SlaBreached:
    sla, best = c.sla, outlook.best_possible
    return SlaBreached(
        contract_id=c.ref.contract_id,
        contract_version=c.ref.terms.version,
        sla_code=sla.code,
        period=c.period_model(),
        best_possible_attainment=_q(best),  # type: ignore[arg-type]
        minimum_level=sla.minimum_level,
        explanation=(
            f"{outlook.downtime_seconds / 60:g} minutes of downtime already "
            f"counted in {c.period.label}: even with no more, availability cannot "
            f"exceed {_q(best)}%, below the minimum {sla.minimum_level}%."
        ),
        detected_at=now,
    )


def _availability_at_risk(c: Computation, outlook: AvailabilityOutlook, now: datetime) -> SlaAtRisk:
    sla = c.sla
    budget = outlook.budget_seconds(sla.minimum_level) / 60
    return SlaAtRisk(
        contract_id=c.ref.contract_id,
        contract_version=c.ref.terms.version,
        sla_code=sla.code,
        period=c.period_model(),
        attainment_so_far=_q(outlook.attainment_so_far),  # type: ignore[arg-type]
        projected_attainment=_q(outlook.projected),  # type: ignore[arg-type]
        expected_level=sla.expected_level,
        minimum_level=sla.minimum_level,
        remaining_budget_minutes=_q(budget),  # type: ignore[arg-type]
        explanation=(
            f"{outlook.downtime_seconds / 60:g} minutes of downtime in "
            f"{outlook.elapsed_seconds / 60:g} measured minutes so far; at that "
            f"rate {c.period.label} ends at {_q(outlook.projected)}%, below the "
            f"expected {sla.expected_level}%. {_q(budget)} minutes of downtime "
            f"remain before the minimum {sla.minimum_level}% is missed."
        ),
        detected_at=now,
    )


def _figure_at_risk(c: Computation, now: datetime) -> SlaAtRisk:
    return SlaAtRisk(
        contract_id=c.ref.contract_id,
        contract_version=c.ref.terms.version,
        sla_code=c.sla.code,
        period=c.period_model(),
        attainment_so_far=c.attainment_rounded,
        projected_attainment=c.attainment_rounded,
        expected_level=c.sla.expected_level,
        minimum_level=c.sla.minimum_level,
        explanation=f"So far: {c.explanation}",
        detected_at=now,
    )


def warning(
    c: Computation, now: datetime, done: set[str]
) -> tuple[str, SlaAtRisk | SlaBreached] | None:
    """Which early warning a period's figures call for, if any (pure): `breached` when an
    availability failure is certain, else `at_risk` when the period is headed for a miss —
    each at most once (`done` are the kinds already sent). A breach supersedes the risk."""
    if not c.has_data or BREACHED in done:
        return None
    if c.sla.metric_kind is MetricKind.AVAILABILITY:
        outlook = c.outlook(now)
        assert outlook is not None
        if availability_breached(outlook, minimum=c.sla.minimum_level):
            return BREACHED, _breached(c, outlook, now)
        if AT_RISK not in done and availability_at_risk(outlook, expected=c.sla.expected_level):
            return AT_RISK, _availability_at_risk(c, outlook, now)
        return None
    if AT_RISK not in done and figure_at_risk(c.outcome):
        return AT_RISK, _figure_at_risk(c, now)
    return None


async def detect(
    *,
    session: AsyncSession,
    emit: Emit,
    now: datetime,
    ref: SlaRef,
    period: PeriodBounds,
    sent: Iterable[str],
) -> None:
    """Say `sla.breached` or `sla.at_risk` for an open period when its figures call for it
    (see `warning`), once per SLA, period and kind."""
    done = set(sent)
    availability = ref.sla.metric_kind is MetricKind.AVAILABILITY
    if BREACHED in done or (AT_RISK in done and not availability):
        return  # nothing left to say: skip the computation
    found = warning(await compute(session, ref, period, evidence=False), now, done)
    if found is not None:
        kind, data = found
        await _signal(session, emit, ref, period, kind, now, data)
