"""What obligation-tracker does with the events it consumes."""

from __future__ import annotations

from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.billing import CreditCalculated
from crm_events.schemas.sla import SlaPeriodClosed
from crm_events.topics import Topic
from crm_platform.contract_terms import contract_terms_handlers
from obligation_tracker.alerts.service import on_credit_calculated
from obligation_tracker.obligations.service import open_root_cause


async def on_sla_period_closed(ctx: EventContext, event: SlaPeriodClosed) -> None:
    await open_root_cause(
        session=ctx.session,
        clock=ctx.clock,
        emit=ctx.emit,
        event=event,
        source_event_id=ctx.envelope.id,
    )


async def on_billing_credit_calculated(ctx: EventContext, event: CreditCalculated) -> None:
    await on_credit_calculated(
        session=ctx.session,
        clock=ctx.clock,
        emit=ctx.emit,
        tenant_id=ctx.envelope.tenant,
        event=event,
        source_event_id=ctx.envelope.id,
    )


HANDLERS: Handlers = {
    **contract_terms_handlers(),
    "sla.period_closed": [on_sla_period_closed],
    "billing.credit_calculated": [on_billing_credit_calculated],
}

TOPICS = [Topic.CONTRACTS.value, Topic.SLA.value, Topic.BILLING.value]
