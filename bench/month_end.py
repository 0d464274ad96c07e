"""Close storm: every SLA period of a portfolio closes at once, until every credit, alert,
obligation and reconciliation it causes is visible through the APIs.

    DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/postgres \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
    uv run python bench/month_end.py --contracts 2000

Set-up (not timed), on the shared PostgreSQL and Kafka (a fresh database per service, a
private topic namespace), the four services as real processes (crm_testing.stack):
1. N contracts (bench/month_end_data.py: DESIGN's worked example with five SLAs of every
   metric kind) are created and activated on contract-registry;
2. March 2026's telemetry of every contract is ingested — three batches in four over
   `POST /telemetry`, the fourth as `telemetry.recorded` on `telemetry.v1` — and, for half
   the contracts, the ERP's consumption (SRV-WIN 214, TCK-L1 4,700); every contract's
   supplier invoice for March is posted (reconciled on receipt);
3. the expected outcome of every SLA, the credits (ARA × allocation, half-even), the alerts
   (one per failed SLA), the root-cause obligations (one per failed or below-expected SLA)
   and the unapplied credits of the reconciliations are computed by month_end_data.py from
   the generated telemetry with its own arithmetic — no service code.

The storm (timed): the operator closes every SLA's March, `--slice` contracts (50) per
`POST /periods/2026-03/close`, `--concurrency` (2) requests at once (`--per-sla-closes`:
one `POST /contracts/{id}/slas/{code}/periods/2026-03/close` per SLA instead; March
ended before the contracts reached sla-monitor, so the close job leaves these periods to
an operator — see docs/sla-monitor.md, *Closing and restating*), while the bench polls
the APIs — `GET /alerts`, `GET /obligations`, `GET /credits/csv`, `GET /leakage` — until
every figure is there. Then (not timed) every close answer, credit, alert, obligation and
unapplied credit is compared with the expected one, exactly. Reported: the storm's
seconds, events per second per service (`crm_events_consumed_total` over the storm), the
RSS of every service process (peak, and at 25/50/75/100 % of the storm), nothing dead-
lettered. Results: stdout and bench/results/month_end-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.month_end_data import (
    PERIOD,
    SLAS,
    ContractPlan,
    batches,
    plan_contracts,
    sla_definitions,
)
from crm_events.kafka import delete_topics, ensure_topics, make_producer
from crm_events.schemas.telemetry import TelemetryRecorded
from crm_events.topics import NAMESPACE_ENV, all_topics, physical
from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.benchstack import RESULTS, consumed, percentile
from crm_testing.chain import activate_contract
from crm_testing.infra import create_database, drop_database, to_async_url
from crm_testing.kafka import make_event
from crm_testing.procwatch import MemoryWatch, print_memory
from crm_testing.stack import SERVICES, Stack, new_stack

PER_BATCH = 40  # contracts per telemetry batch (~5,000 items)


# -- set-up ---------------------------------------------------------------------------------


async def create_contracts(
    http: httpx.AsyncClient, stack: Stack, plans: list[ContractPlan], tenant: str, width: int
) -> dict[int, str]:
    semaphore = asyncio.Semaphore(width)

    async def one(plan: ContractPlan) -> tuple[int, str]:
        async with semaphore:
            doc = examples.contract_document(reference=f"ME-{plan.suffix}", tenant_id=tenant)
            doc["sla_definitions"] = sla_definitions(plan, examples.MAINTENANCE)
            cid = await activate_contract(
                http,
                stack,
                doc,
                known_at=("sla-monitor", "billing-reconciler", "obligation-tracker"),
            )
            return plan.index, cid

    return dict(await asyncio.gather(*(one(p) for p in plans)))


async def ingest(
    http: httpx.AsyncClient, stack: Stack, plans: list[ContractPlan], tenant: str, bootstrap: str
) -> dict[str, int]:
    """The month's telemetry: three batches in four over HTTP, the fourth over Kafka; waits
    until sla-monitor's consumer has handled every Kafka batch."""
    sla = stack.url("sla-monitor")
    before = (await consumed(http, {"sla-monitor": sla}))["sla-monitor"]
    producer = make_producer(bootstrap, client_id="bench-month-end")
    await producer.start()
    sent = {"http_items": 0, "kafka_items": 0, "kafka_messages": 0}
    try:
        for n, items in enumerate(batches(plans, PER_BATCH)):
            if n % 4 == 3:
                envelope = make_event(
                    "telemetry.recorded",
                    subject=f"{tenant}-{n}",
                    data=TelemetryRecorded.model_validate({"items": items}),
                    tenant=tenant,
                    source="bench",
                )
                await producer.send_and_wait(
                    physical("telemetry.v1"),
                    envelope.to_bytes(),
                    key=envelope.key,
                    headers=envelope.kafka_headers(),
                )
                sent["kafka_items"] += len(items)
                sent["kafka_messages"] += 1
                continue
            r = await http.post(f"{sla}/telemetry", json={"tenant_id": tenant, "items": items})
            if r.status_code != 202:
                raise RuntimeError(f"POST /telemetry answered {r.status_code}: {r.text[:300]}")
            sent["http_items"] += len(items)
    finally:
        await producer.stop()
    deadline = time.monotonic() + 600
    while True:
        now = (await consumed(http, {"sla-monitor": sla}))["sla-monitor"]
        if (
            now["telemetry.recorded/handled"] - before["telemetry.recorded/handled"]
            >= sent["kafka_messages"]
        ):
            return sent
        if time.monotonic() > deadline:
            raise RuntimeError(f"telemetry.v1 not consumed in time: {dict(now)}")
        await asyncio.sleep(0.5)


