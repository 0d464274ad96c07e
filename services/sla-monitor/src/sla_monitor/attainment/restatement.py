"""The one road by which a closed period changes. Late telemetry, an approved maintenance
window and an amendment whose terms govern the period all recompute it here: within the
contract's restatement window (counted from the close), when the published figures, the
outcome or the levels they were judged against changed, `sla.period_restated` goes out
with the next restatement number and the previous figures, and an audit row is kept.

Load the published period, decide (pure), apply.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.sla import PreviousFigures, SlaPeriodClosed, SlaPeriodRestated
from crm_platform.emitter import Emit
from sla_monitor.attainment.compute import (
    Computation,
    SlaRef,
    compute,
    figures_strings,
    published_key,
)
from sla_monitor.attainment.domain import PeriodBounds
from sla_monitor.attainment.service import published
from sla_monitor.models import SlaPeriod, SlaRestatement
from sla_monitor.telemetry.retention import hold_horizon


class Restatement(StrEnum):
    """What `restate_if_changed` found."""

    NOT_CLOSED = "not_closed"  # the period is open: its figures are read live
    WINDOW_PASSED = "window_passed"  # the published figures stand
    SEALED = "sealed"  # it starts before the retention horizon: its raw telemetry may be gone
    UNCHANGED = "unchanged"  # recomputed, nothing published changed
    RESTATED = "restated"


def within_window(closed_at: datetime, now: datetime, window_days: int) -> bool:
    return now - closed_at <= timedelta(days=window_days)


def restated_event(
    before: SlaPeriodClosed, after: SlaPeriodClosed, number: int, reason: str
) -> SlaPeriodRestated:
    """The restatement of `before` by `after` (pure)."""
    return SlaPeriodRestated(
        **after.model_dump(),
        restatement=number,
        previous=PreviousFigures(
            attainment=before.attainment,
            outcome=before.outcome,
            figures=figures_strings(before),
            expected_level=before.expected_level,
            minimum_level=before.minimum_level,
            contract_version=before.contract_version,
        ),
        reason=reason,
    )


def _audit(payload: SlaPeriodClosed) -> dict[str, Any]:
    return {
        "attainment": None if payload.attainment is None else str(payload.attainment),
        "outcome": payload.outcome.value,
        "figures": figures_strings(payload),
        "explanation": payload.explanation,
        "expected_level": str(payload.expected_level),
        "minimum_level": str(payload.minimum_level),
        "contract_version": payload.contract_version,
    }


async def _closed_for_update(
    session: AsyncSession, ref: SlaRef, period: PeriodBounds
) -> SlaPeriod | None:
    return await session.scalar(
        sa.select(SlaPeriod)
        .where(
            SlaPeriod.tenant_id == ref.tenant_id,
            SlaPeriod.contract_id == ref.contract_id,
            SlaPeriod.sla_code == ref.sla.code,
            SlaPeriod.period_label == period.label,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _apply(
    *,
    session: AsyncSession,
    emit: Emit,
    now: datetime,
    row: SlaPeriod,
    c: Computation,
    before: SlaPeriodClosed,
    after: SlaPeriodClosed,
    event: SlaPeriodRestated,
) -> None:
    """Publish the restatement, keep its audit row, and make it the published period."""
    envelope = await emit(
        "sla.period_restated", subject=str(row.contract_id), data=event, tenant=row.tenant_id
    )
    session.add(
        SlaRestatement(
            contract_id=row.contract_id,
            sla_code=row.sla_code,
            period_label=row.period_label,
            restatement=event.restatement,
            tenant_id=row.tenant_id,
            previous=_audit(before),
            current=_audit(after),
            reason=event.reason,
            restated_at=now,
            event_id=envelope.id,
        )
    )
    row.contract_version = after.contract_version
    row.attainment = c.attainment_rounded
    row.outcome = c.outcome.value
    row.figures = c.availability_figures.model_dump(mode="json") if c.availability_figures else {}
    row.explanation = c.explanation
    row.published = after.model_dump(mode="json")
    row.detail = c.detail()
    row.restatements = event.restatement
    row.last_restated_at = now
    await session.flush()


async def restate_if_changed(
    *,
    session: AsyncSession,
    emit: Emit,
    now: datetime,
    ref: SlaRef,
    period: PeriodBounds,
    reason: str,
) -> Restatement:
    """Recompute a closed period with `ref`'s terms; when what was published changed
    within the contract's restatement window, publish `sla.period_restated` and keep the
    audit row. A period that starts before the retention horizon is sealed: its raw
    telemetry may be gone, so it is never recomputed."""
    row = await _closed_for_update(session, ref, period)
    if row is None:
        return Restatement.NOT_CLOSED
    if not within_window(row.closed_at, now, ref.terms.restatement_window_days):
        return Restatement.WINDOW_PASSED
    horizon = await hold_horizon(session, writing=False)
    if horizon is not None and period.start < horizon:
        return Restatement.SEALED
    before = published(row, ref, period)
    c = await compute(session, ref, period)
    after = c.closed_payload(row.closed_at)
    if published_key(after) == published_key(before):
        return Restatement.UNCHANGED
    event = restated_event(before, after, row.restatements + 1, reason)
    await _apply(
        session=session, emit=emit, now=now, row=row, c=c, before=before, after=after, event=event
    )
    return Restatement.RESTATED
