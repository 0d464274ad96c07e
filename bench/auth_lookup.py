"""API key cache benchmark: requests/s of a cheap authenticated GET with and without the
in-process key cache.

    uv run python bench/auth_lookup.py [--seconds 5] [--concurrency 8] [--rounds 3]

What it does, on the shared PostgreSQL and Kafka (a scratch database, dropped at the end):
1. starts obligation-tracker in-process (its lifespan: migrations, the producer; consumers,
   relay and jobs off) and stores one API key as access.v1 would have;
2. for `--rounds` rounds, alternately with the cache off (`API_KEY_CACHE_TTL_SECONDS=0`:
   every request reads its key from the table, as before the cache) and on (the default
   2 s), runs `--concurrency` clients sending `GET /alerts` (obligations:read, one small
   query of its own) through the ASGI app for `--seconds`;
3. counts the database sessions the requests open (the session factory is wrapped) and the
   latency of each request.

Reported per mode: requests/s (median of the rounds), p50/p95 latency in ms, sessions per
request. Results go to stdout and bench/results/auth_lookup-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from crm_events.schemas.access import ApiKeyIssued
from crm_platform.apikeys import new_key, record_issued, sha256_hex
from crm_platform.keycache import KeyCache
from crm_testing.apps import running_app, settings_for
from crm_testing.auth import bearer
from crm_testing.infra import create_database, drop_database, to_async_url
from obligation_tracker.main import create_app
from obligation_tracker.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ROUTE = "/alerts"


class CountingSessions:
    """The app's session factory, counting the sessions requests open."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.opened = 0

    def __call__(self) -> Any:
        self.opened += 1
        return self.factory()


async def store_key(app: Any) -> str:
    key_id, secret, key = new_key()
    issued = ApiKeyIssued(
        key_id=key_id,
        name="bench",
        tenant_id=f"bench-{uuid.uuid4().hex[:6]}",
        scopes=["obligations:read"],
        secret_sha256=sha256_hex(secret),
        issued_at=datetime.now(UTC),
    )
    async with app.state.session_factory() as session, session.begin():
        await record_issued(session, issued)
    return key


async def load(client: httpx.AsyncClient, key: str, seconds: float, clients: int) -> list[float]:
    """Latencies (s) of every request `clients` concurrent clients sent for `seconds`."""
    deadline = time.perf_counter() + seconds
    headers = bearer(key)

    async def one_client() -> list[float]:
        out: list[float] = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            resp = await client.get(ROUTE, headers=headers)
            out.append(time.perf_counter() - started)
            assert resp.status_code == 200, resp.text[:300]
        return out

    parts = await asyncio.gather(*[one_client() for _ in range(clients)])
    return [t for part in parts for t in part]


async def run_mode(
    app: Any, client: httpx.AsyncClient, key: str, cache: KeyCache, args: argparse.Namespace
) -> dict[str, float]:
    app.state.key_cache = cache
    counting = CountingSessions(app.state.session_factory)
    app.state.session_factory = counting
    try:
        await load(client, key, 0.5, args.concurrency)  # warm-up: pool, cache
        counting.opened = 0
        started = time.perf_counter()
        latencies = await load(client, key, args.seconds, args.concurrency)
        elapsed = time.perf_counter() - started
    finally:
        app.state.session_factory = counting.factory
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
        "sessions_per_request": round(counting.opened / len(latencies), 3),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    server = to_async_url(
        os.environ.get("DATABASE_URL", "postgresql://crm:crm@127.0.0.1:5432/postgres")
    )
    url = await create_database(server, "bench_auth")
    settings = settings_for(
        Settings,
        database_url=url,
        bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        consumers_enabled=False,
        relay_enabled=False,
        kafka_create_topics=False,
        jobs_enabled=False,
        log_level="WARNING",
    )
    rounds: dict[str, list[dict[str, float]]] = {"cache_off": [], "cache_on": []}
    try:
        async with running_app(create_app(settings)) as (app, client):
            key = await store_key(app)
            for _ in range(args.rounds):
                off = KeyCache(ttl_seconds=0, max_entries=0)
                rounds["cache_off"].append(await run_mode(app, client, key, off, args))
                on = KeyCache(
                    ttl_seconds=settings.api_key_cache_ttl_seconds,
                    max_entries=settings.api_key_cache_max_entries,
                )
                rounds["cache_on"].append(await run_mode(app, client, key, on, args))
    finally:
        await drop_database(server, url)
    return summary(rounds, args, settings)


def summary(
    rounds: dict[str, list[dict[str, float]]], args: argparse.Namespace, settings: Settings
) -> dict[str, Any]:
    modes = {
        mode: {
            name: statistics.median(r[name] for r in runs)
            for name in ("requests_per_second", "p50_ms", "p95_ms", "sessions_per_request")
        }
        for mode, runs in rounds.items()
    }
    off, on = modes["cache_off"]["requests_per_second"], modes["cache_on"]["requests_per_second"]
    return {
        "benchmark": "auth_lookup",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "route": f"GET {ROUTE} (obligation-tracker, in-process ASGI)",
        "seconds_per_round": args.seconds,
        "concurrency": args.concurrency,
        "rounds": rounds,
        "median": modes,
        "speedup": round(on / off, 2) if off else None,
        "cache_ttl_seconds": settings.api_key_cache_ttl_seconds,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    result = asyncio.run(main(parser.parse_args()))
    text = json.dumps(result, indent=2)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"auth_lookup-{stamp}.json").write_text(text + "\n")
