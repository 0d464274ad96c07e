"""The period-close job at month end, on one instance and on several sharing its shards.

    DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/postgres \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
    uv run python bench/close_job.py --contracts 2000 --instances 1,2

Set-up (not timed), on the shared PostgreSQL and Kafka (a fresh database, a private topic
namespace): sla-monitor runs in-process on a fixed clock at the start of the month of
bench/sla_ingest.py's generator; every contract (three SLAs: availability, P1 resolution,
p95 latency) is activated over `contracts.v1`, so the job will close the month; the month's
telemetry (`--items`, the generator's mix) is posted to `POST /telemetry`.

Then, for each count in `--instances`: the closed periods are removed (and their outbox
rows), that many instances are started as processes of their own (sla-monitor's app with
its close job as deployed, `CLOSE_JOB_SHARDS` = `--shards`, every 0.2 s; consumers and
relay off), and timed from the moment their clocks are all moved 4 days past the month
(its grace time over) until every period is closed. Checked: each run closes every SLA's
month once, with the same outcome and attainment in every run, and every availability
attainment equals the one computed from the generated data. Reported per run: seconds,
periods per second, and each instance's shard runs (done there, or skipped: held by another
instance). Results: stdout and bench/results/close_job.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.consumer_throughput import wait_inbox  # noqa: E402
from bench.kafka_ingest import activations_of  # noqa: E402
from bench.sla_ingest import PERIOD, generate, read_batches  # noqa: E402
from crm_events.kafka import delete_topics, ensure_topics  # noqa: E402
from crm_events.topics import NAMESPACE_ENV, all_topics  # noqa: E402
from crm_platform.clock import FixedClock  # noqa: E402
from crm_testing.apps import running_app, settings_for  # noqa: E402
from crm_testing.auth import ADMIN_HEADERS  # noqa: E402
from crm_testing.infra import create_database, drop_database, to_async_url  # noqa: E402
from crm_testing.producer_process import produce_elsewhere  # noqa: E402
from sla_monitor.main import CLOSE_JOB, create_app  # noqa: E402
from sla_monitor.models import SlaPeriod  # noqa: E402
from sla_monitor.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "close_job.json"
ACTIVATED_AT = PERIOD.start + timedelta(minutes=1)  # the month is tracked from its start
INGESTED_AT = PERIOD.end + timedelta(hours=1)  # the month over, within its grace time
CLOSED_AT = PERIOD.end + timedelta(days=4)  # the grace time (72 h) passed


def _settings(db_url: str, **overrides: Any) -> Settings:
    return settings_for(  # type: ignore[no-any-return]
        Settings,
        database_url=db_url,
        bootstrap=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        log_level="WARNING",
        gc_tuned=True,  # as a deployed service runs
        **overrides,
    )


# -- set-up (in-process, not timed) ------------------------------------------------------------


async def set_up(args: argparse.Namespace, db_url: str) -> dict[str, str]:
    """Contracts activated and the month's telemetry stored; the expected availability
    attainment of each contract."""
    roster, index, expected = generate(args.items, args.contracts, 10_000, args.seed)
    path = index[0][2]
    clock = FixedClock(ACTIVATED_AT)
    settings = _settings(db_url, consumer_offset_reset="earliest")
    activations = activations_of(roster, ACTIVATED_AT)
    try:
        async with running_app(create_app(settings, clock=clock)) as (app, client):
            group = app.state.consumers[0].group_id
            await produce_elsewhere(os.environ["KAFKA_BOOTSTRAP_SERVERS"], activations)
            await wait_inbox(db_url, group, len(roster), args.timeout)
            clock.set(INGESTED_AT)
            for body in read_batches(path):
                r = await client.post(
                    "/telemetry",
                    content=body,
                    headers={**ADMIN_HEADERS, "content-type": "application/json"},
                )
                if r.status_code != 202:
                    raise RuntimeError(f"POST /telemetry answered {r.status_code}: {r.text[:300]}")
    finally:
        path.unlink(missing_ok=True)
    return {str(c["contract_id"]): expected[c["service_key"]].figures()["AVAIL"] for c in roster}


# -- one instance (a process of its own) ---------------------------------------------------------


async def instance(args: argparse.Namespace) -> dict[str, Any]:
    """sla-monitor with its close job as deployed (every `--shards`, from a random one), on
    a clock moved past the month's grace time when told to start; runs until every period
    is closed; its shard runs (done here, or skipped: held by the other instance)."""
    from prometheus_client import REGISTRY

    settings = _settings(
        args.db,
        consumers_enabled=False,
        relay_enabled=False,
        run_migrations_on_startup=False,
        close_job_shards=args.shards,
        close_job_interval_seconds=0.2,
    )
    clock = FixedClock(INGESTED_AT)  # nothing due yet

    def runs(result: str) -> int:
        labels = {"job_name": CLOSE_JOB, "result": result}
        return int(REGISTRY.get_sample_value("crm_job_runs_total", labels) or 0)

    async with running_app(create_app(settings, clock=clock)) as (app, _):
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # "go"
        before = {r: runs(r) for r in ("ok", "skipped", "error")}
        started = time.perf_counter()
        clock.set(CLOSED_AT)
        while True:
            async with app.state.session_factory() as session:
                total = await session.scalar(sa.select(sa.func.count()).select_from(SlaPeriod))
            if (total or 0) >= args.expected:
                break
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        return {
            "seconds": round(seconds, 2),
            **{f"shard_runs_{r}": runs(r) - n for r, n in before.items()},
        }


# -- the runs ------------------------------------------------------------------------------------


async def closed_periods(db_url: str) -> dict[tuple[str, str, str], tuple[str, Decimal | None]]:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    SlaPeriod.contract_id,
                    SlaPeriod.sla_code,
                    SlaPeriod.period_label,
                    SlaPeriod.outcome,
                    SlaPeriod.attainment,
                )
            )
            return {(str(r[0]), r[1], r[2]): (r[3], r[4]) for r in rows}
    finally:
        await engine.dispose()


async def reset(db_url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("DELETE FROM sla_periods"))
            await conn.execute(sa.text("DELETE FROM outbox_events"))
    finally:
        await engine.dispose()


async def timed_run(
    args: argparse.Namespace, db_url: str, instances: int, expected: int
) -> dict[str, Any]:
    await reset(db_url)
    command = [__file__, "--instance", "--db", db_url, "--shards", str(args.shards)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            "--expected",
            str(expected),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(instances)
    ]
    for proc in procs:
        assert proc.stdout is not None
        if (await proc.stdout.readline()).strip() != b"ready":
            raise RuntimeError("an instance did not start")
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    reports = []
    for proc in procs:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=args.timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"an instance failed (exit {proc.returncode})")
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    seconds = time.perf_counter() - started
    return {
        "instances": instances,
        "seconds": round(seconds, 2),
        "periods_per_s": round(expected / seconds, 1),
        "per_instance": reports,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = to_async_url(os.environ["DATABASE_URL"])
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    os.environ[NAMESPACE_ENV] = f"bench-cj-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, partitions=6)
    db_url = await create_database(server, "bench_close_job")
    try:
        availability = await set_up(args, db_url)
        expected = 3 * len(availability)
        runs, first = [], None
        for count in args.instances:
            result = await timed_run(args, db_url, count, expected)
            periods = await closed_periods(db_url)
            result["periods"] = len(periods)
            result["same_as_first_run"] = first is None or periods == first
            first = first or periods
            result["availability_matches"] = all(
                periods[(cid, "AVAIL", PERIOD.label)][1] == Decimal(value)
                for cid, value in availability.items()
            )
            result["outcomes"] = _count(o for o, _ in periods.values())
            runs.append(result)
            print(json.dumps(result), flush=True)
    finally:
        await drop_database(server, db_url)
        await delete_topics(bootstrap, all_topics())
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "contracts": args.contracts,
        "items": args.items,
        "shards": args.shards,
        "cpus": os.cpu_count(),
        "expected_periods": expected,
        "runs": runs,
        "all_exact": all(
            r["periods"] == expected and r["same_as_first_run"] and r["availability_matches"]
            for r in runs
        ),
    }


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=2000)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--instances", default="1,2", help="instance counts to run, in order")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--json", type=Path, default=RESULTS)
    # One instance's process (started by the run itself).
    parser.add_argument("--instance", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--expected", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instance:
        print(json.dumps(asyncio.run(instance(args))), flush=True)
        return 0
    args.instances = [int(n) for n in args.instances.split(",")]
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["all_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
