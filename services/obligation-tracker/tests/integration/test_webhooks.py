"""Webhooks to a real local HTTP receiver: signed as Standard Webhooks say (checked with the
official `standardwebhooks` library and the verifiers the docs show), retried with backoff,
logged, and a subscription disabled with its reason after repeated failures."""

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook, WebhookVerificationError

import crm_testing.examples as examples
from crm_events.schemas.contracts import ContractActivated
from crm_testing.apps import running_app
from crm_testing.kafka import make_event, publish_envelope, wait_until
from crm_testing.webhooks import ReceivedRequest, WebhookReceiver
from obligation_tracker.main import PURGE_JOB, create_app
from obligation_tracker.models import WebhookDelivery, WebhookSubscription
from obligation_tracker.webhooks.delivery import DeliveryWorker
from obligation_tracker.webhooks.secret_box import secret_box
from obligation_tracker.webhooks.service import purge_delivery_log

GUIDE = Path(__file__).resolve().parents[4] / "docs" / "obligation-tracker.md"
KICKOFF = {"code": "KICKOFF", "title": "Kick-off meeting", "owner_role": "account_executive"}


def documented_verifiers() -> dict[str, Callable[[str, dict[str, str], bytes], Any]]:
    """The verifiers docs/obligation-tracker.md shows, run as they are written there."""
    blocks = re.findall(
        r"<!-- webhook-verifier[^>]*-->\n```python\n(.*?)```", GUIDE.read_text(), re.DOTALL
    )
    assert len(blocks) == 2, "the guide shows the library verifier and the raw one"
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(block, namespace)
    return {"verify": namespace["verify"], "verify_raw": namespace["verify_raw"]}


def accepts(secret: str, hit: ReceivedRequest, body: bytes | None = None) -> bool:
    """Whether the delivery verifies with `secret`: the official library, the guide's
    library verifier and its raw HMAC verifier are asked, and must agree."""
    raw = hit.body if body is None else body
    doc = documented_verifiers()

    def raises_not(verify: Callable[[], Any]) -> bool:
        try:
            verify()
        except WebhookVerificationError:
            return False
        return True

    verdicts = {
        "library": raises_not(lambda: Webhook(secret).verify(raw, hit.headers)),
        "guide": raises_not(lambda: doc["verify"](secret, hit.headers, raw)),
        "guide_raw": doc["verify_raw"](secret, hit.headers, raw),
    }
    assert len(set(verdicts.values())) == 1, verdicts
    return verdicts["library"]


def new_tenant() -> str:
    # Each test its own tenant: events other tests left on the session's topics never
    # reach its receiver.
    return f"tenant-{uuid.uuid4().hex[:8]}"


async def subscribe(client: Any, url: str, tenant: str, **body: Any) -> dict[str, Any]:
    resp = await client.post("/webhooks", json={"url": url, "tenant_id": tenant, **body})
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


async def failed_period(tracker: Any, make_terms: Any, tenant: str) -> uuid.UUID:
    """A contract whose March failed: one alert.raised for the tenant."""
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid, tenant_id=tenant))
    await tracker.publish("sla.period_closed", examples.period_closed(cid), tenant=tenant)
    return cid


async def kickoff(bootstrap: str, make_terms: Any, clock: Any, tenant: str) -> None:
    """A contract with one obligation definition: one obligation.created for the tenant."""
    cid = uuid.uuid4()
    terms = make_terms(
        cid, tenant_id=tenant, start_date="2026-12-07", obligation_definitions=[KICKOFF]
    )
    event = make_event(
        "contract.activated",
        subject=str(cid),
        data=ContractActivated(terms=terms, activated_at=clock.now()),
        tenant=tenant,
    )
    await publish_envelope(bootstrap, event)


