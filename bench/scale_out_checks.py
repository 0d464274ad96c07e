"""What bench/scale_out.py reads back: the services' databases and logs.

- totals: every record the workload produced, counted per record id where the services
  store it (contracts, outages, consumption records, closed periods, credits, alerts,
  root-cause obligations, the health read model), against the workload's plans;
- delivery: for each service's consumer group, the events it must handle (rows of every
  service's outbox on the topics it reads, of the types it has handlers for) against its
  inbox — nothing missing; the inbox's key makes a second handling impossible;
- rebalance: which partitions the killed instance held (its `consumer.assigned` log lines),
  when the surviving instance was given them, the first event it handled on them (its
  inbox rows carry partition and time), and the outbox-to-inbox latency of events on them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bench.scale_out_load import TENANT, Plan
from crm_events.topics import physical
from crm_testing import examples
from crm_testing.benchstack import percentile


async def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_async_engine(url, poolclass=sa.pool.NullPool)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(sa.text(sql), params)).all()]
    finally:
        await engine.dispose()


def compare(expected: Counter[str], stored: Counter[str]) -> dict[str, Any]:
    """Per id: expected n times, stored how often? (n is 1 for every id the workload made.)"""
    missing = sorted(k for k in expected if stored[k] < expected[k])
    twice = sorted(k for k in stored if stored[k] > expected[k] and k in expected)
    foreign = sorted(k for k in stored if k not in expected)
    return {
        "expected": sum(expected.values()),
        "stored": sum(min(stored[k], expected[k]) for k in expected),
        "missing": len(missing),
        "duplicated": len(twice),
        "unexpected": len(foreign),
        "examples": (missing + twice + foreign)[:5],
        "exact": not (missing or twice or foreign),
    }


async def totals(db: dict[str, str], plans: list[Plan]) -> dict[str, Any]:
    done = [p for p in plans if p.closed_at]
    ids = [p.contract_id for p in done]
    failing = Counter(p.contract_id for p in done if p.fails)
    sql_ids = "= ANY(CAST(:ids AS uuid[]))"
    period = examples.PERIOD
    out: dict[str, Any] = {"contracts_run": len(done), "contracts_failing": len(failing)}
    contracts = await rows(
        db["contract-registry"],
        "SELECT reference FROM contracts WHERE tenant_id = :t AND status = 'active'",
        t=TENANT,
    )
    out["contracts"] = compare(Counter(p.reference for p in done), Counter(r[0] for r in contracts))
    outages = await rows(
        db["sla-monitor"], "SELECT source_id FROM outages WHERE tenant_id = :t", t=TENANT
    )
    out["outages"] = compare(
        Counter(s for p in done for s in p.source_ids()), Counter(r[0] for r in outages)
    )
    records = await rows(
        db["billing-reconciler"],
        f"SELECT record_id FROM consumption_records WHERE contract_id {sql_ids} AND revision = 1",
        ids=ids,
    )
    out["consumption_records"] = compare(
        Counter(r for p in done for r in p.record_ids()), Counter(r[0] for r in records)
    )
    closed = await rows(
        db["sla-monitor"],
        f"SELECT contract_id::text FROM sla_periods WHERE contract_id {sql_ids} "
        "AND period_label = :p",
        ids=ids,
        p=period,
    )
    out["closed_periods"] = compare(Counter(ids), Counter(r[0] for r in closed))
    alerts = await rows(
        db["obligation-tracker"],
        f"SELECT contract_id::text FROM alerts WHERE contract_id {sql_ids}",
        ids=ids,
    )
    out["alerts"] = compare(failing, Counter(r[0] for r in alerts))
    obligations = await rows(
        db["obligation-tracker"],
        f"SELECT contract_id::text FROM obligations WHERE contract_id {sql_ids} "
        "AND kind = 'root_cause_report'",
        ids=ids,
    )
    out["root_cause_obligations"] = compare(failing, Counter(r[0] for r in obligations))
    out["credits"] = await credits(db, done)
    return out


async def credits(db: dict[str, str], done: list[Plan]) -> dict[str, Any]:
    """Each failing contract's one credit and its amount, at billing-reconciler and in
    contract-registry's health read model, against the amount worked out in advance."""
    ids = [p.contract_id for p in done]
    expected = {p.contract_id: p.expected_credit() for p in done}
    billing = await rows(
        db["billing-reconciler"],
        "SELECT contract_id::text, credit_amount FROM service_credits "
        "WHERE contract_id = ANY(CAST(:ids AS uuid[])) AND period_label = :p",
        ids=ids,
        p=examples.PERIOD,
    )
    health = await rows(
        db["contract-registry"],
        "SELECT contract_id::text, credit_amount FROM health_credits "
        "WHERE contract_id = ANY(CAST(:ids AS uuid[])) AND period_label = :p",
        ids=ids,
        p=examples.PERIOD,
    )
    out: dict[str, Any] = {"expected_sum": str(sum(expected.values(), Decimal("0.00")))}
    for where, found in (("billing", billing), ("health", health)):
        by_contract: dict[str, list[Decimal]] = {}
        for cid, amount in found:
            by_contract.setdefault(cid, []).append(Decimal(amount))
        wrong = [
            cid
            for cid, amount in expected.items()
            if sum(by_contract.get(cid, []), Decimal(0)) != amount
            or len([a for a in by_contract.get(cid, []) if a]) != (1 if amount else 0)
        ]
        total = sum((sum(v, Decimal(0)) for v in by_contract.values()), Decimal(0))
        out[f"{where}_sum"] = str(total.quantize(Decimal("0.01")))
        out[f"{where}_contracts_wrong"] = len(wrong)
    out["exact"] = (
        out["billing_sum"] == out["health_sum"] == out["expected_sum"]
        and out["billing_contracts_wrong"] == out["health_contracts_wrong"] == 0
    )
    return out


