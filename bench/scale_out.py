"""Scale-out benchmark: two instances of every service, one killed mid-run.

    DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/postgres \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
    uv run python bench/scale_out.py --duration 120 --kill-at 50 --lanes 6

On the shared PostgreSQL and Kafka (a fresh database per service, shared by that service's
two instances; a private topic namespace, its topics made with `--partitions` partitions):
1. starts two instances of each of the four services as processes and waits until both
   instances of every consumer group hold partitions;
2. runs `--lanes` contracts at a time through the whole chain over HTTP, spread over the
   instances round-robin (bench/scale_out_load.py): create and activate, consumption and
   telemetry, close March; credits, alerts, root-cause obligations and the health read
   model follow over Kafka. Every POST carries an Idempotency-Key and goes to the other
   instance when its instance fails, as behind a load balancer;
3. at `--kill-at` seconds SIGKILLs one instance of every service and keeps the load going
   until `--duration`;
4. closes the periods it held back (every `--hold-every`-th contract) all at once, the
   month-end storm, on the surviving instances;
5. waits until everything has settled, then reports (bench/scale_out_checks.py):
   totals, per record id, against the plans (every record stored once, every credit the
   amount worked out in advance, at billing-reconciler and in the health read model);
   delivery per consumer group (every event in some outbox that the group must handle is
   in its inbox); events handled per instance before and after the kill and in the storm
   (each process's `crm_events_consumed_total`, scraped every second); the rebalance
   pause (from the kill to the survivor's assignment and to its first event handled on
   the moved partitions, and the outbox-to-inbox latency of events on them).

Results go to stdout and bench/results/scale_out-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scale_out_checks as checks  # noqa: E402
from bench.fleet import (  # noqa: E402
    RESULTS,
    Balancer,
    Fleet,
    consumed,
    instance_id,
)
from bench.scale_out_load import Load  # noqa: E402
from billing_reconciler import handlers as billing_handlers  # noqa: E402
from contract_registry import handlers as registry_handlers  # noqa: E402
from crm_events.kafka import delete_topics, ensure_topics  # noqa: E402
from crm_events.topics import all_topics, physical  # noqa: E402
from crm_testing.auth import ADMIN_HEADERS  # noqa: E402
from crm_testing.benchstack import private_namespace, require_infra  # noqa: E402
from crm_testing.infra import create_database, drop_database  # noqa: E402
from crm_testing.stack import SERVICES, ServiceProcess  # noqa: E402
from obligation_tracker import handlers as obligation_handlers  # noqa: E402
from obligation_tracker.settings import Settings as ObligationSettings  # noqa: E402
from sla_monitor import handlers as sla_handlers  # noqa: E402

# What each service's main consumer group reads and handles.
CONSUMES: dict[str, tuple[list[str], set[str]]] = {
    "contract-registry": (registry_handlers.TOPICS, set(registry_handlers.HANDLERS)),
    "sla-monitor": (sla_handlers.TOPICS, set(sla_handlers.HANDLERS)),
    "billing-reconciler": (billing_handlers.TOPICS, set(billing_handlers.HANDLERS)),
    "obligation-tracker": (
        obligation_handlers.TOPICS,
        set(obligation_handlers.make_handlers(ObligationSettings(database_url="postgresql://-"))),
    ),
}


@dataclass
class Samples:
    """Each instance's handled/duplicate counters of its main group, once a second."""

    series: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)

    async def scrape(self, http: httpx.AsyncClient, fleet: Fleet) -> None:
        for svc in fleet.all():
            if svc.process is None or svc.process.poll() is not None:
                continue
            # Stamped when asked: a killed instance's last answer then falls before the kill.
            asked = time.time()
            try:
                text = (await http.get(svc.url + "/metrics", timeout=5)).text
            except httpx.HTTPError:
                continue
            counts = consumed(text, physical(svc.name))
            self.series.setdefault(instance_id(svc), []).append(
                (asked, counts.get("handled", 0.0), counts.get("duplicate", 0.0))
            )

    async def every_second(self, http: httpx.AsyncClient, fleet: Fleet) -> None:
        while True:
            await self.scrape(http, fleet)
            await asyncio.sleep(1.0)

    def at(self, instance: str, when: float) -> tuple[float, float]:
        """(handled, duplicates) as last scraped at or before `when`."""
        last = (0.0, 0.0)
        for at, handled, duplicates in self.series.get(instance, []):
            if at > when:
                break
            last = (handled, duplicates)
        return last


