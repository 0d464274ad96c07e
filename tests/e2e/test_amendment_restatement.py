"""A retroactive amendment, across four processes: the credit of a failed March is taken
back and the invoice reconciled again.

DESIGN.md's worked example fails March (99.4609% against expected 99.9 / minimum 99.5):
credit 4,414.08, and the supplier's invoice, which applies no credit, shows an
unapplied_credit of 4,414.08. The deal team then corrects AVAIL-CORE's levels to 99.4 / 99.0
from the contract's start (version 2, effective 2026-01-01, inside the 90-day restatement
window of March's close): sla-monitor restates March as met, billing-reconciler revises the
credit to 0.00 (delta −4,414.08: what an ERP books) and reconciles the invoice again, which
is left with the consumption_error of 280.00 alone.
"""

from decimal import Decimal
from typing import Any

import httpx

from crm_events.envelope import Envelope
from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.chain import activate_contract
from crm_testing.kafka import EventCollector
from crm_testing.stack import Stack

TOPICS = ["sla.v1", "billing.v1"]


async def _failed_march_with_invoice(
    http: httpx.AsyncClient, stack: Stack, kafka: EventCollector, doc: dict[str, Any]
) -> str:
    sla, billing = stack.url("sla-monitor"), stack.url("billing-reconciler")
    cid = await activate_contract(http, stack, doc)
    consumption = await http.post(
        f"{billing}/consumption", json={"items": examples.consumption_items(cid)}
    )
    assert consumption.status_code == 202, consumption.text
    outage = {"service_key": doc["sla_definitions"][0]["service_key"], **examples.OUTAGE}
    posted = await http.post(f"{sla}/telemetry", json={"tenant_id": "acme-bank", "items": [outage]})
    assert posted.status_code == 202, posted.text
    closed = await http.post(
        f"{sla}/contracts/{cid}/slas/AVAIL-CORE/periods/{examples.PERIOD}/close"
    )
    assert closed.status_code == 200 and closed.json()["outcome"] == "failed", closed.text
    [credit] = await kafka.wait_for(lambda e: _of(e, cid, "billing.credit_calculated"), timeout=60)
    assert (credit.data["credit_amount"], credit.data["revision"]) == ("4414.08", 1)

    invoice = await http.post(f"{billing}/invoices", json=examples.invoice_document(cid))
    assert invoice.status_code == 201, invoice.text
    [first] = await kafka.wait_for(lambda e: _of(e, cid, "reconciliation.completed"), timeout=60)
    assert first.data["sums_by_class"]["unapplied_credit"] == "4414.08"
    return cid


def _of(e: Envelope, cid: str, event_type: str, **data: Any) -> bool:
    return (
        e.type == event_type
        and e.subject == cid
        and all(e.data.get(k) == v for k, v in data.items())
    )


async def test_an_amendment_that_makes_a_failed_march_met_takes_its_credit_back(
    stack: Stack, kafka_bootstrap: str
) -> None:
    registry, billing = stack.url("contract-registry"), stack.url("billing-reconciler")
    doc = examples.contract_document()
    async with (
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
        EventCollector(kafka_bootstrap, TOPICS) as kafka,
    ):
        cid = await _failed_march_with_invoice(http, stack, kafka, doc)

        terms = {**doc}
        terms["sla_definitions"] = [
            {**doc["sla_definitions"][0], "expected_level": "99.4", "minimum_level": "99.0"},
            *doc["sla_definitions"][1:],
        ]
        amended = await http.post(
            f"{registry}/contracts/{cid}/amendments",
            json={
                "effective_from": "2026-01-01",
                "note": "CR-7: AVAIL-CORE levels corrected from the start",
                "terms": terms,
                "activate": True,
            },
        )
        assert amended.status_code == 201, amended.text

        [restated] = await kafka.wait_for(lambda e: _of(e, cid, "sla.period_restated"), timeout=60)
        data = restated.data
        assert (data["sla_code"], data["period"]["label"], data["restatement"]) == (
            "AVAIL-CORE",
            examples.PERIOD,
            1,
        )
        assert (data["attainment"], data["outcome"], data["contract_version"]) == (
            "99.4609",
            "met",
            2,
        )
        assert (data["previous"]["outcome"], data["previous"]["expected_level"]) == (
            "failed",
            "99.9",
        )
        assert data["reason"] == (
            "contract amended to version 2 (effective 2026-01-01): "
            "expected_level 99.9 → 99.4, minimum_level 99.5 → 99.0"
        )

        # The ERP books the delta: the whole credit back.
        [revised] = await kafka.wait_for(
            lambda e: _of(e, cid, "billing.credit_calculated", revision=2), timeout=60
        )
        assert (
            revised.data["credit_amount"],
            revised.data["previous_amount"],
            revised.data["delta_amount"],
        ) == ("0.00", "4414.08", "-4414.08")
        credits = (await http.get(f"{billing}/contracts/{cid}/credits")).json()["items"]
        assert [(c["credit_amount"], c["delta_amount"]) for c in credits] == [("0.00", "-4414.08")]

        # The invoice, reconciled again: no credit was owed, only the ARC over-billing stays.
        [again] = await kafka.wait_for(
            lambda e: _of(e, cid, "reconciliation.completed", revision=2), timeout=60
        )
        sums = again.data["sums_by_class"]
        assert {k: v for k, v in sums.items() if Decimal(v)} == {"consumption_error": "280.00"}
        assert (again.data["expected_total"], again.data["invoiced_total"]) == (
            "91960.00",
            "92240.00",
        )
        assert len([e for e in kafka.events if _of(e, cid, "sla.period_restated")]) == 1
        assert len([e for e in kafka.events if _of(e, cid, "billing.credit_calculated")]) == 2
