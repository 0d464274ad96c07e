"""Recomputing a contract's periods when an input changes, and reading them.

`refresh` is the one road for a single period: an invoice received, an amended contract,
or an operator's request; the consumers ask `recompute.refresh_many` for many at once.
For the period (and, with `cascade`, the later periods already computed, whose repeated
defaults, earn-backs and rebates can depend on it) it:

1. computes the charges from the consumption totals and the terms in force;
2. settles the period's service credits (new revision + `billing.credit_calculated` with
   the delta when a credit changes) and moves the earn-back state machines;
3. builds the statement and stores it as a new revision only when it changed, then
   publishes `billing.charges_computed`, checks the volume bands
   (`billing.volume_band_exceeded`, once per unit, period and direction) and reconciles the
   period's invoices again (`reconciliation.*` with the next revision when the result moved).

A contract's recomputations are serialised by an advisory lock, across instances.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.common import EXPORT_BATCH, ContractPeriods, shift_period
from billing_reconciler.consumption.service import ensure_contract
from billing_reconciler.credits.service import load_credits
from billing_reconciler.models import PeriodCharges
from billing_reconciler.periods.recompute import (
    WINDOW_AHEAD,
    WINDOW_BACK,
    Recompute,
    refresh_many,
)
from billing_reconciler.periods.schemas import PeriodChargesRead
from billing_reconciler.periods.statement import Statement, build_statement, load_book
from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.emitter import Emit
from crm_platform.errors import NotFound


async def active_periods(
    session: AsyncSession, contract_id: uuid.UUID, first: str, last: str
) -> list[str]:
    """Periods whose charges were computed before (closed, invoiced or computed on demand)."""
    return list(
        (
            await session.scalars(
                sa.select(PeriodCharges.period_label)
                .where(
                    PeriodCharges.contract_id == contract_id,
                    PeriodCharges.period_label >= first,
                    PeriodCharges.period_label <= last,
                )
                .distinct()
                .order_by(PeriodCharges.period_label)
            )
        ).all()
    )


async def refresh(
    *,
    session: AsyncSession,
    contract_id: uuid.UUID,
    period_label: str,
    emit: Emit,
    now: datetime,
    trigger: str,
    cause: str,
    create: bool = True,
    cascade: bool = True,
) -> tuple[Statement, int] | None:
    """Recompute a period (created when `create`, else only if computed before) and the
    later computed periods; returns the period's statement and its stored revision."""
    request = Recompute(
        contract_id=contract_id,
        period_label=period_label,
        trigger=trigger,
        cause=cause,
        emit=emit,
        create=create,
        cascade=cascade,
    )
    done = await refresh_many(session=session, requests=[request], now=now)
    return done.get(request.key)


def changed_periods(
    changed: Sequence[tuple[uuid.UUID, str]], *, emit: Emit, trigger: str, cause: str
) -> list[Recompute]:
    """After consumption changed: the affected periods that were computed before (and the
    later ones), never creating new ones."""
    return [
        Recompute(
            contract_id=contract_id,
            period_label=period_label,
            trigger=trigger,
            cause=cause,
            emit=emit,
            create=False,
        )
        for contract_id, period_label in sorted(changed)
    ]


async def compute(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    period_label: str,
    emit: Emit,
    audit: Audit,
    now: datetime,
) -> PeriodChargesRead:
    tenant_id = await ensure_contract(session, principal, contract_id)
    before = await _stored_totals(session, contract_id, period_label)
    done = await refresh(
        session=session,
        contract_id=contract_id,
        period_label=period_label,
        emit=emit,
        now=now,
        trigger="recomputed",
        cause=f"compute:{contract_id}/{period_label}",
        cascade=False,
    )
    if done is None:
        raise NotFound(f"contract {contract_id} is not known to billing-reconciler")
    after = await _stored_totals(session, contract_id, period_label)
    if after != before:  # a new revision was stored: the period's money changed
        await audit.record(
            action="period_charges.compute",
            subject_type="period_charges",
            subject_id=period_label,
            tenant_id=tenant_id,
            contract_id=contract_id,
            before=before,
            after=after,
        )
    return done[0].to_read()


async def _stored_totals(
    session: AsyncSession, contract_id: uuid.UUID, period_label: str
) -> dict[str, Any] | None:
    """The latest stored revision's totals (what an audit row shows), None before any."""
    latest = await session.scalar(
        sa.select(PeriodCharges)
        .where(PeriodCharges.contract_id == contract_id, PeriodCharges.period_label == period_label)
        .order_by(PeriodCharges.revision.desc())
        .limit(1)
    )
    if latest is None:
        return None
    return {
        "revision": latest.revision,
        "currency": latest.currency,
        "monthly_charges": str(latest.monthly_charges),
        "expected_total": str(latest.expected_total),
        "contract_version": latest.contract_version,
    }


async def read(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID, period_label: str
) -> PeriodChargesRead:
    """The statement as of now, computed for reading (nothing stored or published)."""
    await ensure_contract(session, principal, contract_id)
    book = await load_book(session, contract_id)
    if book is None:
        raise NotFound(f"contract {contract_id} is not known to billing-reconciler")
    credits = await load_credits(
        session,
        contract_id,
        shift_period(period_label, -WINDOW_BACK),
        shift_period(period_label, WINDOW_AHEAD),
    )
    statement = await build_statement(
        session=session, book=book, period_label=period_label, credits=credits
    )
    latest = await session.scalar(
        sa.select(PeriodCharges)
        .where(
            PeriodCharges.contract_id == contract_id,
            PeriodCharges.period_label == period_label,
        )
        .order_by(PeriodCharges.revision.desc())
        .limit(1)
    )
    if latest is not None and latest.fingerprint == statement.fingerprint():
        statement.revision, statement.computed_at = latest.revision, latest.computed_at
    return statement.to_read()


async def export_statements(
    *, session: AsyncSession, principal: Principal, scope: ContractPeriods
) -> AsyncIterator[PeriodChargesRead]:
    """The latest stored statement of every computed period in the scope (what
    `billing.charges_computed` last published), by contract and period, read through a
    server-side cursor."""
    pc = PeriodCharges
    query = (
        sa.select(pc.statement)
        .where(principal.tenant_filter(pc.tenant_id), *scope.where(pc.contract_id, pc.period_label))
        .ext(distinct_on(pc.contract_id, pc.period_label))
        .order_by(pc.contract_id, pc.period_label, pc.revision.desc())
        .execution_options(yield_per=EXPORT_BATCH // 10)
    )
    async for statement in await session.stream_scalars(query):
        yield PeriodChargesRead.model_validate(statement)
