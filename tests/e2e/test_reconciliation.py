"""The chain continued to the ERP: telemetry and consumption → failed period → credit →
the supplier's invoice reconciled → reconciliation events on Kafka, to the cent.

DESIGN.md's worked example: ARC 14 × 140 = 1,960.00, ARA 11,035.20, credit 4,414.08; the
invoice bills ARC 16 × 140 = 2,240.00 and no credit: consumption_error +280.00,
unapplied_credit +4,414.08; expected 87,545.92 vs invoiced 92,240.00.
"""

import csv
import io
from typing import Any

import httpx

from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.chain import activate_contract
from crm_testing.kafka import EventCollector, wait_until
from crm_testing.stack import Stack


async def test_invoice_is_reconciled_against_the_credit_and_published_for_the_erp(
    stack: Stack,
    kafka_bootstrap: str,
) -> None:
    registry, sla, billing = (
        stack.url(n) for n in ("contract-registry", "sla-monitor", "billing-reconciler")
    )
    doc = examples.contract_document()
    service_key = doc["sla_definitions"][0]["service_key"]

    async with (
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
        EventCollector(kafka_bootstrap, ["billing.v1"]) as kafka,
    ):
        cid = await activate_contract(http, stack, doc)

        # Consumption from the ERP, the outage from monitoring, then March closes.
        consumption = await http.post(
            f"{billing}/consumption", json={"items": examples.consumption_items(cid)}
        )
        assert consumption.status_code == 202, consumption.text
        telemetry = await http.post(
            f"{sla}/telemetry",
            json={
                "tenant_id": "acme-bank",
                "items": [{"service_key": service_key, **examples.OUTAGE, "source_id": "INC-7"}],
            },
        )
        assert telemetry.status_code == 202, telemetry.text
        closed = await http.post(
            f"{sla}/contracts/{cid}/slas/AVAIL-CORE/periods/{examples.PERIOD}/close"
        )
        assert closed.status_code == 200 and closed.json()["outcome"] == "failed", closed.text
        [credit] = await kafka.wait_for(
            lambda e: e.type == "billing.credit_calculated" and e.subject == cid, timeout=60
        )
        assert credit.data["credit_amount"] == "4414.08"

        # The contract's health after the failed period: the SLA and its credit count.
        async def march_health(**expect: object) -> dict[str, Any] | None:
            rows = (await http.get(f"{registry}/contracts/{cid}/health")).json()["items"]
            march = next((r for r in rows if r["period_label"] == examples.PERIOD), None)
            if march and all(march.get(k) == v for k, v in expect.items()):
                return dict(march)
            return None

        before = await wait_until(
            lambda: march_health(slas_failed=1, credits_total="4414.08"),
            timeout=60,
            message="health shows the failed period",
        )
        assert before is not None and before["score"] is not None

        # The ERP posts the supplier's invoice (Idempotency-Key: a retry changes nothing).
        invoice = examples.invoice_document(cid)
        headers = {"Idempotency-Key": f"erp-{invoice['invoice_number']}"}
        posted = await http.post(f"{billing}/invoices", json=invoice, headers=headers)
        assert posted.status_code == 201, posted.text
        retried = await http.post(f"{billing}/invoices", json=invoice, headers=headers)
        assert retried.status_code == 201 and retried.json() == posted.json()

        # What the ERP consumes from billing.v1.
        [completed] = await kafka.wait_for(
            lambda e: e.type == "reconciliation.completed" and e.subject == cid, timeout=60
        )
        expected = examples.RECONCILIATION
        assert completed.data["invoice_number"] == invoice["invoice_number"]
        assert completed.data["expected_total"] == str(expected["expected_total"])
        assert completed.data["invoiced_total"] == str(expected["invoiced_total"])
        assert completed.data["difference"] == str(expected["difference"])
        assert completed.data["sums_by_class"]["consumption_error"] == "280.00"
        assert completed.data["sums_by_class"]["unapplied_credit"] == "4414.08"
        assert (completed.data["status"], completed.data["discrepancies"]) == ("discrepancies", 2)
        found = await kafka.wait_for(
            lambda e: e.type == "reconciliation.discrepancy_found" and e.subject == cid,
            timeout=60,
            count=2,
        )
        assert sorted(
            (e.data["discrepancy_class"], e.data["amount"], e.data["direction"]) for e in found
        ) == [
            ("consumption_error", str(expected["consumption_error"]), "over_billed"),
            ("unapplied_credit", str(expected["unapplied_credit"]), "over_billed"),
        ]
        arc = next(e for e in found if e.data["discrepancy_class"] == "consumption_error")
        assert (arc.data["item_code"], arc.data["expected"], arc.data["invoiced"]) == (
            "SRV-WIN",
            "14",
            "16",
        )
        assert len([e for e in kafka.events if e.type == "reconciliation.completed"]) == 1

        # The reconciled invoice moves the contract's health: inaccurate, with leakage.
        after = await wait_until(
            lambda: march_health(invoices=1), timeout=60, message="health shows the invoice"
        )
        assert after is not None
        assert (after["invoices_accurate"], after["leakage_total"]) == (0, "4694.08")
        accuracy = next(c for c in after["components"] if c["name"] == "invoice_accuracy")
        assert accuracy["score"] == "0" or float(accuracy["score"]) == 0
        assert after["score"] != before["score"]

        # The finance analyst's view: the ledger and the explanation of each number.
        ledger = (
            await http.get(f"{billing}/leakage", params={"contract_id": cid, "group_by": "class"})
        ).json()
        assert {r["discrepancy_class"]: r["amount"] for r in ledger["items"]} == {
            "consumption_error": "280.00",
            "unapplied_credit": "4414.08",
        }
        rec = (
            await http.get(f"{billing}/invoices/{posted.json()['invoice']['id']}/reconciliation")
        ).json()
        credit_line = next(ln for ln in rec["expected_charges"]["lines"] if ln["kind"] == "credit")
        assert credit_line["amount"] == "-4414.08"
        assert credit_line["explanation"]["inputs"]["attainment"] == "99.4609"

        # The same discrepancies as a file, streamed by the running service (chunked).
        async with http.stream(
            "GET", f"{billing}/discrepancies/csv", params={"contract_id": cid}
        ) as export:
            assert export.status_code == 200
            assert export.headers["transfer-encoding"] == "chunked"
            assert "content-length" not in export.headers
            text = (await export.aread()).decode()
        header, *rows = csv.reader(io.StringIO(text, newline=""))
        assert header == list(rec["discrepancies_found"][0])
        assert [dict(zip(header, r, strict=True))["amount"] for r in rows] == [
            "280.00",
            "4414.08",
        ]