async def billing_inputs(
    http: httpx.AsyncClient, stack: Stack, plans: list[ContractPlan], ids: dict[int, str]
) -> None:
    """The ERP's consumption for half the contracts, and every contract's March invoice."""
    billing = stack.url("billing-reconciler")
    records = [
        item
        for p in plans
        if p.with_consumption
        for item in examples.consumption_items(ids[p.index])
    ]
    for i in range(0, len(records), 5000):
        r = await http.post(f"{billing}/consumption", json={"items": records[i : i + 5000]})
        if r.status_code not in (200, 201, 202):
            raise RuntimeError(f"POST /consumption answered {r.status_code}: {r.text[:300]}")
    semaphore = asyncio.Semaphore(8)

    async def invoice(cid: str) -> None:
        # The supplier's number, unique in the tenant (a random one may repeat in thousands).
        doc = examples.invoice_document(cid, invoice_number=f"GLX-2026-03-{cid}")
        async with semaphore:
            r = await http.post(f"{billing}/invoices", json=doc)
            if r.status_code not in (200, 201):
                raise RuntimeError(f"POST /invoices answered {r.status_code}: {r.text[:300]}")

    await asyncio.gather(*(invoice(cid) for cid in ids.values()))


# -- what the APIs show ---------------------------------------------------------------------


