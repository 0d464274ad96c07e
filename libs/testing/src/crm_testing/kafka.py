"""Reading what services publish, the way an ERP integration would: a plain Kafka consumer."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, overload

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel

from crm_events.envelope import Envelope, EnvelopeError
from crm_events.kafka import topic_partitions
from crm_events.topics import physical

T = TypeVar("T")


class EventCollector:
    """Collects every envelope published on some topics from the moment it starts."""

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self._bootstrap = bootstrap
        self._topics = [physical(t) for t in topics]
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.events: list[Envelope] = []
        self.raw: list[tuple[str, bytes | None, dict[str, bytes]]] = []

    async def __aenter__(self) -> EventCollector:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, enable_auto_commit=False
        )
        await self._consumer.start()
        known = await topic_partitions(self._consumer, self._topics)
        tps = [TopicPartition(topic, p) for topic in self._topics for p in known[topic]]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end offsets now, so nothing published later is missed
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._pump())
        return self

    async def _pump(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    self.raw.append((r.topic, r.value, {k: v for k, v in (r.headers or [])}))
                    try:
                        self.events.append(Envelope.from_kafka(r.value, r.headers))
                    except EnvelopeError:
                        pass

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._consumer is not None:
            await self._consumer.stop()

    def of_type(self, event_type: str) -> list[Envelope]:
        return [e for e in self.events if e.type == event_type]

    async def wait_for(
        self, predicate: Callable[[Envelope], bool], *, timeout: float = 30.0, count: int = 1
    ) -> list[Envelope]:
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.events if predicate(e)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = [e.type for e in self.events]
                raise AssertionError(
                    f"expected {count} matching event(s) within {timeout}s; "
                    f"saw {len(found)} (all types seen: {seen})"
                )
            await asyncio.sleep(0.05)


async def produce_raw(
    bootstrap: str,
    topic: str,
    value: bytes | None,
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(physical(topic), value=value, key=key, headers=headers)
    finally:
        await producer.stop()


@overload
async def wait_until(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = ...,
    interval: float = ...,
    message: str = ...,
) -> T: ...


@overload
async def wait_until(
    check: Callable[[], T], *, timeout: float = ..., interval: float = ..., message: str = ...
) -> T: ...


async def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str = "condition",
) -> Any:
    """Poll a sync or async check until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        result = await outcome if inspect.isawaitable(outcome) else outcome
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached within {timeout}s")
        await asyncio.sleep(interval)


async def publish_envelope(bootstrap: str, envelope: Envelope) -> None:
    """Put an event on its catalog topic as a producing service would (for consumer tests)."""
    from crm_events.registry import spec_for

    await produce_raw(
        bootstrap,
        spec_for(envelope.type).topic.value,
        envelope.to_bytes(),
        key=envelope.key,
        headers=envelope.kafka_headers(),
    )


def make_event(
    event_type: str,
    *,
    subject: str,
    data: BaseModel,
    tenant: str = "acme-bank",
    source: str = "test",
) -> Envelope:
    from crm_events.registry import spec_for

    return spec_for(event_type).envelope(
        source=source, subject=subject, tenant=tenant, data=data, correlation_id=f"test-{subject}"
    )
