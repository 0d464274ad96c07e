"""Credits an ERP can book whatever order operators close SLAs in, across four processes.

Two identical contracts, three availability SLAs each (allocations 40%, 50% and 60% of the
at-risk amount), all failed in March 2026 by the worked example's outage: 150% of the
at-risk amount 11,035.20 is owed, so the ceiling is shared pro rata —
4,414.08 × 11,035.20 / 16,552.80 = 2,942.72; 3,678.40; 4,414.08.
The operator closes them in one order on the first contract and in the reverse order on the
second: the credits, and the deltas an ERP books from billing.v1, are the same.
"""

from collections import defaultdict
from decimal import Decimal
from functools import partial
from typing import Any

import httpx

from crm_events.envelope import Envelope
from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.kafka import EventCollector, wait_until
from crm_testing.stack import Stack

SLAS = {"AVAIL-CORE": "40", "AVAIL-EDGE": "50", "AVAIL-WEB": "60"}
EXPECTED = {"AVAIL-CORE": "2942.72", "AVAIL-EDGE": "3678.40", "AVAIL-WEB": "4414.08"}


def three_sla_contract() -> dict[str, Any]:
    doc = examples.contract_document()
    sla = doc["sla_definitions"][0]
    doc["sla_definitions"] = [
        {**sla, "code": code, "service_key": f"{sla['service_key']}-{code}", "allocation_pct": pct}
        for code, pct in SLAS.items()
    ]
    return doc


async def _contract_with_three_failed_slas(
    http: httpx.AsyncClient, stack: Stack, kafka: EventCollector
) -> tuple[str, dict[str, Any]]:
    registry, sla, billing = (
        stack.url(n) for n in ("contract-registry", "sla-monitor", "billing-reconciler")
    )
    doc = three_sla_contract()
    cid = (await http.post(f"{registry}/contracts", json=doc)).json()["id"]
    assert (await http.post(f"{registry}/contracts/{cid}/activate")).status_code == 200
    for base in (sla, billing):

        async def known(base: str = base) -> bool:
            return (await http.get(f"{base}/contracts/{cid}/terms")).status_code == 200

        await wait_until(known, message=f"terms at {base}")
    items = [
        {
            "record_id": f"{cid}-{code}",
            "contract_id": cid,
            "resource_unit": code,
            "period_label": examples.PERIOD,
            "quantity": qty,
        }
        for code, qty in examples.CONSUMPTION.items()
    ]
    assert (await http.post(f"{billing}/consumption", json={"items": items})).status_code == 202
    outages = [
        {"service_key": s["service_key"], **examples.OUTAGE, "source_id": f"INC-{s['code']}"}
        for s in doc["sla_definitions"]
    ]
    posted = await http.post(f"{sla}/telemetry", json={"tenant_id": "acme-bank", "items": outages})
    assert posted.status_code == 202, posted.text
    return cid, doc


def _credit_of(cid: str, code: str, e: Envelope) -> bool:
    return e.type == "billing.credit_calculated" and e.subject == cid and e.data["sla_code"] == code


async def _close_in_order(
    http: httpx.AsyncClient, stack: Stack, kafka: EventCollector, cid: str, order: list[str]
) -> None:
    sla = stack.url("sla-monitor")
    for code in order:
        closed = await http.post(
            f"{sla}/contracts/{cid}/slas/{code}/periods/{examples.PERIOD}/close"
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["outcome"] == "failed"
        # The credit of this close is computed before the next close is made.
        await kafka.wait_for(partial(_credit_of, cid, code), timeout=60)


async def test_closing_three_capped_slas_in_two_orders_gives_the_same_credits(
    stack: Stack, kafka_bootstrap: str
) -> None:
    billing = stack.url("billing-reconciler")
    async with (
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
        EventCollector(kafka_bootstrap, ["billing.v1"]) as kafka,
    ):
        first, _ = await _contract_with_three_failed_slas(http, stack, kafka)
        second, _ = await _contract_with_three_failed_slas(http, stack, kafka)
        await _close_in_order(http, stack, kafka, first, list(SLAS))
        await _close_in_order(http, stack, kafka, second, list(reversed(SLAS)))

        async def settled(cid: str) -> dict[str, str] | None:
            rows = (await http.get(f"{billing}/contracts/{cid}/credits")).json()["items"]
            found = {c["sla_code"]: c["credit_amount"] for c in rows}
            return found if found == EXPECTED else None

        for cid in (first, second):
            await wait_until(partial(settled, cid), timeout=60, message="capped credits")

        def credit_events(cid: str) -> list[dict[str, Any]]:
            return [
                e.data
                for e in kafka.events
                if e.type == "billing.credit_calculated" and e.subject == cid
            ]

        def booked(cid: str) -> dict[str, Decimal]:
            deltas: dict[str, Decimal] = defaultdict(Decimal)
            for data in credit_events(cid):
                deltas[data["sla_code"]] += Decimal(data["delta_amount"])
            return dict(deltas)

        want = {k: Decimal(v) for k, v in EXPECTED.items()}

        def all_booked(cid: str) -> bool:
            return booked(cid) == want

        for cid in (first, second):
            await wait_until(partial(all_booked, cid), message="every delta on Kafka")
        last: dict[str, dict[str, dict[str, Any]]] = {}
        for cid in (first, second):
            latest: dict[str, dict[str, Any]] = {}
            for data in credit_events(cid):
                previous, delta = Decimal(data["previous_amount"]), Decimal(data["delta_amount"])
                assert Decimal(data["credit_amount"]) == previous + delta
                if data["revision"] >= latest.get(data["sla_code"], {}).get("revision", 0):
                    latest[data["sla_code"]] = data
            last[cid] = latest
        # An ERP summing the deltas books the same per SLA on both contracts.
        assert booked(first) == booked(second) == want
        comparable = ("credit_amount", "uncapped_amount", "cap_reduction", "at_risk_amount")
        for code in SLAS:
            a, b = last[first][code], last[second][code]
            assert {k: a[k] for k in comparable} == {k: b[k] for k in comparable}
            assert a["explanation"]["formula"] == b["explanation"]["formula"]
        # The first SLA closed on each contract was credited alone first, then cut.
        assert last[first]["AVAIL-CORE"]["revision"] == 2
        assert last[second]["AVAIL-WEB"]["revision"] == 3  # alone, with EDGE, with all
        assert last[first]["AVAIL-WEB"]["revision"] == 1
