"""What billing-reconciler does with the events it consumes."""

from __future__ import annotations

from billing_reconciler.consumption.service import record
from billing_reconciler.credits.service import on_period_closed
from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.consumption import ConsumptionRecorded
from crm_events.schemas.sla import SlaPeriodClosed
from crm_events.topics import Topic
from crm_platform.auth import Principal
from crm_platform.contract_terms import contract_terms_handlers


async def on_consumption_recorded(ctx: EventContext, event: ConsumptionRecorded) -> None:
    await record(
        session=ctx.session, principal=Principal(tenant_id=ctx.envelope.tenant), items=event.items
    )


async def on_sla_period_closed(ctx: EventContext, event: SlaPeriodClosed) -> None:
    await on_period_closed(
        session=ctx.session,
        clock=ctx.clock,
        emit=ctx.emit,
        event=event,
        source_event_id=ctx.envelope.id,
    )


HANDLERS: Handlers = {
    **contract_terms_handlers(),
    "consumption.recorded": [on_consumption_recorded],
    "sla.period_closed": [on_sla_period_closed],
}

TOPICS = [Topic.CONTRACTS.value, Topic.CONSUMPTION.value, Topic.SLA.value]
