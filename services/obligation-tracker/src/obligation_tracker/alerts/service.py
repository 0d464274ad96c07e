"""Alerts: events that need a person's attention, raised once per deduplication key.

The first event about a breach that a rule lets through raises the alert (`alert.raised` on
Kafka and to the webhooks); every later event about the same breach adds its facts to that
alert instead of raising another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.envelope import Envelope
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import NotFound
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page
from obligation_tracker.alerts.plan import Incoming
from obligation_tracker.alerts.schemas import AlertPage, AlertRead
from obligation_tracker.intake.store import take_in
from obligation_tracker.models import Alert
from obligation_tracker.outbound import Message, publish_emitted


async def evaluate(
    *,
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    tenant_id: str,
    event_type: str,
    payload: Any,
    source_event_id: str,
) -> None:
    """Apply the alert rules to one event (an obligation overdue or escalated) and publish
    the alert it raises through `emit`."""
    incoming = [Incoming(source_event_id, event_type, tenant_id, payload, clock.now())]

    async def publish(messages: Sequence[Message]) -> list[Envelope]:
        return await publish_emitted(session, messages, emit)

    await take_in(session, incoming, settings=None, publish=publish)


# Newest first; the id breaks ties between alerts raised at the same instant.
ALERTS = Keyset(
    "alerts", SortKey(Alert.raised_at, descending=True), SortKey(Alert.id, descending=True)
)


async def list_alerts(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID | None,
    severity: str | None,
    page: PageRequest,
) -> AlertPage:
    query = sa.select(Alert).where(principal.tenant_filter(Alert.tenant_id))
    if contract_id is not None:
        query = query.where(Alert.contract_id == contract_id)
    if severity is not None:
        query = query.where(Alert.severity == severity)
    rows, next_cursor = await fetch_page(session, query, ALERTS, page)
    return AlertPage(items=[AlertRead.model_validate(r) for r in rows], next_cursor=next_cursor)


async def get(*, session: AsyncSession, principal: Principal, alert_id: uuid.UUID) -> AlertRead:
    row = await session.get(Alert, alert_id)
    if row is None or not principal.can_access(row.tenant_id):
        raise NotFound(f"alert {alert_id} not found")
    return AlertRead.model_validate(row)
