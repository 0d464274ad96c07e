"""`Idempotency-Key` on obligation-tracker's creating POSTs: a retry with the same key and
body is the first response (one row); the same key with another body is refused (422). A
webhook's secret is shown once: a replay says the same subscription with `secret` null, and
only to the API key that sent the first request."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from crm_events.schemas.access import ApiKeyIssued
from crm_platform.apikeys import new_key, record_issued, sha256_hex
from crm_testing.auth import bearer


def new_tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"


def tenant_headers(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key, "X-Tenant-Id": new_tenant()}


async def post_twice(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    first = await client.post(path, json=body, headers=headers)
    again = await client.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    return first, again


def refused_as_reused(resp: httpx.Response) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "idempotency_key_reused"
    assert resp.json()["error"]["details"][0]["loc"] == "header.Idempotency-Key"


async def another_key_of(tracker: Any, tenant: str) -> str:
    """A second API key of the tenant, as access.v1 would have brought it."""
    key_id, secret, key = new_key()
    issued = ApiKeyIssued(
        key_id=key_id,
        name="second integration",
        tenant_id=tenant,
        scopes=["obligations:write"],
        secret_sha256=sha256_hex(secret),
        issued_at=datetime.now(UTC),
    )
    async with tracker.app.state.session_factory() as session, session.begin():
        await record_issued(session, issued)
    return key


async def test_a_retried_alert_rule_is_the_first_one(tracker: Any) -> None:
    headers = tenant_headers("rule-1")
    body = {"event_type": "billing.credit_calculated", "min_amount": "1000.00"}
    first, again = await post_twice(tracker.client, "/alert-rules", body, headers)
    assert again.json() == first.json()
    rules = (await tracker.client.get("/alert-rules", headers=headers)).json()["items"]
    assert [r["id"] for r in rules if r["tenant_id"] == headers["X-Tenant-Id"]] == [
        first.json()["id"]
    ]
    # Without the key the same request is a second rule for the same scope: 409.
    plain = {"X-Tenant-Id": headers["X-Tenant-Id"]}
    assert (await tracker.client.post("/alert-rules", json=body, headers=plain)).status_code == 409
    other = {**body, "min_amount": "2000.00"}
    refused_as_reused(await tracker.client.post("/alert-rules", json=other, headers=headers))


async def test_a_retried_subscription_is_the_first_one_without_its_secret_again(
    tracker: Any,
) -> None:
    headers = tenant_headers("hook-1")
    tenant = headers["X-Tenant-Id"]
    body = {"url": "https://erp.example.com/hooks/crm", "description": "ERP"}
    first, again = await post_twice(tracker.client, "/webhooks", body, headers)
    assert first.json()["secret"].startswith("whsec_")
    assert again.json() == {**first.json(), "secret": None}
    listed = (await tracker.client.get("/webhooks", headers={"X-Tenant-Id": tenant})).json()[
        "items"
    ]
    assert [h["id"] for h in listed] == [first.json()["id"]]
    refused_as_reused(
        await tracker.client.post("/webhooks", json={**body, "description": "CRM"}, headers=headers)
    )

    # Another key of the tenant sending the same key and body made no request before: it
    # gets a subscription of its own, with its secret, and never sees the first one's.
    theirs = await tracker.client.post(
        "/webhooks",
        json=body,
        headers={"Idempotency-Key": "hook-1", **bearer(await another_key_of(tracker, tenant))},
    )
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != first.json()["id"]
    assert theirs.json()["secret"] not in (None, first.json()["secret"])


async def test_a_retried_rotation_rotates_once(tracker: Any) -> None:
    tenant = new_tenant()
    hook = (
        await tracker.client.post(
            "/webhooks", json={"url": "https://x.example/h"}, headers={"X-Tenant-Id": tenant}
        )
    ).json()
    path = f"/webhooks/{hook['id']}/rotate-secret"
    headers = {"Idempotency-Key": "rotate-1"}
    first = await tracker.client.post(path, headers=headers)
    again = await tracker.client.post(path, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == {**first.json(), "secret": None}
    assert first.json()["secret"] not in (None, hook["secret"])
    read = (await tracker.client.get(f"/webhooks/{hook['id']}")).json()
    assert read["updated_at"] == first.json()["updated_at"]  # no second rotation
