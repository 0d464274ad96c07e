"""Consumer throughput: how many events per second one instance of each service handles.

    DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/postgres \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
    uv run python bench/consumer_throughput.py --events 2000

For each service's main consumer, on the shared PostgreSQL and Kafka (a fresh database and
a private topic namespace per service):
1. starts one instance in-process (the service's own app: migrations, relay, its consumer;
   obligation-tracker's periodic jobs and webhook worker off) reading from the earliest
   offsets;
2. publishes the preconditions the handler needs (`contract.activated` for each contract)
   and waits until the consumer has handled them (its inbox holds them all);
3. publishes `--events` events of the kind measured, one per contract, from a separate
   process (`crm_testing.producer_process`: the load's producer does not share the measured
   service's CPU and interpreter lock, as in production), and times from the first send
   until the inbox holds every one of them: events/s and ms/event;
4. counts, with SQLAlchemy engine listeners, the SQL statements and commits the consumer
   task issued per measured event (the relay's and the benchmark's own are not counted),
   and the most frequent statements: where the time goes.

The measured events: obligation-tracker `sla.period_closed` (failed: period result, the
root-cause obligation, the alert), billing-reconciler `sla.period_closed` (the credit),
contract-registry `sla.period_closed` (the health read model), sla-monitor
`contract.activated` (its terms and periods). Results go to stdout and
bench/results/consumer_throughput.json. `--rounds N` measures every service N times, the
services taken in turn, and adds each one's median and range (runs of the same code on a
shared 2-core machine spread by about ± 15 %: compare medians, or old and new code run
alternately).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm_events.kafka import delete_topics, ensure_topics  # noqa: E402
from crm_events.registry import spec_for  # noqa: E402
from crm_events.schemas.contracts import ContractActivated  # noqa: E402
from crm_events.tables import inbox_table  # noqa: E402
from crm_events.topics import NAMESPACE_ENV, all_topics  # noqa: E402
from crm_testing import examples  # noqa: E402
from crm_testing.apps import running_app, settings_for  # noqa: E402
from crm_testing.infra import create_database, drop_database, to_async_url  # noqa: E402
from crm_testing.producer_process import (  # noqa: E402
    Message,
    ProducerProcess,
    message_of,
    produce_elsewhere,
)

TENANT = "acme-bank"
RESULTS = ROOT / "bench" / "results" / "consumer_throughput.json"


@dataclass(frozen=True)
class Case:
    service: str
    package: str
    measured: str  # the event type measured
    setup: bool  # publish contract.activated for each contract first
    extra_settings: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "obligation-tracker",
        "obligation_tracker",
        "sla.period_closed",
        True,
        {"jobs_enabled": False, "webhooks_enabled": False},
    ),
    Case("billing-reconciler", "billing_reconciler", "sla.period_closed", True),
    Case("contract-registry", "contract_registry", "sla.period_closed", False),
    Case("sla-monitor", "sla_monitor", "contract.activated", False),
]


class SqlProfile:
    """Statements and commits issued from the measured consumer's task (`consumer-<group>`)
    and the tasks it handles partitions in (`consumer-<group>/<topic>:<partition>`)."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self.by_statement: Counter[str] = Counter()
        self.active = False
        self.task_name = ""

    def _in_consumer(self) -> bool:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return False
        if task is None:
            return False
        name = task.get_name()
        return name == self.task_name or name.startswith(self.task_name + "/")

    def on_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.active and self._in_consumer():
            self.statements += 1
            self.by_statement[" ".join(statement.split())[:90]] += 1

    def on_commit(self, conn: Any) -> None:
        if self.active and self._in_consumer():
            self.commits += 1

    def reset(self) -> None:
        self.statements = self.commits = 0
        self.by_statement.clear()

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self.on_execute)
        event.listen(Engine, "commit", self.on_commit)


