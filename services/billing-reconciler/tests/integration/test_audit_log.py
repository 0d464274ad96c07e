"""The audit log of billing-reconciler's operator action: computing a period's charges.
A compute that stores a new revision (the money changed) is audited — who, the totals
before and after — in the same transaction, read per contract, exported on audit.v1
through the outbox; a compute that changes nothing, or fails, leaves no row."""

from __future__ import annotations

import uuid

from billing_harness import Billing

from crm_testing import examples
from crm_testing.audit import AuditLog


async def test_a_compute_that_stores_a_revision_is_audited(billing: Billing) -> None:
    log = AuditLog(billing.app, billing.client)
    operator, headers = await log.key("billing:write")
    _, reader = await log.key("audit:read")
    await billing.activate(examples.contract_terms(contract_id=billing.contract_id))
    assert (await billing.consume(examples.consumption_items(billing.contract_id))).is_success
    url = f"/contracts/{billing.subject}/periods/2026-03/compute"

    computed = await billing.client.post(url, headers=headers)
    assert computed.status_code == 200, computed.text
    assert (computed.json()["revision"], computed.json()["monthly_charges"]) == (1, "91960.00")
    # Nothing changed: no new revision, no audit row. An unknown contract: 404, no row.
    again = await billing.client.post(url, headers=headers)
    assert again.json()["revision"] == 1
    unknown = await billing.client.post(
        f"/contracts/{uuid.uuid4()}/periods/2026-03/compute", headers=headers
    )
    assert unknown.status_code == 404
    assert len(await log.rows(actor_key_id=operator)) == 1

    [entry] = await log.entries(reader, contract_id=billing.subject)
    assert (entry["action"], entry["subject_type"], entry["subject_id"]) == (
        "period_charges.compute",
        "period_charges",
        "2026-03",
    )
    assert (entry["actor_key_id"], entry["tenant_id"]) == (operator, "acme-bank")
    assert entry["before"] is None
    assert entry["after"] == {
        "revision": 1,
        "currency": "USD",
        "monthly_charges": "91960.00",
        "expected_total": computed.json()["expected_total"],
        "contract_version": 1,
    }
    event = await log.event(entry["id"])
    assert (event["type"], event["subject"], event["tenant"]) == (
        "audit.recorded",
        billing.subject,
        "acme-bank",
    )
    assert event["topic"].endswith("audit.v1") and event["id"] == entry["event_id"]
    assert (event["data"]["actor_key_id"], event["data"]["after"]) == (operator, entry["after"])
