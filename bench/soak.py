"""Soak: minutes of steady mixed load on the four services, reported per time slice.

    DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/postgres \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
    uv run python bench/soak.py --minutes 20

Starts the four services as processes (fresh databases, a private topic namespace with six
partitions per topic) and, for `--minutes`, keeps three kinds of load going at fixed rates:

- **contract cycles** (`--cycles-per-minute`): the worked example end to end for a new
  contract: create and activate it, the ERP posts March consumption, monitoring posts the
  March outage, an operator closes March; once the credit (4,414.08) is visible, the ERP
  posts the March invoice. Measured: close → credit visible, close → alert carrying the
  credit.
- **telemetry** (`--telemetry-per-second`): one batch a second of one-second outages in the
  current month, spread over `--stream-contracts` contracts, each outage at its own second
  with a gap after it (so none merge and each stays countable).
- **reads** (`--reads-per-second`): an operator's pages: a contract's health, its credits,
  the open alerts.

Every `--slice-minutes` it reports, per slice: requests and latency (p50/p95/p99) per
kind, the chain latencies, events handled per service (from their `/metrics`) and the RSS of
every service process (largest and last). At the end it waits until every outbox is empty
and every consumer group's lag is zero (and reports how long that took), then checks that
nothing was lost or counted twice: per cycle contract exactly one credit of 4,414.08, one
alert per story (the failed SLA's carrying the credit), one root-cause and one dispute
obligation, and a current reconciliation with the worked example's difference (4,694.08);
per stream contract every outage posted is counted once in the open period's downtime.
Prints JSON and writes bench/results/soak.json; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm_testing import examples  # noqa: E402
from crm_testing.auth import ADMIN_HEADERS  # noqa: E402
from crm_testing.benchstack import (  # noqa: E402
    BenchStack,
    bench_stack,
    consumer_lag,
    metric_sums,
    outbox_backlog,
    percentile,
)
from crm_testing.chain import activate_contract  # noqa: E402
from crm_testing.procwatch import MemoryWatch  # noqa: E402

TENANT = "acme-bank"
HANDLED = "crm_events_consumed_total"
EXPECTED_DIFFERENCE = str(examples.RECONCILIATION["difference"])
CREDIT = str(examples.EXPECTED["credit"])


def latency_summary(ms: list[float]) -> dict[str, float]:
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms, default=0.0), 1),
    }


@dataclass
class Recorder:
    """Latencies (ms) per slice and kind, and what went wrong."""

    started: float
    slice_seconds: float
    latencies: dict[int, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    errors: list[str] = field(default_factory=list)

    def slice_of(self, at: float) -> int:
        return int((at - self.started) // self.slice_seconds)

    def add(self, kind: str, started: float, ms: float | None = None) -> None:
        ms = (time.monotonic() - started) * 1000 if ms is None else ms
        self.latencies[self.slice_of(started)][kind].append(ms)

    async def call(
        self, http: httpx.AsyncClient, kind: str, method: str, url: str, **kw: Any
    ) -> httpx.Response:
        t0 = time.monotonic()
        resp = await http.request(method, url, **kw)
        self.add(kind, t0)
        if resp.status_code >= 400:
            self.errors.append(f"{kind}: {resp.status_code} {resp.text[:200]}")
        return resp


@dataclass
class Stream:
    """The telemetry stream: one-second outages, each at its own second, per contract."""

    contracts: list[tuple[str, str]]  # (contract id, service key)
    base: datetime
    period: str
    posted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    next_item: int = 0

    def batch(self, size: int) -> list[dict[str, str]]:
        items = []
        for _ in range(size):
            cid, key = self.contracts[self.next_item % len(self.contracts)]
            second = 2 * (self.next_item // len(self.contracts))  # a gap after each outage
            start = self.base + timedelta(seconds=second)
            items.append(
                {
                    "service_key": key,
                    "started_at": start.isoformat(),
                    "ended_at": (start + timedelta(seconds=1)).isoformat(),
                }
            )
            self.posted[cid] += 1
            self.next_item += 1
        return items


def stream_window(now: datetime, span: timedelta) -> tuple[datetime, str]:
    """Where the stream's outages go: from a day ago, on the hour, so all of them are in the
    past; moved to the next month's first hour when they would cross a month end in the
    example contract's timezone. Returns the start and that month's label."""
    zone = ZoneInfo(examples.contract_document()["timezone"])
    base = (now - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    first, last = base.astimezone(zone), (base + span).astimezone(zone)
    if (first.year, first.month) != (last.year, last.month):
        base = last.replace(day=1, hour=1, minute=0, second=0).astimezone(UTC)
    return base, base.astimezone(zone).strftime("%Y-%m")


async def new_contract(http: httpx.AsyncClient, bench: BenchStack, n: int) -> tuple[str, str]:
    doc = examples.contract_document(reference=f"SOAK-{n:05d}-{uuid.uuid4().hex[:6]}")
    cid = await activate_contract(
        http,
        bench.stack,
        doc,
        known_at=("sla-monitor", "billing-reconciler", "obligation-tracker"),
    )
    return cid, doc["sla_definitions"][0]["service_key"]


async def poll(check: Any, timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(every)
    return False


async def cycle(
    http: httpx.AsyncClient, bench: BenchStack, rec: Recorder, n: int, done: list[str]
) -> None:
    """One contract through the worked example, measured."""
    url = bench.stack.url
    t0 = time.monotonic()
    cid, key = await new_contract(http, bench, n)
    rec.add("activate (until known everywhere)", t0)
    billing, sla = url("billing-reconciler"), url("sla-monitor")
    await rec.call(
        http,
        "post consumption",
        "POST",
        f"{billing}/consumption",
        json={"items": examples.consumption_items(cid)},
        headers={"Idempotency-Key": f"soak-consumption-{cid}"},
    )
    await rec.call(
        http,
        "post telemetry (cycle)",
        "POST",
        f"{sla}/telemetry",
        json={"tenant_id": TENANT, "items": [{"service_key": key, **examples.OUTAGE}]},
    )
    closed_at = time.monotonic()
    close_url = f"{sla}/contracts/{cid}/slas/AVAIL-CORE/periods/{examples.PERIOD}/close"
    await rec.call(http, "close period", "POST", close_url)

    async def credit_visible() -> bool:
        rows = (await http.get(f"{billing}/contracts/{cid}/credits")).json()["items"]
        return [r["credit_amount"] for r in rows] == [CREDIT]

    async def alert_with_credit() -> bool:
        obligations = url("obligation-tracker")
        rows = (await http.get(f"{obligations}/alerts", params={"contract_id": cid})).json()
        return any("credit_amount" in r["details"] for r in rows["items"])

    if not await poll(credit_visible, timeout=120):
        rec.errors.append(f"{cid}: no credit within 120 s of the close")
        return
    rec.add("close → credit visible", closed_at)
    if not await poll(alert_with_credit, timeout=120):
        rec.errors.append(f"{cid}: no alert with the credit within 120 s of the close")
        return
    rec.add("close → alert with credit", closed_at)
    invoice = examples.invoice_document(cid)
    await rec.call(
        http,
        "post invoice",
        "POST",
        f"{billing}/invoices",
        json=invoice,
        headers={"Idempotency-Key": f"soak-{invoice['invoice_number']}"},
    )
    done.append(cid)


async def at_rate(
    per_second: float, until: float, make: Any, rec: Recorder, kind: str
) -> list[asyncio.Task[None]]:
    """Starts `make(n)` every 1/per_second seconds until `until`, on a fixed schedule (an
    open loop: a slower system gets more requests in flight, not fewer requests). A task
    that fails is recorded as an error of `kind`, not raised."""
    tasks: list[asyncio.Task[None]] = []
    if per_second <= 0:
        return tasks

    async def guarded(n: int) -> None:
        try:
            await make(n)
        except Exception as exc:  # a timeout or a refused connection is a finding
            rec.errors.append(f"{kind} #{n}: {exc!r}")

    start, n = time.monotonic(), 0
    while (due := start + n / per_second) < until:
        await asyncio.sleep(max(due - time.monotonic(), 0))
        tasks.append(asyncio.create_task(guarded(n)))
        n += 1
    return tasks


async def reads(http: httpx.AsyncClient, bench: BenchStack, rec: Recorder, cid: str) -> None:
    url = bench.stack.url
    await rec.call(http, "read health", "GET", f"{url('contract-registry')}/contracts/{cid}/health")
    await rec.call(
        http, "read credits", "GET", f"{url('billing-reconciler')}/contracts/{cid}/credits"
    )
    await rec.call(
        http, "read alerts", "GET", f"{url('obligation-tracker')}/alerts", params={"limit": 50}
    )


async def sample_slices(
    http: httpx.AsyncClient, bench: BenchStack, rec: Recorder, until: float
) -> list[dict[str, float]]:
    """Events handled per service at each slice boundary (and at the end)."""
    marks = []
    boundary = rec.started
    while boundary <= until + 1e-6:
        await asyncio.sleep(max(boundary - time.monotonic(), 0))
        marks.append(
            {
                name: (await metric_sums(http, svc.url, (HANDLED,)))[HANDLED]
                for name, svc in bench.stack.services.items()
            }
        )
        boundary += rec.slice_seconds
    return marks


async def drain(http: httpx.AsyncClient, bench: BenchStack, timeout: float) -> dict[str, Any]:
    """Until every outbox is empty and every group's lag is zero."""
    t0 = time.monotonic()
    while True:
        backlog = await outbox_backlog(bench.databases)
        lag = await consumer_lag(bench.bootstrap)
        if not any(backlog.values()) and not any(lag.values()):
            break
        if time.monotonic() - t0 > timeout:
            break
        await asyncio.sleep(1)
    return {
        "seconds": round(time.monotonic() - t0, 1),
        "outbox_backlog": backlog,
        "consumer_lag": lag,
    }


