"""Emitting events from a request: the same call shape as `EventContext.emit` in handlers,
so service functions take an `emit` and do not care whether HTTP or Kafka drove them."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.envelope import Envelope
from crm_events.outbox import publish
from crm_events.registry import Payload, spec_for
from crm_platform.db import SessionDep


class Emit(Protocol):
    async def __call__(
        self, event_type: str, *, subject: str, data: Payload, tenant: str | None = None
    ) -> Envelope: ...


class RequestEmitter:
    def __init__(self, session: AsyncSession, source: str, correlation_id: str) -> None:
        self._session = session
        self._source = source
        self._correlation_id = correlation_id

    async def __call__(
        self, event_type: str, *, subject: str, data: Payload, tenant: str | None = None
    ) -> Envelope:
        if tenant is None:
            raise ValueError("an event emitted from a request needs its tenant")
        envelope = spec_for(event_type).envelope(
            source=self._source,
            subject=subject,
            tenant=tenant,
            data=data,
            correlation_id=self._correlation_id,
        )
        await publish(self._session, envelope)
        return envelope


def _emitter(request: Request, session: SessionDep) -> RequestEmitter:
    return RequestEmitter(
        session,
        request.app.state.settings.service_name,
        getattr(request.state, "correlation_id", None) or "unknown",
    )


EmitDep = Annotated[RequestEmitter, Depends(_emitter, scope="function")]
