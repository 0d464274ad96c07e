"""What sla-monitor does with the events it consumes."""

from __future__ import annotations

from collections.abc import Sequence

from crm_events.consumer import BatchHandler, Delivered, EventContext, Handlers, batched
from crm_events.errors import PermanentEventError
from crm_events.schemas.contracts import ContractActivated, ContractAmended, ContractTerminated
from crm_events.schemas.telemetry import TelemetryRecorded
from crm_events.topics import Topic
from sla_monitor.attainment.amendments import restate_amended
from sla_monitor.contracts.service import Applied, apply_terms, apply_terms_many
from sla_monitor.telemetry.retention import before_horizon, hold_horizon, horizon_details
from sla_monitor.telemetry.service import ingest


@batched
async def on_telemetry_recorded(events: Sequence[Delivered[TelemetryRecorded]]) -> None:
    """A run of `telemetry.recorded` messages through the HTTP path's `ingest`, once per
    tenant (the envelope's tenant owns its items): one bulk write per kind, one span fold
    and one signal check of the touched periods for the run instead of one per message.
    Figures do not depend on how items are split into messages; the signals name the
    run's last message as their cause."""
    horizon = await hold_horizon(events[0].ctx.session, writing=True)
    for delivered in events:
        if found := before_horizon(delivered.payload.items, horizon):
            # The runner then handles the batch's events one by one: this one is
            # dead-lettered with the reason, the others are stored.
            assert horizon is not None
            details = horizon_details(found, horizon, lambda i: f"data.items[{i}]")
            raise PermanentEventError(
                f"{len(found)} item(s) before the retention horizon: "
                + "; ".join(f"{d['loc']}: {d['message']}" for d in details[:3])
            )
    runs: dict[str, list[Delivered[TelemetryRecorded]]] = {}
    for delivered in events:
        runs.setdefault(delivered.ctx.envelope.tenant, []).append(delivered)
    for tenant_id, run in runs.items():
        last = run[-1].ctx
        await ingest(
            session=last.session,
            emit=last.emit,
            now=last.clock.now(),
            tenant_id=tenant_id,
            items=[item for delivered in run for item in delivered.payload.items],
        )


# The shared contracts.v1 handling (crm_platform.contract_terms), plus the clock, which
# records when this service started tracking each SLA.
def _keep_terms(status: str) -> BatchHandler:
    @batched
    async def on_terms(events: Sequence[Delivered[ContractActivated | ContractTerminated]]) -> None:
        await apply_terms_many(
            events[0].ctx.session,
            [Applied(item.payload.terms, status, item.ctx.clock.now()) for item in events],
        )

    return on_terms


on_contract_activated = _keep_terms("active")
on_contract_terminated = _keep_terms("terminated")


async def on_contract_amended(ctx: EventContext, event: ContractAmended) -> None:
    # A version seen before (a redelivery, or the same version published again) changes
    # nothing more; a new one restates the closed periods it governs.
    now = ctx.clock.now()
    if await apply_terms(ctx.session, event.terms, "active", now=now):
        await restate_amended(session=ctx.session, emit=ctx.emit, now=now, terms=event.terms)


HANDLERS: Handlers = {
    "contract.activated": [on_contract_activated],
    "contract.amended": [on_contract_amended],
    "contract.terminated": [on_contract_terminated],
    "telemetry.recorded": [on_telemetry_recorded],
}

TOPICS = [Topic.CONTRACTS.value, Topic.TELEMETRY.value]
