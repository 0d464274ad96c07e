"""Longer and nastier faults: a broker gone for a minute, PostgreSQL gone for half of one, a
service hung past its consumer session timeout that wakes up as a zombie, and the outbox
relay killed while the broker is away.

Each streams a paced workload for 5 contracts (6,250 telemetry items and consumption
records, one batch at a time so requests keep arriving through the outage) and creates
contracts meanwhile, whose contract.activated leaves contract-registry by its outbox; then
counts the rows per record id in every service that stores them (exactly one each), prints
the time from the fault's end until all of it was stored and visible, and follows the
period close through the chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from crm_events.topics import physical
from crm_testing.stack import PrivateInfra, ServiceProcess, Stack

from .scenario import Plan, run_scenario
from .workload import REPORT, Sender

pytestmark = pytest.mark.timeout(900)

CONTRACTS = 5  # 75 batches: 50 of 100 outages, 25 of 50 consumption records
LEAD_SECONDS = 6.0  # the workload runs a while before the fault starts
# The consumer session timeout of crm_events.consumer.ConsumerRunner: a member silent for
# longer is out of the group and its partitions move.
SESSION_TIMEOUT_SECONDS = 10.0


async def test_kafka_broker_down_for_a_minute(
    fault_stack: Stack, private_infra: PrivateInfra
) -> None:
    async def broker_down(sender: Sender) -> None:
        await asyncio.sleep(LEAD_SECONDS)
        await asyncio.to_thread(private_infra.restart_kafka, 60.0)
        sender.fault_over()

    plan = Plan("d: Kafka down 60 s", contracts=CONTRACTS, pace=0.9, late_contracts=6)
    outcome = await run_scenario(plan, fault_stack, private_infra, broker_down)
    assert outcome.problems() == []


async def test_postgresql_down_for_half_a_minute(
    fault_stack: Stack, private_infra: PrivateInfra
) -> None:
    async def database_down(sender: Sender) -> None:
        await asyncio.sleep(LEAD_SECONDS)
        await asyncio.to_thread(private_infra.restart_postgres, 30.0)
        sender.fault_over()

    plan = Plan("e: PostgreSQL down 30 s", contracts=CONTRACTS, pace=0.5, late_contracts=4)
    outcome = await run_scenario(plan, fault_stack, private_infra, database_down)
    assert outcome.problems() == []


class OffsetWatch:
    """Polls a consumer group's committed offsets; a commit that moves one back (a zombie's
    stale commit accepted by the broker) is recorded."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._group = group
        self.highest: dict[TopicPartition, int] = {}
        self.regressions: list[str] = []
        self.polls = 0
        # One look at a time: answers taken out of order would look like a move back.
        self._lock = asyncio.Lock()

    async def poll(self) -> None:
        async with self._lock:
            offsets = await self._admin.list_consumer_group_offsets(self._group)
            self._record(offsets)

    def _record(self, offsets: dict[TopicPartition, Any]) -> None:
        self.polls += 1
        for tp, meta in offsets.items():
            before = self.highest.get(tp, -1)
            if meta.offset < before:
                self.regressions.append(f"{tp.topic}:{tp.partition} {before} → {meta.offset}")
            self.highest[tp] = max(before, meta.offset)

    @contextlib.asynccontextmanager
    async def watching(self, every: float = 0.2) -> AsyncIterator[OffsetWatch]:
        await self._admin.start()

        async def loop() -> None:
            while True:
                with contextlib.suppress(Exception):  # the broker answers slowly at times
                    await self.poll()
                await asyncio.sleep(every)

        task = asyncio.create_task(loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self._admin.close()


def log_size(service: ServiceProcess) -> int:
    return service.log_path.stat().st_size


def assigned_partitions(service: ServiceProcess, group: str) -> set[str]:
    """The partitions the service's runner of `group` was last assigned (its log says)."""
    assigned: set[str] = set()
    for line in service.log_path.read_text(errors="replace").splitlines():
        if '"consumer.assigned"' in line:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("consumer") == group:
                    assigned = set(entry["partitions"])
    return assigned


async def with_work_in_hand(
    sender: Sender, service: ServiceProcess, watch: OffsetWatch, timeout: float = 20
) -> bool:
    """Wait until a batch sent to a partition the service consumes has had time to be
    fetched but is not committed yet: the service has it in hand when it hangs. False
    (hang all the same) when no such moment came within `timeout`."""
    deadline = time.monotonic() + timeout
    seen = len(sender.kafka_acks)
    group = physical("sla-monitor")
    while time.monotonic() < deadline:
        owned = assigned_partitions(service, group)
        fresh = [(tp, off) for tp, off in sender.kafka_acks[seen:] if physical(tp) in owned]
        seen = len(sender.kafka_acks)
        if fresh:
            # Fetched at once (a fetch is waiting on the broker), handled and committed
            # within a few hundred milliseconds, less on an idle machine: look while that
            # is under way.
            await asyncio.sleep(0.05)
            with contextlib.suppress(Exception):  # no answer: the offsets seen before
                await watch.poll()
            topic, _, partition = physical(fresh[-1][0]).rpartition(":")
            if watch.highest.get(TopicPartition(topic, int(partition)), -1) <= fresh[-1][1]:
                return True
        await asyncio.sleep(0.02)
    return False


async def test_hung_service_wakes_up_as_a_zombie(
    fault_stack: Stack, private_infra: PrivateInfra
) -> None:
    """SIGSTOP one of two sla-monitor instances for longer than the session timeout: its
    partitions move to the other, which handles what the hung one had fetched. On SIGCONT
    the zombie finishes its batch (the inbox makes that a no-op for records already handled)
    and tries to commit offsets of a generation that is gone: the broker must refuse them,
    so no committed offset ever moves back."""
    hung = fault_stack.services["sla-monitor"]
    second = fault_stack.add_instance("sla-monitor")
    watch = OffsetWatch(private_infra.bootstrap, physical("sla-monitor"))
    zombie: list[int] = []
    in_hand: list[bool] = []
    try:
        second.start()
        await second.wait_ready()

        async def hang(sender: Sender) -> None:
            await asyncio.sleep(LEAD_SECONDS)
            in_hand.append(await with_work_in_hand(sender, hung, watch))
            hung.pause()
            paused_at = log_size(hung)
            await asyncio.sleep(SESSION_TIMEOUT_SECONDS + 8)
            hung.resume()
            sender.fault_over()
            zombie.append(paused_at)

        async with watch.watching():
            plan = Plan("f: SIGSTOP 18 s, SIGCONT", contracts=CONTRACTS, pace=0.4, late_contracts=4)
            outcome = await run_scenario(plan, fault_stack, private_infra, hang)
            assert outcome.problems() == []
            await watch.poll()  # a last look, after everything was handled
        refused = hung.log_path.read_bytes()[zombie[0] :].count(b'"consumer.commit_failed"')
        REPORT.append(
            f"{plan.name:<28} committed offsets of {physical('sla-monitor')}: "
            f"{watch.polls} looks, moved back: {watch.regressions or 'never'}; "
            f"hung with uncommitted records in hand: {in_hand[0]}; "
            f"the zombie's commits refused by the broker: {refused}"
        )
        assert watch.regressions == []
        assert watch.highest, "the group committed nothing"
    finally:
        fault_stack.remove_instance(second)


async def test_outbox_relay_killed_while_broker_down(
    fault_stack: Stack, private_infra: PrivateInfra
) -> None:
    """The broker goes; the producers keep taking requests into their outboxes; then they
    are killed -9 mid-relay, started again while the broker is still away (they wait for
    it), and the broker returns: every pending row is published, those the killed relay
    had sent already perhaps twice, and each is applied once."""
    producers = [fault_stack.services[n] for n in ("contract-registry", "sla-monitor")]

    async def kill_relays(sender: Sender) -> None:
        await asyncio.sleep(LEAD_SECONDS)
        await asyncio.to_thread(private_infra.stop_kafka)
        await asyncio.sleep(12)  # requests pile up in the outboxes
        for service in producers:
            service.kill()
            service.start()
        await asyncio.sleep(8)
        await asyncio.to_thread(private_infra.start_kafka)
        await asyncio.gather(*(s.wait_ready() for s in producers))
        sender.fault_over()

    plan = Plan("g: relay killed, Kafka down", contracts=CONTRACTS, pace=0.35, late_contracts=4)
    outcome = await run_scenario(plan, fault_stack, private_infra, kill_relays)
    assert outcome.problems() == []
