"""Alerts reach systems: across the four processes, a failed SLA period opens a root-cause
obligation and delivers one signed webhook to a real local HTTP receiver; a receiver that
fails twice gets the same alert on the third attempt, and the log shows all three."""

import uuid
from typing import Any

import httpx
from standardwebhooks import Webhook

import crm_testing.examples as examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.kafka import wait_until
from crm_testing.stack import Stack
from crm_testing.webhooks import WebhookReceiver


async def _failed_period(stack: Stack, http: httpx.AsyncClient, tenant: str) -> str:
    """A contract of `tenant` whose March fails: created, activated, outage posted, closed."""
    registry, obligations, sla, billing = (
        stack.url(n)
        for n in ("contract-registry", "obligation-tracker", "sla-monitor", "billing-reconciler")
    )
    doc = examples.contract_document(tenant_id=tenant)
    created = await http.post(f"{registry}/contracts", json=doc)
    assert created.status_code == 201, created.text
    cid: str = created.json()["id"]
    assert (await http.post(f"{registry}/contracts/{cid}/activate")).status_code == 200
    for base in (sla, billing, obligations):

        async def known(base: str = base) -> bool:
            return (await http.get(f"{base}/contracts/{cid}/terms")).status_code == 200

        await wait_until(known, timeout=60, message=f"terms at {base}")
    service_key = doc["sla_definitions"][0]["service_key"]
    telemetry = await http.post(
        f"{sla}/telemetry",
        json={"tenant_id": tenant, "items": [{"service_key": service_key, **examples.OUTAGE}]},
    )
    assert telemetry.status_code == 202, telemetry.text
    closed = await http.post(
        f"{sla}/contracts/{cid}/slas/AVAIL-CORE/periods/{examples.PERIOD}/close"
    )
    assert closed.status_code == 200 and closed.json()["outcome"] == "failed", closed.text
    return cid


async def _subscribe(http: httpx.AsyncClient, stack: Stack, url: str, tenant: str) -> Any:
    resp = await http.post(
        f"{stack.url('obligation-tracker')}/webhooks",
        json={"url": url, "event_types": ["alert.raised"], "description": "e2e receiver"},
        headers={"X-Tenant-Id": tenant},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_a_failed_period_opens_a_root_cause_and_delivers_one_signed_webhook(
    stack: Stack,
) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    tracker = stack.url("obligation-tracker")
    async with (
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
        WebhookReceiver() as receiver,
    ):
        hook = await _subscribe(http, stack, receiver.url, tenant)
        cid = await _failed_period(stack, http, tenant)

        [hit] = await receiver.wait_for(timeout=60)

        async def root_cause() -> Any:
            rows = (await http.get(f"{tracker}/contracts/{cid}/obligations")).json()["items"]
            return rows or None

        obligations: Any = await wait_until(root_cause, timeout=60, message="root cause")

        # The credit arrives later and joins the same alert: still one webhook.
        async def credited() -> Any:
            rows = (await http.get(f"{tracker}/alerts", params={"contract_id": cid})).json()[
                "items"
            ]
            return rows if rows and "credit_amount" in rows[0]["details"] else None

        alerts: Any = await wait_until(credited, timeout=60, message="credit joined the alert")
        log = (await http.get(f"{tracker}/webhooks/{hook['id']}/deliveries")).json()["items"]

    # Standard Webhooks: the official library verifies it.
    assert Webhook(hook["secret"]).verify(hit.body, hit.headers) == hit.json
    assert hit.json["type"] == "alert.raised" and hit.json["subject"] == cid
    assert hit.json["tenant"] == tenant
    assert hit.json["data"]["alert_id"] == alerts[0]["id"]
    assert len(receiver.requests) == 1 and len(alerts) == 1
    # No consumption posted here: M = 90,000.00 of base charges, ARA 10,800.00 × 40%.
    assert alerts[0]["details"]["credit_amount"] == "4320.00"
    [obligation] = obligations
    assert obligation["kind"] == "root_cause_report" and obligation["status"] == "open"
    [delivery] = log
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [200]


async def test_a_receiver_failing_twice_gets_the_alert_on_the_third_attempt(stack: Stack) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    tracker = stack.url("obligation-tracker")
    async with (
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
        WebhookReceiver(statuses=[500, 500]) as receiver,
    ):
        hook = await _subscribe(http, stack, receiver.url, tenant)
        cid = await _failed_period(stack, http, tenant)
        hits = await receiver.wait_for(count=3, timeout=90)

        async def delivered() -> Any:
            log = (await http.get(f"{tracker}/webhooks/{hook['id']}/deliveries")).json()["items"]
            return log if log and log[0]["status"] == "delivered" else None

        log: Any = await wait_until(delivered, timeout=60, message="delivery logged")
        alerts = (await http.get(f"{tracker}/alerts", params={"contract_id": cid})).json()["items"]
        subscription = (await http.get(f"{tracker}/webhooks/{hook['id']}")).json()

    [delivery] = log
    assert [(a["attempt"], a["status_code"]) for a in delivery["attempt_log"]] == [
        (1, 500),
        (2, 500),
        (3, 200),
    ]
    assert delivery["attempts"] == 3
    assert len(alerts) == 1
    assert [h.status for h in hits] == [500, 500, 200]
    # The same message, signed afresh each time; the receiver dedupes on webhook-id.
    assert {h.headers["webhook-id"] for h in hits} == {hits[0].json["id"]}
    assert all(Webhook(hook["secret"]).verify(h.body, h.headers) == h.json for h in hits)
    assert subscription["enabled"] is True and subscription["consecutive_failures"] == 0
