"""What sla-monitor does with the events it consumes."""

from __future__ import annotations

from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.telemetry import TelemetryRecorded
from crm_events.topics import Topic
from crm_platform.contract_terms import contract_terms_handlers
from sla_monitor.contracts.service import apply_terms
from sla_monitor.telemetry.service import ingest


async def on_telemetry_recorded(ctx: EventContext, event: TelemetryRecorded) -> None:
    await ingest(session=ctx.session, tenant_id=ctx.envelope.tenant, items=event.items)


HANDLERS: Handlers = {
    **contract_terms_handlers(apply_terms),
    "telemetry.recorded": [on_telemetry_recorded],
}

TOPICS = [Topic.CONTRACTS.value, Topic.TELEMETRY.value]
