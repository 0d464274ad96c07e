"""Alerts: events that need a person's attention, raised once per deduplication key.

The first event about a breach that a rule lets through raises the alert (`alert.raised` on
Kafka and to the webhooks); every later event about the same breach adds its facts to that
alert instead of raising another.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.alerts import AlertRaised
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import NotFound
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page
from obligation_tracker.alerts import rules
from obligation_tracker.alerts.schemas import AlertPage, AlertRead
from obligation_tracker.models import Alert, AlertRule
from obligation_tracker.outbound import publish_outbound


async def evaluate(
    *,
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    tenant_id: str,
    event_type: str,
    payload: Any,
    source_event_id: str,
) -> uuid.UUID | None:
    """Apply the alert rules to one event; returns the id of the alert it raised, if any."""
    found = rules.candidate(event_type, payload)
    if found is None:
        return None
    now = clock.now()
    if await _enrich(session, found, event_type, now):
        return None
    candidates = (
        await session.scalars(
            sa.select(AlertRule).where(
                AlertRule.event_type == event_type,
                sa.or_(AlertRule.tenant_id.is_(None), AlertRule.tenant_id == tenant_id),
                sa.or_(AlertRule.contract_id.is_(None), AlertRule.contract_id == found.contract_id),
            )
        )
    ).all()
    rule = rules.choose_rule(
        candidates, event_type=event_type, tenant_id=tenant_id, contract_id=found.contract_id
    )
    severity = rules.decide(rule, found)
    if severity is None:
        return None
    alert_id = uuid.uuid4()
    inserted = await session.scalar(
        pg_insert(Alert)
        .values(
            id=alert_id,
            tenant_id=tenant_id,
            contract_id=found.contract_id,
            severity=severity,
            title=found.title,
            dedup_key=found.dedup_key,
            source_event_id=source_event_id,
            source_event_type=event_type,
            details=found.details,
            raised_at=now,
            rule_id=rule.id if rule is not None else None,
            occurrences=1,
            event_types=[event_type],
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Alert.id)
    )
    if inserted is None:  # raised concurrently by another event about the same breach
        await _enrich(session, found, event_type, now)
        return None
    await publish_outbound(
        session,
        emit,
        "alert.raised",
        subject=str(found.contract_id),
        tenant=tenant_id,
        data=AlertRaised(
            alert_id=alert_id,
            contract_id=found.contract_id,
            severity=severity,
            title=found.title,
            dedup_key=found.dedup_key,
            source_event_id=source_event_id,
            source_event_type=event_type,
            details=found.details,
            raised_at=now,
        ),
    )
    return alert_id


async def _enrich(
    session: AsyncSession, found: rules.AlertCandidate, event_type: str, now: datetime
) -> bool:
    existing = await session.scalar(
        sa.select(Alert).where(Alert.dedup_key == found.dedup_key).with_for_update()
    )
    if existing is None:
        return False
    existing.details = rules.merge_details(existing.details, found.details)
    existing.occurrences += 1
    if event_type not in existing.event_types:
        existing.event_types = [*existing.event_types, event_type]
    existing.updated_at = now
    return True


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
