"""Benchmark: reconcile a 10,000-line invoice against a contract with 200 resource units.

    uv run python bench/billing_reconcile.py [--runs 5] [--http]

Needs PostgreSQL (`DATABASE_URL`, default postgresql://crm:crm@127.0.0.1:5432/postgres); it
creates a scratch database, applies billing-reconciler's migrations and drops it at the end.
`--http` also posts the invoice through the FastAPI app in-process (that starts the app's
Kafka producer, so it needs `KAFKA_BOOTSTRAP_SERVERS` too; consumers and relay stay off).

Each figure is reported as wall-clock time and as this process's CPU time (the Python side
of the work; PostgreSQL's own time is in the wall clock only): on a machine shared with
other loads the CPU figure is the steadier one.

The invoice itemises each unit: 49 base lines (one per site) and one ARC, RRC or unrelated
line, with a few mistakes (a wrong unit price, a repeated line, an ARC billed 2 over the
measured volume, items the contract does not know). Figures reported per run:
  domain      the pure reconciliation (10,000 lines against the period's statement)
  reconcile   refresh (charges from the consumption totals, credits, statement) +
              reconciliation + storing the run and its discrepancies + outbox events
  receive     the above plus validating the 10,000 lines, storing the invoice, committing
  http        POST /invoices in-process: JSON parsing, validation, receive, response
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from billing_reconciler.consumption.service import record
from billing_reconciler.invoices.schemas import InvoiceIn
from billing_reconciler.invoices.service import receive
from billing_reconciler.main import MIGRATIONS, create_app
from billing_reconciler.models import Invoice, ReconciliationRun
from billing_reconciler.periods.service import refresh
from billing_reconciler.reconciliation.service import reconcile_invoice, run_reconciliation
from billing_reconciler.settings import Settings
from crm_events.schemas.consumption import ConsumptionItem
from crm_events.schemas.contracts import ContractTerms
from crm_platform.auth import Principal
from crm_platform.contract_terms import record_terms
from crm_platform.emitter import RequestEmitter
from crm_platform.migrations import upgrade
from crm_testing.apps import running_app, settings_for
from crm_testing.infra import create_database, drop_database, to_async_url

UNITS = 200
LINES_PER_UNIT = 50  # 49 base lines (sites) + 1 ARC/RRC line
SITES = LINES_PER_UNIT - 1
PERIOD = "2026-03"
TENANT = "bench-bank"


def contract(contract_id: uuid.UUID) -> ContractTerms:
    units = [
        {
            "code": f"RU-{i:03d}",
            "name": f"Resource unit {i}",
            "unit_price": f"{10 + i % 40}.00",
            "baseline_volume": str(SITES * 10),
            "arc_rate": f"{9 + i % 40}.00",
            "rrc_rate": f"{8 + i % 40}.00",
            "deadband_pct": "5",
            "deadband_mode": "excess_only" if i % 2 else "full_variance",
        }
        for i in range(UNITS)
    ]
    return ContractTerms.model_validate(
        {
            "contract_id": contract_id,
            "tenant_id": TENANT,
            "version": 1,
            "effective_from": "2026-01-01",
            "reference": "BENCH-200",
            "customer": "Bench Bank",
            "supplier": "Globex",
            "currency": "USD",
            "timezone": "America/New_York",
            "start_date": "2026-01-01",
            "price_book": units,
            "credit_terms": {"at_risk_pct": "12"},
            "reconciliation_tolerance": "0.01",
        }
    )


def actual(i: int) -> int:
    baseline = SITES * 10
    return baseline + (60 if i % 3 == 0 else -60 if i % 3 == 1 else 3)


def invoice(contract_id: uuid.UUID, terms: ContractTerms, number: str) -> dict[str, Any]:
    lines: list[dict[str, Any]] = []
    total = Decimal(0)
    for i, unit in enumerate(terms.price_book):
        price = unit.unit_price
        for site in range(SITES):
            wrong_rate = i == 7 and site == 3
            p = price + Decimal(1) if wrong_rate else price
            lines.append(
                {
                    "item_code": unit.code,
                    "kind": "base",
                    "description": f"{unit.code} site {site + 1}",
                    "quantity": "10",
                    "unit_price": str(p),
                    "amount": str(p * 10),
                }
            )
        a = actual(i)
        baseline = int(unit.baseline_volume)
        if i % 3 == 0:  # above: ARC (one unit billed 2 over)
            edge = baseline if i % 2 == 0 else baseline * Decimal("1.05")
            q = Decimal(a) - edge + (2 if i == 9 else 0)
            lines.append(
                {
                    "item_code": unit.code,
                    "kind": "arc",
                    "quantity": str(q),
                    "unit_price": str(unit.arc_rate),
                    "amount": str((q * unit.arc_rate).quantize(Decimal("0.01"))),
                }
            )
        elif i % 3 == 1:  # below: RRC
            edge = baseline if i % 2 == 0 else baseline * Decimal("0.95")
            q = edge - Decimal(a)
            lines.append(
                {
                    "item_code": unit.code,
                    "kind": "rrc",
                    "quantity": str(q),
                    "unit_price": str(unit.rrc_rate),
                    "amount": str(-(q * unit.rrc_rate).quantize(Decimal("0.01"))),
                }
            )
        else:  # within the deadband: nothing owed; one unknown item per such unit
            lines.append({"item_code": f"MISC-{i}", "kind": "other", "amount": "1.00"})
    lines[12] = dict(lines[11])  # a duplicated line
    for n, line in enumerate(lines, start=1):
        line["line_number"] = n
        total += Decimal(line["amount"])
    return {
        "invoice_number": number,
        "contract_id": str(contract_id),
        "period_label": PERIOD,
        "currency": "USD",
        "issued_on": date(2026, 4, 5).isoformat(),
        "total": str(total),
        "lines": lines,
    }


async def main(runs: int, http: bool) -> int:
    server = to_async_url(
        os.environ.get("DATABASE_URL", "postgresql://crm:crm@127.0.0.1:5432/postgres")
    )
    url = await create_database(server, "bench_billing")
    try:
        await asyncio.to_thread(upgrade, MIGRATIONS, url)
        engine = create_async_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        contract_id = uuid.uuid4()
        terms = contract(contract_id)
        async with sessions() as s, s.begin():
            await record_terms(s, terms, "active")
        async with sessions() as s, s.begin():
            items = [
                ConsumptionItem(
                    record_id=f"c-{i}",
                    contract_id=contract_id,
                    resource_unit=u.code,
                    period_label=PERIOD,
                    quantity=Decimal(actual(i)),
                )
                for i, u in enumerate(terms.price_book)
            ]
            await record(session=s, principal=Principal(None), items=items, now=datetime.now(UTC))

        doc = invoice(contract_id, terms, "BENCH-0")
        assert len(doc["lines"]) == UNITS * LINES_PER_UNIT
        print(
            f"contract: {UNITS} resource units; invoice: {len(doc['lines']):,} lines; "
            f"{runs} run(s); wall / cpu in ms"
        )
        timings: dict[str, list[tuple[float, float]]] = {
            "validate": [],
            "receive": [],
            "domain": [],
            "reconcile": [],
        }
        result_line = ""
        for run in range(runs):
            payload = {**doc, "invoice_number": f"BENCH-{run + 1}"}
            with Timer(timings["validate"]):
                parsed = InvoiceIn.model_validate(payload)
            with Timer(timings["receive"]):
                async with sessions() as s, s.begin():
                    receipt = await receive(
                        session=s,
                        principal=Principal(None),
                        doc=parsed,
                        emit=RequestEmitter(s, "bench", f"bench-{run}"),
                        now=datetime.now(UTC),
                    )
            rec = receipt.reconciliation
            result_line = (
                f"result: expected {rec.expected_total} vs invoiced {rec.invoiced_total}; "
                f"{rec.discrepancies} discrepancies: "
                + ", ".join(f"{k} {v}" for k, v in rec.sums_by_class.items() if v)
            )
            # Reconciling the stored invoice again, as after a changed input: refresh the
            # period, reconcile, store a new revision and its outbox events, commit.
            async with sessions() as s:
                async with s.begin():
                    stored = await s.get(Invoice, receipt.invoice.id)
                    assert stored is not None
                    await s.execute(
                        sa.update(ReconciliationRun)
                        .where(ReconciliationRun.invoice_id == stored.id)
                        .values(fingerprint="stale")  # so the result counts as changed
                    )
                with Timer(timings["reconcile"]):
                    async with s.begin():
                        done = await refresh(
                            session=s,
                            contract_id=contract_id,
                            period_label=PERIOD,
                            emit=RequestEmitter(s, "bench", "bench"),
                            now=datetime.now(UTC),
                            trigger="bench",
                            cause="bench",
                            cascade=False,
                        )
                        assert done is not None
                        statement, revision = done
                        with Timer(timings["domain"]):
                            run_reconciliation(stored, statement)
                        await reconcile_invoice(
                            session=s,
                            invoice=stored,
                            statement=statement,
                            charges_revision=revision,
                            trigger="bench",
                            emit=RequestEmitter(s, "bench", "bench"),
                            now=datetime.now(UTC),
                        )
        if http:
            timings["http"] = await _http(url, doc, runs)
        print(result_line)
        for name, values in timings.items():
            walls, cpus = [w for w, _ in values], [c for _, c in values]
            print(
                f"  {name:<10} median {statistics.median(walls):7.1f} / "
                f"{statistics.median(cpus):6.1f}   min {min(walls):7.1f} / {min(cpus):6.1f}   "
                f"max {max(walls):7.1f} / {max(cpus):6.1f}"
            )
        if hasattr(os, "getloadavg"):
            print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        await engine.dispose()
    finally:
        await drop_database(server, url)
    return 0


class Timer:
    """Wall-clock and process CPU time of a block, in ms, appended to a list."""

    def __init__(self, into: list[tuple[float, float]]) -> None:
        self.into = into

    def __enter__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.into.append(
            ((time.perf_counter() - self.wall) * 1000, (time.process_time() - self.cpu) * 1000)
        )


async def _http(url: str, doc: dict[str, Any], runs: int) -> list[tuple[float, float]]:
    settings = settings_for(
        Settings,
        database_url=url,
        bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        consumers_enabled=False,
        relay_enabled=False,
        kafka_create_topics=False,
        log_level="WARNING",
    )
    out: list[tuple[float, float]] = []
    async with running_app(create_app(settings)) as (_, client):
        for run in range(runs):
            body = {**doc, "invoice_number": f"BENCH-HTTP-{run}"}
            with Timer(out):
                resp = await client.post("/invoices", json=body)
            assert resp.status_code == 201, resp.text[:500]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--http", action="store_true", help="also POST through the app")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.runs, args.http)))
