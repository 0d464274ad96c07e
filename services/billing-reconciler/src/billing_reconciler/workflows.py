"""What happens when an input arrives, whether it came over HTTP or Kafka.

Each workflow stores the input, then recomputes the periods it changed: at once over HTTP;
from the consumers, as their `Recomputer` says (once per transaction for all its events,
so a contract's month closed by five SLAs is recomputed once).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.common import lock_contract, lock_contracts, period_label_of
from billing_reconciler.consumption.service import Ingested, Locator, body_items, record
from billing_reconciler.credits.service import ReceivedOutcome, store_outcomes
from billing_reconciler.credits.settlement import credit_month
from billing_reconciler.periods.recompute import Recompute, refresh_many
from billing_reconciler.periods.service import active_periods, changed_periods
from billing_reconciler.periods.statement import load_books
from crm_events.errors import RetryableEventError
from crm_events.schemas.consumption import ConsumptionItem
from crm_events.schemas.contracts import ContractTerms
from crm_platform import periods
from crm_platform.auth import Principal
from crm_platform.emitter import Emit

log = structlog.get_logger(__name__)

Recomputer = Callable[[Sequence[Recompute]], Awaitable[None]]


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
        requests = changed_periods(
            list(ingested.changed), emit=emit, trigger="consumption_changed", cause=cause
        )
        await refresh_many(session=session, requests=requests, now=now)
    return ingested


async def consumption_events_received(
    *,
    session: AsyncSession,
    tenant_id: str,
    events: Sequence[tuple[Sequence[ConsumptionItem], Emit, str]],
    now: datetime,
    recompute: Recomputer,
) -> None:
    """Several events' records of one tenant (each with its emit and event id) stored as one
    batch: what storing them one event after another gives when every event is accepted
    (the rules apply item by item, in order). One item refused refuses them all: the
    consumer then handles the events one by one, each accepted or refused whole. A period
    the records changed is recomputed as the last event that changed it asks."""
    last_event: dict[tuple[uuid.UUID, str], int] = {}
    for index, (items, _, _) in enumerate(events):
        for item in items:
            last_event[(item.contract_id, item.record_id)] = index
    ingested = await record(
        session=session,
        principal=Principal(tenant_id=tenant_id),
        items=[item for items, _, _ in events for item in items],
        now=now,
    )
    requests = []
    for (contract_id, label), record_ids in sorted(ingested.changed.items()):
        _, emit, cause = events[max(last_event[(contract_id, r)] for r in record_ids)]
        requests += changed_periods(
            [(contract_id, label)], emit=emit, trigger="consumption_changed", cause=cause
        )
    if requests:
        await recompute(requests)


async def sla_outcomes_received(
    *,
    session: AsyncSession,
    received: Sequence[ReceivedOutcome],
    emits: Sequence[Emit],
    now: datetime,
    recompute: Recomputer,
) -> None:
    """Keep the outcomes (`emits[i]`: how to publish what `received[i]` causes); when they
    changed what we knew, recompute their billing months (credits, earn-back, statement,
    invoices) and the later periods computed before."""
    contract_ids = {r.event.contract_id for r in received}
    await lock_contracts(session, contract_ids)
    books = await load_books(session, contract_ids)
    unknown = sorted(str(c) for c in contract_ids - set(books))
    if unknown:  # the contract's activation has not reached us yet
        raise RetryableEventError(f"contract {', '.join(unknown)} is not known yet")
    tenants = {cid: book.tenant_id for cid, book in books.items()}
    changed = set(
        await store_outcomes(session=session, tenants=tenants, received=received, now=now)
    )
    requests = []
    for index, r in enumerate(received):
        event, label = r.event, r.event.period.label
        if index not in changed:
            log.info(
                "sla_outcome.unchanged",
                contract_id=str(event.contract_id),
                sla_code=event.sla_code,
                period=label,
            )
            continue
        credited_in = books[event.contract_id].terms_for(periods.last_month(label))
        requests.append(
            Recompute(
                contract_id=event.contract_id,
                period_label=credit_month(label, credited_in.credit_terms.credited_in),
                trigger="sla_period_restated" if r.restatement else "sla_period_closed",
                cause=r.source_event_id,
                emit=emits[index],
                causes={event.sla_code: (emits[index], r.source_event_id)},
            )
        )
    if requests:
        await recompute(requests)


async def contract_amended(
    *, session: AsyncSession, terms: ContractTerms, emit: Emit, cause: str, recompute: Recomputer
) -> None:
    """A new version may change what computed periods from its effective date owe."""
    await lock_contract(session, terms.contract_id)
    first = period_label_of(terms.effective_from)
    labels = await active_periods(session, terms.contract_id, first, "9999-12")
    await recompute(
        [
            Recompute(
                contract_id=terms.contract_id,
                period_label=label,
                trigger="contract_amended",
                cause=cause,
                emit=emit,
                create=False,
                cascade=False,
            )
            for label in labels
        ]
    )
