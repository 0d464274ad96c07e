"""What happens when an input arrives, whether it came over HTTP or Kafka."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.common import lock_contract, period_label_of
from billing_reconciler.consumption.service import Ingested, Locator, body_items, record
from billing_reconciler.credits.service import store_outcome
from billing_reconciler.credits.settlement import credit_month
from billing_reconciler.periods.service import active_periods, refresh, refresh_changed
from billing_reconciler.periods.statement import load_book
from crm_events.errors import RetryableEventError
from crm_events.schemas.consumption import ConsumptionItem
from crm_events.schemas.contracts import ContractTerms
from crm_events.schemas.sla import SlaPeriodClosed
from crm_platform import periods
from crm_platform.auth import Principal
from crm_platform.emitter import Emit

log = structlog.get_logger(__name__)


async def consumption_received(
    *,
    session: AsyncSession,
    principal: Principal,
    items: Sequence[ConsumptionItem],
    emit: Emit,
    now: datetime,
    cause: str,
    loc: Locator = body_items,
) -> Ingested:
    """Store the records, then recompute the periods already computed whose volumes moved
    (late or corrected consumption re-reconciles their invoices)."""
    ingested = await record(session=session, principal=principal, items=items, now=now, loc=loc)
    if ingested.changed:
        await refresh_changed(
            session=session,
            changed=list(ingested.changed),
            emit=emit,
            now=now,
            trigger="consumption_changed",
            cause=cause,
        )
    return ingested


async def sla_outcome_received(
    *,
    session: AsyncSession,
    event: SlaPeriodClosed,
    restatement: int,
    source_event_id: str,
    emit: Emit,
    now: datetime,
) -> None:
    """Keep the outcome; when it changed what we knew, recompute the period (credits,
    earn-back, statement, invoices) and the later periods computed before."""
    book = await load_book(session, event.contract_id)
    if book is None:  # the contract's activation has not reached us yet
        raise RetryableEventError(f"contract {event.contract_id} is not known yet")
    await lock_contract(session, event.contract_id)
    changed = await store_outcome(
        session=session,
        tenant_id=book.tenant_id,
        event=event,
        restatement=restatement,
        source_event_id=source_event_id,
        now=now,
    )
    if not changed:
        log.info(
            "sla_outcome.unchanged",
            contract_id=str(event.contract_id),
            sla_code=event.sla_code,
            period=event.period.label,
        )
        return
    label = event.period.label
    month = credit_month(label, book.terms_for(periods.last_month(label)).credit_terms.credited_in)
    await refresh(
        session=session,
        contract_id=event.contract_id,
        period_label=month,
        emit=emit,
        now=now,
        trigger="sla_period_restated" if restatement else "sla_period_closed",
        cause=source_event_id,
    )


async def contract_amended(
    *, session: AsyncSession, terms: ContractTerms, emit: Emit, now: datetime, cause: str
) -> None:
    """A new version may change what computed periods from its effective date owe."""
    await lock_contract(session, terms.contract_id)
    first = period_label_of(terms.effective_from)
    for label in await active_periods(session, terms.contract_id, first, "9999-12"):
        await refresh(
            session=session,
            contract_id=terms.contract_id,
            period_label=label,
            emit=emit,
            now=now,
            trigger="contract_amended",
            cause=cause,
            create=False,
            cascade=False,
        )