async def settled(client: Any, hook_id: str, attempts: int) -> dict[str, Any]:
    """The subscription's one delivery, once delivered after `attempts` attempts."""

    async def done() -> dict[str, Any] | None:
        log = (await client.get(f"/webhooks/{hook_id}/deliveries")).json()["items"]
        ok = log and log[0]["status"] == "delivered" and len(log[0]["attempt_log"]) == attempts
        return log[0] if ok else None

    found: dict[str, Any] = await wait_until(done, message=f"{attempts} attempt(s) logged")
    return found


async def test_an_alert_reaches_the_receiver_signed_and_logged(
    tracker: Any, make_terms: Any
) -> None:
    tenant = new_tenant()
    async with WebhookReceiver() as receiver:
        hook = await subscribe(tracker.client, receiver.url, tenant, description="ERP")
        assert hook["secret"].startswith("whsec_") and hook["event_types"] == ["alert.raised"]
        cid = await failed_period(tracker, make_terms, tenant)
        credit = examples.credit_calculated(cid)
        await tracker.publish("billing.credit_calculated", credit, tenant=tenant)
        [hit] = await receiver.wait_for()
        delivery = await settled(tracker.client, hook["id"], attempts=1)
        alerts = (await tracker.client.get("/alerts", params={"contract_id": str(cid)})).json()[
            "items"
        ]

    assert Webhook(hook["secret"]).verify(hit.body, hit.headers) == hit.json
    event = hit.json
    assert (event["type"], event["subject"], event["specversion"]) == (
        "alert.raised",
        str(cid),
        "1.0",
    )
    assert hit.headers["webhook-id"] == event["id"] == delivery["event_id"]
    assert abs(int(hit.headers["webhook-timestamp"]) - time.time()) < 60
    assert hit.headers["x-crm-event-type"] == "alert.raised"
    assert not {"x-crm-signature", "x-crm-timestamp", "x-crm-event-id"} & set(hit.headers)
    assert event["data"]["alert_id"] == alerts[0]["id"]
    assert len(receiver.requests) == 1  # the credit joined the alert; no second webhook
    assert [(a["attempt"], a["status_code"]) for a in delivery["attempt_log"]] == [(1, 200)]
    # The secret is shown once, at creation.
    read = (await tracker.client.get(f"/webhooks/{hook['id']}")).json()
    assert "secret" not in read

    # Delivered deliveries are forgotten after the retention period.
    async with tracker.app.state.session_factory() as session, session.begin():
        await session.execute(
            sa.update(WebhookDelivery).values(delivered_at=sa.func.now() - timedelta(days=31))
        )
    await tracker.run(PURGE_JOB, purge_delivery_log)
    assert (await tracker.client.get(f"/webhooks/{hook['id']}/deliveries")).json()["items"] == []


async def test_every_attempt_verifies_with_the_official_library_and_the_documented_code(
    tracker: Any, make_terms: Any
) -> None:
    tenant = new_tenant()
    async with WebhookReceiver(statuses=[500]) as receiver:
        hook = await subscribe(tracker.client, receiver.url, tenant)
        await failed_period(tracker, make_terms, tenant)
        first, retry = await receiver.wait_for(count=2)

    # The same message on every attempt (receivers dedupe on webhook-id), signed afresh.
    assert first.headers["webhook-id"] == retry.headers["webhook-id"] == first.json["id"]
    assert first.body == retry.body
    assert accepts(hook["secret"], first) and accepts(hook["secret"], retry)
    # One byte changed, or another secret: refused.
    tampered = first.body.replace(b'"alert.raised"', b'"alert.raisec"')
    assert tampered != first.body and not accepts(hook["secret"], first, tampered)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(hook["secret"]).verify(tampered, first.headers)
    other = (await tracker.client.post(f"/webhooks/{hook['id']}/rotate-secret")).json()
    assert not accepts(other["secret"], first)


