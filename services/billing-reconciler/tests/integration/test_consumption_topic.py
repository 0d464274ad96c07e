"""consumption.v1: the same rules as HTTP — a record id once, corrections kept as
revisions, a conflicting batch to the DLQ."""

from __future__ import annotations

from typing import Any

from billing_harness import Billing

from crm_events.schemas.consumption import ConsumptionRecorded
from crm_testing import examples
from crm_testing.kafka import EventCollector, wait_until


async def test_consumption_from_kafka_is_stored_once_corrected_and_conflicts_dead_lettered(
    billing: Billing,
) -> None:
    await billing.activate(examples.contract_terms(contract_id=billing.contract_id))
    items = examples.consumption_items(billing.contract_id)
    url = f"/contracts/{billing.subject}/periods/2026-03/consumption"

    async def records() -> list[dict[str, Any]]:
        return list((await billing.client.get(url)).json()["items"])

    async def revisions_of_srv_win(count: int) -> bool:
        srv = [r for r in await records() if r["resource_unit"] == "SRV-WIN"]
        return bool(srv) and len(srv[0]["revisions"]) == count

    await billing.publish(
        "consumption.recorded", ConsumptionRecorded.model_validate({"items": items})
    )
    await billing.publish(
        "consumption.recorded", ConsumptionRecorded.model_validate({"items": items})
    )
    await wait_until(lambda: revisions_of_srv_win(1), message="records stored")
    correction = {**items[0], "quantity": "216", "correction": True}
    await billing.publish(
        "consumption.recorded", ConsumptionRecorded.model_validate({"items": [correction]})
    )
    await wait_until(lambda: revisions_of_srv_win(2), message="correction stored")
    [srv] = [r for r in await records() if r["resource_unit"] == "SRV-WIN"]
    assert [r["quantity"] for r in srv["revisions"]] == ["214", "216"]
    charges = (await billing.client.get(f"/contracts/{billing.subject}/charges/2026-03")).json()
    assert [ln["amount"] for ln in charges["lines"] if ln["kind"] == "arc"] == ["2240.00"]

    async with EventCollector(billing.bootstrap, ["consumption.v1.dlq"]) as dlq:
        conflicting = {**items[0], "quantity": "999"}  # no correction flag
        sent = await billing.publish(
            "consumption.recorded", ConsumptionRecorded.model_validate({"items": [conflicting]})
        )
        await dlq.wait_for(lambda e: e.id == sent.id, timeout=60)
    [srv] = [r for r in await records() if r["resource_unit"] == "SRV-WIN"]
    assert srv["quantity"] == "216"
