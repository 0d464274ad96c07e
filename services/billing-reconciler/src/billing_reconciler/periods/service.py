"""Recomputing a contract's periods when an input changes, and acting on what changed.

`refresh` is the one road: an SLA period closed or restated, consumption received or
corrected, an invoice received, an amended contract, or an operator's request. For the
period (and, with `cascade`, the later periods already computed, whose repeated defaults,
earn-backs and rebates can depend on it) it:

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
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.charges.domain import outside_volume_band
from billing_reconciler.common import (
    EXPORT_BATCH,
    ContractPeriods,
    in_term,
    lock_contract,
    shift_period,
)
from billing_reconciler.consumption.service import ensure_contract, record_ids
from billing_reconciler.credits.domain import at_risk_amount
from billing_reconciler.credits.service import (
    apply_settlement,
    load_credits,
    load_outcomes,
    update_earn_back,
)
from billing_reconciler.credits.settlement import Outcomes, PeriodCase, YearToDate, settle
from billing_reconciler.models import PeriodCharges, ServiceCredit, VolumeBandAlert
from billing_reconciler.periods.schemas import PeriodChargesRead
from billing_reconciler.periods.statement import (
    ContractBook,
    Statement,
    build_statement,
    load_book,
    year_start,
)
from billing_reconciler.reconciliation.service import reconcile_period_invoices
from crm_events.schemas.billing import ChargesComputed, VolumeBandExceeded
from crm_platform import periods
from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.emitter import Emit
from crm_platform.errors import NotFound

# How far a change reaches: repeated defaults look back 12 periods, earn-back and rebates
# within a year in practice.
REACH = 12
WINDOW_BACK = 24
WINDOW_AHEAD = 36


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
    await lock_contract(session, contract_id)
    book = await load_book(session, contract_id)
    if book is None:
        return None
    later = await active_periods(
        session, contract_id, period_label, shift_period(period_label, REACH)
    )
    targets = [p for p in later if p > period_label] if cascade else []
    if create or period_label in later:
        targets.insert(0, period_label)
    if not targets:
        return None
    outcomes = await load_outcomes(session, contract_id, period_label)
    credits = await load_credits(
        session,
        contract_id,
        shift_period(period_label, -WINDOW_BACK),
        shift_period(period_label, WINDOW_AHEAD),
    )
    result: tuple[Statement, int] | None = None
    for label in targets:
        statement, revision = await _refresh_one(
            session=session,
            book=book,
            period_label=label,
            outcomes=outcomes,
            credits=credits,
            emit=emit,
            now=now,
            trigger=trigger,
            cause=cause,
        )
        if label == period_label:
            result = (statement, revision)
    return result


async def _refresh_one(
    *,
    session: AsyncSession,
    book: ContractBook,
    period_label: str,
    outcomes: Outcomes,
    credits: list[ServiceCredit],
    emit: Emit,
    now: datetime,
    trigger: str,
    cause: str,
) -> tuple[Statement, int]:
    terms = book.terms_for(period_label)
    await book.actuals(session, [period_label])
    charges = book.monthly(period_label)
    ids = await record_ids(session=session, contract_id=book.contract_id, period_label=period_label)
    case = PeriodCase(
        terms=terms,
        period_label=period_label,
        charges=charges,
        at_risk_amount=at_risk_amount(
            charges.total, terms.credit_terms.at_risk_pct, terms.currency
        ),
        outcomes=outcomes,
        year=await _year_to_date(session, book, period_label, credits),
        held_before=frozenset(c.sla_code for c in credits if c.period_label == period_label),
        record_ids=sorted({i for unit_ids in ids.values() for i in unit_ids}),
    )
    await apply_settlement(
        session=session,
        case=case,
        settlement=settle(case),
        credits=credits,
        emit=emit,
        now=now,
        cause=cause,
    )
    await update_earn_back(
        session=session,
        credits=credits,
        outcomes=outcomes,
        credited_in_of=lambda label: book.terms_for(label).credit_terms.credited_in,
        terms_version=terms.version,
        emit=emit,
        now=now,
    )
    statement = await build_statement(
        session=session, book=book, period_label=period_label, credits=credits, ids=ids
    )
    revision, changed = await _store(session, statement, trigger, now)
    statement.revision, statement.computed_at = revision, now
    if changed:
        await _publish_charges(statement, emit)
        await _check_volume_bands(session, statement, emit, now)
        await reconcile_period_invoices(
            session=session,
            statement=statement,
            charges_revision=revision,
            trigger=trigger,
            emit=emit,
            now=now,
        )
    return statement, revision


async def _year_to_date(
    session: AsyncSession, book: ContractBook, period_label: str, credits: list[ServiceCredit]
) -> YearToDate | None:
    """The contract year so far, when the contract caps a year's credits."""
    terms = book.terms_for(period_label)
    if terms.credit_terms.contract_year_cap is None:
        return None
    first, _ = periods.contract_year(period_label, year_start(terms))
    months = [m for m in periods.between(first, period_label) if in_term(terms, m)]
    await book.actuals(session, months)
    return YearToDate(
        first_month=first,
        credits_before=sum(
            (c.credit_amount for c in credits if first <= c.period_label < period_label),
            Decimal(0),
        ),
        charges_through=sum((book.monthly(m).total for m in months), Decimal(0)),
    )


