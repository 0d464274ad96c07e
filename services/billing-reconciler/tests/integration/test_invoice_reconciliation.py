"""The worked example's invoice, reconciled to the cent, stored, published and explained."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from billing_harness import Billing

from crm_testing import examples

CSV = {"content-type": "text/csv"}


async def _worked_example_with_credit(billing: Billing) -> None:
    await billing.activate(examples.contract_terms(contract_id=billing.contract_id))
    posted = await billing.consume(examples.consumption_items(billing.contract_id))
    assert posted.status_code == 202, posted.text
    await billing.close("2026-03", "failed")
    [credit] = await billing.wait("billing.credit_calculated")
    assert credit.data["credit_amount"] == "4414.08"


async def test_worked_example_invoice_is_reconciled_to_the_cent_and_published(
    billing: Billing,
) -> None:
    await _worked_example_with_credit(billing)
    doc = examples.invoice_document(billing.contract_id)
    resp = await billing.client.post("/invoices", json=doc, headers={"Idempotency-Key": "inv-1"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "created"
    rec = body["reconciliation"]
    assert (rec["expected_total"], rec["invoiced_total"], rec["difference"]) == (
        "87545.92",
        "92240.00",
        "4694.08",
    )
    assert [
        (d["discrepancy_class"], d["amount"], d["direction"]) for d in rec["discrepancies_found"]
    ] == [
        ("consumption_error", "280.00", "over_billed"),
        ("unapplied_credit", "4414.08", "over_billed"),
    ]
    assert rec["sums_by_class"]["consumption_error"] == "280.00"
    assert rec["sums_by_class"]["unapplied_credit"] == "4414.08"
    assert rec["sums_by_class"]["rate_error"] == "0.00"
    assert rec["status"] == "discrepancies" and rec["revision"] == 1

    # What the ERP reads from Kafka.
    [completed] = await billing.wait("reconciliation.completed")
    assert completed.data["expected_total"] == "87545.92"
    assert completed.data["invoiced_total"] == "92240.00"
    assert completed.data["sums_by_class"]["consumption_error"] == "280.00"
    assert completed.data["sums_by_class"]["unapplied_credit"] == "4414.08"
    assert completed.data["status"] == "discrepancies" and completed.data["discrepancies"] == 2
    found = await billing.wait("reconciliation.discrepancy_found", count=2)
    by_class = {e.data["discrepancy_class"]: e.data for e in found}
    arc = by_class["consumption_error"]
    assert (arc["amount"], arc["item_code"], arc["line_number"]) == ("280.00", "SRV-WIN", 2)
    assert (arc["expected"], arc["invoiced"]) == ("14", "16")
    assert by_class["unapplied_credit"]["amount"] == "4414.08"
    assert by_class["unapplied_credit"]["item_code"] == "AVAIL-CORE"
    [charges] = await billing.wait("billing.charges_computed", lambda e: "rebates_total" in e.data)
    assert charges.data["expected_total"] == "87545.92"
    assert charges.data["credits_total"] == "-4414.08"

    # Every number explained: clause, version, formula, inputs with their ids.
    invoice_id = body["invoice"]["id"]
    got = (await billing.client.get(f"/invoices/{invoice_id}/reconciliation")).json()
    explanation = got["discrepancies_found"][0]["explanation_detail"]
    assert "SRV-WIN" in explanation["clause"] and explanation["contract_version"] == 1
    assert explanation["formula"] == (
        "(billed 16 − measured 14) × rate 140.00 = 2240.00 − 1960.00 = 280.00"
    )
    assert f"invoice:{doc['invoice_number']}#line-2" in explanation["source_ids"]
    assert f"{billing.contract_id}-SRV-WIN" in explanation["source_ids"]
    credit_expl = got["discrepancies_found"][1]["explanation_detail"]
    assert "11035.20 × allocation 40% = 4414.08" in credit_expl["inputs"]["expected_formula"]
    expected = got["expected_charges"]
    assert [(ln["kind"], ln["item_code"], ln["amount"]) for ln in expected["lines"]] == [
        ("base", "SRV-WIN", "30000.00"),
        ("arc", "SRV-WIN", "1960.00"),
        ("base", "TCK-L1", "60000.00"),
        ("credit", "AVAIL-CORE", "-4414.08"),
    ]

    # The leakage ledger, by class and direction.
    ledger = (
        await billing.client.get(
            "/leakage", params={"contract_id": billing.subject, "group_by": "class,direction"}
        )
    ).json()
    assert [(r["discrepancy_class"], r["direction"], r["amount"]) for r in ledger["items"]] == [
        ("consumption_error", "over_billed", "280.00"),
        ("unapplied_credit", "over_billed", "4414.08"),
    ]
    assert ledger["totals"] == [
        {
            "currency": "USD",
            "over_billed": "4694.08",
            "under_billed": "0.00",
            "net": "4694.08",
            "count": 2,
        }
    ]

    listed = (
        await billing.client.get("/invoices", params={"contract_id": billing.subject})
    ).json()["items"]
    assert [(i["invoice_number"], i["total"], i["line_count"]) for i in listed] == [
        (doc["invoice_number"], "92240.00", 3)
    ]
    detail = (await billing.client.get(f"/invoices/{invoice_id}")).json()
    assert [ln["amount"] for ln in detail["lines"]] == ["30000.00", "2240.00", "60000.00"]

    # A retry with the key replays; the same invoice again is a duplicate; other content
    # under the same number is refused; another tenant sees nothing.
    replay = await billing.client.post("/invoices", json=doc, headers={"Idempotency-Key": "inv-1"})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    again = await billing.client.post("/invoices", json=doc)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    changed = {**doc, "total": "92240.01"}
    refused = await billing.client.post("/invoices", json=changed)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"][0]["loc"] == "body.invoice_number"
    other = await billing.client.get(
        f"/invoices/{invoice_id}/reconciliation", headers={"X-Tenant-Id": "another-bank"}
    )
    assert other.status_code == 404
    await billing.settle()
    assert len(billing.of("reconciliation.completed")) == 1  # nothing published twice


def to_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def test_invoice_in_csv_gives_the_same_reconciliation_and_errors_name_the_line(
    billing: Billing,
) -> None:
    await _worked_example_with_credit(billing)
    csv_text = examples.invoice_csv(billing.contract_id, invoice_number="GLX-CSV-1")
    resp = await billing.client.post("/invoices/csv", content=csv_text, headers=CSV)
    assert resp.status_code == 201, resp.text
    [receipt] = resp.json()["invoices"]
    rec = receipt["reconciliation"]
    assert (rec["expected_total"], rec["invoiced_total"]) == ("87545.92", "92240.00")
    assert [(d["discrepancy_class"], d["amount"]) for d in rec["discrepancies_found"]] == [
        ("consumption_error", "280.00"),
        ("unapplied_credit", "4414.08"),
    ]

    # A corrected invoice (the right ARC, the credit applied) replaces it: revision 2.
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    for row in rows:
        row.update(total="87545.92", correction="true")
    rows[1].update(quantity="14", amount="1960.00")
    rows.append(
        {
            **rows[0],
            "line_number": "4",
            "item_code": "AVAIL-CORE",
            "kind": "credit",
            "description": "Service credit",
            "quantity": "",
            "unit_price": "",
            "amount": "-4414.08",
        }
    )
    again = await billing.client.post("/invoices/csv", content=to_csv(rows), headers=CSV)
    assert again.status_code == 200, again.text
    [receipt2] = again.json()["invoices"]
    assert receipt2["status"] == "corrected" and receipt2["invoice"]["version"] == 2
    assert receipt2["reconciliation"]["status"] == "matched"
    assert receipt2["reconciliation"]["revision"] == 2
    ledger = (await billing.client.get("/leakage", params={"contract_id": billing.subject})).json()
    assert ledger["items"] == []  # the corrected invoice replaced the earlier discrepancies
    history = (
        await billing.client.get(f"/invoices/{receipt['invoice']['id']}/reconciliations")
    ).json()["items"]
    assert [(h["revision"], h["status"], h["is_current"]) for h in history] == [
        (1, "discrepancies", False),
        (2, "matched", True),
    ]

    # Errors name the file line (the header is line 1) and the column.
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    for row in rows:
        row["invoice_number"] = "GLX-CSV-2"
    rows[2]["amount"] = "-60000.00"
    bad = await billing.client.post("/invoices/csv", content=to_csv(rows), headers=CSV)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["loc"] == "body.line[4].amount"
    rows[2]["amount"] = "60,000.00"
    bad = await billing.client.post("/invoices/csv", content=to_csv(rows), headers=CSV)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["loc"] == "body.line[4].amount"
    bad = await billing.client.post(
        "/invoices/csv", content=csv_text.replace("invoice_number,", "number,", 1), headers=CSV
    )
    assert bad.status_code == 422 and "missing column invoice_number" in bad.text


async def test_invoice_with_every_kind_of_mistake(billing: Billing) -> None:
    await _worked_example_with_credit(billing)
    lines = [
        {**examples.INVOICE_LINES[0], "unit_price": "155.00", "amount": "31000.00"},  # rate
        {**examples.INVOICE_LINES[1], "quantity": "14", "amount": "1690.00"},  # arithmetic
        examples.INVOICE_LINES[2],
        {**examples.INVOICE_LINES[2], "line_number": 4},  # the same line twice
        {"line_number": 5, "item_code": "TRAVEL", "kind": "other", "amount": "120.00"},
        {
            "line_number": 6,
            "item_code": "SRV-WIN",
            "kind": "arc",
            "quantity": "2",
            "unit_price": "140.00",
            "amount": "280.00",
            "period_label": "2026-02",
        },
        {"line_number": 7, "item_code": "AVAIL-CORE", "kind": "credit", "amount": "-4000.00"},
    ]
    total = sum(Decimal(ln["amount"]) for ln in lines) + Decimal("10.00")  # total off by 10
    doc = {**examples.invoice_document(billing.contract_id), "lines": lines, "total": str(total)}
    resp = await billing.client.post("/invoices", json=doc)
    assert resp.status_code == 201, resp.text
    rec = resp.json()["reconciliation"]
    found = [
        (d["discrepancy_class"], d["amount"], d["line_number"]) for d in rec["discrepancies_found"]
    ]
    assert found == [
        ("duplicate_line", "60000.00", 4),
        ("unknown_item", "120.00", 5),
        ("out_of_period", "280.00", 6),
        ("rate_error", "1000.00", 1),
        ("computation_error", "-270.00", 2),
        ("unapplied_credit", "414.08", 7),
        ("computation_error", "10.00", None),
    ]
    assert Decimal(rec["difference"]) == sum(Decimal(a) for _, a, _ in found)
    ledger = (
        await billing.client.get("/leakage", params={"period": "2026-03", "group_by": "direction"})
    ).json()
    assert [(r["direction"], r["amount"]) for r in ledger["items"]] == [
        ("over_billed", "61824.08"),
        ("under_billed", "-270.00"),
    ]
