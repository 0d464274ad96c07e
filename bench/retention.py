"""Benchmark: sla-monitor's retention run over months of raw telemetry, under ingestion.

    DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/postgres \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
    uv run python bench/retention.py [--rows-per-month 2000000] [--months 3]

In a scratch database (sla-monitor's migrations, the app in-process with its consumers and
relay off):
1. fills `--months` months before the retention horizon (400 days) and the horizon's own
   month with `--rows-per-month` samples each (INSERT … SELECT generate_series, through the
   partitioned table), plus outages and resolved incidents before the horizon
   (`--small-rows` each) and as many after it;
2. posts telemetry for the current month through `POST /telemetry` (batches of `--batch`
   samples, one request at a time) for a few seconds: the latency before;
3. runs the `telemetry_partitions` job once while that posting goes on, and keeps posting
   until it is done: the job's time, and the latency of the requests it overlapped (a
   month's drop holds an ACCESS EXCLUSIVE lock on the table for its length);
4. checks what is left: every row before the horizon gone, every row after it kept, every
   request answered 202.

Results go to stdout and bench/results/retention.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm_platform.scheduler import run_once  # noqa: E402
from crm_testing.apps import running_app, settings_for  # noqa: E402
from crm_testing.infra import create_database, drop_database, to_async_url  # noqa: E402
from sla_monitor.main import PARTITION_JOB, create_app  # noqa: E402
from sla_monitor.settings import Settings  # noqa: E402
from sla_monitor.telemetry.partitions import add_months, ensure_months, month_start  # noqa: E402
from sla_monitor.telemetry.retention import horizon_for, telemetry_partitions  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "retention.json"
RETENTION_DAYS = 400
TABLES = ("samples", "outages", "incidents")


def summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"requests": 0}
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def fill(app: Any, horizon: datetime, args: argparse.Namespace) -> dict[str, Any]:
    """Months before the horizon and the horizon's month, and small-table rows each side."""
    first = add_months(horizon, -args.months)
    months = [add_months(first, n) for n in range(args.months + 1)]
    started = time.perf_counter()
    async with app.state.session_factory() as session, session.begin():
        await ensure_months(session, "samples", months)
    for month in months:
        seconds = (add_months(month, 1) - month).total_seconds()
        step = seconds / args.rows_per_month
        async with app.state.session_factory() as session, session.begin():
            await session.execute(
                sa.text(
                    "INSERT INTO samples (tenant_id, service_key, observed_at, status) "
                    "SELECT 'bench', 'svc-' || (g % 100), CAST(:start AS timestamptz) "
                    "+ g * :step * interval '1 second', 'up' FROM generate_series(0, :n - 1) g"
                ),
                {"start": month, "step": step, "n": args.rows_per_month},
            )
    for at, label in ((horizon - timedelta(days=20), "old"), (horizon + timedelta(days=5), "new")):
        async with app.state.session_factory() as session, session.begin():
            await session.execute(
                sa.text(
                    "INSERT INTO outages (tenant_id, service_key, started_at, ended_at) "
                    "SELECT 'bench', 'svc-' || (g % 100), CAST(:at AS timestamptz) + g * interval "
                    "'1 second', CAST(:at AS timestamptz) + (g + 1) * interval '1 second' "
                    "FROM generate_series(0, :n - 1) g"
                ),
                {"at": at, "n": args.small_rows},
            )
            await session.execute(
                sa.text(
                    "INSERT INTO incidents (tenant_id, ticket_id, revision, service_key, "
                    "priority, opened_at, resolved_at) SELECT 'bench', :label || g, 0, "
                    "'svc-' || (g % 100), 'P1', CAST(:at AS timestamptz), "
                    "CAST(:at AS timestamptz) + interval '1 hour' "
                    "FROM generate_series(0, :n - 1) g"
                ),
                {"at": at, "n": args.small_rows, "label": label},
            )
    return {"fill_seconds": round(time.perf_counter() - started, 1), "months": len(months)}