def per_instance(
    samples: Samples, fleet: Fleet, windows: dict[str, tuple[float, float]]
) -> dict[str, list[dict[str, Any]]]:
    """Events each instance handled in each window (`crm_events_consumed_total`, handled),
    and the redelivered ones its inbox dropped over the whole run."""
    out: dict[str, list[dict[str, Any]]] = {}
    for service in SERVICES:
        rows = []
        for svc in fleet.instances(service):
            name = instance_id(svc)
            row: dict[str, Any] = {
                "instance": name,
                "killed": svc.process is not None and svc.process.poll() is not None,
                "duplicates_dropped": int(samples.at(name, time.time())[1]),
            }
            for window, (begin, end) in windows.items():
                handled = samples.at(name, end)[0] - samples.at(name, begin)[0]
                row[f"handled_{window}"] = int(handled)
                row[f"events_per_s_{window}"] = round(handled / (end - begin), 1)
            rows.append(row)
        out[service] = rows
    return out


async def wait_assigned(fleet: Fleet, timeout: float = 180.0) -> None:
    """Until every instance holds partitions of its main group (the start-up rebalances
    are over), so the kill is the only rebalance measured."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = [
            instance_id(svc)
            for svc in fleet.all()
            if not (held := checks.assignments(svc.log_path, physical(svc.name))) or not held[-1][1]
        ]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"no partitions assigned to {waiting} in {timeout}s")
        await asyncio.sleep(1.0)


async def settle(db: dict[str, str], load: Load, timeout: float) -> dict[str, Any]:
    """Poll the totals until every figure is exact (or the time is up); the last reading."""
    deadline = time.monotonic() + timeout
    while True:
        totals = await checks.totals(db, load.plans)
        exact = all(v["exact"] for v in totals.values() if isinstance(v, dict))
        if exact or time.monotonic() > deadline:
            return {**totals, "exact": exact}
        await asyncio.sleep(1.0)


async def delivery_and_rebalance(
    db: dict[str, str], fleet: Fleet, killed_at: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    published = await checks.outboxes(db)
    delivery: dict[str, Any] = {}
    rebalance: dict[str, Any] = {}
    for service in SERVICES:
        group = physical(service)
        topics, types = CONSUMES[service]
        handled = await checks.inbox(db[service], group)
        delivery[service] = checks.delivery(
            published, handled, [physical(t) for t in topics], types
        )
        survivor, victim = fleet.instances(service)
        rebalance[service] = checks.rebalance(
            killed_log=victim.log_path,
            survivor_log=survivor.log_path,
            group=group,
            killed_at=checks.wall(killed_at),
            handled=handled,
            published=published,
        )
    return delivery, rebalance


def kill(victims: list[ServiceProcess]) -> float:
    for svc in victims:
        svc.kill()
    return time.time()


async def drive(
    args: argparse.Namespace, fleet: Fleet, db: dict[str, str], run: str
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60, headers=ADMIN_HEADERS) as http:
        lb = Balancer(http, fleet)
        load = Load(lb, run=run, outages=args.outages, hold_every=args.hold_every)
        samples = Samples()
        await samples.scrape(http, fleet)
        sampler = asyncio.create_task(samples.every_second(http, fleet))
        started = time.time()
        until = time.monotonic() + args.duration
        lanes = asyncio.create_task(load.lanes(args.lanes, until))
        await asyncio.sleep(args.kill_at)
        killed_at = kill([stack.services[s] for stack in fleet.stacks[1:] for s in SERVICES])
        print(f"killed one instance of each service at {args.kill_at} s", flush=True)
        await lanes
        ended = time.time()
        print(f"{len(load.plans)} contracts run; closing {len(load.held)} at once", flush=True)
        await load.storm(args.storm_concurrency)
        closes_posted = time.time()
        totals = await settle(db, load, args.settle_timeout)
        settled = time.time()
        await asyncio.sleep(1.5)  # one more scrape after the last event
        sampler.cancel()
        delivery, rebalance = await delivery_and_rebalance(db, fleet, killed_at)
        stored = await checks.storage(db)
    windows = {
        "before_kill": (started, killed_at),
        "after_kill": (killed_at, ended),
        "storm": (ended, settled),
    }
    return {
        "workload": {
            "contracts": len(load.plans),
            "contracts_completed": len([p for p in load.plans if p.closed_at]),
            "errors": [p.error for p in load.plans if p.error][:5],
            "http_requests": load.requests,
            "http_failovers": lb.failovers,
            "http_served_per_instance": lb.served,
            "load_s": round(ended - started, 1),
        },
        "storm": {
            "closes": len(load.held),
            "failing": len([p for p in load.held if p.fails]),
            "concurrency": args.storm_concurrency,
            "closes_answered_s": round(closes_posted - ended, 1),
            "settled_s": round(settled - ended, 1),
        },
        "totals": totals,
        "delivery": delivery,
        "events_per_instance": per_instance(samples, fleet, windows),
        "rebalance": rebalance,
        "storage": stored,
    }


async def main(args: argparse.Namespace) -> int:
    server, bootstrap = require_infra()
    namespace = private_namespace("scale")
    await ensure_topics(bootstrap, partitions=args.partitions)
    db = {name: await create_database(server, "scale_" + name.split("-")[0]) for name in SERVICES}
    log_dir = Path(tempfile.mkdtemp(prefix="crm-scale-"))
    env = {"{PREFIX}KAFKA_TOPIC_PARTITIONS": str(args.partitions)}
    fleet = Fleet.create(db, log_dir, replicas=2, extra_env=env)
    load_before = os.getloadavg()
    try:
        started = time.monotonic()
        fleet.start(bootstrap)
        await fleet.wait_ready()
        await wait_assigned(fleet)
        ready_s = time.monotonic() - started
        print(f"8 instances ready in {ready_s:.0f} s (logs: {log_dir})", flush=True)
        result = await drive(args, fleet, db, namespace.split("-", 1)[1])
    finally:
        fleet.stop()
        for url in db.values():
            await drop_database(server, url)
        await delete_topics(bootstrap, all_topics())
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": [round(v, 1) for v in load_before],
            "load_average_after": [round(v, 1) for v in os.getloadavg()],
        },
        "setup": {
            "instances_per_service": 2,
            "partitions": args.partitions,
            "lanes": args.lanes,
            "duration_s": args.duration,
            "kill_at_s": args.kill_at,
            "outages_per_failing_contract": args.outages,
            "held_for_storm": f"every {args.hold_every}. contract" if args.hold_every else "none",
        },
        **result,
    }
    report["exact"] = report["totals"]["exact"] and all(
        d["exact"] for d in report["delivery"].values()
    )
    text = json.dumps(report, indent=2)
    print(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.json) if args.json else RESULTS / f"scale_out-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(out.write_text, text + "\n")
    return 0 if report["exact"] else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--kill-at", type=float, default=50.0, help="seconds into the load")
    parser.add_argument("--lanes", type=int, default=6, help="contracts in flight at a time")
    parser.add_argument("--outages", type=int, default=300, help="per failing contract")
    parser.add_argument(
        "--hold-every",
        type=int,
        default=3,
        help="every n-th contract's close is held back and all are closed at once after "
        "the load: the month-end storm (0: none)",
    )
    parser.add_argument("--storm-concurrency", type=int, default=8)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--settle-timeout", type=float, default=240.0)
    parser.add_argument("--json", help="write the report here instead of bench/results/")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
