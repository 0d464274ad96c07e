"""Benchmark: from the telemetry that proves a breach to the signed webhook at a receiver.

Starts the four services as processes (each with a fresh database, a private topic
namespace on the running broker), a local HTTP receiver in this process, registers a
webhook for `alert.raised`, creates and activates N contracts, then for each one posts the
telemetry of an outage that breaks its availability SLA and measures, on one clock, the
time until the signed webhook for that contract's alert has arrived. Prints p50/p95/p99.

Paths (`--path`):
  breached  the outage is posted in the current month; sla-monitor proves the failure from
            the telemetry alone and emits `sla.breached` → alert → webhook. Needs an
            sla-monitor that emits sla.breached.
  close     the outage is posted for March 2026 and an operator closes the period right
            after (`POST .../periods/2026-03/close`); the measured time includes the close:
            telemetry → sla.period_closed (failed) → alert → webhook.

    DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/postgres \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
    uv run python bench/breach_to_webhook.py --path close --breaches 200

Breaches are measured one after another by default (latency without queueing); `--rate`
posts them at a fixed rate instead, each measured on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks import Webhook, WebhookVerificationError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm_testing import examples  # noqa: E402
from crm_testing.auth import ADMIN_HEADERS  # noqa: E402
from crm_testing.benchstack import bench_stack, handle_times, percentile  # noqa: E402
from crm_testing.stack import Stack  # noqa: E402
from crm_testing.webhooks import ReceivedRequest, WebhookReceiver  # noqa: E402

TENANT = "acme-bank"


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    # Of each latency, the part until obligation-tracker raised the alert (its envelope time).
    until_alert: list[float] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    bad_signatures: int = 0


async def wait_ready(http: httpx.AsyncClient, stack: Stack, cid: str) -> None:
    for name in ("sla-monitor", "obligation-tracker", "billing-reconciler"):
        url = f"{stack.url(name)}/contracts/{cid}/terms"
        deadline = time.monotonic() + 120
        while (await http.get(url)).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} never received contract {cid}")
            await asyncio.sleep(0.1)


async def create_contracts(
    http: httpx.AsyncClient, stack: Stack, count: int
) -> list[dict[str, str]]:
    registry = stack.url("contract-registry")
    semaphore = asyncio.Semaphore(8)

    async def one(i: int) -> dict[str, str]:
        async with semaphore:
            doc = examples.contract_document(
                reference=f"BENCH-{i:04d}-{uuid.uuid4().hex[:6]}", tenant_id=TENANT
            )
            created = await http.post(f"{registry}/contracts", json=doc)
            created.raise_for_status()
            cid = created.json()["id"]
            (await http.post(f"{registry}/contracts/{cid}/activate")).raise_for_status()
            await wait_ready(http, stack, cid)
            return {"id": cid, "service_key": doc["sla_definitions"][0]["service_key"]}

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def outage(path: str) -> dict[str, str]:
    if path == "close":
        return dict(examples.OUTAGE)  # March 2026: 240 minutes outside maintenance → failed
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    start = end - timedelta(hours=24)  # a day down: no month can still reach 99.5 %
    return {"started_at": start.isoformat(), "ended_at": end.isoformat()}


async def breach(
    http: httpx.AsyncClient,
    stack: Stack,
    receiver: WebhookReceiver,
    contract: dict[str, str],
    *,
    path: str,
    secret: str,
    timeout: float,
    run: Run,
) -> None:
    cid = contract["id"]
    sla = stack.url("sla-monitor")
    started_wall = time.time()
    started = time.perf_counter()
    resp = await http.post(
        f"{sla}/telemetry",
        json={
            "tenant_id": TENANT,
            "items": [{"service_key": contract["service_key"], **outage(path)}],
        },
    )
    resp.raise_for_status()
    if path == "close":
        closed = await http.post(
            f"{sla}/contracts/{cid}/slas/AVAIL-CORE/periods/{examples.PERIOD}/close"
        )
        closed.raise_for_status()

    def for_contract(r: ReceivedRequest) -> bool:
        return r.json.get("subject") == cid and r.json.get("type") == "alert.raised"

    try:
        [hit] = await receiver.wait_for(for_contract, timeout=timeout)
    except AssertionError:
        run.timeouts.append(cid)
        return
    try:
        Webhook(secret).verify(hit.body, hit.headers)
    except WebhookVerificationError:
        run.bad_signatures += 1
    run.latencies.append(hit.received_at - started)
    raised = datetime.fromisoformat(hit.json["time"]).timestamp()
    run.until_alert.append(raised - started_wall)


async def main(args: argparse.Namespace) -> int:
    run = Run()
    handling: dict[str, str] = {}
    async with bench_stack(prefix="bench", partitions=args.partitions) as bench:
        stack = bench.stack
        print(f"stack ready in {bench.started_in:.1f} s (logs: {bench.log_dir})")
        async with (
            httpx.AsyncClient(timeout=60, headers=ADMIN_HEADERS) as http,
            WebhookReceiver() as receiver,
        ):
            hook = await http.post(
                f"{stack.url('obligation-tracker')}/webhooks",
                json={"url": receiver.url, "event_types": ["alert.raised"]},
                headers={"X-Tenant-Id": TENANT},
            )
            hook.raise_for_status()
            secret = hook.json()["secret"]
            t0 = time.monotonic()
            contracts = await create_contracts(http, stack, args.warmup + args.breaches)
            print(f"{len(contracts)} contracts active everywhere in {time.monotonic() - t0:.1f} s")

            warm = Run()
            for contract in contracts[: args.warmup]:
                await breach(
                    http,
                    stack,
                    receiver,
                    contract,
                    path=args.path,
                    secret=secret,
                    timeout=args.timeout,
                    run=warm,
                )
            measured = contracts[args.warmup :]
            t0 = time.monotonic()
            if args.rate:
                tasks = []
                for contract in measured:
                    tasks.append(
                        asyncio.create_task(
                            breach(
                                http,
                                stack,
                                receiver,
                                contract,
                                path=args.path,
                                secret=secret,
                                timeout=args.timeout,
                                run=run,
                            )
                        )
                    )
                    await asyncio.sleep(1 / args.rate)
                await asyncio.gather(*tasks)
            else:
                for contract in measured:
                    await breach(
                        http,
                        stack,
                        receiver,
                        contract,
                        path=args.path,
                        secret=secret,
                        timeout=args.timeout,
                        run=run,
                    )
            elapsed = time.monotonic() - t0
            handling = await handle_times(
                http, {name: svc.url for name, svc in stack.services.items()}
            )

    ms = [v * 1000 for v in run.latencies]
    until = [v * 1000 for v in run.until_alert]
    report: dict[str, Any] = {
        "path": args.path,
        "breaches": args.breaches,
        "delivered": len(ms),
        "timeouts": len(run.timeouts),
        "bad_signatures": run.bad_signatures,
        "mode": f"{args.rate}/s" if args.rate else "one after another",
        "elapsed_s": round(elapsed, 1),
        "consumer_time_per_event": handling,
    }
    if ms:
        report.update(
            {
                "p50_ms": round(percentile(ms, 50), 1),
                "p95_ms": round(percentile(ms, 95), 1),
                "p99_ms": round(percentile(ms, 99), 1),
                "mean_ms": round(statistics.fmean(ms), 1),
                "min_ms": round(min(ms), 1),
                "max_ms": round(max(ms), 1),
                # The share of the time spent before the alert was raised (upstream services
                # and obligation-tracker's consumer), the rest being the webhook's delivery.
                "until_alert_raised_p50_ms": round(percentile(until, 50), 1),
                "until_alert_raised_p95_ms": round(percentile(until, 95), 1),
            }
        )
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        text = json.dumps({**report, "latencies_ms": ms}, indent=2)
        await asyncio.to_thread(Path(args.json).write_text, text)
    if run.timeouts and args.path == "breached":
        print(
            "no webhook for some breaches: does this sla-monitor emit sla.breached? "
            "(--path close measures through the operator's period close)",
            file=sys.stderr,
        )
    ok = not run.timeouts and not run.bad_signatures
    if ok and ms and percentile(ms, 95) >= args.target_p95_ms:
        print(f"p95 above the {args.target_p95_ms} ms target", file=sys.stderr)
    return 0 if ok else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", choices=["breached", "close"], default="breached")
    parser.add_argument("--breaches", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured breaches first")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="breaches per second (0: one after another)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait per webhook")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--target-p95-ms", type=float, default=500.0)
    parser.add_argument("--json", help="also write the report and every latency here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
