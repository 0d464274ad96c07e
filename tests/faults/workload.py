"""The workload of the fault suite: 20 contracts, a stream of 20,000 telemetry items and 5,000
consumption records (three quarters over HTTP, a quarter straight to Kafka), then the
period close and the chain behind it — with figures of what was sent, acknowledged and
reflected, and checks that nothing was lost or counted twice.

Every contract is DESIGN's worked example with its own service key: 125 SRV-WIN records of
1.712 (214 in all) and 125 TCK-L1 records of 37.6 (4,700), and 1,000 one-minute outages in
March. So each contract must end with downtime 1,000 minutes, ARC 1,960.00 and one credit of
4,414.08, one alert and one root-cause obligation.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from crm_events.registry import spec_for
from crm_events.schemas.consumption import ConsumptionRecorded
from crm_events.schemas.telemetry import TelemetryRecorded
from crm_events.topics import physical
from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.stack import Stack

REPORT: list[str] = []

CONTRACTS = 20
OUTAGES_PER_CONTRACT = 1_000
RECORDS_PER_UNIT = 125
TELEMETRY_BATCH = 100
CONSUMPTION_BATCH = 50
KAFKA_SHARE = 4  # every 4th batch goes straight to Kafka
FIRST_OUTAGE = datetime(2026, 3, 2, tzinfo=UTC)
TENANT = "acme-bank"


@dataclass
class Batch:
    kind: str  # telemetry | consumption
    channel: str  # http | kafka
    contract_index: int
    items: list[dict[str, Any]]
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0
    acknowledged: bool = False


@dataclass
class Contract:
    id: str
    service_key: str


@dataclass
class Figures:
    sent: int = 0
    acknowledged: int = 0
    reflected: int = 0
    duplicated: int = 0
    retried_requests: int = 0
    # Answers of 500 and above seen while retrying, by status (an outage should give 503).
    failures: Counter[int] = field(default_factory=Counter)

    @property
    def lost(self) -> int:
        return self.acknowledged - self.reflected


def contract_document(scenario: str, index: int) -> dict[str, Any]:
    doc = examples.contract_document(
        reference=f"FAULT-{scenario}-{index}-{uuid.uuid4().hex[:6]}",
        service_key=f"{scenario}-svc-{index}-{uuid.uuid4().hex[:6]}",
        tenant_id=TENANT,
    )
    doc["sla_definitions"][0]["maintenance_windows"] = {"weekly": [], "fixed": []}
    return doc


def batches(contracts: list[Contract]) -> list[Batch]:
    out: list[Batch] = []
    for ci, contract in enumerate(contracts):
        outages = [
            {
                "kind": "outage",
                "service_key": contract.service_key,
                "started_at": (FIRST_OUTAGE + timedelta(minutes=40 * j)).isoformat(),
                "ended_at": (FIRST_OUTAGE + timedelta(minutes=40 * j + 1)).isoformat(),
                "source_id": f"{contract.service_key}-{j}",
            }
            for j in range(OUTAGES_PER_CONTRACT)
        ]
        records = [
            {
                "record_id": f"{contract.id}-{unit}-{j}",
                "contract_id": contract.id,
                "resource_unit": unit,
                "period_label": examples.PERIOD,
                "quantity": qty,
            }
            for unit, qty in (("SRV-WIN", "1.712"), ("TCK-L1", "37.6"))
            for j in range(RECORDS_PER_UNIT)
        ]
        for kind, items, size in (
            ("telemetry", outages, TELEMETRY_BATCH),
            ("consumption", records, CONSUMPTION_BATCH),
        ):
            for start in range(0, len(items), size):
                out.append(
                    Batch(
                        kind=kind,
                        channel="http",
                        contract_index=ci,
                        items=items[start : start + size],
                    )
                )
    random.Random(7).shuffle(out)
    for i, batch in enumerate(out):
        if i % KAFKA_SHARE == 0:
            batch.channel = "kafka"
    return out


async def retry_http(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    deadline: float,
    figures: Figures | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Retry a request through outages (refused connections, 503s) until it succeeds."""
    delay = 0.1
    first = True
    while True:
        try:
            response = await http.request(method, url, json=json, headers=headers)
            if response.status_code < 500:
                return response
            if figures is not None:
                figures.failures[response.status_code] += 1
        except httpx.HTTPError:
            pass
        if figures is not None and first:
            figures.retried_requests += 1
        first = False
        if time.monotonic() > deadline:
            raise AssertionError(f"{method} {url} kept failing past the deadline")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