async def test_during_a_rotation_deliveries_carry_both_signatures(
    tracker: Any, make_terms: Any
) -> None:
    tenant = new_tenant()
    async with WebhookReceiver() as receiver:
        hook = await subscribe(tracker.client, receiver.url, tenant)
        old = hook["secret"]
        await failed_period(tracker, make_terms, tenant)
        [before] = await receiver.wait_for()
        delivery = await settled(tracker.client, hook["id"], attempts=1)
        redeliver = f"/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver"

        rotated = (await tracker.client.post(f"/webhooks/{hook['id']}/rotate-secret")).json()
        await tracker.client.post(redeliver)
        [_, during] = await receiver.wait_for(count=2)
        await settled(tracker.client, hook["id"], attempts=2)

        # A leak: the next rotation stops the replaced secret at once.
        leaked = await tracker.client.post(
            f"/webhooks/{hook['id']}/rotate-secret", json={"overlap_seconds": 0}
        )
        await tracker.client.post(redeliver)
        [*_, after] = await receiver.wait_for(count=3)

    new = rotated["secret"]
    assert len(before.headers["webhook-signature"].split(" ")) == 1
    assert accepts(old, before) and not accepts(new, before)
    # Both signatures, the new secret's first; either secret verifies the delivery.
    signatures = during.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert accepts(new, during) and accepts(old, during)
    assert Webhook(new).verify(during.body, during.headers) == during.json
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(days=1)
    # After the overlap was stopped: only the newest secret signs.
    assert leaked.json()["previous_secret_expires_at"] is None
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert accepts(leaked.json()["secret"], after)
    assert not accepts(new, after) and not accepts(old, after)
    assert (
        before.headers["webhook-id"] == during.headers["webhook-id"] == after.headers["webhook-id"]
    )


async def test_a_previous_secret_is_forgotten_once_its_overlap_ended(tracker: Any) -> None:
    hook = await subscribe(tracker.client, "https://x.example/h", new_tenant())
    await tracker.client.post(f"/webhooks/{hook['id']}/rotate-secret")
    subscriptions = WebhookSubscription.__table__

    async def previous() -> Any:
        async with tracker.app.state.session_factory() as session:
            query = sa.select(subscriptions.c.previous_secret_encrypted).where(
                subscriptions.c.id == uuid.UUID(hook["id"])
            )
            return await session.scalar(query)

    await tracker.run(PURGE_JOB, purge_delivery_log)
    sealed = await previous()
    assert secret_box(tracker.app.state.settings).open(sealed) == hook["secret"]  # it lasts
    async with tracker.app.state.session_factory() as session, session.begin():
        await session.execute(
            sa.update(subscriptions).values(previous_secret_expires_at=sa.func.now())
        )
    await tracker.run(PURGE_JOB, purge_delivery_log)
    assert await previous() is None


async def test_a_stale_timestamp_is_refused(
    tracker_settings: Any, make_terms: Any, kafka_bootstrap: str, clock: Any
) -> None:
    """A delivery signed ten minutes ago (a captured request replayed, or a sender clock
    that is off): the library and the documented verifiers refuse it."""
    settings = tracker_settings.model_copy(update={"webhooks_enabled": False})
    tenant = new_tenant()
    async with (
        WebhookReceiver() as receiver,
        running_app(create_app(settings, clock=clock)) as (app, client),
    ):
        hook = await subscribe(client, receiver.url, tenant, event_types=["obligation.created"])
        await kickoff(kafka_bootstrap, make_terms, clock, tenant)
        worker = DeliveryWorker(
            app.state.session_factory, settings, wall_clock=lambda: time.time() - 600
        )
        try:

            async def attempted() -> bool:
                return await worker.run_once() > 0

            await wait_until(attempted, message="the delivery attempted")
        finally:
            await worker.close()
        [hit] = await receiver.wait_for()

    assert int(hit.headers["webhook-timestamp"]) < time.time() - 590
    assert not accepts(hook["secret"], hit)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(hook["secret"]).verify(hit.body, hit.headers)


