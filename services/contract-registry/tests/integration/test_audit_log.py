"""The audit log of contract-registry's operator actions: activating, amending, terminating
and importing contracts; issuing and revoking API keys — who, what, before and after (never
a key's secret), in the same transaction as the action, read per contract, exported on
audit.v1 through the outbox."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_platform.clock import FixedClock
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.audit import AuditLog
from crm_testing.auth import bearer

NOW = datetime(2026, 5, 10, 14, tzinfo=UTC)


@pytest.fixture
async def registry(database_url: str, kafka_bootstrap: str) -> AsyncIterator[AuditLog]:
    settings = settings_for(
        Settings, database_url=database_url, bootstrap=kafka_bootstrap, expiry_interval_seconds=3600
    )
    async with running_app(create_app(settings, clock=FixedClock(NOW))) as (app, client):
        yield AuditLog(app, client)


def document() -> dict[str, Any]:
    return {**examples.contract_document(), "reference": f"AUDIT-{uuid.uuid4().hex[:8]}"}


async def test_contract_changes_are_audited_per_contract(registry: AuditLog) -> None:
    client = registry.client
    operator, headers = await registry.key("contracts:write")
    _, reader = await registry.key("audit:read")
    doc = document()
    cid = (await client.post("/contracts", json=doc, headers=headers)).json()["id"]
    activated = await client.post(f"/contracts/{cid}/activate", headers=headers)
    assert activated.status_code == 200, activated.text
    terms = copy.deepcopy({k: v for k, v in doc.items() if k != "tenant_id"})
    terms["credit_terms"]["at_risk_pct"] = "15"
    amendment = {"effective_from": "2026-06-01", "terms": terms, "activate": True}
    amended = await client.post(f"/contracts/{cid}/amendments", json=amendment, headers=headers)
    assert amended.status_code == 201, amended.text
    ended = await client.post(
        f"/contracts/{cid}/terminate",
        json={"reason": "Termination for convenience"},
        headers=headers,
    )
    assert ended.status_code == 200, ended.text
    # Refused actions leave nothing: activating or terminating a terminated contract.
    assert (await client.post(f"/contracts/{cid}/activate", headers=headers)).status_code == 409
    again = await client.post(f"/contracts/{cid}/terminate", json={"reason": "x"}, headers=headers)
    assert again.status_code == 409
    assert len(await registry.rows(contract_id=uuid.UUID(cid))) == 3

    entries = await registry.entries(reader, contract_id=cid)
    assert [(e["action"], e["subject_id"]) for e in entries] == [
        ("contract.activate", cid),
        ("contract.activate_amendment", cid),
        ("contract.terminate", cid),
    ]
    activate, amend, terminate = entries
    assert {e["actor_key_id"] for e in entries} == {operator}
    assert {e["recorded_at"][:19] for e in entries} == {"2026-05-10T14:00:00"}
    assert (activate["before"]["status"], activate["after"]["status"]) == ("draft", "active")
    assert (amend["before"]["current_version"], amend["after"]["current_version"]) == (1, 2)
    assert terminate["before"] == {
        "status": "active",
        "current_version": 2,
        "terminates_on": None,
        "termination_reason": None,
    }
    assert terminate["after"] == {
        "status": "terminated",
        "current_version": 2,
        "terminates_on": "2026-05-10",
        "termination_reason": "Termination for convenience",
    }
    for entry in entries:
        event = await registry.event(entry["id"])
        assert (event["type"], event["subject"], event["tenant"]) == (
            "audit.recorded",
            cid,
            "acme-bank",
        )
        assert event["topic"].endswith("audit.v1")
        assert (event["data"]["actor_key_id"], event["data"]["after"]) == (
            operator,
            entry["after"],
        )


async def test_an_import_is_audited_as_the_new_contract(registry: AuditLog) -> None:
    client = registry.client
    operator, headers = await registry.key("contracts:write")
    cid = (await client.post("/contracts", json=document(), headers=headers)).json()["id"]
    await client.post(f"/contracts/{cid}/activate", headers=headers)
    exported = (await client.get(f"/contracts/{cid}/export", headers=headers)).json()
    for version in exported["versions"]:
        version["terms"]["reference"] = f"AUDIT-{uuid.uuid4().hex[:8]}"
    imported = await client.post("/contracts/import", json=exported, headers=headers)
    assert imported.status_code == 201, imported.text
    new_id = imported.json()["contract"]["id"]
    clash = await client.post("/contracts/import", json=exported, headers=headers)
    assert clash.status_code == 409

    [entry] = await registry.entries(contract_id=new_id)
    assert (entry["action"], entry["actor_key_id"], entry["before"]) == (
        "contract.import",
        operator,
        None,
    )
    assert (entry["after"]["status"], entry["after"]["current_version"]) == ("active", 1)
    assert (await registry.event(entry["id"]))["subject"] == new_id


async def test_api_keys_issued_and_revoked_are_audited_without_the_key(
    registry: AuditLog,
) -> None:
    client = registry.client
    admin = (
        await client.post("/admin/api-keys", json={"name": "audit ops", "scopes": ["admin"]})
    ).json()
    as_admin = bearer(admin["api_key"])
    tenant = f"audit-{uuid.uuid4().hex[:8]}"
    body = {"name": "ERP", "tenant_id": tenant, "scopes": ["billing:read"]}
    issued = await client.post("/admin/api-keys", json=body, headers=as_admin)
    assert issued.status_code == 201, issued.text
    key = issued.json()
    revoke = f"/admin/api-keys/{key['key_id']}/revoke"
    revoked = await client.post(revoke, json={"reason": "rotated"}, headers=as_admin)
    assert revoked.status_code == 200, revoked.text
    # Revoking again changes nothing (no row); an unknown key is a 404 (no row).
    assert (await client.post(revoke, json={}, headers=as_admin)).status_code == 200
    unknown = await client.post("/admin/api-keys/0123456789ab/revoke", json={}, headers=as_admin)
    assert unknown.status_code == 404

    _, reader = await registry.key("audit:read", tenant_id=tenant)
    entries = await registry.entries(reader)
    assert [(e["action"], e["subject_type"], e["subject_id"]) for e in entries] == [
        ("api_key.issue", "api_key", key["key_id"]),
        ("api_key.revoke", "api_key", key["key_id"]),
    ]
    issue, revocation = entries
    assert {e["actor_key_id"] for e in entries} == {admin["key_id"]}
    assert {e["contract_id"] for e in entries} == {None}
    assert issue["before"] is None
    assert (issue["after"]["tenant_id"], issue["after"]["scopes"]) == (tenant, ["billing:read"])
    assert (revocation["before"]["revoked_at"], revocation["after"]["revoked_reason"]) == (
        None,
        "rotated",
    )
    assert revocation["after"]["revoked_at"].startswith("2026-05-10T14:00:00")
    # The administrator key that issued it was itself issued by the bootstrap key, for all
    # tenants: the tenant's reader does not see it, an all-tenant reader does.
    everyone = await registry.entries(action="api_key.issue", limit=1000)
    mine = [e for e in everyone if e["subject_id"] == admin["key_id"]]
    assert [(e["actor_key_id"], e["tenant_id"]) for e in mine] == [("bootstrap", "*")]

    secrets = [admin["api_key"], key["api_key"]]
    stored = json.dumps(await registry.rows(tenant_id=tenant), default=str)
    events = [json.dumps(await registry.event(e["id"])) for e in entries]
    for secret in secrets:
        assert secret not in stored and not any(secret in e for e in events)
    assert all(json.loads(e)["subject"] == key["key_id"] for e in events)
