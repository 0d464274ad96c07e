"""Nothing lost, nothing counted twice — under faults, on the real stack.

Each scenario streams 20,000 telemetry items and 5,000 consumption records for 20 contracts
while something fails, then closes March for every contract and follows the chain to the
credits, alerts, obligations and contract health. Like Kafka's own system tests, it checks
afterwards that every acknowledged input is stored exactly once (rows per record id in the
services' databases) and that no credit, alert or obligation exists twice. The figures are
printed at the end of the run.
"""

from __future__ import annotations

import asyncio

import pytest

from crm_testing.stack import PrivateInfra, Stack

from .scenario import Plan, at_progress, crash_and_restart, run_scenario
from .workload import Sender

# Each scenario streams 25,000 inputs through a fault and follows 20 chains: minutes, not
# seconds, on two busy cores.
pytestmark = pytest.mark.timeout(1200)


async def test_kill_9_each_service_in_turn(fault_stack: Stack, private_infra: PrivateInfra) -> None:
    async def kill_each(sender: Sender) -> None:
        for i, name in enumerate(
            ("sla-monitor", "billing-reconciler", "contract-registry", "obligation-tracker")
        ):
            await at_progress(sender, 0.15 + 0.2 * i)
            await crash_and_restart(fault_stack, name)
        sender.fault_over()

    plan = Plan(
        "a: kill -9 each service", crash_during_chain=("billing-reconciler", "obligation-tracker")
    )
    outcome = await run_scenario(plan, fault_stack, private_infra, kill_each)
    assert outcome.problems() == []


async def test_kafka_broker_stopped_and_restarted(
    fault_stack: Stack, private_infra: PrivateInfra
) -> None:
    async def bounce_kafka(sender: Sender) -> None:
        await at_progress(sender, 0.3)
        await asyncio.to_thread(private_infra.restart_kafka, 3.0)
        sender.fault_over()

    outcome = await run_scenario(Plan("b: Kafka restart"), fault_stack, private_infra, bounce_kafka)
    assert outcome.problems() == []


async def test_postgresql_restarted(fault_stack: Stack, private_infra: PrivateInfra) -> None:
    async def bounce_postgres(sender: Sender) -> None:
        await at_progress(sender, 0.3)
        await asyncio.to_thread(private_infra.restart_postgres, 2.0)
        sender.fault_over()

    outcome = await run_scenario(
        Plan("c: PostgreSQL restart"), fault_stack, private_infra, bounce_postgres
    )
    assert outcome.problems() == []
