"""The topics we create take every message our producers may send: a 2 MB event (a large
contract's statement) is written and read back, where the broker's default 1 MB refuses it."""

from aiokafka import AIOKafkaConsumer, TopicPartition

from crm_events.kafka import MAX_MESSAGE_BYTES, make_producer
from crm_events.topics import physical


async def test_a_message_beyond_the_brokers_default_limit_goes_through(
    kafka_bootstrap: str,
) -> None:
    topic = physical("alerts.v1")
    value = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert 1024 * 1024 < len(value) < MAX_MESSAGE_BYTES
    producer = make_producer(kafka_bootstrap, client_id="limits-test")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value, key=b"big", partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, sent.offset)
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert record.key == b"big" and record.value == value
