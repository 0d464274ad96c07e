from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from crm_platform.audit import AuditDep
from crm_platform.deps import CurrentPrincipal, SessionDep, SettingsDep
from crm_platform.idempotency import Idempotency, idempotent, refuse_idempotency_key
from crm_platform.pagination import PageDep
from obligation_tracker.settings import Settings
from obligation_tracker.webhooks import service
from obligation_tracker.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    SecretRotation,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

_SIGNING = (
    "Each delivery is a POST of the event's CloudEvents JSON signed as Standard Webhooks "
    "say (https://www.standardwebhooks.com): `webhook-id` (the event id, the same on every "
    "retry), `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature`: "
    '`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the key the `whsec_` '
    "secret encodes, one per active secret, space-separated (two while a rotation "
    "overlaps). Also `X-CRM-Event-Type`, `X-CRM-Delivery-Id` and `X-CRM-Attempt`. Any 2xx "
    "acknowledges it; anything else is retried with exponential backoff."
)

SHOWN_ONCE = idempotent(shown_once=["secret"])
REDELIVER_REPEATS_SAFELY = (
    "a repeat only schedules one more attempt of the same delivery (receivers dedupe on "
    "`webhook-id`)."
)


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Subscribe a URL to alerts and obligation events",
    description="Registers a receiver for one tenant's events. The response carries the "
    "signing secret; it is never shown again (rotate it if lost). " + _SIGNING,
)
async def create_webhook(
    body: WebhookCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: Annotated[Idempotency, SHOWN_ONCE],
    audit: AuditDep,
) -> JSONResponse:
    work = service.create(session=session, principal=principal, audit=audit, body=body)
    return await idempotency.run(work, status_code=201)


@router.get(
    "",
    response_model=WebhookPage,
    summary="List webhook subscriptions",
    description="Oldest first; never the signing secrets.",
)
async def list_webhooks(
    session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> WebhookPage:
    return await service.list_webhooks(session=session, principal=principal, page=page)


@router.get("/{webhook_id:uuid}", response_model=WebhookRead, summary="One webhook subscription")
async def get_webhook(
    webhook_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> WebhookRead:
    return await service.get(session=session, principal=principal, webhook_id=webhook_id)


@router.patch(
    "/{webhook_id:uuid}",
    response_model=WebhookRead,
    summary="Change a subscription; re-enable one disabled after failures",
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    audit: AuditDep,
) -> WebhookRead:
    return await service.update(
        session=session, principal=principal, audit=audit, webhook_id=webhook_id, body=body
    )


@router.delete(
    "/{webhook_id:uuid}",
    status_code=204,
    summary="Delete a subscription and its delivery log",
)
async def delete_webhook(
    webhook_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, audit: AuditDep
) -> Response:
    await service.delete(session=session, principal=principal, audit=audit, webhook_id=webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id:uuid}/rotate-secret",
    operation_id="rotateWebhookSecret",
    response_model=WebhookCreated,
    summary="Replace the signing secret (the new one is returned once)",
    description="The replaced secret keeps signing beside the new one for `overlap_seconds` "
    "(default a day), so each delivery carries both signatures while receivers switch.",
)
async def rotate_secret(
    webhook_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    idempotency: Annotated[Idempotency, SHOWN_ONCE],
    audit: AuditDep,
    body: SecretRotation | None = None,
) -> JSONResponse:
    assert isinstance(settings, Settings)
    requested = body.overlap_seconds if body is not None else None
    overlap = settings.webhook_secret_overlap_seconds if requested is None else requested
    work = service.rotate_secret(
        session=session,
        principal=principal,
        audit=audit,
        webhook_id=webhook_id,
        overlap_seconds=overlap,
    )
    return await idempotency.run(work)


@router.get(
    "/{webhook_id:uuid}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=DeliveryPage,
    summary="The delivery log: each delivery with every attempt",
    description="Newest first. Each attempt records its number, the receiver's status code "
    "or the network error, and its duration.",
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
) -> DeliveryPage:
    return await service.list_deliveries(
        session=session, principal=principal, webhook_id=webhook_id, status=status, page=page
    )


@router.post(
    "/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/redeliver",
    operation_id="redeliverWebhookDelivery",
    response_model=DeliveryRead,
    summary="Try a delivery again now, with a fresh attempt budget",
)
async def redeliver(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    _key: Annotated[None, refuse_idempotency_key(REDELIVER_REPEATS_SAFELY)],
) -> DeliveryRead:
    return await service.redeliver(
        session=session, principal=principal, webhook_id=webhook_id, delivery_id=delivery_id
    )
