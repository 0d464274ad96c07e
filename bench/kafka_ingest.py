"""sla-monitor Kafka ingestion benchmark: `telemetry.v1` messages until stored attainment.

    DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/postgres \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
    uv run python bench/kafka_ingest.py --items 100000 --contracts 100

In one run, on the shared PostgreSQL and Kafka (a fresh database, a private topic namespace):
1. generates the telemetry with bench/sla_ingest.py's generator (per 1,000 items: 880 up/down
   samples, 100 measurements, 15 incidents, 5 outages; one service key per contract) as
   `telemetry.recorded` envelopes (the topic's shape: a message carries a batch of items;
   `--per-message`, default 1,000), keyed by service key (by tenant above 1,000 items);
   encoded before any clock starts;
2. starts sla-monitor in-process (its own app: migrations, relay, consumer from the earliest
   offsets) and activates every contract first (`contract.activated`, waits for its inbox),
   so the telemetry maps to SLAs;
3. (c) the service: times from the first send of the telemetry (by a separate process,
   `crm_testing.producer_process`, as monitoring systems produce it) until the consumer's inbox
   holds every message (each message's items, attainment spans and signals are committed
   in the same transaction as its inbox row), then checks every contract's stored
   attainment against the figures computed from the data (as sla_ingest.py does);
4. (b) the baseline: a plain aiokafka consumer (own group, earliest) reads the same
   messages from the same topic and `json.loads` each value: items/s; and, for where the
   time goes, the same values parsed and validated as `TelemetryRecorded` (pydantic),
   with no Kafka or database (the floor the service's decoding alone puts on it);
5. reports the ratio (c)/(b), ms per message, and the SQL statements and commits per
   message the consumer task issued and the wall time it spent inside them (engine
   listeners, as consumer_throughput.py).

Results go to stdout and bench/results/kafka_ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from sqlalchemy import event
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.consumer_throughput import SqlProfile, wait_inbox  # noqa: E402
from bench.sla_ingest import (  # noqa: E402
    MIX,
    contract_terms,
    generate,
    read_batches,
    verify_with,
)
from crm_events.envelope import Envelope  # noqa: E402
from crm_events.kafka import delete_topics, ensure_topics  # noqa: E402
from crm_events.registry import spec_for  # noqa: E402
from crm_events.schemas.contracts import ContractActivated  # noqa: E402
from crm_events.schemas.telemetry import TelemetryRecorded  # noqa: E402
from crm_events.topics import NAMESPACE_ENV, all_topics, physical  # noqa: E402
from crm_testing.apps import running_app, settings_for  # noqa: E402
from crm_testing.infra import create_database, drop_database, to_async_url  # noqa: E402
from crm_testing.producer_process import (  # noqa: E402
    Message,
    ProducerProcess,
    message_of,
    produce_elsewhere,
)
from sla_monitor.main import create_app  # noqa: E402
from sla_monitor.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "kafka_ingest.json"


class TimedSqlProfile(SqlProfile):
    """SqlProfile plus the wall time the consumer task spent inside statements (from the
    cursor's execute until it returns: the database's work and the round trip)."""

    def __init__(self) -> None:
        super().__init__()
        self.sql_seconds = 0.0
        self._started: dict[int, float] = {}

    def on_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        super().on_execute(conn, cursor, statement, *args)
        if self.active and self._in_consumer():
            self._started[id(cursor)] = time.perf_counter()

    def on_after(self, conn: Any, cursor: Any, *args: Any) -> None:
        began = self._started.pop(id(cursor), None)
        if began is not None:
            self.sql_seconds += time.perf_counter() - began

    def install(self) -> None:
        super().install()
        event.listen(Engine, "after_cursor_execute", self.on_after)


def encode(event_type: str, subject: str, tenant: str, data: Any, topic: str) -> Message:
    envelope: Envelope = spec_for(event_type).envelope(
        source="bench", subject=subject, tenant=tenant, data=data, correlation_id="bench"
    )
    return message_of(envelope, topic)


def telemetry_messages(path: Path, per_message: int) -> tuple[list[Message], int]:
    """The generated batches as telemetry.recorded messages of `per_message` items, keyed
    by the service key (up to 1,000 items: one contract's slice) or else by the tenant
    (its contracts' slices together); (messages, items)."""
    messages, items = [], 0
    for body in read_batches(path):
        batch = orjson.loads(body)
        rows = batch["items"]
        items += len(rows)
        key = rows[0]["service_key"] if per_message <= 1000 else batch["tenant_id"]
        for at in range(0, len(rows), per_message):
            data = TelemetryRecorded.model_validate({"items": rows[at : at + per_message]})
            messages.append(
                encode("telemetry.recorded", key, batch["tenant_id"], data, "telemetry.v1")
            )
    return messages, items


def activations_of(roster: list[dict[str, Any]], at: datetime) -> list[Message]:
    """`contract.activated` of every contract of the generator's roster."""
    return [
        encode(
            "contract.activated",
            str(c["contract_id"]),
            c["tenant"],
            ContractActivated(
                terms=contract_terms(c["contract_id"], c["tenant"], c["service_key"]),
                activated_at=at,
            ),
            "contracts.v1",
        )
        for c in roster
    ]


async def raw_consume(bootstrap: str, messages: int, timeout: float) -> dict[str, Any]:
    """A plain aiokafka consumer + json.loads of every value: the baseline."""
    consumer = AIOKafkaConsumer(
        physical("telemetry.v1"),
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    started = time.perf_counter()
    await consumer.start()
    seen = items = 0
    values: list[bytes] = []
    try:
        deadline = started + timeout
        while seen < messages:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"raw consumer: {seen} of {messages} messages")
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batches.values():
                for record in records:
                    assert record.value is not None
                    values.append(record.value)
                    items += len(json.loads(record.value)["data"]["items"])
                    seen += 1
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    started = time.perf_counter()
    for value in values:
        TelemetryRecorded.model_validate(json.loads(value)["data"])
    validate_s = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 3),
        "messages": seen,
        "items": items,
        "validate_seconds": round(validate_s, 3),
    }