def activated(cid: uuid.UUID) -> tuple[str, str, BaseModel]:
    terms = examples.contract_terms(contract_id=cid, tenant_id=TENANT, service_key=f"svc-{cid}")
    return (
        "contracts.v1",
        "contract.activated",
        ContractActivated(terms=terms, activated_at=datetime.now(UTC)),
    )


def period_closed(cid: uuid.UUID) -> tuple[str, str, BaseModel]:
    return "sla.v1", "sla.period_closed", examples.period_closed(cid)


MEASURED: dict[str, Callable[[uuid.UUID], tuple[str, str, BaseModel]]] = {
    "contract.activated": activated,
    "sla.period_closed": period_closed,
}


def encode(events: list[tuple[str, str, BaseModel]], subjects: list[str]) -> list[Message]:
    """The events (topic, type, data) as Kafka messages keyed by subject."""
    out: list[Message] = []
    for (topic, event_type, data), subject in zip(events, subjects, strict=True):
        envelope = spec_for(event_type).envelope(
            source="bench",
            subject=subject,
            tenant=TENANT,
            data=data,
            correlation_id=str(uuid.uuid4()),
        )
        out.append(message_of(envelope, topic))
    return out


async def wait_inbox(db_url: str, group: str, count: int, timeout: float) -> float:
    """Wait until the consumer's inbox holds `count` events; returns when (perf_counter)."""
    engine = create_async_engine(db_url)
    query = sa.select(sa.func.count()).select_from(inbox_table)
    query = query.where(inbox_table.c.consumer == group)
    deadline = time.perf_counter() + timeout
    try:
        while True:
            async with engine.connect() as conn:
                seen = await conn.scalar(query) or 0
            now = time.perf_counter()
            if seen >= count:
                return now
            if now > deadline:
                raise TimeoutError(f"{group}: {seen} of {count} events handled in {timeout}s")
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