async def _store(
    session: AsyncSession, statement: Statement, trigger: str, now: datetime
) -> tuple[int, bool]:
    terms = statement.terms
    latest = (
        await session.execute(
            sa.select(PeriodCharges.revision, PeriodCharges.fingerprint)
            .where(
                PeriodCharges.contract_id == terms.contract_id,
                PeriodCharges.period_label == statement.period_label,
            )
            .order_by(PeriodCharges.revision.desc())
            .limit(1)
        )
    ).first()
    marker = statement.fingerprint()
    if latest is not None and latest.fingerprint == marker:
        return latest.revision, False
    revision = latest.revision + 1 if latest is not None else 1
    statement.revision, statement.computed_at = revision, now
    session.add(
        PeriodCharges(
            tenant_id=terms.tenant_id,
            contract_id=terms.contract_id,
            period_label=statement.period_label,
            revision=revision,
            contract_version=terms.version,
            currency=terms.currency,
            monthly_charges=statement.monthly_charges,
            expected_total=statement.expected_total,
            fingerprint=marker,
            statement=statement.to_read().model_dump(mode="json"),
            trigger=trigger,
            computed_at=now,
        )
    )
    await session.flush()
    return revision, True


async def _publish_charges(statement: Statement, emit: Emit) -> None:
    """The stored revision as the charges API shows it, less the API's own extras."""
    terms = statement.terms
    read = statement.to_read()
    await emit(
        "billing.charges_computed",
        subject=str(terms.contract_id),
        tenant=terms.tenant_id,
        data=ChargesComputed.model_validate(read.model_dump(exclude={"consumption_record_ids"})),
    )


async def _check_volume_bands(
    session: AsyncSession, statement: Statement, emit: Emit, now: datetime
) -> None:
    terms = statement.terms
    for unit in terms.price_book:
        actual = statement.actuals.get(unit.code)
        if actual is None or unit.volume_band is None:
            continue
        direction = outside_volume_band(unit, actual)
        if direction is None:
            continue
        new = await session.scalar(
            pg_insert(VolumeBandAlert)
            .values(
                contract_id=terms.contract_id,
                period_label=statement.period_label,
                resource_unit=unit.code,
                direction=direction.value,
                tenant_id=terms.tenant_id,
                actual=actual,
                detected_at=now,
            )
            .on_conflict_do_nothing()
            .returning(VolumeBandAlert.resource_unit)
        )
        if new is None:
            continue
        await emit(
            "billing.volume_band_exceeded",
            subject=str(terms.contract_id),
            tenant=terms.tenant_id,
            data=VolumeBandExceeded(
                contract_id=terms.contract_id,
                period_label=statement.period_label,
                resource_unit=unit.code,
                actual=actual,
                baseline=unit.baseline_volume,
                floor_pct=unit.volume_band.floor_pct,
                ceiling_pct=unit.volume_band.ceiling_pct,
                direction=direction.value,
                detected_at=now,
            ),
        )


async def refresh_changed(
    *,
    session: AsyncSession,
    changed: Sequence[tuple[uuid.UUID, str]],
    emit: Emit,
    now: datetime,
    trigger: str,
    cause: str,
) -> None:
    """After consumption changed: recompute the affected periods that were computed before
    (and the later ones), never creating new ones."""
    for contract_id, period_label in sorted(changed):
        await refresh(
            session=session,
            contract_id=contract_id,
            period_label=period_label,
            emit=emit,
            now=now,
            trigger=trigger,
            cause=cause,
            create=False,
        )


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
