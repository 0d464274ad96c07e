"""What sla-monitor does with the events it consumes."""

from __future__ import annotations

from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.telemetry import OutageItem, TelemetryRecorded
from crm_events.topics import Topic
from crm_platform.contract_terms import contract_terms_handlers
from sla_monitor.contracts.service import apply_terms
from sla_monitor.telemetry.service import ingest


async def on_telemetry_recorded(ctx: EventContext, event: TelemetryRecorded) -> None:
    # Only outages are measured so far; the other kinds are accepted by the schema.
    outages = [item for item in event.items if isinstance(item, OutageItem)]
    await ingest(session=ctx.session, tenant_id=ctx.envelope.tenant, items=outages)


HANDLERS: Handlers = {
    **contract_terms_handlers(apply_terms),
    "telemetry.recorded": [on_telemetry_recorded],
}

TOPICS = [Topic.CONTRACTS.value, Topic.TELEMETRY.value]
