"""sla-monitor ingestion benchmark: telemetry over HTTP until stored attainment reflects it.

    uv run python bench/sla_ingest.py --items 1000000 --contracts 100

What it does, on the shared PostgreSQL and Kafka (fresh database, own topic namespace):
1. generates the telemetry (outages, up/down samples, incidents, measurements for the
   current month, one service key per contract) into a temporary file of 10,000-item batches, and
   computes the expected figures of every contract with the pure domain functions;
2. starts sla-monitor as a real process (`python -m sla_monitor serve --workers N`) and
   creates the contracts by publishing `contract.activated` on contracts.v1;
3. posts every batch to `POST /telemetry` with `--concurrency` clients and then reads every
   contract's scorecard until each figure equals the expected one: the end-to-end time
   runs from the first POST to the last matching scorecard;
4. produces the same batches as `telemetry.recorded` envelopes with aiokafka (the
   services' producer settings) to a topic of their own: the raw produce rate;
5. reports items/s, the ratio to the raw produce rate, and the memory of each process
   (peak RSS from /proc, and RSS at each quarter of the run to show it stays flat).

Results go to stdout and bench/results/sla_ingest-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_events.envelope import CONTENT_TYPE_HEADER, STRUCTURED_CONTENT_TYPE
from crm_events.kafka import ensure_topics, make_producer
from crm_events.schemas.contracts import (
    ContractActivated,
    ContractTerms,
    Direction,
    MaintenanceWindows,
    MetricKind,
    Statistic,
    WeeklyWindow,
)
from crm_events.topics import NAMESPACE_ENV, physical
from crm_platform import periods
from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS, ADMIN_KEY
from crm_testing.benchstack import RESULTS
from crm_testing.infra import create_database, drop_database, to_async_url
from crm_testing.kafka import make_event
from crm_testing.procwatch import (
    MemoryWatch,
    connections_by_process,
    listening_sockets,
    print_memory,
)
from sla_monitor.attainment.domain import (
    Interval,
    availability,
    maintenance_intervals,
    period_bounds,
)
from sla_monitor.attainment.incidents import Incident, Target, compliance
from sla_monitor.attainment.measurements import statistic_of

TZ = "America/New_York"
# The month in progress, so the service sees the telemetry as it would live (early
# warnings are only looked for in periods that are running or within their grace time).
PERIOD = period_bounds(periods.label_at(datetime.now(UTC), TZ), TZ)
WEEKLY = MaintenanceWindows(weekly=[WeeklyWindow(weekday=6, start="02:00", duration_minutes=120)])
MIX = {"sample": 880, "measurement": 100, "incident": 15, "outage": 5}  # per 1,000 items


# -- the data and what it must come to ------------------------------------------------------


@dataclass
class Expected:
    """A contract's telemetry as the generator wrote it, folded as it streams by."""

    service_key: str
    outages: list[Interval] = field(default_factory=list)
    runs: list[Interval] = field(default_factory=list)
    run_start: datetime | None = None
    last_down: datetime | None = None
    incidents: list[Incident] = field(default_factory=list)
    values: list[Decimal] = field(default_factory=list)

    def sample(self, at: datetime, status: str) -> None:
        if status == "down":
            self.run_start = self.run_start or at
            self.last_down = at
        elif self.run_start is not None:
            self.runs.append(Interval(self.run_start, at))
            self.run_start = None

    def figures(self) -> dict[str, Any]:
        runs = list(self.runs)
        if self.run_start is not None and self.last_down and self.last_down > self.run_start:
            runs.append(Interval(self.run_start, self.last_down))
        result = availability(
            PERIOD, [*self.outages, *runs], maintenance_intervals(WEEKLY, TZ, PERIOD)
        )
        in_march = [i for i in self.incidents if PERIOD.start <= i.resolved_at < PERIOD.end]
        incidents = compliance(
            in_march, kind=MetricKind.INCIDENT_RESOLUTION, target=Target(240), small_sample=None
        )
        p95 = statistic_of(self.values, Statistic.PERCENTILE, Decimal(95))
        return {
            "AVAIL": str(result.attainment_rounded),
            "P1-RES": (incidents.incidents, incidents.within_target),
            "LAT-P95": (len(self.values), str(p95)),
        }


