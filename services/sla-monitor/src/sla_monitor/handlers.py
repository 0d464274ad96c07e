"""What sla-monitor does with the events it consumes."""

from __future__ import annotations

from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.contracts import ContractActivated, ContractAmended, ContractTerminated
from crm_events.schemas.telemetry import TelemetryRecorded
from crm_events.topics import Topic
from sla_monitor.contracts.service import apply_terms
from sla_monitor.telemetry.service import ingest


async def on_contract_activated(ctx: EventContext, event: ContractActivated) -> None:
    await apply_terms(session=ctx.session, terms=event.terms, status="active")


async def on_contract_amended(ctx: EventContext, event: ContractAmended) -> None:
    await apply_terms(session=ctx.session, terms=event.terms, status="active")


async def on_contract_terminated(ctx: EventContext, event: ContractTerminated) -> None:
    await apply_terms(session=ctx.session, terms=event.terms, status="terminated")


async def on_telemetry_recorded(ctx: EventContext, event: TelemetryRecorded) -> None:
    await ingest(session=ctx.session, tenant_id=ctx.envelope.tenant, items=event.items)


HANDLERS: Handlers = {
    "contract.activated": [on_contract_activated],
    "contract.amended": [on_contract_amended],
    "contract.terminated": [on_contract_terminated],
    "telemetry.recorded": [on_telemetry_recorded],
}

TOPICS = [Topic.CONTRACTS.value, Topic.TELEMETRY.value]
