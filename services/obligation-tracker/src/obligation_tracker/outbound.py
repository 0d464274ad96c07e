"""Events that leave the service for people and systems: staged in the outbox for Kafka and
queued for the webhook subscriptions that want them, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.consumer import EventContext
from crm_events.envelope import Envelope
from crm_events.outbox import publish_many
from crm_platform.emitter import Emit
from obligation_tracker.webhooks.service import enqueue, enqueue_many


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


class Message(Protocol):
    """An event to publish, caused by the consumed event number `index` of a run."""

    @property
    def index(self) -> int: ...
    @property
    def event_type(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def data(self) -> BaseModel: ...


def caused_by(ctx: EventContext, message: Message) -> Envelope:
    """The envelope `ctx.emit` would stage for the message."""
    return ctx.envelope_for(
        message.event_type, subject=message.subject, data=message.data, tenant=message.tenant
    )


async def publish_caused(
    session: AsyncSession, messages: Sequence[Message], causes: Sequence[EventContext]
) -> list[Envelope]:
    """Stage the messages of a run of consumed events (`causes`, indexed by the messages) in
    the outbox and the webhook queue: one statement each, in the messages' order."""
    envelopes = [caused_by(causes[m.index], m) for m in messages]
    await publish_many(session, envelopes)
    await enqueue_many(session, envelopes)
    return envelopes


async def publish_emitted(
    session: AsyncSession, messages: Sequence[Message], emit: Emit
) -> list[Envelope]:
    """Stage the messages one by one through `emit` (a request's or a handler's)."""
    return [
        await publish_outbound(
            session, emit, m.event_type, subject=m.subject, tenant=m.tenant, data=m.data
        )
        for m in messages
    ]