async def verify(
    http: httpx.AsyncClient, bench: BenchStack, cycles: list[str], stream: Stream
) -> list[str]:
    """What must hold once the load stopped and everything drained."""
    url = bench.stack.url
    wrong: list[str] = []
    sem = asyncio.Semaphore(8)

    async def one_cycle(cid: str) -> None:
        async with sem:
            credits = await http.get(f"{url('billing-reconciler')}/contracts/{cid}/credits")
            amounts = [r["credit_amount"] for r in credits.json()["items"]]
            alerts = await http.get(
                f"{url('obligation-tracker')}/alerts", params={"contract_id": cid}
            )
            obligations = await http.get(
                f"{url('obligation-tracker')}/obligations", params={"contract_id": cid}
            )
            invoices = await http.get(
                f"{url('billing-reconciler')}/invoices", params={"contract_id": cid}
            )
            [invoice] = invoices.json()["items"]
            rec = await http.get(
                f"{url('billing-reconciler')}/invoices/{invoice['id']}/reconciliation"
            )
        if amounts != [CREDIT]:
            wrong.append(f"{cid}: credits {amounts}")
        # One alert per story (dedup key): the failed SLA (carrying the credit) and the
        # invoice's discrepancies; a root-cause obligation (the failed SLA) and a dispute
        # (the over-billed invoice).
        keys = sorted(r["dedup_key"] for r in alerts.json()["items"])
        if len(keys) != len(set(keys)) or f"sla_failure:{cid}:AVAIL-CORE:2026-03" not in keys:
            wrong.append(f"{cid}: alerts {keys}")
        kinds = sorted(r["kind"] for r in obligations.json()["items"])
        if kinds != ["dispute_resolution", "root_cause_report"]:
            wrong.append(f"{cid}: obligations {kinds}")
        if rec.json()["difference"] != EXPECTED_DIFFERENCE:
            wrong.append(f"{cid}: reconciliation difference {rec.json()['difference']}")

    async def one_stream(cid: str) -> None:
        async with sem:
            got = await http.get(
                f"{url('sla-monitor')}/contracts/{cid}/slas/AVAIL-CORE/periods/{stream.period}"
            )
        counted = len(got.json()["counted_downtime"])
        if counted != stream.posted[cid]:
            wrong.append(f"stream {cid}: {counted} outages counted, {stream.posted[cid]} posted")

    await asyncio.gather(
        *(one_cycle(c) for c in cycles), *(one_stream(c) for c, _ in stream.contracts)
    )
    return wrong


