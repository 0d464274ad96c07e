"""The workload of bench/scale_out.py: contracts run the whole chain through the HTTP APIs,
several at a time, each with figures known in advance.

A contract is DESIGN's worked example with a service key of its own and no maintenance
window. Every other contract fails AVAIL-CORE in March 2026 (`--outages` one-minute outages,
300 by default: 99.3271 %, below the 99.5 minimum) and earns a credit; the others meet it
(20 minutes: 99.9551 %). Its SRV-WIN consumption (10 records) totals 211–230 servers, so the
ARC, the monthly charges and the credit differ from contract to contract; TCK-L1 stays at
4,700 (inside its deadband). The expected credit is worked out here with the contract's own
arithmetic (DESIGN §4), not with the services' code.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from bench.fleet import Balancer
from crm_testing import examples

TENANT = "scale-out"
FIRST_OUTAGE = datetime(2026, 3, 2, tzinfo=UTC)
MET_OUTAGES = 20
RECORDS_PER_UNIT = 10
TELEMETRY_BATCH = 50
CENT = Decimal("0.01")


@dataclass
class Plan:
    """One contract of the workload and what it must come to."""

    index: int
    reference: str
    service_key: str
    outages: int
    srv_win: int  # SRV-WIN servers in March
    contract_id: str = ""
    closed_at: float = 0.0  # time.time() of the close's answer
    error: str = ""

    @property
    def fails(self) -> bool:
        return self.outages > MET_OUTAGES

    def expected_credit(self) -> Decimal:
        if not self.fails:
            return Decimal("0.00")
        arc = Decimal(self.srv_win - 200) * Decimal("140.00")  # outside the 5 % deadband
        monthly = Decimal("90000.00") + arc  # base 200 × 150 + 5,000 × 12
        at_risk = (monthly * Decimal(12) / 100).quantize(CENT, ROUND_HALF_EVEN)
        return (at_risk * Decimal(40) / 100).quantize(CENT, ROUND_HALF_EVEN)

    def source_ids(self) -> list[str]:
        return [f"{self.service_key}-{j}" for j in range(self.outages)]

    def record_ids(self) -> list[str]:
        return [
            f"{self.reference}-{unit}-{j}"
            for unit in ("SRV", "TCK")
            for j in range(RECORDS_PER_UNIT)
        ]

    def document(self) -> dict[str, Any]:
        doc = examples.contract_document(
            reference=self.reference, service_key=self.service_key, tenant_id=TENANT
        )
        doc["sla_definitions"][0]["maintenance_windows"] = {"weekly": [], "fixed": []}
        return doc

    def telemetry(self) -> list[list[dict[str, str]]]:
        items = [
            {
                "kind": "outage",
                "service_key": self.service_key,
                "started_at": (FIRST_OUTAGE + timedelta(minutes=40 * j)).isoformat(),
                "ended_at": (FIRST_OUTAGE + timedelta(minutes=40 * j + 1)).isoformat(),
                "source_id": source_id,
            }
            for j, source_id in enumerate(self.source_ids())
        ]
        return [items[i : i + TELEMETRY_BATCH] for i in range(0, len(items), TELEMETRY_BATCH)]

    def consumption(self) -> list[list[dict[str, str]]]:
        srv = Decimal(self.srv_win) / RECORDS_PER_UNIT
        tck = Decimal(4700) / RECORDS_PER_UNIT
        ids = self.record_ids()
        rows = [
            {
                "record_id": record_id,
                "contract_id": self.contract_id,
                "resource_unit": "SRV-WIN" if n < RECORDS_PER_UNIT else "TCK-L1",
                "period_label": examples.PERIOD,
                "quantity": str(srv if n < RECORDS_PER_UNIT else tck),
            }
            for n, record_id in enumerate(ids)
        ]
        return [rows[:RECORDS_PER_UNIT], rows[RECORDS_PER_UNIT:]]


def plan(index: int, run: str, outages: int) -> Plan:
    suffix = uuid.uuid4().hex[:6]
    return Plan(
        index=index,
        reference=f"SCALE-{run}-{index:05d}-{suffix}",
        service_key=f"scale-{run}-{index:05d}-{suffix}",
        outages=outages if index % 2 == 0 else MET_OUTAGES,
        srv_win=211 + index % 20,
    )


@dataclass
class Load:
    """Lanes that each run one contract's chain after another until the time is up."""

    lb: Balancer
    run: str
    outages: int
    hold_every: int = 0  # every n-th contract's close waits for the storm (0: none)
    plans: list[Plan] = field(default_factory=list)
    held: list[Plan] = field(default_factory=list)
    requests: int = 0
    _next: int = 0

    async def lanes(self, count: int, until: float) -> None:
        await asyncio.gather(*(self._lane(until) for _ in range(count)))

    async def _lane(self, until: float) -> None:
        while time.monotonic() < until:
            p = plan(self._next, self.run, self.outages)
            self._next += 1
            self.plans.append(p)
            try:
                await self.chain(p)
            except Exception as exc:  # reported with the figures; the other lanes go on
                p.error = repr(exc)

    async def _post(self, service: str, path: str, key: str, body: Any = None) -> Any:
        self.requests += 1
        response = await self.lb.request(service, "POST", path, key=key, json=body)
        if response.status_code not in (200, 201, 202):
            raise RuntimeError(f"POST {service}{path}: {response.status_code} {response.text}")
        return response.json()

    async def _known(self, p: Plan) -> None:
        """Wait until every consumer of contracts.v1 holds the terms. Events of one contract
        on different topics are not ordered with each other: while a rebalance holds
        contracts.v1 back, a close seconds after the activation would reach a service
        before the terms it needs (its handler retries, then dead-letters it)."""
        for service in ("sla-monitor", "billing-reconciler", "obligation-tracker"):
            deadline = time.monotonic() + 180
            path = f"/contracts/{p.contract_id}/terms"
            while (await self.lb.request(service, "GET", path)).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service} never learnt of {p.reference}")
                await asyncio.sleep(0.2)

    async def chain(self, p: Plan) -> None:
        """Create, activate, telemetry and consumption, close March (or hold the close for
        the storm): the rest (credit, alert, obligation, health) follows through Kafka."""
        created = await self._post("contract-registry", "/contracts", p.reference, p.document())
        p.contract_id = created["id"]
        await self._post(
            "contract-registry", f"/contracts/{p.contract_id}/activate", f"act-{p.reference}"
        )
        await self._known(p)
        for n, rows in enumerate(p.consumption()):
            await self._post(
                "billing-reconciler", "/consumption", f"con-{p.reference}-{n}", {"items": rows}
            )
        for n, items in enumerate(p.telemetry()):
            await self._post(
                "sla-monitor",
                "/telemetry",
                f"tel-{p.reference}-{n}",
                {"tenant_id": TENANT, "items": items},
            )
        # Pairs of contracts (one failing, one meeting its SLA) are held together.
        if self.hold_every and (p.index // 2) % self.hold_every == self.hold_every - 1:
            self.held.append(p)
        else:
            await self.close(p)

    async def close(self, p: Plan) -> None:
        closed = await self._post(
            "sla-monitor",
            f"/contracts/{p.contract_id}/slas/AVAIL-CORE/periods/{examples.PERIOD}/close",
            f"close-{p.reference}",
        )
        expected = "failed" if p.fails else "met"
        if closed["outcome"] != expected:
            raise RuntimeError(f"{p.reference}: {closed['outcome']}, expected {expected}")
        p.closed_at = time.time()

    async def storm(self, concurrency: int) -> None:
        """Close every held period at once, `concurrency` requests in flight: month end."""
        gate = asyncio.Semaphore(concurrency)

        async def one(p: Plan) -> None:
            async with gate:
                try:
                    await self.close(p)
                except Exception as exc:
                    p.error = repr(exc)

        await asyncio.gather(*(one(p) for p in self.held))
