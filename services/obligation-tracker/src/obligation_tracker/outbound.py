"""Events that leave the service for people and systems: staged in the outbox for Kafka and
queued for the webhook subscriptions that want them, in the caller's transaction."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.envelope import Envelope
from crm_platform.emitter import Emit
from obligation_tracker.webhooks.service import enqueue


async def publish_outbound(
    session: AsyncSession,
    emit: Emit,
    event_type: str,
    *,
    subject: str,
    tenant: str,
    data: BaseModel,
) -> Envelope:
    envelope = await emit(event_type, subject=subject, data=data, tenant=tenant)
    await enqueue(session, envelope)
    return envelope