class Sender:
    """Sends the batches with a few concurrent workers, or paced (one batch every `pace`
    seconds, each in its own task, so requests keep arriving while earlier ones wait out
    an outage); a batch is retried, with the same idempotency key (HTTP) or the same event
    id (Kafka), until acknowledged."""

    def __init__(
        self, stack: Stack, bootstrap: str, batches: list[Batch], contracts: list[Contract]
    ) -> None:
        self.stack = stack
        self.bootstrap = bootstrap
        self.batches = batches
        self.contracts = contracts
        self.done = 0
        self.telemetry = Figures()
        self.consumption = Figures()
        self.fault_ended: float | None = None  # monotonic time the fault was repaired
        # ("topic:partition", offset) of each batch sent to Kafka
        self.kafka_acks: list[tuple[str, int]] = []

    def fault_over(self) -> None:
        self.fault_ended = time.monotonic()

    def figures(self, kind: str) -> Figures:
        return self.telemetry if kind == "telemetry" else self.consumption

    async def run(self, workers: int = 3, pace: float | None = None) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=False,
            request_timeout_ms=5000,
            retry_backoff_ms=200,
        )
        await producer.start()
        queue: asyncio.Queue[Batch] = asyncio.Queue()
        for batch in self.batches:
            queue.put_nowait(batch)
            self.figures(batch.kind).sent += len(batch.items)
        async with httpx.AsyncClient(timeout=10, headers=ADMIN_HEADERS) as http:

            async def worker() -> None:
                while not queue.empty():
                    batch = queue.get_nowait()
                    await self._send(http, producer, batch)
                    self.done += 1

            async def paced(batch: Batch) -> None:
                await self._send(http, producer, batch)
                self.done += 1

            try:
                if pace is None:
                    await asyncio.gather(*(worker() for _ in range(workers)))
                else:
                    sending = []
                    for batch in self.batches:
                        sending.append(asyncio.create_task(paced(batch)))
                        await asyncio.sleep(pace)
                    await asyncio.gather(*sending)
            finally:
                await producer.stop()

    async def _send(
        self, http: httpx.AsyncClient, producer: AIOKafkaProducer, batch: Batch
    ) -> None:
        figures = self.figures(batch.kind)
        deadline = time.monotonic() + 300
        if batch.channel == "http":
            if batch.kind == "telemetry":
                url = self.stack.url("sla-monitor") + "/telemetry"
                body: dict[str, Any] = {"tenant_id": TENANT, "items": batch.items}
            else:
                url = self.stack.url("billing-reconciler") + "/consumption"
                body = {"items": batch.items}

            response = await retry_http(
                http,
                "POST",
                url,
                json=body,
                deadline=deadline,
                figures=figures,
                headers={"Idempotency-Key": batch.key},
            )
            assert response.status_code == 202, response.text
        else:
            contract = self.contracts[batch.contract_index]
            data: BaseModel
            if batch.kind == "telemetry":
                spec, data, subject = (
                    spec_for("telemetry.recorded"),
                    TelemetryRecorded.model_validate({"items": batch.items}),
                    contract.service_key,
                )
            else:
                spec, data, subject = (
                    spec_for("consumption.recorded"),
                    ConsumptionRecorded.model_validate({"items": batch.items}),
                    contract.id,
                )
            envelope = spec.envelope(
                source="fault-suite",
                subject=subject,
                tenant=TENANT,
                data=data,
                correlation_id=batch.key,
            ).model_copy(update={"id": batch.key})
            delay = 0.2
            while True:
                batch.attempts += 1
                try:
                    sent = await producer.send_and_wait(
                        physical(spec.topic.value), value=envelope.to_bytes(), key=subject.encode()
                    )
                    self.kafka_acks.append((f"{spec.topic.value}:{sent.partition}", sent.offset))
                    break
                except KafkaError:
                    if batch.attempts == 2:
                        figures.retried_requests += 1
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
        batch.acknowledged = True
        figures.acknowledged += len(batch.items)


async def create_contracts(stack: Stack, scenario: str, count: int = CONTRACTS) -> list[Contract]:
    contracts = []
    registry = stack.url("contract-registry")
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
        for i in range(count):
            doc = contract_document(scenario, i)
            created = await http.post(f"{registry}/contracts", json=doc)
            assert created.status_code == 201, created.text
            cid = created.json()["id"]
            assert (await http.post(f"{registry}/contracts/{cid}/activate")).status_code == 200
            contracts.append(Contract(id=cid, service_key=doc["sla_definitions"][0]["service_key"]))

        async def all_known() -> bool:
            for contract in contracts:
                for name in ("sla-monitor", "billing-reconciler", "obligation-tracker"):
                    if not await _known(http, stack.url(name), contract.id):
                        return False
            return True

        await wait_for(all_known, "every service knows every contract")
    return contracts


async def _known(http: httpx.AsyncClient, base: str, contract_id: str) -> bool:
    try:
        return (await http.get(f"{base}/contracts/{contract_id}/terms")).status_code == 200
    except httpx.HTTPError:
        return False


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout}s")
        await asyncio.sleep(0.25)
