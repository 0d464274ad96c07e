"""Webhooks to a real local HTTP receiver: signed, retried with backoff, logged, and a
subscription disabled with its reason after repeated failures."""

import time
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

import crm_testing.examples as examples
from crm_events.schemas.contracts import ContractActivated
from crm_testing.apps import running_app
from crm_testing.kafka import make_event, publish_envelope, wait_until
from crm_testing.webhooks import WebhookReceiver
from obligation_tracker.main import PURGE_JOB, create_app
from obligation_tracker.models import WebhookDelivery
from obligation_tracker.webhooks.service import purge_delivery_log
from obligation_tracker.webhooks.signing import verify


def new_tenant() -> str:
    # Each test its own tenant: events other tests left on the session's topics never
    # reach its receiver.
    return f"tenant-{uuid.uuid4().hex[:8]}"


async def subscribe(tracker: Any, url: str, tenant: str, **body: Any) -> dict[str, Any]:
    resp = await tracker.client.post("/webhooks", json={"url": url, "tenant_id": tenant, **body})
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


async def test_an_alert_reaches_the_receiver_signed_and_logged(
    tracker: Any, make_terms: Any
) -> None:
    cid, tenant = uuid.uuid4(), new_tenant()
    async with WebhookReceiver() as receiver:
        hook = await subscribe(tracker, receiver.url, tenant, description="ERP")
        assert hook["secret"].startswith("whsec_") and hook["event_types"] == ["alert.raised"]
        await tracker.activate(make_terms(cid, tenant_id=tenant))
        await tracker.publish("sla.period_closed", examples.period_closed(cid), tenant=tenant)
        credit = examples.credit_calculated(cid)
        await tracker.publish("billing.credit_calculated", credit, tenant=tenant)
        [hit] = await receiver.wait_for()

        async def delivered() -> list[dict[str, Any]] | None:
            log = (await tracker.client.get(f"/webhooks/{hook['id']}/deliveries")).json()["items"]
            return log if log and log[0]["status"] == "delivered" else None

        found: Any = await wait_until(delivered, message="delivery logged")
        [delivery] = found
        alerts = (await tracker.client.get("/alerts", params={"contract_id": str(cid)})).json()[
            "items"
        ]

    assert verify(
        hook["secret"],
        hit.headers["x-crm-timestamp"],
        hit.body,
        hit.headers["x-crm-signature"],
        now=int(time.time()),
    )
    event = hit.json
    assert (event["type"], event["subject"], event["specversion"]) == (
        "alert.raised",
        str(cid),
        "1.0",
    )
    assert hit.headers["x-crm-event-id"] == event["id"] == delivery["event_id"]
    assert hit.headers["x-crm-event-type"] == "alert.raised"
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


async def test_a_failing_receiver_is_retried_then_disabled_with_the_reason(
    tracker_settings: Any, make_terms: Any, kafka_bootstrap: str, clock: Any
) -> None:
    settings = tracker_settings.model_copy(update={"webhook_disable_after_failures": 3})
    cid, tenant = uuid.uuid4(), new_tenant()
    async with (
        WebhookReceiver(default_status=503) as receiver,
        running_app(create_app(settings, clock=clock)) as (_, client),
    ):
        hook = (
            await client.post(
                "/webhooks",
                json={
                    "url": receiver.url,
                    "tenant_id": tenant,
                    "event_types": ["obligation.created"],
                },
            )
        ).json()
        # One obligation, so one delivery.
        kickoff = {
            "code": "KICKOFF",
            "title": "Kick-off meeting",
            "owner_role": "account_executive",
        }
        terms = make_terms(
            cid, tenant_id=tenant, start_date="2026-12-07", obligation_definitions=[kickoff]
        )
        await publish_envelope(
            kafka_bootstrap,
            make_event(
                "contract.activated",
                subject=str(cid),
                data=ContractActivated(terms=terms, activated_at=clock.now()),
                tenant=tenant,
            ),
        )

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
        await subscribe(tracker, mine.url, tenant, event_types=["obligation.created"])
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
    assert (await tracker.client.get(f"/webhooks/{uuid.uuid4()}")).status_code == 404
