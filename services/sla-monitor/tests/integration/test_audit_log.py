"""The audit log of sla-monitor's operator actions: closing a period, approving a maintenance
window and the restatement it causes — who, what, before and after, in the same transaction
as the action, read per contract, exported on audit.v1 through the outbox."""

from datetime import UTC, datetime

from sla_harness import Harness

from crm_testing.audit import AuditLog

OUTAGE = {"started_at": "2026-03-14T03:00:00Z", "ended_at": "2026-03-14T08:00:00Z"}
WINDOW = {
    "start": "2026-03-14T03:00:00Z",
    "end": "2026-03-14T06:00:00Z",
    "reason": "Emergency storage patch CHG0042",
    "approved_by": "J. Smith (Acme change board)",
    "sla_codes": ["AVAIL-CORE"],
}


async def test_close_approve_and_restate_are_audited_with_the_callers_key(
    harness: Harness,
) -> None:
    log = AuditLog(harness.app, harness.client)
    operator, headers = await log.key("sla:write")
    _, reader = await log.key("audit:read")
    cid = str(harness.contract_id)
    windows = f"/contracts/{cid}/maintenance-windows"
    await harness.post(OUTAGE)
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))

    closed = await harness.client.post(harness.url("AVAIL-CORE", suffix="/close"), headers=headers)
    assert closed.status_code == 200, closed.text
    # Refused actions leave nothing: closing again (409), a window ending before it starts.
    again = await harness.client.post(harness.url("AVAIL-CORE", suffix="/close"), headers=headers)
    assert again.status_code == 409
    bad = await harness.client.post(
        windows, json={**WINDOW, "end": "2026-03-14T02:00:00Z"}, headers=headers
    )
    assert bad.status_code == 422
    assert len(await log.rows(contract_id=harness.contract_id)) == 1

    approved = await harness.client.post(windows, json=WINDOW, headers=headers)
    assert approved.status_code == 201, approved.text

    entries = await log.entries(reader, contract_id=cid)
    assert [(e["action"], e["subject_id"]) for e in entries] == [
        ("sla_period.close", "AVAIL-CORE/2026-03"),
        ("sla_period.restate", "AVAIL-CORE/2026-03"),
        ("maintenance_window.approve", approved.json()["id"]),
    ]
    close, restate, approve = entries
    assert {e["actor_key_id"] for e in entries} == {operator}
    assert {e["tenant_id"] for e in entries} == {"acme-bank"}
    assert close["recorded_at"].startswith("2026-04-04T12:00:00")
    assert close["before"] == {"status": "open"}
    assert close["after"] == {
        "status": "closed",
        "attainment": "99.4609",
        "outcome": "failed",
        "closed_at": "2026-04-04T12:00:00Z",
    }
    assert (restate["before"]["attainment"], restate["before"]["outcome"]) == (
        "99.4609",
        "failed",
    )
    assert (restate["after"]["attainment"], restate["after"]["outcome"]) == (
        "99.8647",
        "below_expected",
    )
    assert restate["after"]["restatement"] == 1
    assert approve["before"] is None
    assert approve["after"]["approved_by"] == "J. Smith (Acme change board)"
    assert approve["after"]["restated_periods"] == ["AVAIL-CORE/2026-03"]

    for entry in entries:
        event = await log.event(entry["id"])
        assert event["id"] == entry["event_id"]
        assert (event["type"], event["subject"], event["tenant"]) == (
            "audit.recorded",
            cid,
            "acme-bank",
        )
        assert event["topic"].endswith("audit.v1")
        assert event["data"]["actor_key_id"] == operator
        assert (event["data"]["before"], event["data"]["after"]) == (
            entry["before"],
            entry["after"],
        )


async def test_the_audit_log_is_read_per_tenant_with_its_scope(harness: Harness) -> None:
    log = AuditLog(harness.app, harness.client)
    _, headers = await log.key("sla:write")
    await harness.post(OUTAGE)
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    closed = await harness.client.post(harness.url("AVAIL-CORE", suffix="/close"), headers=headers)
    assert closed.status_code == 200, closed.text
    cid = str(harness.contract_id)

    _, other_tenant = await log.key("audit:read", tenant_id="globex")
    assert await log.entries(other_tenant, contract_id=cid) == []
    _, sla_reader = await log.key("sla:read")
    refused = await harness.client.get("/audit", params={"contract_id": cid}, headers=sla_reader)
    assert refused.status_code == 403
    assert "audit:read" in refused.json()["error"]["message"]
    # The all-tenant administrator reads it, narrowed to the action.
    [entry] = await log.entries(contract_id=cid, action="sla_period.close")
    assert entry["subject_id"] == "AVAIL-CORE/2026-03"
    assert await log.entries(contract_id=cid, action="obligation.waive") == []
