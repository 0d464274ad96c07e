"""Recurring obligations from the contract's terms, over a rolling horizon.

- Activation generates every instance still due from today to `horizon_months` ahead.
- An amendment regenerates the instances from the day it takes effect (or today, if later):
  an open instance the new terms still call for, unchanged, stays as it is (with its
  assigned owner); a changed or dropped one is waived as superseded and the new one opened
  (keeping the owner). Fulfilled, waived and overdue instances are never touched.
- Termination waives the open instances whose occurrence comes after it.
- A periodic job extends the horizon of every active contract.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog
from dateutil.relativedelta import relativedelta
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import ContractTerms
from crm_platform.clock import Clock
from crm_platform.contract_terms import contract_terms_table
from crm_platform.emitter import Emit
from crm_platform.scheduler import JobContext
from obligation_tracker.models import Obligation
from obligation_tracker.obligations.lifecycle import open_obligation, transition
from obligation_tracker.obligations.opening import NewObligation
from obligation_tracker.obligations.recurrence import (
    CONTRACTUAL,
    GOVERNANCE_REVIEW,
    PlannedInstance,
    plan_instances,
)
from obligation_tracker.settings import Settings

log = structlog.get_logger(__name__)

RECURRING_KINDS = (CONTRACTUAL, GOVERNANCE_REVIEW)


def local_today(clock: Clock, timezone: str) -> date:
    return clock.now().astimezone(ZoneInfo(timezone)).date()


async def all_versions(session: AsyncSession, contract_id: uuid.UUID) -> list[ContractTerms]:
    t = contract_terms_table
    rows = (
        await session.scalars(
            sa.select(t.c.terms).where(t.c.contract_id == contract_id).order_by(t.c.version)
        )
    ).all()
    return [ContractTerms.model_validate(r) for r in rows]


def _signature(row: Obligation) -> tuple[object, ...]:
    return (
        row.title,
        row.clause,
        row.owner_role,
        row.severity,
        row.evidence_required,
        row.due_date,
    )


def _new_instance(
    terms: ContractTerms, planned: PlannedInstance, owner: str | None = None
) -> NewObligation:
    return NewObligation(
        tenant_id=terms.tenant_id,
        contract_id=terms.contract_id,
        kind=planned.kind,
        title=planned.title,
        clause=planned.clause,
        owner_role=planned.owner_role,
        severity=planned.severity,
        due_date=planned.due_date,
        timezone=terms.timezone,
        dedup_key=planned.dedup_key(terms.contract_id),
        definition_code=planned.code,
        occurrence_date=planned.occurrence,
        contract_version=planned.contract_version,
        evidence_required=planned.evidence_required,
        owner=owner,
        details={
            "rrule": planned.rule,
            "occurrence": planned.occurrence.isoformat(),
            "due_rule": (
                f"business day {planned.offset_business_days + 1} on or after the occurrence "
                f"({planned.occurrence}), weekends and the contract's holidays skipped"
            ),
        },
    )


def _plan(
    versions: Sequence[ContractTerms],
    settings: Settings,
    today: date,
    occurrence_from: date | None = None,
) -> list[PlannedInstance]:
    planned, problems = plan_instances(
        versions,
        today=today,
        horizon_end=today + relativedelta(months=settings.horizon_months),
        occurrence_from=occurrence_from,
    )
    for problem in problems:
        log.warning(
            "obligations.definition_skipped",
            contract_id=str(versions[-1].contract_id),
            code=problem.code,
            error=problem.message,
        )
    return planned


async def generate(
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    settings: Settings,
    versions: Sequence[ContractTerms],
) -> int:
    """Open every instance due from today to the horizon that does not exist yet."""
    latest = versions[-1]
    today = local_today(clock, latest.timezone)
    opened = 0
    for planned in _plan(versions, settings, today):
        if await open_obligation(session, clock, emit, _new_instance(latest, planned)):
            opened += 1
    return opened


async def regenerate(
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    settings: Settings,
    versions: Sequence[ContractTerms],
) -> dict[str, int]:
    """After an amendment: the instances from its effective date follow the new terms."""
    latest = versions[-1]
    today = local_today(clock, latest.timezone)
    boundary = max(latest.effective_from, today)
    wanted = {
        p.dedup_key(latest.contract_id): p
        for p in _plan(versions, settings, today, occurrence_from=boundary)
    }
    existing = (
        await session.scalars(
            sa.select(Obligation)
            .where(
                Obligation.contract_id == latest.contract_id,
                Obligation.kind.in_(RECURRING_KINDS),
                Obligation.status == "open",
                Obligation.occurrence_date >= boundary,
            )
            .order_by(Obligation.occurrence_date)
            .with_for_update()
        )
    ).all()
    owners: dict[str, str | None] = {}
    kept = superseded = 0
    for row in existing:
        planned = wanted.get(row.dedup_key)
        if planned is not None and _signature(row) == planned.terms_signature():
            row.contract_version = planned.contract_version
            kept += 1
            continue
        if planned is not None:
            owners[row.dedup_key] = row.owner
        # Free the key for the instance that replaces it; the old row stays, waived.
        row.dedup_key = f"{row.dedup_key}:superseded:{row.id}"
        reason = f"superseded by contract version {latest.version}"
        row.reason = reason
        row.resolved_by = "contract amendment"
        row.resolved_at = clock.now()
        await transition(
            session,
            clock,
            emit,
            row,
            event="waived",
            to_status="waived",
            by="contract amendment",
            reason=reason,
        )
        superseded += 1
    await session.flush()
    opened = 0
    for key, planned in wanted.items():
        new = _new_instance(latest, planned, owner=owners.get(key))
        if await open_obligation(session, clock, emit, new):
            opened += 1
    return {"kept": kept, "superseded": superseded, "opened": opened}


async def retire_after_termination(
    session: AsyncSession, clock: Clock, emit: Emit, terms: ContractTerms
) -> int:
    """Recurring instances that would occur after the termination are waived."""
    today = local_today(clock, terms.timezone)
    rows = (
        await session.scalars(
            sa.select(Obligation)
            .where(
                Obligation.contract_id == terms.contract_id,
                Obligation.kind.in_(RECURRING_KINDS),
                Obligation.status == "open",
                Obligation.occurrence_date > today,
            )
            .with_for_update()
        )
    ).all()
    for row in rows:
        row.reason = "contract terminated"
        row.resolved_by = "contract termination"
        row.resolved_at = clock.now()
        await transition(
            session,
            clock,
            emit,
            row,
            event="waived",
            to_status="waived",
            by="contract termination",
            reason="contract terminated",
        )
    return len(rows)


async def on_contract_terms(
    *,
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    settings: Settings,
    terms: ContractTerms,
    change: str,
) -> None:
    """contracts.v1 → the recurring instances (after the terms projection stored them)."""
    if change == "terminated":
        await retire_after_termination(session, clock, emit, terms)
        return
    versions = await all_versions(session, terms.contract_id)
    if not versions or versions[-1].version != terms.version:
        return  # an older version arrived late; the newer one already planned
    if change == "amended" and len(versions) > 1:
        result = await regenerate(session, clock, emit, settings, versions)
        log.info("obligations.regenerated", contract_id=str(terms.contract_id), **result)
    else:
        opened = await generate(session, clock, emit, settings, versions)
        log.info("obligations.generated", contract_id=str(terms.contract_id), opened=opened)


async def extend_horizons(job: JobContext) -> None:
    """The periodic job: keep `horizon_months` of instances ahead for every active contract."""
    settings = job.settings
    assert isinstance(settings, Settings)
    t = contract_terms_table
    latest = (
        sa.select(t.c.contract_id, sa.func.max(t.c.version).label("version"))
        .group_by(t.c.contract_id)
        .subquery()
    )
    contract_ids = (
        await job.session.scalars(
            sa.select(t.c.contract_id)
            .join(
                latest,
                sa.and_(t.c.contract_id == latest.c.contract_id, t.c.version == latest.c.version),
            )
            .where(t.c.status == "active")
        )
    ).all()
    opened = 0
    for contract_id in contract_ids:
        versions = await all_versions(job.session, contract_id)
        if versions:
            opened += await generate(job.session, job.clock, job.emit, settings, versions)
    if opened:
        log.info("obligations.horizon_extended", contracts=len(contract_ids), opened=opened)