async def test_a_failing_receiver_is_retried_then_disabled_with_the_reason(
    tracker_settings: Any, make_terms: Any, kafka_bootstrap: str, clock: Any
) -> None:
    settings = tracker_settings.model_copy(update={"webhook_disable_after_failures": 3})
    tenant = new_tenant()
    async with (
        WebhookReceiver(default_status=503) as receiver,
        running_app(create_app(settings, clock=clock)) as (_, client),
    ):
        hook = await subscribe(client, receiver.url, tenant, event_types=["obligation.created"])
        await kickoff(kafka_bootstrap, make_terms, clock, tenant)  # one delivery

        async def disabled() -> dict[str, Any] | None:
            read = (await client.get(f"/webhooks/{hook['id']}")).json()
            return read if not read["enabled"] else None

        read: Any = await wait_until(disabled, message="subscription disabled")
        log = (await client.get(f"/webhooks/{hook['id']}/deliveries")).json()["items"]
        assert read["disabled_reason"].startswith("3 consecutive failed attempts; last: HTTP 503")
        [delivery] = log
        assert delivery["status"] == "pending" and delivery["attempts"] == 3
        assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 503, 503]
        assert len(receiver.requests) == 3

        # The receiver is fixed; re-enabling delivers what waited.
        receiver.default_status = 200
        resp = await client.patch(f"/webhooks/{hook['id']}", json={"enabled": True})
        assert resp.json()["enabled"] is True and resp.json()["consecutive_failures"] == 0

        async def delivered() -> bool:
            log = (await client.get(f"/webhooks/{hook['id']}/deliveries")).json()["items"]
            return log[0]["status"] == "delivered"

        await wait_until(delivered, message="delivered after re-enabling")
    assert [r.status for r in receiver.requests] == [503, 503, 503, 200]
    assert receiver.requests[-1].headers["x-crm-attempt"] == "4"


async def test_a_subscription_receives_only_its_tenant_and_its_event_types(
    tracker: Any, make_terms: Any
) -> None:
    cid, tenant, other = uuid.uuid4(), new_tenant(), new_tenant()
    async with WebhookReceiver() as mine, WebhookReceiver() as theirs:
        await subscribe(tracker.client, mine.url, tenant, event_types=["obligation.created"])
        await tracker.client.post(
            "/webhooks",
            json={"url": theirs.url, "event_types": ["obligation.created"]},
            headers={"X-Tenant-Id": other},
        )
        await tracker.activate(make_terms(cid, tenant_id=tenant))
        hits = await mine.wait_for(count=4)
    assert {(h.json["type"], h.json["subject"]) for h in hits} == {("obligation.created", str(cid))}
    assert theirs.requests == []


async def test_bad_subscriptions_are_refused_with_the_field(tracker: Any) -> None:
    bad_url = await tracker.client.post("/webhooks", json={"url": "ftp://x", "tenant_id": "a"})
    assert bad_url.status_code == 422
    assert bad_url.json()["error"]["details"][0]["loc"] == "body.url"
    bad_type = await tracker.client.post(
        "/webhooks",
        json={"url": "https://x.example", "tenant_id": "a", "event_types": ["sla.breached"]},
    )
    assert bad_type.json()["error"]["details"][0]["loc"] == "body.event_types[0]"
    no_tenant = await tracker.client.post("/webhooks", json={"url": "https://x.example"})
    assert no_tenant.json()["error"]["details"][0]["loc"] == "body.tenant_id"
    short_secret = await tracker.client.post(
        "/webhooks", json={"url": "https://x.example", "tenant_id": "a", "secret": "short"}
    )
    assert short_secret.json()["error"]["details"][0]["loc"] == "body.secret"
    # A secret of the client's: whsec_ and the base64 of 24 to 64 bytes (16 here).
    too_few_bytes = await tracker.client.post(
        "/webhooks",
        json={"url": "https://x.example", "tenant_id": "a", "secret": "whsec_" + "A" * 22},
    )
    assert "24 to 64 random bytes" in too_few_bytes.json()["error"]["details"][0]["message"]
    assert (await tracker.client.get(f"/webhooks/{uuid.uuid4()}")).status_code == 404
