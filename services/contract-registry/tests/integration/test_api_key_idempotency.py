"""`Idempotency-Key` on `POST /admin/api-keys`: a retry never mints a second key and never
shows the key again. The replay is the first response with `api_key` null, only to the
administrator key that sent the first request; the secret is stored nowhere (only its hash,
in `api_keys`)."""

import sqlalchemy as sa

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_platform.idempotency import idempotency_table
from crm_testing.apps import running_app, settings_for
from crm_testing.auth import bearer

BODY = {"name": "acme ERP", "tenant_id": "acme-bank", "scopes": ["billing:read"]}


async def test_a_retried_issue_is_the_same_key_without_its_secret(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    headers = {"Idempotency-Key": "issue-acme-erp"}
    async with running_app(create_app(settings)) as (app, client):
        first = await client.post("/admin/api-keys", json=BODY, headers=headers)
        again = await client.post("/admin/api-keys", json=BODY, headers=headers)
        other_body = await client.post(
            "/admin/api-keys", json={**BODY, "name": "acme CRM"}, headers=headers
        )
        listed = (await client.get("/admin/api-keys")).json()["items"]

        # Another administrator's key, the same Idempotency-Key and body: its own new key.
        admin = await client.post("/admin/api-keys", json={"name": "ops", "scopes": ["admin"]})
        theirs = await client.post(
            "/admin/api-keys", json=BODY, headers={**headers, **bearer(admin.json()["api_key"])}
        )
        async with app.state.session_factory() as session:
            stored = (await session.scalars(sa.select(idempotency_table.c.response))).all()

    assert first.status_code == again.status_code == 201, (first.text, again.text)
    key = first.json()
    assert key["api_key"].startswith(f"crm_{key['key_id']}_")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**key, "api_key": None}
    assert [k["key_id"] for k in listed if k["name"] == "acme ERP"] == [key["key_id"]]
    assert other_body.status_code == 422
    assert other_body.json()["error"]["code"] == "idempotency_key_reused"

    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["key_id"] != key["key_id"] and theirs.json()["api_key"]
    # What a replay could show holds no secret.
    assert {r["api_key"] for r in stored} == {None}
    assert key["api_key"] not in str(stored) and theirs.json()["api_key"] not in str(stored)


async def test_revoking_with_a_key_is_refused_not_ignored(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with running_app(create_app(settings)) as (_, client):
        key = (await client.post("/admin/api-keys", json=BODY)).json()
        path = f"/admin/api-keys/{key['key_id']}/revoke"
        refused = await client.post(path, json={}, headers={"Idempotency-Key": "r-1"})
        still = (await client.get("/admin/api-keys")).json()["items"]
        revoked = await client.post(path, json={"reason": "rotated"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "idempotency_key_not_supported"
    assert "revoking is idempotent by itself" in error["message"]
    assert [k["revoked_at"] for k in still] == [None]
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
