"""Reading and replaying dead-lettered events."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from crm_events.envelope import Envelope, EnvelopeError
from crm_events.kafka import make_producer, topic_partitions
from crm_events.topics import DLQ_SUFFIX


@dataclass
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def original_topic(self) -> str:
        return self.headers["dlq.original.topic"]

    @property
    def event_id(self) -> str | None:
        """The CloudEvents id of the dead letter (None when its bytes are no event)."""
        try:
            return Envelope.from_kafka(self.value, _encoded(self.headers)).id
        except EnvelopeError:
            return None


def _encoded(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in headers.items()]


async def read_dead_letters(bootstrap_servers: str, dlq: str) -> list[DeadLetter]:
    """Every record currently in a DLQ topic (reads from the start to the current end)."""
    if not dlq.endswith(DLQ_SUFFIX):
        raise ValueError(f"{dlq!r} is not a DLQ topic (they end with {DLQ_SUFFIX})")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = (await topic_partitions(consumer, [dlq]))[dlq]
        tps = [TopicPartition(dlq, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[DeadLetter] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for r in records:
                    if r.offset < end[tp]:
                        out.append(
                            DeadLetter(
                                partition=r.partition,
                                offset=r.offset,
                                key=r.key,
                                value=r.value,
                                headers={
                                    k: v.decode(errors="replace") for k, v in (r.headers or [])
                                },
                            )
                        )
                    if r.offset + 1 >= end[tp]:
                        remaining.discard(tp)
        return sorted(out, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def replay(
    bootstrap_servers: str,
    letter: DeadLetter,
    *,
    value: bytes | None = None,
    producer: AIOKafkaProducer | None = None,
) -> None:
    """Publish a dead letter back to its original topic (optionally with a corrected value).

    The `dlq.*` headers are dropped; the event id is kept, so consumers that already
    handled it (inbox) ignore the replay.
    """
    headers = [(k, v) for k, v in _encoded(letter.headers) if not k.startswith("dlq.")]
    own = producer is None
    producer = producer or make_producer(bootstrap_servers, client_id="crm-dlq-replay")
    if own:
        await producer.start()
    try:
        await producer.send_and_wait(
            letter.original_topic, value=value or letter.value, key=letter.key, headers=headers
        )
    finally:
        if own:
            await producer.stop()


async def dlq_depths(consumer: AIOKafkaConsumer, dlqs: list[str]) -> dict[str, int]:
    """Records held in each DLQ topic (end offsets minus start offsets, over its partitions),
    with a started consumer of no group. A DLQ the broker does not know yet holds 0.

    Records stay in a DLQ after a replay until the topic's retention drops them: the depth
    says what is kept there, `crm_events_dead_lettered_total` says what arrived."""
    known = await topic_partitions(consumer, dlqs)
    tps = [TopicPartition(topic, p) for topic in dlqs for p in sorted(known[topic])]
    depths = dict.fromkeys(dlqs, 0)
    if not tps:
        return depths
    start = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    for tp in tps:
        depths[tp.topic] += max(end[tp] - start[tp], 0)
    return depths
