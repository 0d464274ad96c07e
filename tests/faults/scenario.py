"""One fault scenario: stream the workload through a fault, then count what was stored per
record id, time the recovery, and follow the period close through the chain."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.kafka import EventCollector
from crm_testing.stack import PrivateInfra, Stack

from .reflected import count_against, reflected_consumption, reflected_telemetry, rows_per_id
from .workload import (
    CONTRACTS,
    REPORT,
    Contract,
    Figures,
    Sender,
    batches,
    contract_document,
    create_contracts,
    retry_http,
    wait_for,
)

Fault = Callable[[Sender], Awaitable[None]]
CONSUMERS_OF_CONTRACTS = ("sla-monitor", "billing-reconciler", "obligation-tracker")


@dataclass
class Plan:
    """How much to send and how: the short scenarios stream the full workload as fast as it
    goes; the long outages pace a smaller one, so requests keep arriving through them, and
    create contracts meanwhile (contract.activated leaves contract-registry by its outbox)."""

    name: str
    contracts: int = CONTRACTS
    pace: float | None = None  # seconds between batches; None: as fast as they are taken
    late_contracts: int = 0
    crash_during_chain: tuple[str, ...] = ()


async def at_progress(sender: Sender, fraction: float) -> None:
    while sender.done < fraction * len(sender.batches):  # noqa: ASYNC110 - a progress poll
        await asyncio.sleep(0.05)


async def crash_and_restart(stack: Stack, name: str) -> None:
    service = stack.services[name]
    service.kill()
    await asyncio.sleep(0.5)
    service.start()
    await service.wait_ready()


async def create_late_contracts(
    stack: Stack, plan: Plan, sender: Sender, figures: Figures
) -> list[str]:
    """Create and activate contracts while the workload (and the fault) runs, retrying each
    request with its Idempotency-Key; the references of those created."""
    registry = stack.url("contract-registry")
    references = []
    spread = (plan.pace or 0.0) * len(sender.batches) / max(plan.late_contracts, 1)
    async with httpx.AsyncClient(timeout=10, headers=ADMIN_HEADERS) as http:
        for i in range(plan.late_contracts):
            doc = contract_document(plan.name.split(":")[0] + "late", i)
            deadline = time.monotonic() + 300
            created = await retry_http(
                http,
                "POST",
                f"{registry}/contracts",
                json=doc,
                deadline=deadline,
                figures=figures,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert created.status_code == 201, created.text
            activated = await retry_http(
                http,
                "POST",
                f"{registry}/contracts/{created.json()['id']}/activate",
                deadline=deadline,
                figures=figures,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert activated.status_code == 200, activated.text
            references.append(doc["reference"])
            await asyncio.sleep(spread)
    return references


async def reflected_contracts(stack: Stack, references: list[str], figures: Figures) -> None:
    """Each late contract stored once in the registry and its terms once in every service
    that consumes contracts.v1."""
    if not references:
        return
    rows = await rows_per_id(
        stack.services["contract-registry"].database_url,
        "SELECT id FROM contracts WHERE reference = ANY(:refs)",
        refs=references,
    )
    assert sum(rows.values()) == len(references), rows
    ids = set(rows)
    query = "SELECT contract_id FROM contract_terms WHERE contract_id = ANY(CAST(:ids AS uuid[]))"

    async def everywhere() -> bool:
        for name in CONSUMERS_OF_CONTRACTS:
            stored = await rows_per_id(stack.services[name].database_url, query, ids=list(ids))
            if set(stored) != ids:
                return False
        return True

    await wait_for(everywhere, "every service holds the terms of every late contract", 180)
    count_against(
        figures,
        ids,
        [
            await rows_per_id(stack.services[name].database_url, query, ids=list(ids))
            for name in CONSUMERS_OF_CONTRACTS
        ],
    )


@dataclass
class Outcome:
    """What a scenario's inputs came to: per kind, sent, acknowledged, stored once."""

    inputs: list[tuple[str, Figures]]

    def problems(self) -> list[str]:
        """Every way an input went wrong: not acknowledged, lost, stored twice, or answered
        500 while the fault lasted (an outage answers 503). Empty when all is exact."""
        out = []
        for kind, f in self.inputs:
            if f.acknowledged != f.sent:
                out.append(f"{kind}: {f.acknowledged} of {f.sent} acknowledged")
            if (f.lost, f.duplicated) != (0, 0):
                out.append(f"{kind}: lost {f.lost}, duplicated {f.duplicated}")
            if 500 in f.failures:
                out.append(f"{kind}: answered 500 {f.failures[500]} times")
        return out


