"""What contract-registry does with the events it consumes: the health read model."""

from __future__ import annotations

from contract_registry.health import ingest
from crm_events.consumer import EventContext, Handler, Handlers
from crm_events.schemas.billing import ChargesComputed, CreditCalculated, ReconciliationCompleted
from crm_events.schemas.obligations import ObligationCreated, ObligationTransitioned
from crm_events.schemas.sla import SlaPeriodClosed, SlaPeriodRestated
from crm_events.topics import Topic


async def on_sla_period_closed(ctx: EventContext, event: SlaPeriodClosed) -> None:
    await ingest.record_sla_period(ctx.session, ctx.envelope.tenant, event, 0, ctx.clock.now())


async def on_sla_period_restated(ctx: EventContext, event: SlaPeriodRestated) -> None:
    await ingest.record_sla_period(
        ctx.session, ctx.envelope.tenant, event, event.restatement, ctx.clock.now()
    )


async def on_credit_calculated(ctx: EventContext, event: CreditCalculated) -> None:
    await ingest.record_credit(ctx.session, ctx.envelope.tenant, event, ctx.clock.now())


async def on_charges_computed(ctx: EventContext, event: ChargesComputed) -> None:
    await ingest.record_charges(ctx.session, ctx.envelope.tenant, event, ctx.clock.now())


async def on_reconciliation_completed(ctx: EventContext, event: ReconciliationCompleted) -> None:
    await ingest.record_reconciliation(ctx.session, ctx.envelope.tenant, event, ctx.clock.now())


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
