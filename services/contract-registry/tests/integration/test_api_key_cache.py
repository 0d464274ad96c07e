"""API keys on the issuing service with the in-process key cache: a key works the moment
its issue is answered, and is refused the moment its revocation is answered, however long
the cache would keep it."""

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_testing.apps import running_app, settings_for
from crm_testing.auth import bearer

BODY = {"name": "acme ERP", "tenant_id": "acme-bank", "scopes": ["contracts:read"]}


async def test_issued_works_at_once_and_revoked_is_refused_at_once(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(
        Settings,
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        api_key_cache_ttl_seconds=60,
    )
    async with running_app(create_app(settings)) as (app, client):
        issued = await client.post("/admin/api-keys", json=BODY)
        assert issued.status_code == 201, issued.text
        key, key_id = issued.json()["api_key"], issued.json()["key_id"]
        headers = bearer(key)
        assert (await client.get("/contracts", headers=headers)).status_code == 200
        assert key_id in app.state.key_cache._entries

        revoked = await client.post(f"/admin/api-keys/{key_id}/revoke", json={"reason": "x"})
        assert revoked.status_code == 200, revoked.text
        refused = await client.get("/contracts", headers=headers)
        assert refused.status_code == 401, refused.text
        assert key_id not in app.state.key_cache._entries
