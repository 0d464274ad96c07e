"""What sla-monitor does with the events it consumes."""

from __future__ import annotations

from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.contracts import ContractActivated, ContractAmended, ContractTerminated
from crm_events.schemas.telemetry import TelemetryRecorded
from crm_events.topics import Topic
from sla_monitor.attainment.amendments import restate_amended
from sla_monitor.contracts.service import apply_terms
from sla_monitor.telemetry.service import ingest


async def on_telemetry_recorded(ctx: EventContext, event: TelemetryRecorded) -> None:
    # The same path as HTTP: the envelope's tenant owns the items.
    await ingest(
        session=ctx.session,
        emit=ctx.emit,
        now=ctx.clock.now(),
        tenant_id=ctx.envelope.tenant,
        items=event.items,
    )


# The shared contracts.v1 handling (crm_platform.contract_terms), plus the clock, which
# records when this service started tracking each SLA.
async def on_contract_activated(ctx: EventContext, event: ContractActivated) -> None:
    await apply_terms(ctx.session, event.terms, "active", now=ctx.clock.now())


async def on_contract_amended(ctx: EventContext, event: ContractAmended) -> None:
    # A version seen before (a redelivery, or the same version published again) changes
    # nothing more; a new one restates the closed periods it governs.
    now = ctx.clock.now()
    if await apply_terms(ctx.session, event.terms, "active", now=now):
        await restate_amended(session=ctx.session, emit=ctx.emit, now=now, terms=event.terms)


async def on_contract_terminated(ctx: EventContext, event: ContractTerminated) -> None:
    await apply_terms(ctx.session, event.terms, "terminated", now=ctx.clock.now())


HANDLERS: Handlers = {
    "contract.activated": [on_contract_activated],
    "contract.amended": [on_contract_amended],
    "contract.terminated": [on_contract_terminated],
    "telemetry.recorded": [on_telemetry_recorded],
}

TOPICS = [Topic.CONTRACTS.value, Topic.TELEMETRY.value]