def contract_terms(contract_id: uuid.UUID, tenant: str, service_key: str) -> ContractTerms:
    terms = examples.contract_terms(contract_id=contract_id, tenant_id=tenant)
    avail = terms.sla_definitions[0].model_copy(
        update={"code": "AVAIL", "service_key": service_key, "maintenance_windows": WEEKLY}
    )
    p1 = avail.model_copy(
        update={
            "code": "P1-RES",
            "metric_kind": MetricKind.INCIDENT_RESOLUTION,
            "expected_level": Decimal(95),
            "minimum_level": Decimal(90),
            "priority": "P1",
            "target_minutes": 240,
            "allocation_pct": Decimal(20),
            "maintenance_windows": MaintenanceWindows(),
        }
    )
    lat = p1.model_copy(
        update={
            "code": "LAT-P95",
            "metric_kind": MetricKind.MEASUREMENT,
            "direction": Direction.LOWER_IS_BETTER,
            "expected_level": Decimal(400),
            "minimum_level": Decimal(550),
            "statistic": Statistic.PERCENTILE,
            "percentile": Decimal(95),
            "unit": "ms",
            "priority": None,
            "target_minutes": None,
        }
    )
    return terms.model_copy(update={"sla_definitions": [avail, p1, lat]})


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(
    items: int, contracts: int, batch: int, seed: int
) -> tuple[list[dict[str, Any]], list[tuple[str, int, Path]], dict[str, Expected]]:
    """Write the batches to a file; returns (contracts, [(tenant, offset...)], expected)."""
    per_contract_batch = 1000
    contracts_per_batch = batch // per_contract_batch
    tenants = max(1, contracts // contracts_per_batch)
    slices = max(1, items // (batch * tenants))
    rng = random.Random(seed)
    roster: list[dict[str, Any]] = []
    expected: dict[str, Expected] = {}
    for c in range(contracts):
        tenant = f"bench-tenant-{c // contracts_per_batch}"
        key = f"bench-svc-{c:04d}"
        roster.append({"contract_id": uuid.uuid4(), "tenant": tenant, "service_key": key})
        expected[key] = Expected(key)
    span = (PERIOD.end - PERIOD.start) / slices
    fd, name = tempfile.mkstemp(prefix="sla-bench-", suffix=".batches")
    path = Path(name)
    index: list[tuple[str, int, Path]] = []
    with os.fdopen(fd, "wb") as out:
        for s in range(slices):
            t0 = PERIOD.start + span * s
            for t in range(tenants):
                members = roster[t * contracts_per_batch : (t + 1) * contracts_per_batch]
                rows: list[dict[str, Any]] = []
                for member in members:
                    rows += _contract_slice(rng, expected[member["service_key"]], s, t0, span)
                body = orjson.dumps({"tenant_id": f"bench-tenant-{t}", "items": rows})
                index.append((f"bench-tenant-{t}", len(rows), path))
                out.write(struct.pack(">I", len(body)) + body)
    return roster, index, expected


def _contract_slice(
    rng: random.Random, exp: Expected, s: int, t0: datetime, span: timedelta
) -> list[dict[str, Any]]:
    key = exp.service_key
    rows: list[dict[str, Any]] = []
    n = MIX["sample"]
    step = span / n
    down = False
    for i in range(n):
        at = (t0 + step * i).replace(microsecond=0)
        # Down runs of a few samples now and then.
        down = rng.random() < (0.6 if down else 0.004)
        status = "down" if down else "up"
        exp.sample(at, status)
        rows.append(
            {"kind": "sample", "service_key": key, "observed_at": iso(at), "status": status}
        )
    for i in range(MIX["measurement"]):
        at = (t0 + span * (i + 0.5) / MIX["measurement"]).replace(microsecond=0)
        value = Decimal(rng.randint(1000, 6000)) / 10
        exp.values.append(value)
        rows.append(
            {
                "kind": "measurement",
                "service_key": key,
                "measured_at": iso(at),
                "value": str(value),
                "unit": "ms",
            }
        )
    for i in range(MIX["incident"]):
        opened = (t0 + span * rng.random()).replace(microsecond=0)
        resolved = opened + timedelta(minutes=rng.randint(20, 300))
        exp.incidents.append(Incident(f"{key}-{s}-{i}", opened, None, resolved))
        rows.append(
            {
                "kind": "incident",
                "service_key": key,
                "ticket_id": f"{key}-{s}-{i}",
                "revision": 1,
                "priority": "P1",
                "opened_at": iso(opened),
                "resolved_at": iso(resolved),
            }
        )
    for _ in range(MIX["outage"]):
        start = (t0 + span * rng.random()).replace(microsecond=0, second=0)
        end = start + timedelta(minutes=rng.randint(1, 12))
        exp.outages.append(Interval(start, end))
        rows.append(
            {"kind": "outage", "service_key": key, "started_at": iso(start), "ended_at": iso(end)}
        )
    return rows


def read_batches(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while head := f.read(4):
            (size,) = struct.unpack(">I", head)
            yield f.read(size)


# -- processes and memory -------------------------------------------------------------------


# -- the run --------------------------------------------------------------------------------


async def wait_ready(
    url: str, proc: subprocess.Popen[bytes], port: int, workers: int, timeout: float = 120
) -> None:
    """Until the server answers /readyz and every worker listens (each worker listens on a
    socket of its own once its start-up is done: one that answers is not all of them)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=3) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("sla-monitor exited during start-up")
            try:
                ready = (await client.get(url + "/readyz")).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and listening_sockets(port) >= workers:
                return
            await asyncio.sleep(0.3)
    raise RuntimeError("sla-monitor not ready")


async def connection_spread(server: int, port: int, after: float = 1.0) -> list[int]:
    """The clients' connections held by each worker, a moment into the run (most first)."""
    await asyncio.sleep(after)
    return sorted(connections_by_process(server, port).values(), reverse=True)


async def activate(bootstrap: str, roster: list[dict[str, Any]], url: str) -> None:
    producer = make_producer(bootstrap, client_id="sla-bench")
    await producer.start()
    try:
        for c in roster:
            terms = contract_terms(c["contract_id"], c["tenant"], c["service_key"])
            envelope = make_event(
                "contract.activated",
                subject=str(c["contract_id"]),
                data=ContractActivated(terms=terms, activated_at=datetime.now(UTC)),
                tenant=c["tenant"],
            )
            await producer.send(
                physical("contracts.v1"),
                envelope.to_bytes(),
                key=envelope.key,
                headers=envelope.kafka_headers(),
            )
        await producer.flush()
    finally:
        await producer.stop()
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=ADMIN_HEADERS) as client:
        for c in roster:
            for _ in range(600):
                if (await client.get(f"/contracts/{c['contract_id']}/terms")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"contract {c['contract_id']} never reached sla-monitor")


async def post_all(
    url: str, path: Path, total_items: int, concurrency: int, watch: MemoryWatch
) -> list[float]:
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=concurrency * 2)
    latencies: list[float] = []
    done_items = 0

    async def feed() -> None:
        for body in read_batches(path):
            await queue.put(body)
        for _ in range(concurrency):
            await queue.put(None)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done_items
        while (body := await queue.get()) is not None:
            started = time.perf_counter()
            r = await client.post(
                "/telemetry",
                content=body,
                headers={"content-type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
            )
            if r.status_code != 202:
                raise RuntimeError(f"POST /telemetry answered {r.status_code}: {r.text[:500]}")
            latencies.append(time.perf_counter() - started)
            done_items += sum(
                r.json()["by_kind"][k]["accepted"] + r.json()["by_kind"][k]["duplicates"]
                for k in r.json()["by_kind"]
            )
            watch.progress = done_items / total_items

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, timeout=300, limits=limits, headers=ADMIN_HEADERS
    ) as client:
        await asyncio.gather(feed(), *(worker(client) for _ in range(concurrency)))
    return latencies


async def verify(
    url: str, roster: list[dict[str, Any]], expected: dict[str, Expected]
) -> list[str]:
    """Every contract's stored attainment equals the figures of the data sent."""
    async with httpx.AsyncClient(base_url=url, timeout=120, headers=ADMIN_HEADERS) as client:
        return await verify_with(client, roster, expected)


async def verify_with(
    client: httpx.AsyncClient, roster: list[dict[str, Any]], expected: dict[str, Expected]
) -> list[str]:
    """verify() through a client of the caller's (an in-process app's, say)."""
    wrong = []
    for c in roster:
        want = expected[c["service_key"]].figures()
        card = (await client.get(f"/contracts/{c['contract_id']}/scorecard/{PERIOD.label}")).json()
        got: dict[str, Any] = {}
        for line in card["slas"]:
            got[line["sla_code"]] = line["attainment"]
        p1 = (
            await client.get(f"/contracts/{c['contract_id']}/slas/P1-RES/periods/{PERIOD.label}")
        ).json()["incident_figures"]
        lat = (
            await client.get(f"/contracts/{c['contract_id']}/slas/LAT-P95/periods/{PERIOD.label}")
        ).json()["measurement_figures"]
        have = {
            "AVAIL": got["AVAIL"],
            "P1-RES": (p1["incidents"], p1["within_target"]),
            "LAT-P95": (lat["values"], str(Decimal(lat["value"]))),
        }
        if have != want:
            wrong.append(f"{c['service_key']}: got {have}, expected {want}")
    return wrong


async def raw_produce(bootstrap: str, path: Path, total_items: int) -> dict[str, Any]:
    """The same batches as telemetry.recorded envelopes, produced as fast as aiokafka can."""
    topic = physical("bench.telemetry-raw")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=6,
                    replication_factor=1,
                    topic_configs={"max.message.bytes": str(16 * 1024 * 1024)},
                )
            ]
        )
    finally:
        await admin.close()
    producer = make_producer(bootstrap, client_id="sla-bench-raw")
    await producer.start()
    now = iso(datetime.now(UTC))
    try:
        started = time.perf_counter()
        futures = []
        size = 0
        for n, body in enumerate(read_batches(path)):
            # {"tenant_id": ..., "items": [...]} → the items array, wrapped in an envelope
            items = body[body.index(b'"items":') + 8 : -1]
            tenant = orjson.loads(body[: body.index(b',"items"')] + b"}")["tenant_id"]
            value = (
                b'{"specversion":"1.0","id":"'
                + str(uuid.uuid4()).encode()
                + b'","source":"bench","type":"telemetry.recorded","subject":"batch-'
                + str(n).encode()
                + b'","time":"'
                + now.encode()
                + b'","datacontenttype":"application/json",'
                b'"dataschema":"telemetry.recorded@1","tenant":"'
                + tenant.encode()
                + b'","correlationid":"bench","data":{"items":'
                + items
                + b"}}"
            )
            size += len(value)
            futures.append(
                await producer.send(
                    topic, value, key=f"batch-{n}".encode(), headers=STRUCTURED_HEADERS
                )
            )
        await asyncio.gather(*futures)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    return {
        "seconds": round(seconds, 2),
        "items_per_second": round(total_items / seconds),
        "messages": len(futures),
        "megabytes": round(size / 1e6, 1),
    }


