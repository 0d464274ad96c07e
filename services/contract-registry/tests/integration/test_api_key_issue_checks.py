"""`POST /admin/api-keys` issues keys of the tenant the request acts for only, and never an
already expired key: a body `tenant_id` other than `X-Tenant-Id` (or a tenant admin key's
own tenant) and an `expires_at` not in the future are refused (422 naming the field), and
nothing is issued; valid requests still issue working keys."""

from datetime import UTC, datetime, timedelta

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_platform.clock import FixedClock
from crm_testing.apps import refusals, running_app, settings_for
from crm_testing.auth import bearer

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


async def test_a_body_tenant_other_than_x_tenant_id_is_refused(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    acting_for_a = {"X-Tenant-Id": "issue-a"}
    async with running_app(create_app(settings)) as (_, client):
        other = await client.post(
            "/admin/api-keys",
            json={"name": "cross-tenant", "tenant_id": "issue-b", "scopes": ["contracts:read"]},
            headers=acting_for_a,
        )
        same = await client.post(
            "/admin/api-keys",
            json={"name": "same-tenant", "tenant_id": "issue-a", "scopes": ["contracts:read"]},
            headers=acting_for_a,
        )
        omitted = await client.post(
            "/admin/api-keys",
            json={"name": "tenant-omitted", "scopes": ["admin"]},
            headers=acting_for_a,
        )
        # A tenant's admin key acts for its tenant even without the header.
        tenant_admin = bearer(omitted.json()["api_key"])
        escalating = await client.post(
            "/admin/api-keys",
            json={"name": "escalating", "tenant_id": "issue-b", "scopes": ["admin"]},
            headers=tenant_admin,
        )
        narrowed = await client.post(
            "/admin/api-keys", json={"name": "narrowed", "scopes": ["admin"]}, headers=tenant_admin
        )
        # Without the header an all-tenant administrator issues for any tenant, or for all.
        any_tenant = await client.post(
            "/admin/api-keys",
            json={"name": "any", "tenant_id": "issue-b", "scopes": ["contracts:read"]},
        )
        all_tenants = await client.post(
            "/admin/api-keys", json={"name": "operators", "scopes": ["contracts:read"]}
        )
        names = {k["name"] for k in (await client.get("/admin/api-keys")).json()["items"]}
        audited = await client.get(
            "/audit", params={"action": "api_key.issue"}, headers=acting_for_a
        )

    assert "another tenant than X-Tenant-Id" in refusals(other)["body.tenant_id"]
    assert (
        "issue-b differs from the tenant this request acts for (issue-a"
        in (other.json()["error"]["message"])
    )
    assert "body.tenant_id" in refusals(escalating)
    assert not {"cross-tenant", "escalating"} & names
    assert same.status_code == 201 and same.json()["tenant_id"] == "issue-a", same.text
    assert omitted.status_code == 201 and omitted.json()["tenant_id"] == "issue-a", omitted.text
    assert narrowed.status_code == 201 and narrowed.json()["tenant_id"] == "issue-a"
    assert any_tenant.status_code == 201 and any_tenant.json()["tenant_id"] == "issue-b"
    assert all_tenants.status_code == 201 and all_tenants.json()["tenant_id"] is None
    # The audit log files each key under the tenant it was issued for.
    assert audited.status_code == 200, audited.text
    assert {e["subject_id"] for e in audited.json()["items"]} == {
        same.json()["key_id"],
        omitted.json()["key_id"],
        narrowed.json()["key_id"],
    }


async def test_an_expires_at_not_in_the_future_is_refused(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    body = {"name": "expiring", "tenant_id": "issue-exp", "scopes": ["contracts:read"]}
    async with running_app(create_app(settings, clock=FixedClock(NOW))) as (_, client):
        past = await client.post(
            "/admin/api-keys",
            json={**body, "expires_at": (NOW - timedelta(days=1)).isoformat()},
        )
        now = await client.post("/admin/api-keys", json={**body, "expires_at": NOW.isoformat()})
        future = await client.post(
            "/admin/api-keys",
            json={**body, "expires_at": (NOW + timedelta(seconds=1)).isoformat()},
        )
        works = await client.get("/contracts", headers=bearer(future.json()["api_key"]))
        listed = (await client.get("/admin/api-keys")).json()["items"]

    assert refusals(past)["body.expires_at"] == "in the past"
    assert (
        "expires_at 2026-12-01T09:00:00+00:00 is not in the future"
        in (past.json()["error"]["message"])
    )
    assert refusals(now)["body.expires_at"] == "in the past"
    assert future.status_code == 201, future.text
    assert future.json()["expires_at"] == "2026-12-02T09:00:01Z"
    assert works.status_code == 200, works.text
    assert [k["expires_at"] for k in listed if k["name"] == "expiring"] == [
        future.json()["expires_at"]
    ]
