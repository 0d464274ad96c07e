"""Webhook subscriptions and the queue of deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.envelope import Envelope
from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.db import table_of
from crm_platform.errors import NotFound
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page
from crm_platform.scheduler import JobContext
from obligation_tracker.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from obligation_tracker.settings import Settings
from obligation_tracker.webhooks.schemas import (
    AttemptRead,
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookRead,
    WebhookUpdate,
)
from obligation_tracker.webhooks.secret_box import SecretBox
from obligation_tracker.webhooks.signing import new_secret
from obligation_tracker.webhooks.wakeup import wake_after_commit


def _now() -> datetime:
    # Delivery scheduling is about real network retries, so it runs on the wall clock,
    # not on the service's (injectable) business clock.
    return datetime.now(UTC)


async def enqueue(session: AsyncSession, envelope: Envelope) -> int:
    """Queue the event for every enabled subscription of its tenant that wants its type, in
    the caller's transaction; returns how many deliveries were queued."""
    return await enqueue_many(session, [envelope])


async def enqueue_many(session: AsyncSession, envelopes: Sequence[Envelope]) -> int:
    """`enqueue` for several events: one query for the subscriptions of their tenants, one
    insert for the deliveries; returns how many deliveries were queued."""
    if not envelopes:
        return 0
    subscriptions = (
        await session.execute(
            sa.select(
                WebhookSubscription.id,
                WebhookSubscription.tenant_id,
                WebhookSubscription.event_types,
            ).where(
                WebhookSubscription.tenant_id.in_(sorted({e.tenant for e in envelopes})),
                WebhookSubscription.enabled.is_(True),
            )
        )
    ).all()
    now = _now()
    rows = [
        _delivery(envelope, sid, now)
        for envelope in envelopes
        for sid, tenant_id, event_types in subscriptions
        if tenant_id == envelope.tenant and envelope.type in event_types
    ]
    if not rows:
        return 0
    await session.execute(
        pg_insert(table_of(WebhookDelivery)).on_conflict_do_nothing(
            index_elements=["subscription_id", "event_id"]
        ),
        rows,
    )
    wake_after_commit(session)
    return len(rows)