STRUCTURED_HEADERS = [(CONTENT_TYPE_HEADER, STRUCTURED_CONTENT_TYPE.encode())]


async def raw_produce_per_item(bootstrap: str, path: Path) -> dict[str, Any]:
    """The same items, one Kafka message each (keyed by service key), as a monitoring system
    producing straight to telemetry.v1 would send them; encoded before the clock starts."""
    topic = physical("bench.telemetry-raw-items")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    finally:
        await admin.close()
    messages = [
        (orjson.dumps(item), item["service_key"].encode())
        for body in read_batches(path)
        for item in orjson.loads(body)["items"]
    ]
    producer = make_producer(bootstrap, client_id="sla-bench-raw-items")
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        for value, key in messages:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    return {
        "seconds": round(seconds, 2),
        "items_per_second": round(len(messages) / seconds),
        "messages": len(messages),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    server = to_async_url(
        os.environ.get("DATABASE_URL", "postgresql://crm:crm@127.0.0.1:5432/postgres")
    )
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    os.environ[NAMESPACE_ENV] = namespace

    print(f"generating {args.items:,} items for {args.contracts} contracts …", flush=True)
    t = time.perf_counter()
    roster, index, expected = generate(args.items, args.contracts, args.batch, args.seed)
    total = sum(n for _, n, _ in index)
    path = index[0][2]
    print(f"  {total:,} items in {len(index)} batches ({time.perf_counter() - t:.1f}s)")

    database = await create_database(server, "sla_bench")
    await ensure_topics(bootstrap, partitions=6)
    port = args.port
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SLA_MONITOR_DATABASE_URL": database,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        NAMESPACE_ENV: namespace,
        "SLA_MONITOR_LOG_LEVEL": "WARNING",
        "SLA_MONITOR_RUN_MIGRATIONS_ON_STARTUP": "false",
        "SLA_MONITOR_DB_POOL_SIZE": str(args.concurrency + 2),
        "CRM_ADMIN_API_KEY": ADMIN_KEY,
    }
    subprocess.run(  # noqa: ASYNC221 (set-up, before anything is timed)
        [sys.executable, "-m", "sla_monitor", "migrate"], env=env, check=True
    )
    log = (RESULTS / "sla-monitor.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 (the server runs beside the event loop)
        [
            sys.executable,
            "-m",
            "sla_monitor",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        await wait_ready(url, proc, port, args.workers)
        print(f"sla-monitor up ({args.workers} workers); activating contracts …", flush=True)
        await activate(bootstrap, roster, url)

        watch = MemoryWatch({"sla-monitor": proc.pid})
        watch.start()
        print(f"posting with {args.concurrency} concurrent clients …", flush=True)
        started = time.perf_counter()
        spread = asyncio.create_task(connection_spread(proc.pid, port))
        latencies = await post_all(url, path, total, args.concurrency, watch)
        connections = await spread
        posted = time.perf_counter() - started
        wrong = await verify(url, roster, expected)
        end_to_end = time.perf_counter() - started
        watch.progress = 1.0
        await asyncio.sleep(0.3)
        await watch.stop()
        memory = watch.report()
        print("producing the same batches with aiokafka …", flush=True)
        raw = await raw_produce(bootstrap, path, total)
        print("producing the same items one message each …", flush=True)
        raw_items = await raw_produce_per_item(bootstrap, path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        path.unlink(missing_ok=True)
        if not args.keep:
            await drop_database(server, database)
    latencies.sort()
    # Spans, live figures and signals are updated in the transaction that stores a batch,
    # so when the last 202 is back every item is reflected in stored attainment; the
    # read-back of every scorecard afterwards is the proof, timed separately.
    rate = total / posted
    return {
        "when": datetime.now(UTC).isoformat(),
        "items": total,
        "contracts": args.contracts,
        "batches": len(index),
        "batch_items": args.batch,
        "mix_per_1000": MIX,
        "workers": args.workers,
        "connections_per_worker": connections,
        "concurrency": args.concurrency,
        "end_to_end_seconds": round(posted, 2),
        "end_to_end_items_per_second": round(rate),
        "verified_after_seconds": round(end_to_end, 2),
        "items_per_second_including_read_back": round(total / end_to_end),
        "post_latency_p50_s": round(latencies[len(latencies) // 2], 3),
        "post_latency_max_s": round(latencies[-1], 3),
        "raw_produce": raw,
        "ratio_to_raw_produce": round(rate / raw["items_per_second"], 3),
        "raw_produce_one_message_per_item": raw_items,
        "ratio_to_raw_produce_one_message_per_item": round(rate / raw_items["items_per_second"], 3),
        "all_figures_match": not wrong,
        "mismatches": wrong[:10],
        "memory": memory,
        "load_average_at_end": os.getloadavg(),
        "cpu_count": os.cpu_count(),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--contracts", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=18003)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(main(args))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"sla_ingest-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: v for k, v in result.items() if k != "memory"}, indent=2, default=str))
    print_memory(result["memory"])
    print(f"written to {out}")
    if not result["all_figures_match"]:
        raise SystemExit("stored attainment does not match the data sent")


if __name__ == "__main__":
    cli()
