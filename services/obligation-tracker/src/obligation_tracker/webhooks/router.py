from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from crm_platform.audit import AuditDep
from crm_platform.deps import CurrentPrincipal, SessionDep, SettingsDep
from crm_platform.errors import Unprocessable
from crm_platform.idempotency import Idempotency, idempotent, refuse_idempotency_key
from crm_platform.pagination import PageDep
from obligation_tracker.settings import Settings
from obligation_tracker.webhooks import egress, service
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
from obligation_tracker.webhooks.secret_box import secret_box

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

_EGRESS = (
    " The URL is http or https, and its host must resolve to public addresses only: "
    "loopback, private, link-local (cloud metadata), multicast, reserved and unspecified "
    "addresses, and IPv6 addresses carrying them, are refused (422 on `url`) unless the "
    "operator allows them (`OBLIGATION_TRACKER_WEBHOOK_ALLOWED_HOSTS`, "
    "`_ALLOWED_NETWORKS`). Each delivery attempt resolves the host again and connects only "
    "to an address it checked; redirects are not followed."
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
    "signing secret; it is never shown again (it is stored encrypted; rotate it if lost). "
    + _SIGNING
    + _EGRESS,
)
async def create_webhook(
    body: WebhookCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    idempotency: Annotated[Idempotency, SHOWN_ONCE],
    audit: AuditDep,
) -> JSONResponse:
    assert isinstance(settings, Settings)
    await check_url(str(body.url), settings)
    box = secret_box(settings)
    work = service.create(session=session, principal=principal, audit=audit, body=body, box=box)
    return await idempotency.run(work, status_code=201)


async def check_url(url: str, settings: Settings) -> None:
    """422 on `url` when it names (or its host resolves to) an address webhooks may not
    reach. A name that does not resolve yet passes: every attempt checks again."""
    try:
        await asyncio.wait_for(
            egress.check_url(egress.policy_for(settings), url), settings.webhook_timeout_seconds
        )
    except egress.EgressRefused as exc:
        raise Unprocessable(
            f"url: {exc}", details=[{"loc": "body.url", "message": str(exc)}]
        ) from None
    except (egress.Unresolvable, TimeoutError):
        return


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
    description="A new `url` is checked as at creation." + _EGRESS,
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    audit: AuditDep,
    settings: SettingsDep,
) -> WebhookRead:
    assert isinstance(settings, Settings)
    if body.url is not None:
        await check_url(str(body.url), settings)
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
    "(default `OBLIGATION_TRACKER_WEBHOOK_SECRET_OVERLAP_SECONDS`, a day), so each delivery "
    "carries both signatures in `webhook-signature` (`v1,<new> v1,<old>`) while receivers "
    "switch: a receiver accepts a delivery when any one of them verifies with the secret it "
    "holds. After the window only the new secret signs. The new secret is stored encrypted "
    "and shown only in this response.",
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
        box=secret_box(settings),
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