def _delivery(envelope: Envelope, subscription_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    try:
        contract_id: uuid.UUID | None = uuid.UUID(envelope.subject)
    except ValueError:
        contract_id = None
    return {
        "id": uuid.uuid4(),
        "tenant_id": envelope.tenant,
        "subscription_id": subscription_id,
        "event_id": envelope.id,
        "event_type": envelope.type,
        "contract_id": contract_id,
        "payload": envelope.to_bytes().decode(),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def create(
    *,
    session: AsyncSession,
    principal: Principal,
    audit: Audit,
    body: WebhookCreate,
    box: SecretBox,
) -> WebhookCreated:
    """A subscription; its URL was checked by the caller (`egress.check_url`). The secret is
    stored encrypted and returned here only."""
    tenant_id = principal.resolve_tenant(body.tenant_id)
    now = _now()
    secret = body.secret or new_secret()
    row = WebhookSubscription(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        url=str(body.url),
        secret_encrypted=box.seal(secret),
        event_types=sorted(set(body.event_types)),
        description=body.description,
        enabled=True,
        consecutive_failures=0,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await _audit(audit, "create", None, row)
    return WebhookCreated(**WebhookRead.model_validate(row).model_dump(), secret=secret)


async def _get(
    session: AsyncSession, principal: Principal, webhook_id: uuid.UUID, *, lock: bool = False
) -> WebhookSubscription:
    query = sa.select(WebhookSubscription).where(WebhookSubscription.id == webhook_id)
    if lock:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None or not principal.can_access(row.tenant_id):
        raise NotFound(f"webhook {webhook_id} not found")
    return row


async def get(*, session: AsyncSession, principal: Principal, webhook_id: uuid.UUID) -> WebhookRead:
    return WebhookRead.model_validate(await _get(session, principal, webhook_id))


WEBHOOKS = Keyset(
    "webhooks", SortKey(WebhookSubscription.created_at), SortKey(WebhookSubscription.id)
)
DELIVERIES = Keyset(
    "deliveries",
    SortKey(WebhookDelivery.created_at, descending=True),
    SortKey(WebhookDelivery.id, descending=True),
)


async def list_webhooks(
    *, session: AsyncSession, principal: Principal, page: PageRequest
) -> WebhookPage:
    query = sa.select(WebhookSubscription).where(
        principal.tenant_filter(WebhookSubscription.tenant_id)
    )
    rows, next_cursor = await fetch_page(session, query, WEBHOOKS, page)
    return WebhookPage(items=[WebhookRead.model_validate(r) for r in rows], next_cursor=next_cursor)


async def update(
    *,
    session: AsyncSession,
    principal: Principal,
    audit: Audit,
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
) -> WebhookRead:
    row = await _get(session, principal, webhook_id, lock=True)
    before = WebhookRead.model_validate(row)
    if body.url is not None:
        row.url = str(body.url)
    if body.event_types is not None:
        row.event_types = sorted(set(body.event_types))
    if body.description is not None:
        row.description = body.description
    if body.enabled is True and not row.enabled:
        row.enabled = True
        row.disabled_reason = None
        row.disabled_at = None
        row.consecutive_failures = 0
        wake_after_commit(session)  # its pending deliveries may go now
    elif body.enabled is False and row.enabled:
        row.enabled = False
        row.disabled_reason = "disabled by an operator"
        row.disabled_at = _now()
    row.updated_at = _now()
    await session.flush()
    await _audit(audit, "update", before, row)
    return WebhookRead.model_validate(row)


async def delete(
    *, session: AsyncSession, principal: Principal, audit: Audit, webhook_id: uuid.UUID
) -> None:
    row = await _get(session, principal, webhook_id)
    await _audit(audit, "delete", WebhookRead.model_validate(row), None)
    await session.delete(row)


async def rotate_secret(
    *,
    session: AsyncSession,
    principal: Principal,
    audit: Audit,
    webhook_id: uuid.UUID,
    overlap_seconds: int,
    box: SecretBox,
) -> WebhookCreated:
    """A new secret; the replaced one keeps signing beside it for `overlap_seconds`, so
    receivers can switch without refusing a delivery. Only the latest replaced secret
    overlaps: rotating again drops the one before it."""
    row = await _get(session, principal, webhook_id, lock=True)
    before = WebhookRead.model_validate(row)
    now = _now()
    if overlap_seconds > 0:
        row.previous_secret_encrypted = row.secret_encrypted
        row.previous_secret_expires_at = now + timedelta(seconds=overlap_seconds)
    else:
        row.previous_secret_encrypted = None
        row.previous_secret_expires_at = None
    secret = new_secret()
    row.secret_encrypted = box.seal(secret)
    row.updated_at = now
    await session.flush()
    await _audit(audit, "rotate_secret", before, row)
    return WebhookCreated(**WebhookRead.model_validate(row).model_dump(), secret=secret)


async def list_deliveries(
    *,
    session: AsyncSession,
    principal: Principal,
    webhook_id: uuid.UUID,
    status: str | None,
    page: PageRequest,
) -> DeliveryPage:
    await _get(session, principal, webhook_id)
    query = sa.select(WebhookDelivery).where(WebhookDelivery.subscription_id == webhook_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    deliveries, next_cursor = await fetch_page(session, query, DELIVERIES, page)
    attempts = (
        await session.scalars(
            sa.select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries]))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt, WebhookAttempt.id)
        )
    ).all()
    by_delivery: dict[uuid.UUID, list[AttemptRead]] = {}
    for a in attempts:
        by_delivery.setdefault(a.delivery_id, []).append(AttemptRead.model_validate(a))
    out = []
    for d in deliveries:
        read = DeliveryRead.model_validate(d)
        read.attempt_log = by_delivery.get(d.id, [])
        out.append(read)
    return DeliveryPage(items=out, next_cursor=next_cursor)


async def redeliver(
    *, session: AsyncSession, principal: Principal, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryRead:
    await _get(session, principal, webhook_id)
    row = await session.scalar(
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == webhook_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"delivery {delivery_id} not found")
    # Attempts keep counting in the log; the attempt budget starts again from here.
    row.status = "pending"
    row.budget_start = row.attempts
    row.next_attempt_at = _now()
    row.delivered_at = None
    await session.flush()
    wake_after_commit(session)
    return DeliveryRead.model_validate(row)


async def purge_delivery_log(job: JobContext) -> None:
    """The periodic job: forget delivered deliveries (and their attempts) past retention;
    failed and pending ones stay until someone looks at them. Previous secrets whose
    rotation overlap ended are forgotten too (they sign nothing any more)."""
    settings = job.settings
    assert isinstance(settings, Settings)
    now = _now()
    await job.session.execute(
        sa.update(WebhookSubscription)
        .where(
            WebhookSubscription.previous_secret_encrypted.is_not(None),
            WebhookSubscription.previous_secret_expires_at <= now,
        )
        .values(previous_secret_encrypted=None)
    )
    cutoff = now - timedelta(days=settings.webhook_log_retention_days)
    await job.session.execute(
        sa.delete(WebhookDelivery).where(
            WebhookDelivery.status == "delivered", WebhookDelivery.delivered_at < cutoff
        )
    )


async def _audit(
    audit: Audit,
    verb: str,
    before: WebhookRead | None,
    row: WebhookSubscription | WebhookRead | None,
) -> None:
    """Audit an operator's change of a subscription: its fields before and after, as the
    API shows them (never a signing secret)."""
    after = None if row is None else WebhookRead.model_validate(row)
    subject = after or before
    assert subject is not None
    await audit.record(
        action=f"webhook.{verb}",
        subject_type="webhook",
        subject_id=subject.id,
        tenant_id=subject.tenant_id,
        before=before,
        after=after,
    )
