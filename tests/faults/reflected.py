"""What the services stored of the workload, counted per record id.

Totals cannot show a duplicate everywhere (the same outage interval sent twice merges into
one minute of downtime), so every input carries an id of its own — an outage's
`source_id`, a consumption `record_id`, a contract's `reference` — and the services'
databases are asked how many rows each id has: exactly one, for every id acknowledged.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.stack import Stack

from .workload import (
    OUTAGES_PER_CONTRACT,
    RECORDS_PER_UNIT,
    Batch,
    Contract,
    Figures,
    retry_http,
    wait_for,
)


async def rows_per_id(database_url: str, query: str, **params: Any) -> Counter[str]:
    """Run `query` (selecting one id column) on a service's database; rows per id."""
    engine = create_async_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.text(query), params)
            return Counter(str(row[0]) for row in result)
    finally:
        await engine.dispose()


def count_against(figures: Figures, expected: set[str], stored: Iterable[Counter[str]]) -> None:
    """Each expected id must have one row in every table counted; anything else (a second
    row, a row for an id never sent) is a duplicate."""
    tables = list(stored)
    figures.reflected = min(sum(1 for i in expected if t[i] >= 1) for t in tables)
    figures.duplicated = max(
        sum(n - 1 for n in t.values() if n > 1) + sum(n for i, n in t.items() if i not in expected)
        for t in tables
    )


def item_ids(batches: list[Batch], kind: str, key: str) -> set[str]:
    return {str(item[key]) for b in batches if b.kind == kind for item in b.items}


async def reflected_telemetry(
    stack: Stack, contracts: list[Contract], batches: list[Batch], figures: Figures
) -> None:
    """Downtime per contract must be exactly the acknowledged outages (one minute each), and
    every outage's source_id stored once."""
    sla = stack.url("sla-monitor")
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:

        async def downtimes() -> list[Decimal] | None:
            values = []
            for c in contracts:
                url = f"{sla}/contracts/{c.id}/slas/AVAIL-CORE/periods/{examples.PERIOD}"
                resp = await retry_http(http, "GET", url, deadline=time.monotonic() + 60)
                values.append(Decimal(resp.json()["figures"]["downtime_minutes"]))
            return values if all(v >= OUTAGES_PER_CONTRACT for v in values) else None

        values = await wait_for(downtimes, "all telemetry reflected", timeout=180)
    assert values == [OUTAGES_PER_CONTRACT] * len(contracts), values
    stored = await rows_per_id(
        stack.services["sla-monitor"].database_url,
        "SELECT source_id FROM outages WHERE service_key = ANY(:keys)",
        keys=[c.service_key for c in contracts],
    )
    count_against(figures, item_ids(batches, "telemetry", "source_id"), [stored])


async def reflected_consumption(
    stack: Stack, contracts: list[Contract], batches: list[Batch], figures: Figures
) -> None:
    """Each contract's March records: 250 ids, one row and one revision each, and the
    actuals they add up to (SRV-WIN 214 → ARC 14 × 140 = 1,960.00)."""
    billing = stack.url("billing-reconciler")
    expected_records = 2 * RECORDS_PER_UNIT
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:

        async def records() -> list[list[dict[str, Any]]] | None:
            out = []
            for c in contracts:
                # One page holds them all (250 records; a page takes up to 1,000).
                url = f"{billing}/contracts/{c.id}/periods/{examples.PERIOD}/consumption"
                resp = await retry_http(
                    http, "GET", f"{url}?limit=1000", deadline=time.monotonic() + 60
                )
                out.append(resp.json()["items"])
            return out if all(len(o) >= expected_records for o in out) else None

        results = await wait_for(records, "all consumption reflected", timeout=180)
        for contract, rows in zip(contracts, results, strict=True):
            assert all(r["revision"] == 1 for r in rows), "a record revised, sent once"
            charges = (
                await http.get(f"{billing}/contracts/{contract.id}/charges/{examples.PERIOD}")
            ).json()
            arc = [line for line in charges["lines"] if line["kind"] == "arc"]
            assert [(a["item_code"], a["amount"]) for a in arc] == [("SRV-WIN", "1960.00")]
    database = stack.services["billing-reconciler"].database_url
    ids = [c.id for c in contracts]
    count_against(
        figures,
        item_ids(batches, "consumption", "record_id"),
        [
            await rows_per_id(
                database,
                f"SELECT record_id FROM {table} WHERE contract_id = ANY(CAST(:ids AS uuid[]))",
                ids=ids,
            )
            for table in ("consumption_records", "consumption_record_revisions")
        ],
    )