async def pages(http: httpx.AsyncClient, url: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        r = await http.get(url, params=query)
        r.raise_for_status()
        body = r.json()
        out += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return out


async def observed(http: httpx.AsyncClient, stack: Stack) -> dict[str, Any]:
    """Everything the storm must produce, as the APIs show it now."""
    tracker, billing = stack.url("obligation-tracker"), stack.url("billing-reconciler")
    alerts = await pages(http, f"{tracker}/alerts", severity="high")
    obligations = await pages(http, f"{tracker}/obligations", kind="root_cause_report")
    text = (await http.get(f"{billing}/credits/csv", params={"period": PERIOD})).text
    credits = list(csv.DictReader(io.StringIO(text)))
    leakage = await pages(http, f"{billing}/leakage", period=PERIOD, group_by="contract,class")
    return {
        "alerts": {a["dedup_key"] for a in alerts if a["dedup_key"].startswith("sla_failure:")},
        "obligations": {(o["contract_id"], o["title"]) for o in obligations},
        "credits": {
            (c["contract_id"], c["sla_code"]): Decimal(c["credit_amount"])
            for c in credits
            if Decimal(c["credit_amount"]) != 0
        },
        "unapplied": {
            row["contract_id"]: Decimal(row["amount"])
            for row in leakage
            if row["discrepancy_class"] == "unapplied_credit"
        },
    }


def expected_of(plans: list[ContractPlan], ids: dict[int, str]) -> dict[str, Any]:
    alerts, obligations, credits, unapplied = set(), set(), {}, {}
    for p in plans:
        cid = ids[p.index]
        for code, exp in p.expected.items():
            if exp.outcome == "failed":
                alerts.add(f"sla_failure:{cid}:{code}:{PERIOD}")
            if exp.outcome in ("failed", "below_expected"):
                obligations.add((cid, f"Root-cause report: {code} {exp.outcome} in {PERIOD}"))
        for code, amount in p.credits().items():
            credits[(cid, code)] = amount
        if p.credits():
            unapplied[cid] = sum(p.credits().values(), Decimal(0))
    return {
        "alerts": alerts,
        "obligations": obligations,
        "credits": credits,
        "unapplied": unapplied,
    }


def counts(seen: dict[str, Any]) -> dict[str, Any]:
    return {
        "alerts": len(seen["alerts"]),
        "obligations": len(seen["obligations"]),
        "credits": len(seen["credits"]),
        "credit_sum": str(sum(seen["credits"].values(), Decimal(0))),
        "reconciliations_with_unapplied_credit": len(seen["unapplied"]),
        "unapplied_credit_sum": str(sum(seen["unapplied"].values(), Decimal(0))),
    }


# -- the storm ------------------------------------------------------------------------------


def _check_close(
    plan: ContractPlan, cid: str, code: str, got: tuple[Any, Any], wrong: list[str]
) -> None:
    exp = plan.expected[code]
    if got != (exp.outcome, exp.attainment):
        wrong.append(f"{cid}/{code}: got {got}, expected {(exp.outcome, exp.attainment)}")


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


async def close_all(
    http: httpx.AsyncClient,
    stack: Stack,
    plans: list[ContractPlan],
    ids: dict[int, str],
    args: argparse.Namespace,
    latencies: list[float],
) -> list[str]:
    """Close every SLA's March — `--slice` contracts per `POST /periods/2026-03/close`, or
    with `--per-sla-closes` one `POST …/slas/{code}/periods/2026-03/close` per SLA —
    `--concurrency` requests at once; returns how each closed period differs from the
    expected one, and adds each request's seconds to `latencies`."""
    sla = stack.url("sla-monitor")
    semaphore = asyncio.Semaphore(args.concurrency)
    wrong: list[str] = []

    async def post(url: str, **kw: Any) -> httpx.Response:
        async with semaphore:
            t0 = time.perf_counter()
            r = await http.post(url, **kw)
            latencies.append(time.perf_counter() - t0)
        return r

    async def close(plan: ContractPlan, code: str) -> None:
        cid = ids[plan.index]
        r = await post(f"{sla}/contracts/{cid}/slas/{code}/periods/{PERIOD}/close")
        if r.status_code != 200:
            wrong.append(f"{cid}/{code}: close answered {r.status_code} {r.text[:200]}")
            return
        body = r.json()
        _check_close(plan, cid, code, (body["outcome"], _decimal(body["attainment"])), wrong)

    async def close_slice(chunk: list[ContractPlan]) -> None:
        by_id = {ids[p.index]: p for p in chunk}
        r = await post(f"{sla}/periods/{PERIOD}/close", json={"contract_ids": list(by_id)})
        if r.status_code != 200:
            wrong.append(f"slice of {len(chunk)}: close answered {r.status_code} {r.text[:200]}")
            return
        body = r.json()
        if body["already_closed"] or body["not_measured"]:
            wrong.append(f"slice: not closed now {body['already_closed'] + body['not_measured']}")
        seen = set()
        for line in body["closed"]:
            cid, code = line["contract_id"], line["sla_code"]
            seen.add((cid, code))
            got = (line["outcome"], _decimal(line["attainment"]))
            _check_close(by_id[cid], cid, code, got, wrong)
        missing = {(c, s.code) for c in by_id for s in SLAS} - seen
        wrong.extend(f"{c}/{code}: not in the close answer" for c, code in sorted(missing))

    if args.per_sla_closes:
        await asyncio.gather(*(close(p, s.code) for p in plans for s in SLAS))
    else:
        step = args.slice
        await asyncio.gather(
            *(close_slice(plans[i : i + step]) for i in range(0, len(plans), step))
        )
    return wrong


async def storm(
    http: httpx.AsyncClient,
    stack: Stack,
    plans: list[ContractPlan],
    ids: dict[int, str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    expected = expected_of(plans, ids)
    urls = {name: svc.url for name, svc in stack.services.items()}
    pids = {name: svc.process.pid for name, svc in stack.services.items() if svc.process}
    watch = MemoryWatch(pids, interval=0.5)
    before = await consumed(http, urls)
    watch.start()
    started = time.perf_counter()
    latencies: list[float] = []
    closing = asyncio.create_task(close_all(http, stack, plans, ids, args, latencies))
    closed_at: list[float] = []
    closing.add_done_callback(lambda _: closed_at.append(time.perf_counter()))
    seen: dict[str, Any] = {}
    while True:
        await asyncio.sleep(args.poll)
        if closing.done():
            seen = await observed(http, stack)
            if counts(seen) == counts(expected):
                break
        if time.perf_counter() - started > args.timeout:
            break
    elapsed = time.perf_counter() - started
    close_wrong = await closing
    closes_s = closed_at[0] - started
    await watch.stop()
    after = await consumed(http, urls)
    await asyncio.sleep(args.settle)  # anything more (a duplicate, a late revision) shows now
    final = await observed(http, stack)
    return {
        "elapsed": elapsed,
        "closes_s": closes_s,
        "expected": expected,
        "seen": final,
        "close_wrong": close_wrong,
        "close_ms": {f"p{q}": round(percentile(latencies, q) * 1000, 1) for q in (50, 95, 99)},
        "events": {name: after[name] - before[name] for name in urls},
        "memory": watch.report(),
    }


# -- the run --------------------------------------------------------------------------------


def compare(expected: dict[str, Any], seen: dict[str, Any]) -> dict[str, list[str]]:
    """What is missing from the APIs and what they show that was not expected, per kind."""
    out: dict[str, list[str]] = {}
    for kind in ("alerts", "obligations", "credits", "unapplied"):
        want, got = expected[kind], seen[kind]
        if isinstance(want, dict):
            problems = [f"missing {k}: {v}" for k, v in want.items() if got.get(k) != v]
            problems += [f"unexpected {k}: {v}" for k, v in got.items() if k not in want]
        else:
            problems = [f"missing {k}" for k in sorted(want - got)]
            problems += [f"unexpected {k}" for k in sorted(got - want)]
        if problems:
            out[kind] = problems[:10] + (
                [f"… {len(problems)} in all"] if len(problems) > 10 else []
            )
    return out


def per_second(events: dict[str, Counter[str]], seconds: float) -> dict[str, Any]:
    out = {}
    for name, counter in events.items():
        handled = {k: v for k, v in counter.items() if v and k.endswith("/handled")}
        total = sum(handled.values())
        out[name] = {
            "events_handled": total,
            "events_per_s": round(total / seconds, 1),
            "by_type": dict(sorted(handled.items())),
            "not_handled": {k: v for k, v in counter.items() if v and not k.endswith("/handled")},
        }
    return out


def outcomes(plans: list[ContractPlan]) -> dict[str, int]:
    return dict(Counter(e.outcome for p in plans for e in p.expected.values()))


async def run(args: argparse.Namespace, server: str, bootstrap: str) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    tenant = f"month-end-{run_id}"
    os.environ[NAMESPACE_ENV] = f"bench-me-{run_id}"
    plans = plan_contracts(
        args.contracts, seed=args.seed, failed=args.failed, below=args.below, run=run_id
    )
    await ensure_topics(bootstrap, partitions=args.partitions)
    databases = {
        name: await create_database(server, "bench_me_" + name.split("-")[0]) for name in SERVICES
    }
    log_dir = Path(tempfile.mkdtemp(prefix="crm-month-end-"))
    stack = new_stack(databases, log_dir, {"{PREFIX}LOG_LEVEL": "WARNING"})
    try:
        stack.start(bootstrap)
        await stack.wait_ready()
        print(f"stack ready (logs: {log_dir})", flush=True)
        # Connections idle for 1 s are not reused: uvicorn closes idle ones after 5 s, and
        # a request sent on a connection the server is closing fails with a ReadError.
        limits = httpx.Limits(keepalive_expiry=1.0)
        async with httpx.AsyncClient(timeout=120, headers=ADMIN_HEADERS, limits=limits) as http:
            t0 = time.perf_counter()
            ids = await create_contracts(http, stack, plans, tenant, args.setup_concurrency)
            setup = {"contracts_s": round(time.perf_counter() - t0, 1)}
            print(f"{len(ids)} contracts active everywhere in {setup['contracts_s']} s", flush=True)
            t0 = time.perf_counter()
            sent = await ingest(http, stack, plans, tenant, bootstrap)
            setup["telemetry_s"] = round(time.perf_counter() - t0, 1)
            print(f"telemetry stored in {setup['telemetry_s']} s: {sent}", flush=True)
            t0 = time.perf_counter()
            await billing_inputs(http, stack, plans, ids)
            setup["consumption_and_invoices_s"] = round(time.perf_counter() - t0, 1)
            print(
                f"consumption and invoices in {setup['consumption_and_invoices_s']} s", flush=True
            )
            print(f"closing {len(plans) * len(SLAS)} SLA periods …", flush=True)
            result = await storm(http, stack, plans, ids, args)
    finally:
        stack.stop()
        if not args.keep:
            for url in databases.values():
                await drop_database(server, url)
            await delete_topics(bootstrap, all_topics())
    mismatches = compare(result["expected"], result["seen"])
    if result["close_wrong"]:
        mismatches["closes"] = result["close_wrong"][:10]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "contracts": args.contracts,
        "sla_periods_closed": len(plans) * len(SLAS),
        "outcomes": outcomes(plans),
        "telemetry": sent,
        "setup_s": setup,
        "storm_s": round(result["elapsed"], 1),
        "closes_posted_s": round(result["closes_s"], 1),
        "close_latency_ms": result["close_ms"],
        "target_s": args.target_s,
        "target_met": result["elapsed"] <= args.target_s and not mismatches,
        "expected": counts(result["expected"]),
        "seen": counts(result["seen"]),
        "exact": not mismatches,
        "mismatches": mismatches,
        "events_per_service": per_second(result["events"], result["elapsed"]),
        "memory": result["memory"],
        "close_concurrency": args.concurrency,
        "close_requests": "per SLA" if args.per_sla_closes else f"{args.slice} contracts each",
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=2000)
    parser.add_argument("--failed", type=float, default=0.10, help="share of SLAs that fail")
    parser.add_argument("--below", type=float, default=0.05, help="share below expected")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="close requests in flight at once"
    )
    parser.add_argument(
        "--slice", type=int, default=50, help="contracts per portfolio close request"
    )
    parser.add_argument(
        "--per-sla-closes",
        action="store_true",
        help="close each SLA with its own request (the way before the portfolio close; "
        "use --concurrency 8)",
    )
    parser.add_argument("--setup-concurrency", type=int, default=8)
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between API polls")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before the final read")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--target-s", type=float, default=120.0)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the databases and topics")
    parser.add_argument("--json", help="write the report here (default bench/results/…)")
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    server, bootstrap = os.environ.get("DATABASE_URL"), os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not server or not bootstrap:
        print("set DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    report = asyncio.run(run(args, to_async_url(server), bootstrap))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.json) if args.json else RESULTS / f"month_end-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "memory"}, indent=2, default=str))
    print_memory(report["memory"])
    print(f"written to {out}")
    if not report["exact"]:
        print("the APIs do not show the expected figures (see mismatches)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
