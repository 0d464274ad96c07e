"""Kafka client factories and topic administration."""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from crm_events.topics import all_topics

log = structlog.get_logger(__name__)

# The largest message a producer sends and a topic we create accepts. The broker's default
# topic limit is 1 MB: a statement of a contract with thousands of records per unit is
# bigger (its lines name their source records), and a relay must never meet a message the
# topic refuses.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def make_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    # acks=all: a send is acknowledged once every in-sync replica has it. No idempotent
    # producer: aiokafka keeps one request in flight per broker, so order per partition holds
    # anyway, a retried send that was in fact written is a duplicate the consumers' inbox
    # drops, and the idempotent producer fails for good (OutOfOrderSequenceNumber) when a
    # broker restarts under it — measured in tests/faults.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        max_batch_size=256 * 1024,
        max_request_size=MAX_MESSAGE_BYTES,
        compression_type=None,
        request_timeout_ms=30_000,
    )


async def ensure_topics(
    bootstrap_servers: str,
    *,
    partitions: int = 6,
    replication_factor: int = 1,
    topics: list[str] | None = None,
    attempts: int = 30,
) -> None:
    """Create the catalog's topics and their DLQs when missing (idempotent)."""
    wanted = topics or all_topics()
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="crm-admin")
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [
                            NewTopic(
                                name=t,
                                num_partitions=partitions,
                                replication_factor=replication_factor,
                                topic_configs={"max.message.bytes": str(MAX_MESSAGE_BYTES)},
                            )
                            for t in missing
                        ]
                    )
                except TopicAlreadyExistsError:
                    pass  # another instance created them first
                log.info("kafka.topics_created", topics=missing)
            return
        except KafkaError as exc:
            if attempt == attempts:
                raise
            log.warning("kafka.topics_retry", attempt=attempt, error=str(exc))
            await asyncio.sleep(min(0.5 * attempt, 3.0))
        finally:
            await admin.close()


async def delete_topics(bootstrap_servers: str, topics: list[str]) -> None:
    """Remove topics (test runs clean up their namespace); missing ones are ignored."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="crm-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in topics if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def topic_partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> dict[str, set[int]]:
    """The partitions of each topic, as a started consumer without a group needs them for
    `assign()`, `seek_*()` and `*_offsets()`. A topic the broker does not know maps to an
    empty set.

    This is the one place that touches aiokafka's private client: aiokafka 0.14 has no public
    call that loads a topic into a consumer's own metadata. `partitions_for_topic()` reads
    only what is cached, `topics()` fetches into a throwaway `ClusterMetadata`, and the admin
    client's `describe_topics()` answers from another connection while the consumer's
    fetcher still waits for its own metadata. `add_topic()` keeps the topic tracked from now
    on and fetches metadata when it is new; a tracked topic the broker did not know at the
    last fetch (just created) needs a forced fetch.
    """
    client = consumer._client
    missing = [topic for topic in topics if consumer.partitions_for_topic(topic) is None]
    for topic in missing:
        await client.add_topic(topic)
    if any(consumer.partitions_for_topic(topic) is None for topic in missing):
        await client.force_metadata_update()
    return {topic: set(consumer.partitions_for_topic(topic) or ()) for topic in topics}
