"""What contract-registry does with the events it consumes: the health read model.

The SLA and billing handlers are batched (crm_events.consumer.batched): a run of events of
one type is one upsert, and the contract periods the transaction changed get their
benchmark counts refreshed once, just before it commits (benchmarks/summaries.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.benchmarks import summaries
from contract_registry.health import ingest
from crm_events.consumer import Delivered, EventContext, Handler, Handlers, batched
from crm_events.schemas.billing import ChargesComputed, CreditCalculated, ReconciliationCompleted
from crm_events.schemas.obligations import ObligationCreated, ObligationTransitioned
from crm_events.schemas.sla import SlaPeriodClosed, SlaPeriodRestated
from crm_events.topics import Topic

CHANGED = "contract_registry.benchmark_periods"  # session.info: the periods to refresh


def _refresh_later(ctx: EventContext, changed: Mapping[summaries.Key, str]) -> None:
    """Gather the contract periods this transaction changed; refresh them once, last."""
    session = ctx.session
    pending: dict[summaries.Key, str] = session.info.setdefault(CHANGED, {})
    pending.update(changed)

    async def refresh() -> None:
        await summaries.refresh(session, session.info.pop(CHANGED, {}))

    ctx.defer(CHANGED, refresh)


def _session(events: Sequence[Delivered[Any]]) -> AsyncSession:
    return events[0].ctx.session


@batched
async def on_sla_period_closed(events: Sequence[Delivered[SlaPeriodClosed]]) -> None:
    rows = [
        ingest.sla_period_row(e.ctx.envelope.tenant, e.payload, 0, e.ctx.clock.now())
        for e in events
    ]
    _refresh_later(events[0].ctx, await ingest.record_sla_periods(_session(events), rows))


@batched
async def on_sla_period_restated(events: Sequence[Delivered[SlaPeriodRestated]]) -> None:
    rows = [
        ingest.sla_period_row(
            e.ctx.envelope.tenant, e.payload, e.payload.restatement, e.ctx.clock.now()
        )
        for e in events
    ]
    _refresh_later(events[0].ctx, await ingest.record_sla_periods(_session(events), rows))


@batched
async def on_credit_calculated(events: Sequence[Delivered[CreditCalculated]]) -> None:
    rows = [ingest.credit_row(e.ctx.envelope.tenant, e.payload, e.ctx.clock.now()) for e in events]
    _refresh_later(events[0].ctx, await ingest.record_credits(_session(events), rows))


@batched
async def on_charges_computed(events: Sequence[Delivered[ChargesComputed]]) -> None:
    rows = [ingest.charges_row(e.ctx.envelope.tenant, e.payload, e.ctx.clock.now()) for e in events]
    _refresh_later(events[0].ctx, await ingest.record_charges(_session(events), rows))


@batched
async def on_reconciliation_completed(events: Sequence[Delivered[ReconciliationCompleted]]) -> None:
    rows = [ingest.invoice_row(e.ctx.envelope.tenant, e.payload, e.ctx.clock.now()) for e in events]
    await ingest.record_invoices(_session(events), rows)


async def on_obligation_created(ctx: EventContext, event: ObligationCreated) -> None:
    await ingest.record_obligation_created(ctx.session, ctx.envelope.tenant, event, ctx.clock.now())


async def on_obligation_transitioned(ctx: EventContext, event: ObligationTransitioned) -> None:
    await ingest.record_obligation_transition(
        ctx.session, ctx.envelope.tenant, event, ctx.clock.now()
    )


_transition: list[Handler] = [on_obligation_transitioned]

HANDLERS: Handlers = {
    "sla.period_closed": [on_sla_period_closed],
    "sla.period_restated": [on_sla_period_restated],
    "billing.credit_calculated": [on_credit_calculated],
    "billing.charges_computed": [on_charges_computed],
    "reconciliation.completed": [on_reconciliation_completed],
    "obligation.created": [on_obligation_created],
    "obligation.overdue": _transition,
    "obligation.escalated": _transition,
    "obligation.fulfilled": _transition,
    "obligation.waived": _transition,
}

TOPICS = [Topic.SLA.value, Topic.BILLING.value, Topic.OBLIGATIONS.value]
