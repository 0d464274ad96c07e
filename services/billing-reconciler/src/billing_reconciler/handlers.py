"""What billing-reconciler does with the events it consumes."""

from __future__ import annotations

from billing_reconciler.consumption.service import UnknownResourceUnit
from billing_reconciler.credits.service import ReceivedOutcome
from billing_reconciler.workflows import (
    consumption_received,
    contract_amended,
    sla_outcomes_received,
)
from crm_events.consumer import EventContext, Handlers
from crm_events.errors import PermanentEventError, RetryableEventError
from crm_events.schemas.consumption import ConsumptionRecorded
from crm_events.schemas.contracts import ContractAmended
from crm_events.schemas.sla import SlaPeriodClosed, SlaPeriodRestated
from crm_events.topics import Topic
from crm_platform.auth import Principal
from crm_platform.contract_terms import contract_terms_handlers
from crm_platform.errors import Conflict, Unprocessable


async def on_consumption_recorded(ctx: EventContext, event: ConsumptionRecorded) -> None:
    try:
        await consumption_received(
            session=ctx.session,
            principal=Principal(tenant_id=ctx.envelope.tenant),
            items=event.items,
            emit=ctx.emit,
            now=ctx.clock.now(),
            cause=ctx.envelope.id,
        )
    except Conflict as exc:  # a different quantity under a known id, without correction
        raise PermanentEventError(f"{exc.message}: {exc.details}") from exc
    except UnknownResourceUnit as exc:  # no redelivery adds the unit to the price book
        raise PermanentEventError(f"{exc.message}: {exc.details}") from exc
    except Unprocessable as exc:  # the contract's activation may not have arrived yet
        raise RetryableEventError(f"{exc.message}: {exc.details}") from exc


async def on_sla_period_closed(ctx: EventContext, event: SlaPeriodClosed) -> None:
    await sla_outcomes_received(
        session=ctx.session,
        received=[ReceivedOutcome(event, 0, ctx.envelope.id)],
        emits=[ctx.emit],
        now=ctx.clock.now(),
    )


async def on_sla_period_restated(ctx: EventContext, event: SlaPeriodRestated) -> None:
    await sla_outcomes_received(
        session=ctx.session,
        received=[ReceivedOutcome(event, event.restatement, ctx.envelope.id)],
        emits=[ctx.emit],
        now=ctx.clock.now(),
    )


async def on_contract_amended(ctx: EventContext, event: ContractAmended) -> None:
    await contract_amended(
        session=ctx.session,
        terms=event.terms,
        emit=ctx.emit,
        now=ctx.clock.now(),
        cause=ctx.envelope.id,
    )


_TERMS = contract_terms_handlers()

HANDLERS: Handlers = {
    **_TERMS,
    # The shared projection stores the version first, then periods are recomputed with it.
    "contract.amended": [*_TERMS["contract.amended"], on_contract_amended],
    "consumption.recorded": [on_consumption_recorded],
    "sla.period_closed": [on_sla_period_closed],
    "sla.period_restated": [on_sla_period_restated],
}

TOPICS = [Topic.CONTRACTS.value, Topic.CONSUMPTION.value, Topic.SLA.value]
