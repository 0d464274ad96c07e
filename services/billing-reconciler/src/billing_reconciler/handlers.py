"""What billing-reconciler does with the events it consumes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from typing import TypeVar

from billing_reconciler.consumption.service import UnknownResourceUnit
from billing_reconciler.credits.service import ReceivedOutcome
from billing_reconciler.periods.recompute import Recompute, refresh_many
from billing_reconciler.workflows import (
    Recomputer,
    consumption_events_received,
    contract_amended,
    sla_outcomes_received,
)
from crm_events.consumer import Delivered, EventContext, Handlers, batched
from crm_events.errors import PermanentEventError, RetryableEventError
from crm_events.schemas.consumption import ConsumptionRecorded
from crm_events.schemas.contracts import ContractAmended
from crm_events.schemas.sla import SlaPeriodClosed, SlaPeriodRestated
from crm_events.topics import Topic
from crm_platform.contract_terms import contract_terms_handlers
from crm_platform.errors import Conflict, Unprocessable

# The periods the events of a transaction asked to recompute, kept on its session.
PENDING = "billing_reconciler.pending_recomputes"


def at_commit(ctx: EventContext) -> Recomputer:
    """Recompute the periods once for every event of the transaction, after the last one
    was handled (`ctx.defer`): a contract's month closed by five SLAs is recomputed once,
    and the contracts of a batch are read together."""
    session, now = ctx.session, ctx.clock.now()

    async def recompute_pending() -> None:
        pending: list[Recompute] = session.info.pop(PENDING, [])
        await refresh_many(session=session, requests=pending, now=now)

    async def later(requests: Sequence[Recompute]) -> None:
        session.info.setdefault(PENDING, []).extend(requests)
        ctx.defer(PENDING, recompute_pending)

    return later


@batched
async def on_consumption_recorded(events: Sequence[Delivered[ConsumptionRecorded]]) -> None:
    """The records of a tenant's consecutive events are stored as one batch; an event is
    accepted or refused whole (a refused batch is handled again one event at a time)."""
    for tenant_id, run in groupby(events, key=lambda e: e.ctx.envelope.tenant):
        group = list(run)
        first = group[0].ctx
        try:
            await consumption_events_received(
                session=first.session,
                tenant_id=tenant_id,
                events=[(e.payload.items, e.ctx.emit, e.ctx.envelope.id) for e in group],
                now=first.clock.now(),
                recompute=at_commit(first),
            )
        except Conflict as exc:  # a different quantity under a known id, without correction
            raise PermanentEventError(f"{exc.message}: {exc.details}") from exc
        except UnknownResourceUnit as exc:  # no redelivery adds the unit to the price book
            raise PermanentEventError(f"{exc.message}: {exc.details}") from exc
        except Unprocessable as exc:  # the contract's activation may not have arrived yet
            raise RetryableEventError(f"{exc.message}: {exc.details}") from exc


Outcome = TypeVar("Outcome", bound=SlaPeriodClosed)


async def _outcomes_received(
    events: Sequence[Delivered[Outcome]], restatement: Callable[[Outcome], int]
) -> None:
    first = events[0].ctx
    await sla_outcomes_received(
        session=first.session,
        received=[
            ReceivedOutcome(e.payload, restatement(e.payload), e.ctx.envelope.id) for e in events
        ],
        emits=[e.ctx.emit for e in events],
        now=first.clock.now(),
        recompute=at_commit(first),
    )


@batched
async def on_sla_period_closed(events: Sequence[Delivered[SlaPeriodClosed]]) -> None:
    await _outcomes_received(events, lambda _: 0)


@batched
async def on_sla_period_restated(events: Sequence[Delivered[SlaPeriodRestated]]) -> None:
    await _outcomes_received(events, lambda e: e.restatement)


async def on_contract_amended(ctx: EventContext, event: ContractAmended) -> None:
    """Recomputed with the transaction's other periods: a close handled before it in the
    same transaction keeps causing its credit."""
    await contract_amended(
        session=ctx.session,
        terms=event.terms,
        emit=ctx.emit,
        cause=ctx.envelope.id,
        recompute=at_commit(ctx),
    )


_TERMS = contract_terms_handlers(keep_parsed=True)  # its computations read parsed_terms

HANDLERS: Handlers = {
    **_TERMS,
    # The shared projection stores the version first, then periods are recomputed with it.
    "contract.amended": [*_TERMS["contract.amended"], on_contract_amended],
    "consumption.recorded": [on_consumption_recorded],
    "sla.period_closed": [on_sla_period_closed],
    "sla.period_restated": [on_sla_period_restated],
}

TOPICS = [Topic.CONTRACTS.value, Topic.CONSUMPTION.value, Topic.SLA.value]
