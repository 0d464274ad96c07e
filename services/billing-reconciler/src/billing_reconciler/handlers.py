"""What billing-reconciler does with the events it consumes."""

from __future__ import annotations

from billing_reconciler.consumption.service import record
from billing_reconciler.credits.service import on_period_closed
from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.consumption import ConsumptionRecorded
from crm_events.schemas.contracts import ContractActivated, ContractAmended, ContractTerminated
from crm_events.schemas.sla import SlaPeriodClosed
from crm_events.topics import Topic
from crm_platform.auth import Principal
from crm_platform.contract_terms import record_terms


async def on_contract_activated(ctx: EventContext, event: ContractActivated) -> None:
    await record_terms(ctx.session, event.terms, "active")


async def on_contract_amended(ctx: EventContext, event: ContractAmended) -> None:
    await record_terms(ctx.session, event.terms, "active")


async def on_contract_terminated(ctx: EventContext, event: ContractTerminated) -> None:
    await record_terms(ctx.session, event.terms, "terminated")


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
    "contract.activated": [on_contract_activated],
    "contract.amended": [on_contract_amended],
    "contract.terminated": [on_contract_terminated],
    "consumption.recorded": [on_consumption_recorded],
    "sla.period_closed": [on_sla_period_closed],
}

TOPICS = [Topic.CONTRACTS.value, Topic.CONSUMPTION.value, Topic.SLA.value]
