"""Inputs that change after reconciliation: a restated SLA and corrected consumption make a
credit revision with its delta (never a second full credit) and a re-reconciliation."""

from __future__ import annotations

from billing_harness import Billing, sla_restated

from crm_testing import examples


async def _reconciled_worked_example(billing: Billing) -> str:
    await billing.activate(examples.contract_terms(contract_id=billing.contract_id))
    assert (await billing.consume(examples.consumption_items(billing.contract_id))).is_success
    await billing.close("2026-03", "failed")
    await billing.wait("billing.credit_calculated")
    resp = await billing.client.post(
        "/invoices", json=examples.invoice_document(billing.contract_id)
    )
    assert resp.status_code == 201, resp.text
    await billing.wait("reconciliation.completed")
    return str(resp.json()["invoice"]["id"])


async def test_restated_sla_makes_a_delta_credit_and_reconciles_the_invoice_again(
    billing: Billing,
) -> None:
    invoice_id = await _reconciled_worked_example(billing)

    # Restated but still failed (a different attainment): the credit does not move.
    await billing.publish(
        "sla.period_restated",
        sla_restated(
            billing.contract_id,
            "2026-03",
            "failed",
            restatement=1,
            previous="failed",
            attainment="99.41",
        ),
    )
    # Restated to met: the credit is withdrawn by a delta, as revision 2.
    restated = await billing.publish(
        "sla.period_restated",
        sla_restated(
            billing.contract_id,
            "2026-03",
            "met",
            restatement=2,
            previous="failed",
            attainment="99.92",
        ),
    )
    [revision] = await billing.wait("billing.credit_calculated", lambda e: e.data["revision"] == 2)
    assert (
        revision.data["credit_amount"],
        revision.data["previous_amount"],
        revision.data["delta_amount"],
        revision.data["outcome"],
    ) == ("0.00", "4414.08", "-4414.08", "met")
    assert revision.causationid == restated.id
    [again] = await billing.wait("reconciliation.completed", lambda e: e.data["revision"] == 2)
    assert (again.data["expected_total"], again.data["invoiced_total"]) == ("91960.00", "92240.00")
    assert again.data["sums_by_class"]["unapplied_credit"] == "0.00"
    assert again.data["sums_by_class"]["consumption_error"] == "280.00"
    [arc] = await billing.wait(
        "reconciliation.discrepancy_found", lambda e: e.data["revision"] == 2
    )
    assert (arc.data["discrepancy_class"], arc.data["amount"]) == ("consumption_error", "280.00")

    # Restated back to failed: revision 3 gives the credit back, by a delta again.
    await billing.publish(
        "sla.period_restated",
        sla_restated(
            billing.contract_id,
            "2026-03",
            "failed",
            restatement=3,
            previous="met",
            attainment="99.4609",
        ),
    )
    [third] = await billing.wait("billing.credit_calculated", lambda e: e.data["revision"] == 3)
    assert (third.data["credit_amount"], third.data["delta_amount"]) == ("4414.08", "4414.08")
    await billing.wait("reconciliation.completed", lambda e: e.data["revision"] == 3)
    await billing.settle()
    assert [e.data["revision"] for e in billing.of("billing.credit_calculated")] == [1, 2, 3]

    credits = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
    [credit] = credits  # one credit for the SLA and period, with its revisions
    assert credit["credit_amount"] == "4414.08" and credit["revision"] == 3
    assert [(r["credit_amount"], r["delta_amount"]) for r in credit["revisions"]] == [
        ("4414.08", "4414.08"),
        ("0.00", "-4414.08"),
        ("4414.08", "4414.08"),
    ]
    rec = (await billing.client.get(f"/invoices/{invoice_id}/reconciliation")).json()
    assert rec["revision"] == 3 and rec["trigger"] == "sla_period_restated"
    # The ledger counts the current revision only.
    ledger = (await billing.client.get("/leakage", params={"contract_id": billing.subject})).json()
    assert ledger["totals"][0]["over_billed"] == "4694.08"
    # A stale restatement arriving late changes nothing.
    await billing.publish(
        "sla.period_restated",
        sla_restated(billing.contract_id, "2026-03", "met", restatement=2, previous="failed"),
    )
    await billing.settle()
    assert len(billing.of("billing.credit_calculated")) == 3


async def test_corrected_consumption_moves_the_credit_and_the_reconciliation(
    billing: Billing,
) -> None:
    invoice_id = await _reconciled_worked_example(billing)
    record = examples.consumption_items(billing.contract_id)[0]  # SRV-WIN, 214
    # A different quantity under a known record id without the correction flag is refused.
    refused = await billing.consume([{**record, "quantity": "216"}])
    assert refused.status_code == 409
    assert refused.json()["error"]["details"][0]["loc"] == "body.items[0].quantity"
    # The same record again is a duplicate.
    dup = await billing.consume([record])
    assert dup.json() == {"accepted": 0, "duplicates": 1, "corrected": 0}
    # The ERP corrects it: 216 servers. ARC 16 × 140 = 2,240.00; M = 92,240.00;
    # ARA = 11,068.80; credit 4,427.52 (+13.44); the invoice's ARC is now right.
    fixed = await billing.consume([{**record, "quantity": "216", "correction": True}])
    assert fixed.json() == {"accepted": 0, "duplicates": 0, "corrected": 1}
    [credit] = await billing.wait("billing.credit_calculated", lambda e: e.data["revision"] == 2)
    assert (
        credit.data["credit_amount"],
        credit.data["previous_amount"],
        credit.data["delta_amount"],
        credit.data["at_risk_amount"],
    ) == ("4427.52", "4414.08", "13.44", "11068.80")
    [again] = await billing.wait("reconciliation.completed", lambda e: e.data["revision"] == 2)
    assert again.data["expected_total"] == "87812.48"
    assert again.data["sums_by_class"]["consumption_error"] == "0.00"
    assert again.data["sums_by_class"]["unapplied_credit"] == "4427.52"
    rec = (await billing.client.get(f"/invoices/{invoice_id}/reconciliation")).json()
    assert rec["trigger"] == "consumption_changed"
    history = (
        await billing.client.get(f"/contracts/{billing.subject}/periods/2026-03/consumption")
    ).json()["items"]
    srv = next(r for r in history if r["resource_unit"] == "SRV-WIN")
    assert (srv["quantity"], srv["revision"]) == ("216", 2)
    assert [r["quantity"] for r in srv["revisions"]] == ["214", "216"]
    # Late consumption for another unit of the period arrives as a CSV upload.
    late = (
        "record_id,contract_id,resource_unit,period_label,quantity\n"
        f"late-1,{billing.subject},TCK-L1,2026-03,800\n"
    )
    posted = await billing.consume_csv(late)
    assert posted.status_code == 202 and posted.json()["accepted"] == 1
    # TCK-L1 now 5,500: within the 10% deadband (4,500–5,500): nothing owed changes.
    await billing.settle()
    assert len(billing.of("reconciliation.completed")) == 2
    bad = await billing.consume_csv(
        late.replace("late-1", "late-2").replace(",800", ",800 servers")
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["loc"] == "body.line[2].quantity"