def cpu_ticks() -> tuple[int, int]:
    """The machine's (steal, total) CPU ticks so far (/proc/stat): on a virtual machine the
    hypervisor may take a share of the cores ("steal") that the wall-clock figures feel."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


async def run_case(case: Case, args: argparse.Namespace, profile: SqlProfile) -> dict[str, Any]:
    server = to_async_url(os.environ["DATABASE_URL"])
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    os.environ[NAMESPACE_ENV] = f"bench-tp-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, partitions=args.partitions)
    db_url = await create_database(server, "bench_tp_" + case.package.split("_")[0])
    main = importlib.import_module(f"{case.package}.main")
    settings_cls = importlib.import_module(f"{case.package}.settings").Settings
    settings = settings_for(
        settings_cls,
        database_url=db_url,
        bootstrap=bootstrap,
        consumer_offset_reset="earliest",
        log_level="WARNING",
        consumer_batch_size=args.batch_size,
        consumer_concurrency=args.concurrency,
        gc_tuned=not args.default_gc,
        **case.extra_settings,
    )
    contracts = [uuid.uuid4() for _ in range(args.events)]
    subjects = [str(c) for c in contracts]
    try:
        async with running_app(main.create_app(settings)) as (app, _client):
            group = app.state.consumers[0].group_id  # the main one (not access.v1's)
            profile.task_name = f"consumer-{group}"
            setup = 0
            if case.setup:
                await produce_elsewhere(
                    bootstrap, encode([activated(c) for c in contracts], subjects)
                )
                await wait_inbox(db_url, group, len(contracts), args.timeout)
                setup = len(contracts)
            profile.reset()
            profile.active = True
            load_before = os.getloadavg()
            events = [MEASURED[case.measured](c) for c in contracts]
            messages = encode(events, subjects)
            async with ProducerProcess(bootstrap, messages) as producer:
                ticks_before, cpu_before = cpu_ticks(), time.process_time()
                started = time.perf_counter()
                produce_s = await producer.go()
            done = await wait_inbox(db_url, group, setup + len(events), args.timeout)
            cpu_s = time.process_time() - cpu_before
            ticks_after = cpu_ticks()
            profile.active = False
            load_after = os.getloadavg()
    finally:
        await drop_database(server, db_url)
        await delete_topics(bootstrap, all_topics())
    elapsed = done - started
    n = len(events)
    return {
        "service": case.service,
        "event": case.measured,
        "events": n,
        "elapsed_s": round(elapsed, 2),
        "produce_s": round(produce_s, 2),
        "events_per_s": round(n / elapsed, 1),
        "ms_per_event": round(elapsed / n * 1000, 2),
        # CPU time of this process (the service's consumer, its relay, and the benchmark's
        # polling; the events come from a separate process) per event: less sensitive than
        # the wall clock to the rest of the machine.
        "process_cpu_ms_per_event": round(cpu_s / n * 1000, 2),
        "cpu_steal_pct": round(
            100 * (ticks_after[0] - ticks_before[0]) / max(ticks_after[1] - ticks_before[1], 1),
            1,
        ),
        "sql_statements": profile.statements,
        "sql_statements_per_event": round(profile.statements / n, 3),
        "commits_per_event": round(profile.commits / n, 2),
        # The machine's 1-minute load average when the measured events were sent and when
        # the last was handled: other work on the machine slows every figure above.
        "load_average_1m": [round(load_before[0], 2), round(load_after[0], 2)],
        "cpus": os.cpu_count(),
        "top_statements_per_event": {
            s: round(c / n, 3) for s, c in profile.by_statement.most_common(args.top)
        },
    }


async def main(args: argparse.Namespace) -> int:
    if not os.environ.get("DATABASE_URL") or not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        print(
            "set DATABASE_URL (a server where databases can be created) and "
            "KAFKA_BOOTSTRAP_SERVERS",
            file=sys.stderr,
        )
        return 2
    profile = SqlProfile()
    profile.install()
    chosen = [c for c in CASES if not args.service or c.service in args.service]
    results = []
    # Rounds go round the services, so a quieter or busier minute of the machine does not
    # fall on one service's runs only.
    for round_no in range(1, args.rounds + 1):
        for case in chosen:
            result = {**await run_case(case, args, profile), "round": round_no}
            print(json.dumps(result, indent=2), flush=True)
            results.append(result)
    report = {
        "events_per_service": args.events,
        "rounds": args.rounds,
        "partitions": args.partitions,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "summary": summarise(results),
        "results": results,
    }
    out = Path(args.json) if args.json else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(out.write_text, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"], indent=2))
    return 0


def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per service, over its rounds: the median and the range of events/s and of CPU ms per
    event (this machine's runs of the same code spread by about ± 15 %)."""
    out: dict[str, dict[str, Any]] = {}
    for service in dict.fromkeys(r["service"] for r in results):
        mine = [r for r in results if r["service"] == service]
        rates = [r["events_per_s"] for r in mine]
        cpu = [r["process_cpu_ms_per_event"] for r in mine]
        out[service] = {
            "events_per_s_median": round(statistics.median(rates), 1),
            "events_per_s_range": [min(rates), max(rates)],
            "process_cpu_ms_per_event_median": round(statistics.median(cpu), 2),
            "process_cpu_ms_per_event_range": [min(cpu), max(cpu)],
        }
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="measured events per service")
    parser.add_argument(
        "--service", action="append", help="only this service (repeatable; default: all four)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure each service this many times (a fresh database each): median and range",
    )
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=100,
        help="the consumer's CONSUMER_BATCH_SIZE (1: one record per transaction)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="the consumer's CONSUMER_CONCURRENCY: partitions handled at once (1: one after "
        "another)",
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="CPython's garbage collector as it comes (GC_TUNED=false), not the services' tuning",
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--top", type=int, default=12, help="most frequent statements shown")
    parser.add_argument("--json", help=f"write the report here (default {RESULTS})")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
