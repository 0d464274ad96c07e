"""Strict input on billing-reconciler: quantities and money only as exact decimal strings
(or JSON integers), dates as YYYY-MM-DD, integers and booleans as themselves; consumption
for a resource unit the contract does not have is refused, over HTTP and on Kafka."""

from __future__ import annotations

import uuid
from typing import Any

from billing_harness import Billing

from crm_events.schemas.consumption import ConsumptionRecorded
from crm_testing import examples
from crm_testing.apps import refusals
from crm_testing.kafka import EventCollector

UNITS = "its resource units: SRV-WIN, TCK-L1"


def records(contract_id: uuid.UUID, *quantities: Any) -> list[dict[str, Any]]:
    return [
        {
            "record_id": f"strict-{n}",
            "contract_id": str(contract_id),
            "resource_unit": "SRV-WIN",
            "period_label": "2026-03",
            "quantity": quantity,
        }
        for n, quantity in enumerate(quantities)
    ]


async def test_lax_decimals_dates_and_integers_are_refused_with_their_loc(
    billing: Billing,
) -> None:
    await billing.activate(examples.contract_terms(contract_id=billing.contract_id))
    lax = ["1e3", "1_000", " 5 ", "+5", "NaN", "Infinity", "5.", 1.5, True]
    found = refusals(await billing.consume(records(billing.contract_id, "214", *lax)))
    assert set(found) == {f"body.items[{n}].quantity" for n in range(1, len(lax) + 1)}
    assert found["body.items[1].quantity"] == (
        "quantity: expected a decimal number as a string matching ^-?\\d+(\\.\\d+)?$, for "
        'example "214" or "-12.50" (no exponent, spaces, underscores, plus sign, NaN or '
        "Infinity)"
    )
    assert "not floats" in found["body.items[8].quantity"]
    correction = records(billing.contract_id, "214")[0] | {"correction": "true"}
    assert "body.items[0].correction" in refusals(await billing.consume([correction]))
    # A JSON integer is exact: it is the same quantity as the string.
    accepted = await billing.consume(records(billing.contract_id, 214))
    assert accepted.status_code == 202, accepted.text
    again = await billing.consume(records(billing.contract_id, "214.0"))
    assert again.json()["duplicates"] == 1

    invoice = examples.invoice_document(billing.contract_id)
    invoice["issued_on"] = 0
    invoice["lines"][0]["line_number"] = "1"
    invoice["lines"][1]["amount"] = "2.24e3"
    invoice["correction"] = 1
    found = refusals(await billing.client.post("/invoices", json=invoice))
    assert set(found) == {
        "body.issued_on",
        "body.lines[0].line_number",
        "body.lines[1].amount",
        "body.correction",
    }, found
    for path, loc in [
        (f"/contracts/{billing.subject}/price-book?on=0", "query.on"),
        (f"/contracts/{billing.subject}/price-book?on=2026-03-01T00:00:00Z", "query.on"),
        ("/invoices?limit=5.0", "query.limit"),
        ("/invoices?cursor=-", "query.cursor"),
        (f"/invoices/{uuid.uuid4()}/reconciliation?revision=+1", "query.revision"),
    ]:
        assert loc in refusals(await billing.client.get(path)), path

    csv = (
        "record_id,contract_id,resource_unit,period_label,quantity,correction\n"
        f"c1,{billing.subject},SRV-WIN,2026-03,1e3,\n"
        f"c2,{billing.subject},SRV-WIN,2026-03,10,yes\n"
    )
    found = refusals(await billing.consume_csv(csv))
    assert set(found) == {"body.line[2].quantity", "body.line[3].correction"}, found


async def test_consumption_for_a_unit_the_contract_does_not_have_is_refused_naming_it(
    billing: Billing,
) -> None:
    await billing.activate(examples.contract_terms(contract_id=billing.contract_id))
    items = examples.consumption_items(billing.contract_id)
    items.append({**items[0], "record_id": "lnx-1", "resource_unit": "SRV-LNX"})
    refused = await billing.consume(items)
    found = refusals(refused, code="unknown_resource_unit")
    assert list(found) == ["body.items[2].resource_unit"]
    message = found["body.items[2].resource_unit"]
    assert "'SRV-LNX'" in message and "2026-03" in message and UNITS in message
    assert "SRV-LNX" in refused.json()["error"]["message"]
    url = f"/contracts/{billing.subject}/periods/2026-03/consumption"
    assert (await billing.client.get(url)).json()["items"] == []  # refused whole

    csv = (
        "record_id,contract_id,resource_unit,period_label,quantity\n"
        f"c1,{billing.subject},SRV-WIN,2026-03,214\n"
        f"c2,{billing.subject},srv-win,2026-03,1\n"
    )
    found = refusals(await billing.consume_csv(csv), code="unknown_resource_unit")
    assert list(found) == ["body.line[3].resource_unit"]


async def test_a_consumption_event_for_an_unknown_unit_is_dead_lettered_at_once(
    billing: Billing,
) -> None:
    await billing.activate(examples.contract_terms(contract_id=billing.contract_id))
    item = {**examples.consumption_items(billing.contract_id)[0], "resource_unit": "SRV-LNX"}
    async with EventCollector(billing.bootstrap, ["consumption.v1.dlq"]) as dlq:
        sent = await billing.publish(
            "consumption.recorded", ConsumptionRecorded.model_validate({"items": [item]})
        )
        await dlq.wait_for(lambda e: e.id == sent.id, timeout=60)
    [headers] = [h for _, value, h in dlq.raw if sent.id.encode() in (value or b"")]
    assert headers["dlq.reason"] == b"handler_rejected"
    assert headers["dlq.attempts"] == b"1"  # not retried: no redelivery adds the unit
    error = headers["dlq.error.message"].decode()
    assert "SRV-LNX" in error and UNITS in error
    url = f"/contracts/{billing.subject}/periods/2026-03/consumption"
    assert (await billing.client.get(url)).json()["items"] == []