# Delivery: outbox → inbox, per consumer group ----------------------------------------------


@dataclass(frozen=True)
class Handled:
    event_id: str
    event_type: str
    topic: str
    partition: int
    processed_at: datetime


async def outboxes(db: dict[str, str]) -> dict[str, tuple[str, str, datetime]]:
    """event id → (type, topic, created_at), over every service's outbox."""
    out: dict[str, tuple[str, str, datetime]] = {}
    for url in db.values():
        found = await rows(url, "SELECT event_id, event_type, topic, created_at FROM outbox_events")
        for r in found:
            out[r[0]] = (r[1], r[2], r[3])
    return out


async def inbox(url: str, group: str) -> list[Handled]:
    found = await rows(
        url,
        'SELECT event_id, event_type, topic, "partition", processed_at FROM inbox_events '
        "WHERE consumer = :g",
        g=group,
    )
    return [Handled(*r) for r in found]


def delivery(
    published: dict[str, tuple[str, str, datetime]],
    handled: list[Handled],
    topics: list[str],
    types: set[str],
) -> dict[str, Any]:
    wanted = {
        eid for eid, (etype, topic, _) in published.items() if topic in topics and etype in types
    }
    got = {h.event_id for h in handled}
    return {
        "events_to_handle": len(wanted),
        "handled": len(got & wanted),
        "missing": len(wanted - got),
        "exact": wanted == got,
    }


# Rebalance -------------------------------------------------------------------------------


def assignments(log: Path, group: str) -> list[tuple[datetime, set[tuple[str, int]]]]:
    """(when, partitions) of each `consumer.assigned` line of one group in a service log."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if '"consumer.assigned"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("consumer") != group:
            continue
        parts = set()
        for item in entry.get("partitions", []):
            topic, _, number = item.rpartition(":")
            parts.add((topic, int(number)))
        at = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
        out.append((at, parts))
    return out


def rebalance(
    *,
    killed_log: Path,
    survivor_log: Path,
    group: str,
    killed_at: datetime,
    handled: list[Handled],
    published: dict[str, tuple[str, str, datetime]],
) -> dict[str, Any]:
    held = [parts for at, parts in assignments(killed_log, group) if at < killed_at]
    lost = held[-1] if held else set()
    taken = [
        at for at, parts in assignments(survivor_log, group) if at > killed_at and lost <= parts
    ]
    after = sorted(
        h.processed_at
        for h in handled
        if (h.topic, h.partition) in lost and h.processed_at > killed_at
    )

    def latency(h: Handled) -> float:
        return (h.processed_at - published[h.event_id][2]).total_seconds()

    before = [latency(h) for h in handled if h.processed_at < killed_at and h.event_id in published]
    on_lost = [
        latency(h)
        for h in handled
        if (h.topic, h.partition) in lost and h.processed_at > killed_at and h.event_id in published
    ]
    return {
        # `<namespace>.sla.v1` → `sla.v1:3`
        "partitions_of_killed_instance": sorted(f"{t.split('.', 1)[1]}:{n}" for t, n in lost),
        "reassigned_after_s": _since(killed_at, taken[0] if taken else None),
        "first_handled_after_s": _since(killed_at, after[0] if after else None),
        "latency_before_kill_p50_ms": _ms(before, 50),
        "latency_before_kill_p99_ms": _ms(before, 99),
        "latency_on_moved_partitions_max_s": round(max(on_lost), 2) if on_lost else None,
        "events_on_moved_partitions_after_kill": len(on_lost),
    }


def _since(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds(), 2)


def _ms(values: list[float], pct: float) -> float | None:
    return round(percentile(values, pct) * 1000, 1) if values else None


def wall(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def group_of(service: str) -> str:
    return physical(service)


# Storage -----------------------------------------------------------------------------------

STORAGE = {
    "sla-monitor": ["outages", "inbox_events", "outbox_events", "idempotency_keys"],
    "billing-reconciler": ["consumption_records", "consumption_record_revisions"],
    "obligation-tracker": ["inbox_events"],
}


async def storage(db: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Rows and bytes per row (table, TOAST and indexes) of the tables that grow with the
    load, and the mean size of an event (its CloudEvents JSON) each service published:
    what the capacity model multiplies."""
    out: dict[str, dict[str, Any]] = {}
    for service, tables in STORAGE.items():
        for table in tables:
            [(count, size)] = await rows(
                db[service],
                f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}",
            )
            out[f"{service}.{table}"] = {
                "rows": count,
                "bytes_per_row": round(size / count) if count else None,
            }
    for service, url in db.items():
        [(count, size)] = await rows(
            url, "SELECT count(*), coalesce(avg(octet_length(value)), 0) FROM outbox_events"
        )
        out[f"{service}.event_bytes"] = {"rows": count, "bytes_per_row": round(size)}
    return out
