"""Webhook signing secrets: stored encrypted, shown only when created or rotated (never in a
read, a list, a change, the delivery log or a log line), both signing during a rotation's
window and the new one alone after it, re-encrypted under a new key, and no start without a
key."""

import io
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from crm_events.schemas.contracts import ContractActivated
from crm_testing.apps import running_app
from crm_testing.kafka import make_event, publish_envelope, wait_until
from crm_testing.webhooks import SECRET_KEYS, ReceivedRequest, WebhookReceiver
from obligation_tracker.main import create_app
from obligation_tracker.models import WebhookSubscription
from obligation_tracker.settings import Settings
from obligation_tracker.webhooks import signing
from obligation_tracker.webhooks.delivery import DeliveryWorker
from obligation_tracker.webhooks.rekey import reencrypt
from obligation_tracker.webhooks.secret_box import SecretBox, SecretKeysMissing, new_key

KICKOFF = {"code": "KICKOFF", "title": "Kick-off meeting", "owner_role": "account_executive"}
WORKER_OFF = pytest.mark.parametrize(
    "tracker_settings", [{"webhooks_enabled": False}], indirect=True, ids=["worker-off"]
)


@pytest.fixture
def tracker_settings(tracker_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The tracker's settings, changed by the test's indirect parameter."""
    return tracker_settings.model_copy(update=getattr(request, "param", {}))


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line written meanwhile, rendered as the service renders them."""
    root = logging.getLogger()
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        yield text
    finally:
        root.removeHandler(handler)


async def kickoff(tracker: Any, make_terms: Any, tenant: str) -> None:
    """One obligation.created for the tenant."""
    cid = uuid.uuid4()
    terms = make_terms(
        cid, tenant_id=tenant, start_date="2026-12-07", obligation_definitions=[KICKOFF]
    )
    event = make_event(
        "contract.activated",
        subject=str(cid),
        data=ContractActivated(terms=terms, activated_at=tracker.clock.now()),
        tenant=tenant,
    )
    await publish_envelope(tracker.bootstrap, event)


async def subscribe(client: Any, url: str, tenant: str) -> dict[str, Any]:
    body = {"url": url, "tenant_id": tenant, "event_types": ["obligation.created"]}
    resp = await client.post("/webhooks", json=body)
    assert resp.status_code == 201, resp.text
    hook: dict[str, Any] = resp.json()
    return hook


async def stored(tracker: Any, hook_id: str) -> tuple[str, str | None]:
    s = WebhookSubscription
    async with tracker.app.state.session_factory() as session:
        row = (
            await session.execute(
                sa.select(s.secret_encrypted, s.previous_secret_encrypted).where(
                    s.id == uuid.UUID(hook_id)
                )
            )
        ).one()
    return row[0], row[1]


async def test_a_secret_is_shown_at_creation_and_rotation_only_and_never_logged(
    tracker: Any, make_terms: Any
) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    client = tracker.client
    with captured_logs() as logs:
        async with WebhookReceiver(statuses=[500]) as receiver:
            hook = await subscribe(client, receiver.url, tenant)
            path = f"/webhooks/{hook['id']}"
            await kickoff(tracker, make_terms, tenant)
            await receiver.wait_for(count=2)  # failed once (logged), then delivered
            rotated = (await client.post(f"{path}/rotate-secret")).json()
            answers = [
                await client.get(path),
                await client.get("/webhooks", params={"limit": 100}),
                await client.patch(path, json={"description": "ERP, renamed"}),
                await client.get(f"{path}/deliveries"),
            ]
            [delivery] = answers[-1].json()["items"]
            await client.post(f"{path}/deliveries/{delivery['id']}/redeliver")
            await receiver.wait_for(count=3)  # signed with both secrets now

            async def delivered_twice() -> bool:
                log = (await client.get(f"{path}/deliveries")).json()["items"]
                return log[0]["status"] == "delivered" and len(log[0]["attempt_log"]) == 3

            await wait_until(delivered_twice, message="the redelivery logged")
    secrets = [hook["secret"], rotated["secret"]]
    # The secrets and the keys they encode (the part after whsec_).
    shown = [*secrets, *(s.removeprefix("whsec_") for s in secrets)]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    for answer in answers:
        assert not any(s in answer.text for s in shown), answer.text
    written = logs.getvalue()
    assert "webhooks.attempt_failed" in written and "webhooks.delivered" in written
    assert "POST" in written and "/rotate-secret" in written  # the request lines are here
    assert not any(s in written for s in shown)
    # At rest: neither secret in the clear, and each opens with the service's key.
    sealed, sealed_previous = await stored(tracker, hook["id"])
    assert sealed_previous is not None
    assert not any(s in sealed or s in sealed_previous for s in shown)
    box = SecretBox(SECRET_KEYS)
    assert [box.open(sealed), box.open(sealed_previous)] == [rotated["secret"], hook["secret"]]


def signatures(hit: ReceivedRequest) -> set[str]:
    return set(hit.headers["webhook-signature"].split(" "))


def signed_by(secret: str, hit: ReceivedRequest) -> bool:
    """Whether one of the delivery's signatures is `secret`'s (raw HMAC, any timestamp)."""
    expected = signing.signature(
        secret, hit.headers["webhook-id"], int(hit.headers["webhook-timestamp"]), hit.body
    )
    return expected in signatures(hit)


@WORKER_OFF
async def test_during_the_overlap_both_secrets_sign_and_after_it_the_new_one_alone(
    tracker: Any, tracker_settings: Settings, make_terms: Any
) -> None:
    """The worker's clock (the `webhook-timestamp` clock) is the test's: an attempt an hour
    and a second after the rotation is past its hour of overlap."""
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    client = tracker.client
    offset = 0.0

    async def attempt(expected: int) -> None:
        worker = DeliveryWorker(
            tracker.app.state.session_factory,
            tracker_settings,
            wall_clock=lambda: time.time() + offset,
        )
        try:
            await wait_until(worker.run_once, message="an attempt")
            await receiver.wait_for(count=expected)
        finally:
            await worker.close()

    async with WebhookReceiver() as receiver:
        hook = await subscribe(client, receiver.url, tenant)
        path = f"/webhooks/{hook['id']}"
        await kickoff(tracker, make_terms, tenant)
        await attempt(1)
        [delivery] = (await client.get(f"{path}/deliveries")).json()["items"]
        rotated = (
            await client.post(f"{path}/rotate-secret", json={"overlap_seconds": 3600})
        ).json()
        redeliver = f"{path}/deliveries/{delivery['id']}/redeliver"
        await client.post(redeliver)
        await attempt(2)
        offset = 3601.0
        await client.post(redeliver)
        await attempt(3)
    before, during, after = receiver.requests
    old, new = hook["secret"], rotated["secret"]
    assert signed_by(old, before) and len(signatures(before)) == 1
    # During the overlap: two signatures, the new secret's first; either verifies, with the
    # official library as a receiver would.
    assert during.headers["webhook-signature"].split(" ")[0] == signing.signature(
        new, during.headers["webhook-id"], int(during.headers["webhook-timestamp"]), during.body
    )
    assert Webhook(old).verify(during.body, during.headers) == during.json
    assert Webhook(new).verify(during.body, during.headers) == during.json
    # After it: the new secret alone.
    assert len(signatures(after)) == 1
    assert signed_by(new, after) and not signed_by(old, after)


async def test_rekeying_moves_every_secret_to_the_first_key(tracker: Any) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    hooks = [await subscribe(tracker.client, "https://erp.example/h", tenant) for _ in range(3)]
    rotated = (await tracker.client.post(f"/webhooks/{hooks[0]['id']}/rotate-secret")).json()
    expected = {h["id"]: h["secret"] for h in hooks} | {rotated["id"]: rotated["secret"]}
    newer = new_key()
    both = SecretBox(f"{newer},{SECRET_KEYS}")

    first = await reencrypt(tracker.app.state.session_factory, both, batch=2)
    again = await reencrypt(tracker.app.state.session_factory, both, batch=2)

    # Every subscription was moved (in batches of two); a second run finds nothing to do.
    assert (first.reencrypted, first.unreadable) == (3, 0)
    assert (again.reencrypted, again.unreadable) == (0, 0)
    alone, old = SecretBox(newer), SecretBox(SECRET_KEYS)
    for hook_id, secret in expected.items():
        sealed, previous = await stored(tracker, hook_id)
        assert alone.open(sealed) == secret and both.is_current(sealed)
        assert not old.is_current(sealed)
        if hook_id == rotated["id"]:
            assert previous is not None and alone.open(previous) == hooks[0]["secret"]


async def test_without_a_key_the_service_does_not_start(tracker_settings: Settings) -> None:
    settings = tracker_settings.model_copy(update={"webhook_secret_keys": None})
    with pytest.raises(SecretKeysMissing, match="OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS"):
        async with running_app(create_app(settings)):
            pass
