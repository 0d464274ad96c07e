"""What obligation-tracker does with the events it consumes.

contracts.v1 → the terms projection, then the recurring obligations (generate on
activation, regenerate on amendment, retire on termination); sla.v1 and billing.v1 → the
obligations they call for, the facts of the health snapshot, and the alert rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from crm_events.consumer import Delivered, EventContext, Handler, Handlers, batched
from crm_events.envelope import Envelope
from crm_events.schemas.contracts import (
    ContractActivated,
    ContractAmended,
    ContractTerminated,
)
from crm_events.topics import Topic
from crm_platform.contract_terms import contract_terms_handlers
from obligation_tracker.alerts.plan import Incoming
from obligation_tracker.intake.store import take_in
from obligation_tracker.obligations.scheduling import on_contract_terms
from obligation_tracker.outbound import Message, publish_caused
from obligation_tracker.settings import Settings

TOPICS = [Topic.CONTRACTS.value, Topic.SLA.value, Topic.BILLING.value]
INTAKE_TYPES = (
    "sla.period_closed",
    "sla.period_restated",
    "sla.breached",
    "sla.at_risk",
    "billing.credit_calculated",
    "reconciliation.discrepancy_found",
    "billing.volume_band_exceeded",
)


async def on_contract_changed(
    ctx: EventContext,
    event: ContractActivated | ContractAmended | ContractTerminated,
    *,
    settings: Settings,
    change: str,
) -> None:
    """contracts.v1, after the shared terms projection: the recurring obligations."""
    await on_contract_terms(
        session=ctx.session,
        clock=ctx.clock,
        emit=ctx.emit,
        settings=settings,
        terms=event.terms,
        change=change,
    )


async def take_in_events(events: Sequence[Delivered[Any]], *, settings: Settings) -> None:
    """sla.v1 and billing.v1: the SLA periods' facts, the obligations the events call for
    (a root-cause report, a dispute, a renegotiation) and the alerts, for a run of events
    of one transaction in one go (see `intake`)."""
    if not events:
        return
    contexts = [e.ctx for e in events]
    session = contexts[0].session
    incoming = [
        Incoming(c.envelope.id, c.envelope.type, c.envelope.tenant, e.payload, c.clock.now())
        for c, e in zip(contexts, events, strict=True)
    ]

    async def publish(messages: Sequence[Message]) -> list[Envelope]:
        return await publish_caused(session, messages, contexts)

    await take_in(session, incoming, settings=settings, publish=publish)


def make_handlers(settings: Settings) -> Handlers:
    """The handler table, with the service's settings given to the handlers that take them."""

    def configured(handler: Callable[..., Awaitable[None]], **arguments: str) -> Handler:
        return partial(handler, settings=settings, **arguments)

    intake = batched(partial(take_in_events, settings=settings))
    terms = contract_terms_handlers()
    ours: dict[str, list[Handler]] = {
        "contract.activated": [configured(on_contract_changed, change="activated")],
        "contract.amended": [configured(on_contract_changed, change="amended")],
        "contract.terminated": [configured(on_contract_changed, change="terminated")],
    }
    return {
        # The projection first: the scheduling reads the versions it has just stored.
        **{t: [*terms[t], *ours[t]] for t in terms},
        # A restatement is a period closed again with new figures: handled the same way.
        **{event_type: [intake] for event_type in INTAKE_TYPES},
    }
