"""Nothing lost, nothing counted twice — under faults, on the real stack.

Each scenario streams 20,000 telemetry items and 5,000 consumption records for 20 contracts
while something fails, then closes March for every contract and follows the chain to the
credits, alerts, obligations and contract health. Like Kafka's own system tests, it checks
afterwards that every acknowledged input is reflected in the outputs and that no credit,
alert or obligation exists twice. The figures are printed at the end of the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.kafka import EventCollector
from crm_testing.stack import PrivateInfra, Stack

from .workload import (
    CONTRACTS,
    REPORT,
    Contract,
    Sender,
    batches,
    create_contracts,
    reflected_consumption,
    reflected_telemetry,
    report,
    retry_http,
    wait_for,
)

Fault = Callable[[Sender], Awaitable[None]]

# Each scenario streams 25,000 inputs through a fault and follows 20 chains: minutes, not
# seconds, on two busy cores.
pytestmark = pytest.mark.timeout(1200)


async def _at_progress(sender: Sender, fraction: float) -> None:
    while sender.done < fraction * len(sender.batches):  # noqa: ASYNC110 - a progress poll
        await asyncio.sleep(0.05)


async def _crash_and_restart(stack: Stack, name: str) -> None:
    service = stack.services[name]
    service.kill()
    await asyncio.sleep(0.5)
    service.start()
    await service.wait_ready()


async def _chain(
    stack: Stack, bootstrap: str, contracts: list[Contract], crash_during: tuple[str, ...] = ()
) -> None:
    """Close March for every contract; one credit, alert and obligation each, exactly."""
    sla, billing = stack.url("sla-monitor"), stack.url("billing-reconciler")
    obligations, registry = stack.url("obligation-tracker"), stack.url("contract-registry")
    async with (
        EventCollector(bootstrap, ["sla.v1", "billing.v1", "obligations.v1", "alerts.v1"]) as kafka,
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
    ):
        for c in contracts:
            url = f"{sla}/contracts/{c.id}/slas/AVAIL-CORE/periods/{examples.PERIOD}/close"
            resp = await retry_http(http, "POST", url, deadline=time.monotonic() + 120)
            assert resp.status_code in (200, 409), resp.text  # 409: a retried close landed
        for name in crash_during:  # consumers die while they work through the closes
            await _crash_and_restart(stack, name)

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

        async def health_done() -> bool:
            for c in contracts:
                rows = (await http.get(f"{registry}/contracts/{c.id}/health")).json()["items"]
                march = [r for r in rows if r["period_label"] == examples.PERIOD]
                if (
                    not march
                    or march[0]["credits_total"] != "4414.08"
                    or march[0]["obligations_opened"] != 1
                ):
                    return False
            return True

        await wait_for(health_done, "contract health", 240)
        await asyncio.sleep(2)  # let any duplicate that is coming arrive before counting
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
        ids = {c.id for c in contracts}
        credit_ids = {
            (e.subject, e.data["credit_id"])
            for e in kafka.events
            if e.type == "billing.credit_calculated" and e.subject in ids
        }
        assert len(credit_ids) == CONTRACTS  # events may repeat on the wire; credits do not


async def _scenario(
    name: str,
    stack: Stack,
    infra: PrivateInfra,
    fault: Fault,
    crash_during_chain: tuple[str, ...] = (),
) -> None:
    contracts = await create_contracts(stack, name.split()[0])
    sender = Sender(stack, infra.bootstrap, batches(contracts), contracts)
    sending = asyncio.create_task(sender.run())
    try:
        await fault(sender)
    finally:
        await sending
    await reflected_telemetry(stack, contracts, sender.telemetry)
    await reflected_consumption(stack, contracts, sender.consumption)
    report(name, sender.telemetry, sender.consumption)
    for figures in (sender.telemetry, sender.consumption):
        assert figures.acknowledged == figures.sent
        assert (figures.lost, figures.duplicated) == (0, 0)
    await _chain(stack, infra.bootstrap, contracts, crash_during_chain)
    REPORT.append(
        f"{name:<28} chain: {CONTRACTS} closes → {CONTRACTS} credits of "
        f"4414.08, {CONTRACTS} alerts, {CONTRACTS} obligations; none twice"
    )


async def test_kill_9_each_service_in_turn(fault_stack: Stack, private_infra: PrivateInfra) -> None:
    async def kill_each(sender: Sender) -> None:
        for i, name in enumerate(
            ("sla-monitor", "billing-reconciler", "contract-registry", "obligation-tracker")
        ):
            await _at_progress(sender, 0.15 + 0.2 * i)
            await _crash_and_restart(fault_stack, name)

    await _scenario(
        "a: kill -9 each service",
        fault_stack,
        private_infra,
        kill_each,
        crash_during_chain=("billing-reconciler", "obligation-tracker"),
    )


async def test_kafka_broker_stopped_and_restarted(
    fault_stack: Stack, private_infra: PrivateInfra
) -> None:
    async def bounce_kafka(sender: Sender) -> None:
        await _at_progress(sender, 0.3)
        await asyncio.to_thread(private_infra.restart_kafka, 3.0)

    await _scenario("b: Kafka restart", fault_stack, private_infra, bounce_kafka)


async def test_postgresql_restarted(fault_stack: Stack, private_infra: PrivateInfra) -> None:
    async def bounce_postgres(sender: Sender) -> None:
        await _at_progress(sender, 0.3)
        await asyncio.to_thread(private_infra.restart_postgres, 2.0)

    await _scenario("c: PostgreSQL restart", fault_stack, private_infra, bounce_postgres)
