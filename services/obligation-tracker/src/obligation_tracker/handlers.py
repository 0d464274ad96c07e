"""What obligation-tracker does with the events it consumes.

contracts.v1 → the terms projection, then the recurring obligations (generate on
activation, regenerate on amendment, retire on termination); sla.v1 and billing.v1 → the
obligations they call for, the facts of the health snapshot, and the alert rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from pydantic import BaseModel

from crm_events.consumer import EventContext, Handler, Handlers
from crm_events.schemas.billing import CreditCalculated, DiscrepancyFound, VolumeBandExceeded
from crm_events.schemas.contracts import (
    ContractActivated,
    ContractAmended,
    ContractTerminated,
)
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


async def _open_follow_up(
    ctx: EventContext,
    open_follow_up: Callable[..., Awaitable[object]],
    event: BaseModel,
    settings: Settings,
) -> None:
    """The obligation an event calls for: a root-cause report, a dispute, a renegotiation."""
    await open_follow_up(
        session=ctx.session,
        clock=ctx.clock,
        emit=ctx.emit,
        settings=settings,
        event=event,
        source_event_id=ctx.envelope.id,
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


async def on_period_closed(
    ctx: EventContext, event: SlaPeriodClosed, *, settings: Settings
) -> None:
    # A restatement is a period closed again with new figures: the same three steps.
    await record_period_result(
        ctx.session, tenant_id=ctx.envelope.tenant, event=event, now=ctx.clock.now()
    )
    await _open_follow_up(ctx, followups.open_root_cause, event, settings)
    await _alert(ctx, event)


async def on_credit_calculated(ctx: EventContext, event: CreditCalculated) -> None:
    await record_credit(
        ctx.session, tenant_id=ctx.envelope.tenant, event=event, now=ctx.clock.now()
    )
    await _alert(ctx, event)


async def on_discrepancy_found(
    ctx: EventContext, event: DiscrepancyFound, *, settings: Settings
) -> None:
    await _open_follow_up(ctx, followups.open_dispute, event, settings)
    await _alert(ctx, event)


async def on_volume_band_exceeded(
    ctx: EventContext, event: VolumeBandExceeded, *, settings: Settings
) -> None:
    await _open_follow_up(ctx, followups.open_renegotiation, event, settings)
    await _alert(ctx, event)


def make_handlers(settings: Settings) -> Handlers:
    """The handler table, with the service's settings given to the handlers that take them."""

    def configured(handler: Callable[..., Awaitable[None]], **arguments: str) -> Handler:
        return partial(handler, settings=settings, **arguments)

    terms = contract_terms_handlers()
    ours: dict[str, list[Handler]] = {
        "contract.activated": [configured(on_contract_changed, change="activated")],
        "contract.amended": [configured(on_contract_changed, change="amended")],
        "contract.terminated": [configured(on_contract_changed, change="terminated")],
    }
    return {
        # The projection first: the scheduling reads the versions it has just stored.
        **{t: [*terms[t], *ours[t]] for t in terms},
        "sla.period_closed": [configured(on_period_closed)],
        "sla.period_restated": [configured(on_period_closed)],
        "sla.breached": [_alert],
        "sla.at_risk": [_alert],
        "billing.credit_calculated": [on_credit_calculated],
        "reconciliation.discrepancy_found": [configured(on_discrepancy_found)],
        "billing.volume_band_exceeded": [configured(on_volume_band_exceeded)],
    }
