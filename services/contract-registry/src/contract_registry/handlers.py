"""What contract-registry does with the events it consumes: the health read model."""

from __future__ import annotations

from contract_registry.health.service import bump, outcome_column
from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.billing import CreditCalculated
from crm_events.schemas.obligations import ObligationCreated
from crm_events.schemas.sla import SlaPeriodClosed
from crm_events.topics import Topic


async def on_sla_period_closed(ctx: EventContext, event: SlaPeriodClosed) -> None:
    await bump(
        session=ctx.session,
        contract_id=event.contract_id,
        tenant_id=ctx.envelope.tenant,
        period_label=event.period.label,
        now=ctx.clock.now(),
        **{outcome_column(event.outcome.value): 1},
    )


async def on_credit_calculated(ctx: EventContext, event: CreditCalculated) -> None:
    await bump(
        session=ctx.session,
        contract_id=event.contract_id,
        tenant_id=ctx.envelope.tenant,
        period_label=event.period_label,
        now=ctx.clock.now(),
        credits_total=event.credit_amount,
        monthly_charges=event.monthly_charges,
    )


async def on_obligation_created(ctx: EventContext, event: ObligationCreated) -> None:
    label = event.period_label or f"{event.created_at.year:04d}-{event.created_at.month:02d}"
    await bump(
        session=ctx.session,
        contract_id=event.contract_id,
        tenant_id=ctx.envelope.tenant,
        period_label=label,
        now=ctx.clock.now(),
        obligations_opened=1,
    )


HANDLERS: Handlers = {
    "sla.period_closed": [on_sla_period_closed],
    "billing.credit_calculated": [on_credit_calculated],
    "obligation.created": [on_obligation_created],
}

TOPICS = [Topic.SLA.value, Topic.BILLING.value, Topic.OBLIGATIONS.value]
