"""What obligation-tracker does with the events it consumes.

contracts.v1 → the terms projection, then the recurring obligations (generate on
activation, regenerate on amendment, retire on termination); sla.v1 and billing.v1 → the
obligations they call for, the facts of the health snapshot, and the alert rules.
"""

from __future__ import annotations

from typing import Any

from crm_events.consumer import EventContext, Handler, Handlers
from crm_events.schemas.billing import CreditCalculated, DiscrepancyFound, VolumeBandExceeded
from crm_events.schemas.contracts import ContractActivated, ContractAmended, ContractTerminated
from crm_events.schemas.sla import SlaPeriodClosed
from crm_events.topics import Topic
from crm_platform.contract_terms import contract_terms_handlers
from obligation_tracker.alerts.service import evaluate
from obligation_tracker.governance.snapshot import record_credit, record_period_result
from obligation_tracker.obligations import followups
from obligation_tracker.obligations.scheduling import on_contract_terms
from obligation_tracker.settings import Settings

TOPICS = [Topic.CONTRACTS.value, Topic.SLA.value, Topic.BILLING.value]


async def _alert(ctx: EventContext, payload: Any) -> None:
    await evaluate(
        session=ctx.session,
        clock=ctx.clock,
        emit=ctx.emit,
        tenant_id=ctx.envelope.tenant,
        event_type=ctx.envelope.type,
        payload=payload,
        source_event_id=ctx.envelope.id,
    )


def make_handlers(settings: Settings) -> Handlers:
    async def on_activated(ctx: EventContext, event: ContractActivated) -> None:
        await on_contract_terms(
            session=ctx.session,
            clock=ctx.clock,
            emit=ctx.emit,
            settings=settings,
            terms=event.terms,
            change="activated",
        )

    async def on_amended(ctx: EventContext, event: ContractAmended) -> None:
        await on_contract_terms(
            session=ctx.session,
            clock=ctx.clock,
            emit=ctx.emit,
            settings=settings,
            terms=event.terms,
            change="amended",
        )

    async def on_terminated(ctx: EventContext, event: ContractTerminated) -> None:
        await on_contract_terms(
            session=ctx.session,
            clock=ctx.clock,
            emit=ctx.emit,
            settings=settings,
            terms=event.terms,
            change="terminated",
        )

    async def on_period_closed(ctx: EventContext, event: SlaPeriodClosed) -> None:
        # A restatement is a period closed again with new figures: the same three steps.
        await record_period_result(
            ctx.session, tenant_id=ctx.envelope.tenant, event=event, now=ctx.clock.now()
        )
        await followups.open_root_cause(
            session=ctx.session,
            clock=ctx.clock,
            emit=ctx.emit,
            settings=settings,
            event=event,
            source_event_id=ctx.envelope.id,
        )
        await _alert(ctx, event)

    async def on_credit_calculated(ctx: EventContext, event: CreditCalculated) -> None:
        await record_credit(
            ctx.session, tenant_id=ctx.envelope.tenant, event=event, now=ctx.clock.now()
        )
        await _alert(ctx, event)

    async def on_discrepancy_found(ctx: EventContext, event: DiscrepancyFound) -> None:
        await followups.open_dispute(
            session=ctx.session,
            clock=ctx.clock,
            emit=ctx.emit,
            settings=settings,
            event=event,
            source_event_id=ctx.envelope.id,
        )
        await _alert(ctx, event)

    async def on_volume_band_exceeded(ctx: EventContext, event: VolumeBandExceeded) -> None:
        await followups.open_renegotiation(
            session=ctx.session,
            clock=ctx.clock,
            emit=ctx.emit,
            settings=settings,
            event=event,
            source_event_id=ctx.envelope.id,
        )
        await _alert(ctx, event)

    terms = contract_terms_handlers()
    ours: dict[str, list[Handler]] = {
        "contract.activated": [on_activated],
        "contract.amended": [on_amended],
        "contract.terminated": [on_terminated],
    }
    return {
        # The projection first: the scheduling reads the versions it has just stored.
        **{t: [*terms[t], *ours[t]] for t in terms},
        "sla.period_closed": [on_period_closed],
        "sla.period_restated": [on_period_closed],
        "sla.breached": [_alert],
        "sla.at_risk": [_alert],
        "billing.credit_calculated": [on_credit_calculated],
        "reconciliation.discrepancy_found": [on_discrepancy_found],
        "billing.volume_band_exceeded": [on_volume_band_exceeded],
    }
