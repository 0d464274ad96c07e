"""Alert rules through the API: defaults, a tenant's and a contract's own rules, and what a
tenant may not change."""

import uuid
from typing import Any

import crm_testing.examples as examples
from crm_testing.kafka import wait_until

ACME = {"X-Tenant-Id": "acme-bank"}


async def test_default_rules_are_global_and_a_tenant_cannot_change_them(tracker: Any) -> None:
    rules = (await tracker.client.get("/alert-rules", headers=ACME)).json()["items"]
    by_type = {r["event_type"]: r for r in rules}
    assert {"sla.breached", "sla.period_closed", "billing.credit_calculated"} <= set(by_type)
    assert all(r["tenant_id"] is None for r in rules)
    assert by_type["obligation.overdue"]["enabled"] is False
    rule_id = by_type["sla.breached"]["id"]
    denied = await tracker.client.patch(
        f"/alert-rules/{rule_id}", json={"enabled": False}, headers=ACME
    )
    assert denied.status_code == 403
    allowed = await tracker.client.patch(f"/alert-rules/{rule_id}", json={"min_severity": "high"})
    assert allowed.status_code == 200 and allowed.json()["min_severity"] == "high"


async def test_a_contract_rule_silences_its_contract_only(tracker: Any, make_terms: Any) -> None:
    quiet, loud = uuid.uuid4(), uuid.uuid4()
    for cid in (quiet, loud):
        await tracker.activate(make_terms(cid))
    created = await tracker.client.post(
        "/alert-rules",
        json={"event_type": "sla.period_closed", "contract_id": str(quiet), "enabled": False},
        headers=ACME,
    )
    assert created.status_code == 201, created.text
    assert created.json()["tenant_id"] == "acme-bank"
    duplicate = await tracker.client.post(
        "/alert-rules",
        json={"event_type": "sla.period_closed", "contract_id": str(quiet)},
        headers=ACME,
    )
    assert duplicate.status_code == 409
    unknown = await tracker.client.post(
        "/alert-rules",
        json={"event_type": "sla.period_closed", "contract_id": str(uuid.uuid4())},
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["loc"] == "body.contract_id"

    for cid in (quiet, loud):
        await tracker.publish("sla.period_closed", examples.period_closed(cid))

    async def both_followed_up() -> bool:
        # The root cause is opened in the same transaction as the rule's decision.
        return all(
            [await tracker.obligations(cid, kind="root_cause_report") for cid in (quiet, loud)]
        )

    await wait_until(both_followed_up, message="both periods handled")
    alerts = (await tracker.client.get("/alerts")).json()["items"]
    ours = [a["contract_id"] for a in alerts if a["contract_id"] in (str(quiet), str(loud))]
    assert ours == [str(loud)]


async def test_a_tenant_rule_with_an_amount_threshold_and_a_severity(
    tracker: Any, make_terms: Any
) -> None:
    cid = uuid.uuid4()
    await tracker.activate(make_terms(cid))
    resp = await tracker.client.post(
        "/alert-rules",
        json={
            "event_type": "billing.credit_calculated",
            "min_amount": "1000.00",
            "alert_severity": "critical",
        },
        headers=ACME,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["min_amount"] == "1000.00"
    floats = await tracker.client.post(
        "/alert-rules", json={"event_type": "sla.at_risk", "min_amount": 10.5}, headers=ACME
    )
    assert floats.status_code == 422
    await tracker.publish("billing.credit_calculated", examples.credit_calculated(cid))

    async def raised() -> list[dict[str, Any]]:
        return (await tracker.client.get("/alerts", params={"contract_id": str(cid)})).json()[
            "items"
        ]  # type: ignore[no-any-return]

    found: Any = await wait_until(raised, message="credit alert")
    [alert] = found
    assert alert["severity"] == "critical" and alert["rule_id"] == resp.json()["id"]