async def measure_service(
    args: argparse.Namespace, db_url: str, roster: list[dict[str, Any]], messages: list[Message]
) -> dict[str, Any]:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    settings = settings_for(
        Settings,
        database_url=db_url,
        bootstrap=bootstrap,
        consumer_offset_reset="earliest",
        log_level="WARNING",
        consumer_batch_size=args.consumer_batch_size,
        gc_tuned=True,  # as a deployed service runs (the tests' settings turn it off)
    )
    profile = TimedSqlProfile()
    profile.install()
    activations = activations_of(roster, datetime.now(UTC))
    async with running_app(create_app(settings)) as (app, client):
        group = app.state.consumers[0].group_id
        profile.task_name = f"consumer-{group}"
        await produce_elsewhere(bootstrap, activations)
        await wait_inbox(db_url, group, len(roster), args.timeout)
        async with ProducerProcess(bootstrap, messages) as producer:
            profile.active = True
            started = time.perf_counter()
            produce_s = await producer.go()
        done = await wait_inbox(db_url, group, len(roster) + len(messages), args.timeout)
        profile.active = False
        wrong = await verify_with(client, roster, args.expected)
    return {
        "seconds": round(done - started, 3),
        "produce_seconds": round(produce_s, 3),
        "sql_statements": profile.statements,
        "commits": profile.commits,
        "sql_seconds": profile.sql_seconds,
        "top_statements": profile.by_statement.most_common(args.top),
        "mismatches": wrong,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = to_async_url(os.environ["DATABASE_URL"])
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    os.environ[NAMESPACE_ENV] = f"bench-ki-{uuid.uuid4().hex[:8]}"
    roster, index, args.expected = generate(
        args.items, args.contracts, max(1000, args.per_message), args.seed
    )
    path = index[0][2]
    try:
        messages, items = telemetry_messages(path, args.per_message)
    finally:
        path.unlink(missing_ok=True)
    await ensure_topics(bootstrap, partitions=args.partitions)
    db_url = await create_database(server, "bench_kafka_ingest")
    try:
        service = await measure_service(args, db_url, roster, messages)
        raw = await raw_consume(bootstrap, len(messages), args.timeout)
    finally:
        await drop_database(server, db_url)
        await delete_topics(bootstrap, all_topics())
    n = len(messages)
    service_rate = items / service["seconds"]
    raw_rate = raw["items"] / raw["seconds"]
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "items": items,
        "messages": n,
        "items_per_message": args.per_message,
        "contracts": args.contracts,
        "mix_per_1000": MIX,
        "partitions": args.partitions,
        "consumer_batch_size": args.consumer_batch_size,
        "service_seconds": service["seconds"],
        "service_produce_seconds": service["produce_seconds"],
        "service_items_per_s": round(service_rate),
        "service_ms_per_message": round(service["seconds"] / n * 1000, 2),
        "raw_consume_seconds": raw["seconds"],
        "raw_consume_items_per_s": round(raw_rate),
        "ratio_service_to_raw_consume": round(service_rate / raw_rate, 3),
        "parse_and_validate_items_per_s": round(items / raw["validate_seconds"]),
        "target_ratio": 0.5,
        "sql_statements_per_message": round(service["sql_statements"] / n, 2),
        "commits_per_message": round(service["commits"] / n, 2),
        "sql_ms_per_message": round(service["sql_seconds"] / n * 1000, 2),
        "top_statements_per_message": {s: round(c / n, 2) for s, c in service["top_statements"]},
        "all_figures_match": not service["mismatches"],
        "mismatches": service["mismatches"][:10],
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--contracts", type=int, default=100)
    parser.add_argument(
        "--per-message",
        type=int,
        default=1000,
        help="items per telemetry.recorded message: 1 to 1,000, or 2,000 to 5,000 by 1,000",
    )
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--consumer-batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--top", type=int, default=10, help="most frequent statements shown")
    parser.add_argument("--json", help=f"write the report here (default {RESULTS})")
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        print("set DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    per = args.per_message
    if not (1 <= per <= 1000 or (per <= 5000 and per % 1000 == 0)):
        print("--per-message: 1 to 1,000, or 2,000 to 5,000 by 1,000", file=sys.stderr)
        return 2
    result = asyncio.run(run(args))
    out = Path(args.json) if args.json else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")
    return 0 if result["all_figures_match"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