async def run_scenario(plan: Plan, stack: Stack, infra: PrivateInfra, fault: Fault) -> Outcome:
    """Stream the plan's inputs through `fault`, count what was stored per record id, then
    follow every contract's chain (which checks its own figures). Returns the inputs'
    figures for the test to judge."""
    contracts = await create_contracts(stack, plan.name.split(":")[0], plan.contracts)
    sender = Sender(stack, infra.bootstrap, batches(contracts), contracts)
    late = Figures(sent=plan.late_contracts)
    sending = asyncio.create_task(sender.run(pace=plan.pace))
    creating = asyncio.create_task(create_late_contracts(stack, plan, sender, late))
    try:
        await fault(sender)
    finally:
        await sending
        references = await creating
    late.acknowledged = len(references)
    await reflected_telemetry(stack, contracts, sender.batches, sender.telemetry)
    await reflected_consumption(stack, contracts, sender.batches, sender.consumption)
    await reflected_contracts(stack, references, late)
    visible = time.monotonic()
    report(plan.name, sender, late, visible)
    outcome = Outcome(
        [("telemetry", sender.telemetry), ("consumption", sender.consumption), ("contracts", late)]
    )
    await chain(stack, infra.bootstrap, contracts, plan.crash_during_chain)
    REPORT.append(
        f"{plan.name:<28} chain: {len(contracts)} closes → {len(contracts)} credits of "
        f"4414.08, {len(contracts)} alerts, {len(contracts)} obligations; none twice"
    )
    return outcome


def report(name: str, sender: Sender, late: Figures, visible: float) -> None:
    figures = [("telemetry items", sender.telemetry), ("consumption records", sender.consumption)]
    if late.sent:
        figures.append(("contracts (outbox)", late))
    for kind, f in figures:
        REPORT.append(
            f"{name:<28} {kind:<20} sent={f.sent} acknowledged={f.acknowledged} "
            f"stored once={f.reflected} lost={f.lost} duplicated={f.duplicated} "
            f"(requests retried through the fault: {f.retried_requests}; "
            f"answers ≥500: {dict(f.failures) or 'none'})"
        )
    if sender.fault_ended is not None:
        REPORT.append(
            f"{name:<28} time to recover (fault end → every record stored and visible): "
            f"{visible - sender.fault_ended:.1f}s"
        )


async def chain(
    stack: Stack, bootstrap: str, contracts: list[Contract], crash_during: tuple[str, ...] = ()
) -> None:
    """Close March for every contract; one credit, alert and obligation each, exactly."""
    sla, billing = stack.url("sla-monitor"), stack.url("billing-reconciler")
    obligations = stack.url("obligation-tracker")
    async with (
        EventCollector(bootstrap, ["sla.v1", "billing.v1", "obligations.v1", "alerts.v1"]) as kafka,
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
    ):
        for c in contracts:
            url = f"{sla}/contracts/{c.id}/slas/AVAIL-CORE/periods/{examples.PERIOD}/close"
            resp = await retry_http(http, "POST", url, deadline=time.monotonic() + 120)
            assert resp.status_code in (200, 409), resp.text  # 409: a retried close landed
        for name in crash_during:  # consumers die while they work through the closes
            await crash_and_restart(stack, name)

        async def each(base: str, path: str, expected: int = 1) -> bool:
            for c in contracts:
                resp = await retry_http(
                    http, "GET", base + path.format(id=c.id), deadline=time.monotonic() + 60
                )
                if len(resp.json()["items"]) < expected:
                    return False
            return True

        await wait_for(lambda: each(billing, "/contracts/{id}/credits"), "credits", 240)
        await wait_for(
            lambda: each(obligations, "/obligations?contract_id={id}"), "obligations", 240
        )
        await wait_for(lambda: each(obligations, "/alerts?contract_id={id}"), "alerts", 240)
        await wait_for(lambda: health_done(stack, http, contracts), "contract health", 240)
        await asyncio.sleep(2)  # let any duplicate that is coming arrive before counting
        await exactly_once(stack, http, contracts)
        ids = {c.id for c in contracts}
        credit_ids = {
            (e.subject, e.data["credit_id"])
            for e in kafka.events
            if e.type == "billing.credit_calculated" and e.subject in ids
        }
        # events may repeat on the wire; credits do not
        assert len(credit_ids) == len(contracts)


async def health_done(stack: Stack, http: httpx.AsyncClient, contracts: list[Contract]) -> bool:
    registry = stack.url("contract-registry")
    for c in contracts:
        rows = (await http.get(f"{registry}/contracts/{c.id}/health")).json()["items"]
        march = [r for r in rows if r["period_label"] == examples.PERIOD]
        if not march or (march[0]["credits_total"], march[0]["obligations_opened"]) != (
            "4414.08",
            1,
        ):
            return False
    return True


async def exactly_once(stack: Stack, http: httpx.AsyncClient, contracts: list[Contract]) -> None:
    billing, obligations = stack.url("billing-reconciler"), stack.url("obligation-tracker")
    registry = stack.url("contract-registry")
    for c in contracts:
        credits = (await http.get(f"{billing}/contracts/{c.id}/credits")).json()["items"]
        assert [x["credit_amount"] for x in credits] == ["4414.08"], credits
        obs = (await http.get(f"{obligations}/obligations?contract_id={c.id}")).json()["items"]
        assert len(obs) == 1, obs
        alerts = (await http.get(f"{obligations}/alerts?contract_id={c.id}")).json()["items"]
        assert len(alerts) == 1, alerts
        rows = (await http.get(f"{registry}/contracts/{c.id}/health")).json()["items"]
        march = next(r for r in rows if r["period_label"] == examples.PERIOD)
        assert (march["slas_failed"], march["credits_total"]) == (1, "4414.08")
