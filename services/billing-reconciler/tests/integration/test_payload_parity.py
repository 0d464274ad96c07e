"""The worked example read over HTTP and from billing.v1: the credit, the March statement,
the invoice's reconciliation and each discrepancy carry the same field names, the same JSON
types and the same values in the response and in the event, but for the read models'
documented HTTP-only fields."""

from __future__ import annotations

from typing import Any

from billing_harness import Billing

from billing_reconciler.credits.schemas import CreditRead
from billing_reconciler.periods.schemas import PeriodChargesRead
from billing_reconciler.reconciliation.schemas import DiscrepancyRead, ReconciliationRead
from crm_testing import examples


def json_types(value: Any) -> Any:
    """A JSON value's shape: the type of each leaf, objects and arrays followed."""
    if isinstance(value, dict):
        return {k: json_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_types(v) for v in value]
    return type(value).__name__


def assert_same_resource(
    http: dict[str, Any], event: dict[str, Any], http_only: frozenset[str]
) -> None:
    assert set(http) - set(event) == http_only
    assert set(event) <= set(http)
    shared = {k: http[k] for k in event}
    assert json_types(shared) == json_types(event)
    assert shared == event


async def test_the_worked_example_reads_the_same_over_http_and_on_kafka(billing: Billing) -> None:
    await billing.activate(examples.contract_terms(contract_id=billing.contract_id))
    assert (
        await billing.consume(examples.consumption_items(billing.contract_id))
    ).status_code == 202
    await billing.close(examples.PERIOD, "failed")
    # The credit first: an invoice posted before the close is handled is reconciled twice
    # (without the credit, then with it), and its first reconciliation is not the one read.
    [credit_event] = await billing.wait("billing.credit_calculated")
    doc = examples.invoice_document(billing.contract_id)
    posted = await billing.client.post("/invoices", json=doc)
    assert posted.status_code == 201, posted.text
    invoice_id = posted.json()["invoice"]["id"]

    [credit] = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
    assert credit["credit_amount"] == "4414.08"
    assert_same_resource(credit, credit_event.data, CreditRead.http_only)

    charges = (await billing.client.get(f"/contracts/{billing.subject}/charges/2026-03")).json()
    assert charges["expected_total"] == "87545.92" and charges["revision"] is not None
    [charges_event] = await billing.wait(
        "billing.charges_computed", lambda e: e.data["revision"] == charges["revision"]
    )
    assert [line["formula"] for line in charges_event.data["lines"]] == [
        line["explanation"]["formula"] for line in charges["lines"]
    ]
    assert_same_resource(charges, charges_event.data, PeriodChargesRead.http_only)

    reconciliation = (await billing.client.get(f"/invoices/{invoice_id}/reconciliation")).json()
    [completed] = await billing.wait("reconciliation.completed")
    assert (completed.data["discrepancies"], completed.data["difference"]) == (2, "4694.08")
    assert_same_resource(reconciliation, completed.data, ReconciliationRead.http_only)

    found = await billing.wait("reconciliation.discrepancy_found", count=2)
    by_id = {e.data["discrepancy_id"]: e.data for e in found}
    for discrepancy in reconciliation["discrepancies_found"]:
        event = by_id[discrepancy["discrepancy_id"]]
        assert_same_resource(discrepancy, event, DiscrepancyRead.http_only)
    arc = reconciliation["discrepancies_found"][0]
    assert arc["explanation"] == (
        "arc SRV-WIN: billed quantity 16 (line 2), measured 14: "
        + arc["explanation_detail"]["formula"]
    )