async def counts(app: Any, horizon: datetime) -> dict[str, dict[str, int]]:
    columns = {"samples": "observed_at", "outages": "ended_at", "incidents": "resolved_at"}
    out = {}
    async with app.state.session_factory() as session:
        for table, column in columns.items():
            row = (
                await session.execute(
                    sa.text(
                        f"SELECT count(*) FILTER (WHERE {column} < :h), "
                        f"count(*) FILTER (WHERE {column} >= :h) FROM {table}"
                    ),
                    {"h": horizon},
                )
            ).one()
            out[table] = {"before_horizon": int(row[0]), "after_horizon": int(row[1])}
    return out


class Poster:
    """Posts batches of samples for the current month, one request at a time."""

    def __init__(self, client: httpx.AsyncClient, batch: int) -> None:
        self.client, self.batch = client, batch
        self.latencies: list[tuple[float, float]] = []  # (started, seconds)
        self.failures: list[str] = []
        self.next_at = month_start(datetime.now(UTC)) + timedelta(days=1)
        self.stop = asyncio.Event()

    async def run(self) -> None:
        while not self.stop.is_set():
            items = []
            for _ in range(self.batch):
                self.next_at += timedelta(seconds=1)
                items.append(
                    {
                        "kind": "sample",
                        "service_key": "svc-live",
                        "observed_at": self.next_at.isoformat(),
                        "status": "up",
                    }
                )
            began = time.perf_counter()
            r = await self.client.post("/telemetry", json={"tenant_id": "bench", "items": items})
            self.latencies.append((began, time.perf_counter() - began))
            if r.status_code != 202:
                self.failures.append(f"{r.status_code} {r.text[:200]}")

    def between(self, start: float, end: float) -> list[float]:
        return [s for began, s in self.latencies if began + s >= start and began <= end]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = to_async_url(os.environ["DATABASE_URL"])
    db_url = await create_database(server, "bench_retention")
    settings = settings_for(
        Settings,
        database_url=db_url,
        bootstrap=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        log_level="WARNING",
        consumers_enabled=False,
        relay_enabled=False,
        telemetry_partition_interval_seconds=0,  # the job runs when the benchmark says
        telemetry_retention_days=RETENTION_DAYS,
    )
    try:
        async with running_app(create_app(settings)) as (app, client):
            async with app.state.session_factory() as session:
                now = await session.scalar(sa.select(sa.func.now()))
            assert now is not None
            horizon = horizon_for(now, RETENTION_DAYS)
            assert horizon is not None
            filled = await fill(app, horizon, args)
            before = await counts(app, horizon)
            poster = Poster(client, args.batch)
            posting = asyncio.create_task(poster.run())
            await asyncio.sleep(args.warm_seconds)
            job_start = time.perf_counter()
            assert await run_once(app, PARTITION_JOB, telemetry_partitions)
            job_end = time.perf_counter()
            await asyncio.sleep(1.0)
            poster.stop.set()
            await posting
            after = await counts(app, horizon)
            baseline = [s for began, s in poster.latencies if began + s < job_start]
            during = poster.between(job_start, job_end)
    finally:
        await drop_database(server, db_url)
    kept_new_rows = all(after[t]["after_horizon"] >= before[t]["after_horizon"] for t in TABLES)
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "retention_days": RETENTION_DAYS,
        "horizon": horizon.isoformat(),
        "rows_per_month": args.rows_per_month,
        **filled,
        "rows_before": before,
        "rows_after": after,
        "job_seconds": round(job_end - job_start, 3),
        "ingest_before_job": summary(baseline),
        "ingest_during_job": summary(during),
        "failed_requests": poster.failures[:5],
        "everything_before_horizon_gone": all(after[t]["before_horizon"] == 0 for t in TABLES),
        "everything_after_horizon_kept": kept_new_rows,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows-per-month", type=int, default=2_000_000)
    parser.add_argument("--months", type=int, default=3, help="months before the horizon")
    parser.add_argument("--small-rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="samples per POST")
    parser.add_argument("--warm-seconds", type=float, default=3.0)
    parser.add_argument("--json", help=f"write the report here (default {RESULTS})")
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        print("set DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    result = asyncio.run(run(args))
    out = Path(args.json) if args.json else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")
    ok = (
        result["everything_before_horizon_gone"]
        and result["everything_after_horizon_kept"]
        and not result["failed_requests"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