def slice_reports(
    rec: Recorder, watch: MemoryWatch, marks: list[dict[str, float]], slices: int
) -> list[dict[str, Any]]:
    out = []
    for i in range(slices):
        start = i * rec.slice_seconds  # the watch starts with the load
        handled = (
            {
                name: round((marks[i + 1][name] - marks[i][name]) / rec.slice_seconds, 1)
                for name in marks[i]
            }
            if i + 1 < len(marks)
            else {}
        )
        out.append(
            {
                "slice": i,
                "from_min": round(i * rec.slice_seconds / 60, 2),
                "latency": {
                    kind: latency_summary(ms) for kind, ms in sorted(rec.latencies[i].items())
                },
                "events_per_second": handled,
                "rss_mib": watch.window(start, start + rec.slice_seconds),
            }
        )
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with bench_stack(prefix="soak") as bench:
        print(f"stack ready in {bench.started_in:.1f} s (logs: {bench.log_dir})", flush=True)
        # Requests beyond the pool wait for a connection (no pool timeout): a saturated
        # system shows as latency, which includes that wait.
        limits = httpx.Limits(max_connections=64)
        timeout = httpx.Timeout(60.0, pool=None)
        async with httpx.AsyncClient(timeout=timeout, headers=ADMIN_HEADERS, limits=limits) as http:
            per_contract = args.minutes * 60 * args.telemetry_per_second / args.stream_contracts
            span = timedelta(seconds=2 * per_contract + 60)
            base, period = stream_window(datetime.now(UTC), span)
            stream_contracts = [
                await new_contract(http, bench, -1 - i) for i in range(args.stream_contracts)
            ]
            stream = Stream(stream_contracts, base, period)
            watch = MemoryWatch(
                {
                    name: svc.process.pid
                    for name, svc in bench.stack.services.items()
                    if svc.process
                },
                interval=2.0,
            )
            seconds = args.minutes * 60
            slice_seconds = args.slice_minutes * 60
            watch.start()
            rec = Recorder(time.monotonic(), slice_seconds)
            until = rec.started + seconds
            done: list[str] = []
            sla = bench.stack.url("sla-monitor")

            async def telemetry(_: int) -> None:
                await rec.call(
                    http,
                    "post telemetry (stream)",
                    "POST",
                    f"{sla}/telemetry",
                    json={"tenant_id": TENANT, "items": stream.batch(args.telemetry_per_second)},
                )

            async def read(n: int) -> None:
                pool = done or [c for c, _ in stream.contracts]
                await reads(http, bench, rec, pool[n % len(pool)])

            print(f"steady load for {args.minutes} min …", flush=True)
            sampler = asyncio.create_task(sample_slices(http, bench, rec, until))
            launched = await asyncio.gather(
                at_rate(
                    args.cycles_per_minute / 60,
                    until,
                    lambda n: cycle(http, bench, rec, n, done),
                    rec,
                    "cycle",
                ),
                at_rate(1.0, until, telemetry, rec, "telemetry"),
                at_rate(args.reads_per_second, until, read, rec, "reads"),
            )
            for tasks in launched:
                await asyncio.gather(*tasks)
            marks = await sampler
            load_done = time.monotonic()
            settled = await drain(http, bench, args.drain_timeout)
            await watch.stop()
            wrong = await verify(http, bench, done, stream)
            cycles_started = len(launched[0])
            slices = max(1, round(seconds / slice_seconds))
            return {
                "minutes": args.minutes,
                "cores": os.cpu_count(),
                "rates": {
                    "cycles_per_minute": args.cycles_per_minute,
                    "telemetry_items_per_second": args.telemetry_per_second,
                    "reads_per_second": args.reads_per_second,
                },
                "cycles": {"started": cycles_started, "completed": len(done)},
                "telemetry_items": stream.next_item,
                "tail_after_load_s": round(load_done - until, 1),
                "drain": settled,
                "lost_or_double": wrong,
                "errors": rec.errors[:20],
                "error_count": len(rec.errors),
                "slices": slice_reports(rec, watch, marks, slices),
                "memory_by_quarter": watch.report(),
            }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--slice-minutes", type=float, default=5.0)
    parser.add_argument("--cycles-per-minute", type=float, default=30.0)
    parser.add_argument("--telemetry-per-second", type=int, default=200)
    parser.add_argument("--stream-contracts", type=int, default=50)
    parser.add_argument("--reads-per-second", type=float, default=5.0)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "soak.json"))
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=2))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    ok = (
        not report["lost_or_double"]
        and not report["error_count"]
        and report["cycles"]["completed"] == report["cycles"]["started"]
        and not any(report["drain"]["outbox_backlog"].values())
        and not any(report["drain"]["consumer_lag"].values())
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
