"""The audit log of obligation-tracker's operator actions: fulfilling, waiving and assigning
obligations; creating, changing, rotating and deleting webhook subscriptions — who, what,
before and after (never a signing secret), in the same transaction as the action, read per
contract or tenant, exported on audit.v1 through the outbox."""

from __future__ import annotations

import json
import uuid
from typing import Any

from crm_testing.audit import AuditLog

EVIDENCE = {"by": "j.doe", "evidence": {"note": "Sent to the customer"}}


async def test_fulfil_waive_and_assign_are_audited_per_contract(
    tracker: Any, make_terms: Any
) -> None:
    log = AuditLog(tracker.app, tracker.client)
    operator, headers = await log.key("obligations:write")
    _, reader = await log.key("audit:read")
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))
    first, second = (await tracker.obligations(cid))[:2]

    assigned = await tracker.client.patch(
        f"/obligations/{first['id']}", json={"owner": "k.lee", "by": "a.lee"}, headers=headers
    )
    assert assigned.status_code == 200, assigned.text
    fulfilled = await tracker.client.post(
        f"/obligations/{first['id']}/fulfil", json=EVIDENCE, headers=headers
    )
    assert fulfilled.status_code == 200, fulfilled.text
    waived = await tracker.client.post(
        f"/obligations/{second['id']}/waive",
        json={"by": "a.lee", "reason": "Agreed at the governance board"},
        headers=headers,
    )
    assert waived.status_code == 200, waived.text
    # Refused actions leave nothing: fulfilling twice, waiving a fulfilled obligation,
    # fulfilling without the evidence the obligation requires.
    for path, body in (
        (f"/obligations/{first['id']}/fulfil", EVIDENCE),
        (f"/obligations/{first['id']}/waive", {"by": "a.lee", "reason": "late"}),
        (f"/obligations/{second['id']}/fulfil", {"by": "j.doe"}),
    ):
        refused = await tracker.client.post(path, json=body, headers=headers)
        assert refused.status_code in (409, 422), refused.text
    assert len(await log.rows(contract_id=cid)) == 3

    entries = await log.entries(reader, contract_id=str(cid))
    assert [(e["action"], e["subject_id"]) for e in entries] == [
        ("obligation.assign", first["id"]),
        ("obligation.fulfil", first["id"]),
        ("obligation.waive", second["id"]),
    ]
    assign, fulfil, waive = entries
    assert {e["actor_key_id"] for e in entries} == {operator}
    assert (assign["before"], assign["after"]) == ({"owner": first["owner"]}, {"owner": "k.lee"})
    assert fulfil["before"] == {"status": first["status"]}
    assert fulfil["after"]["status"] == "fulfilled"
    assert fulfil["after"]["resolved_by"] == "j.doe"
    assert fulfil["after"]["evidence"]["note"] == "Sent to the customer"
    assert fulfil["recorded_at"].startswith("2026-12-08T03:00:00")
    assert waive["before"] == {"status": second["status"]}
    assert (waive["after"]["status"], waive["after"]["reason"]) == (
        "waived",
        "Agreed at the governance board",
    )
    for entry in entries:
        event = await log.event(entry["id"])
        assert (event["type"], event["subject"], event["tenant"]) == (
            "audit.recorded",
            str(cid),
            "acme-bank",
        )
        assert event["topic"].endswith("audit.v1")
        assert event["data"]["actor_key_id"] == operator
        assert event["data"]["after"] == entry["after"]


async def test_webhook_changes_are_audited_without_their_secrets(tracker: Any) -> None:
    log = AuditLog(tracker.app, tracker.client)
    tenant = f"audit-{uuid.uuid4().hex[:8]}"
    operator, headers = await log.key("obligations:write", tenant_id=tenant)
    _, reader = await log.key("audit:read", tenant_id=tenant)

    created = await tracker.client.post(
        "/webhooks",
        json={"url": "https://hooks.example.com/crm", "event_types": ["alert.raised"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    path = f"/webhooks/{hook['id']}"
    updated = await tracker.client.patch(
        path, json={"description": "Paging bridge", "enabled": False}, headers=headers
    )
    assert updated.status_code == 200, updated.text
    refused = await tracker.client.patch(path, json={"url": "not a url"}, headers=headers)
    assert refused.status_code == 422
    rotated = await tracker.client.post(f"{path}/rotate-secret", json={}, headers=headers)
    assert rotated.status_code == 200, rotated.text
    deleted = await tracker.client.delete(path, headers=headers)
    assert deleted.status_code == 204
    missing = await tracker.client.delete(path, headers=headers)
    assert missing.status_code == 404

    entries = await log.entries(reader)
    assert [(e["action"], e["subject_type"], e["subject_id"]) for e in entries] == [
        (f"webhook.{verb}", "webhook", hook["id"])
        for verb in ("create", "update", "rotate_secret", "delete")
    ]
    create, update, rotate, delete = entries
    assert {e["actor_key_id"] for e in entries} == {operator}
    assert {e["contract_id"] for e in entries} == {None}
    assert create["before"] is None
    assert create["after"]["url"] == "https://hooks.example.com/crm"
    assert (update["before"]["enabled"], update["after"]["enabled"]) == (True, False)
    assert update["after"]["description"] == "Paging bridge"
    assert rotate["before"]["previous_secret_expires_at"] is None
    assert rotate["after"]["previous_secret_expires_at"] is not None
    assert (delete["before"]["id"], delete["after"]) == (hook["id"], None)

    secrets = [hook["secret"], rotated.json()["secret"]]
    stored = json.dumps(await log.rows(tenant_id=tenant), default=str)
    exported = [json.dumps(await log.event(e["id"])) for e in entries]
    for secret in secrets:
        assert secret and secret not in stored
        assert not any(secret in event for event in exported)
    assert all(json.loads(e)["subject"] == hook["id"] for e in exported)
