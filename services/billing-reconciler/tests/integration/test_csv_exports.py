"""The CSV exports of the worked example on real PostgreSQL and Kafka: credits, statement
lines, discrepancies and the leakage ledger, each with the columns of its JSON resource in
the same order, its exact rows, filters by contract, period and tenant, quoting, a parse
with Python's csv module that gives back the JSON values, and a file far larger than what
the service holds in memory while it streams it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from billing_harness import Billing, sla_closed
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import create_async_engine

from billing_reconciler.credits.schemas import CreditRead
from billing_reconciler.leakage.schemas import LeakageRow
from billing_reconciler.periods.schemas import ChargeLineRead, PeriodChargesRead
from billing_reconciler.reconciliation.schemas import DiscrepancyRead
from crm_testing import examples
from crm_testing.auth import ADMIN_KEY
from crm_testing.infra import to_async_url
from crm_testing.kafka import make_event, publish_envelope

STATEMENT_ONLY = ("units_without_consumption", "consumption_record_ids")


async def worked_example(billing: Billing) -> dict[str, Any]:
    """Credit 4,414.08, March's statement, the invoice reconciled: its reconciliation."""
    await billing.activate(examples.contract_terms(contract_id=billing.contract_id))
    assert (
        await billing.consume(examples.consumption_items(billing.contract_id))
    ).status_code == 202
    await billing.close(examples.PERIOD, "failed")
    await billing.wait("billing.credit_calculated")
    posted = await billing.client.post(
        "/invoices", json=examples.invoice_document(billing.contract_id)
    )
    assert posted.status_code == 201, posted.text
    reconciliation: dict[str, Any] = posted.json()["reconciliation"]
    return reconciliation


async def get_csv(billing: Billing, path: str, **params: str) -> tuple[list[str], list[list[str]]]:
    resp = await billing.client.get(path, params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert resp.headers["content-disposition"].startswith("attachment; filename=")
    header, *rows = csv.reader(io.StringIO(resp.content.decode("utf-8"), newline=""))
    return header, rows


def decode(cells: dict[str, str], model: type[BaseModel]) -> dict[str, Any]:
    """CSV cells back to JSON values, by the JSON Schema type of each column."""
    properties = model.model_json_schema(mode="serialization")["properties"]
    out: dict[str, Any] = {}
    for name, text in cells.items():
        prop = properties[name]
        types = {v.get("type", "object") for v in prop.get("anyOf", [prop])}
        if text == "" and "null" in types:
            out[name] = None
        elif "integer" in types:
            out[name] = int(text)
        elif "boolean" in types:
            out[name] = {"true": True, "false": False}[text]
        elif types & {"object", "array"}:
            out[name] = json.loads(text)
        else:
            out[name] = text
    return out


def as_json(header: list[str], rows: list[list[str]], model: type[BaseModel]) -> list[Any]:
    return [decode(dict(zip(header, row, strict=True)), model) for row in rows]


def statements_of(header: list[str], rows: list[list[str]]) -> list[dict[str, Any]]:
    """Statement lines back to statements: the line's columns into `lines`, grouped by
    contract and period."""
    line_columns = list(ChargeLineRead.model_fields)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        line = decode({c: cells.pop(c) for c in line_columns}, ChargeLineRead)
        statement = out.setdefault(
            (cells["contract_id"], cells["period_label"]),
            {**decode(cells, PeriodChargesRead), "lines": []},
        )
        statement["lines"].append(line)
    return list(out.values())


async def test_each_export_of_the_worked_example_is_its_json_as_csv(billing: Billing) -> None:
    reconciliation = await worked_example(billing)
    scope = {"contract_id": billing.subject, "period": "2026-03"}

    credits = (await billing.client.get(f"/contracts/{billing.subject}/credits")).json()["items"]
    header, rows = await get_csv(billing, "/credits/csv", **scope)
    assert header == list(credits[0])
    assert [(r[3], r[4], r[13], r[15], r[16], r[17]) for r in rows] == [
        ("AVAIL-CORE", "2026-03", "4414.08", "0.00", "4414.08", "failed")
    ]
    assert as_json(header, rows, CreditRead) == credits

    statement = (await billing.client.get(f"/contracts/{billing.subject}/charges/2026-03")).json()
    header, rows = await get_csv(billing, "/charges/csv", **scope)
    fields = [k for k in statement if k not in STATEMENT_ONLY]
    at = fields.index("lines")
    assert header == fields[:at] + list(statement["lines"][0]) + fields[at + 1 :]
    assert [row[4:9] + row[16:17] for row in rows] == [
        ["base", "SRV-WIN", "200", "150.00", "30000.00", "87545.92"],
        ["arc", "SRV-WIN", "14", "140.00", "1960.00", "87545.92"],
        ["base", "TCK-L1", "5000", "12.00", "60000.00", "87545.92"],
        ["credit", "AVAIL-CORE", "1", "4414.08", "-4414.08", "87545.92"],
    ]
    assert rows[1][9] == "ARC = (actual 214 − baseline 200) × rate 140.00 = 14 × 140.00 = 1960.00"
    assert statements_of(header, rows) == [
        {k: v for k, v in statement.items() if k not in STATEMENT_ONLY}
    ]

    found = reconciliation["discrepancies_found"]
    header, rows = await get_csv(billing, "/discrepancies/csv", **scope)
    assert header == list(found[0])
    assert [r[6:13] for r in rows] == [
        ["consumption_error", "over_billed", "280.00", "SRV-WIN", "2", "14", "16"],
        ["unapplied_credit", "over_billed", "4414.08", "AVAIL-CORE", "", "-4414.08", "0.00"],
    ]
    assert as_json(header, rows, DiscrepancyRead) == found

    ledger = (await billing.client.get("/leakage", params={**scope, "group_by": "class"})).json()
    header, rows = await get_csv(billing, "/leakage/csv", **scope, group_by="class")
    assert header == list(ledger["items"][0])
    assert rows == [
        ["", "", "consumption_error", "", "USD", "280.00", "1"],
        ["", "", "unapplied_credit", "", "USD", "4414.08", "1"],
    ]
    assert as_json(header, rows, LeakageRow) == ledger["items"]


async def test_exports_are_filtered_by_contract_period_and_tenant(billing: Billing) -> None:
    await worked_example(billing)
    other = uuid.uuid4()
    await billing.activate(examples.contract_terms(contract_id=other))
    await publish_envelope(
        billing.bootstrap,
        make_event(
            "sla.period_closed",
            subject=str(other),
            data=sla_closed(other, "2026-04", "failed"),
        ),
    )
    await billing.events.wait_for(
        lambda e: e.type == "billing.credit_calculated" and e.subject == str(other)
    )

    def column(name: str, header: list[str], rows: list[list[str]]) -> list[str]:
        return [row[header.index(name)] for row in rows]

    async def contracts_and_periods(path: str, **params: str) -> list[tuple[str, str]]:
        header, rows = await get_csv(billing, path, **params)
        return sorted(
            set(
                zip(
                    column("contract_id", header, rows),
                    column("period_label", header, rows),
                    strict=True,
                )
            )
        )

    mine, theirs = (billing.subject, "2026-03"), (str(other), "2026-04")
    for path in ("/credits/csv", "/charges/csv"):
        assert await contracts_and_periods(path) == sorted([mine, theirs])
        assert await contracts_and_periods(path, contract_id=str(other)) == [theirs]
        assert await contracts_and_periods(path, period="2026-03") == [mine]
        assert await contracts_and_periods(path, period_from="2026-04") == [theirs]
        assert await contracts_and_periods(path, period_to="2026-02") == []
    for path in ("/discrepancies/csv", "/leakage/csv"):
        assert await contracts_and_periods(path) == [mine]
        assert await contracts_and_periods(path, contract_id=str(other)) == []
        assert await contracts_and_periods(path, period_from="2026-03", period_to="2026-03") == [
            mine
        ]
    for path in ("/credits/csv", "/charges/csv", "/discrepancies/csv", "/leakage/csv"):
        # Another tenant's rows are not there; only the header row is.
        resp = await billing.client.get(path, headers={"X-Tenant-Id": "another-bank"})
        assert resp.status_code == 200 and len(resp.content.decode().splitlines()) == 1
        bad = await billing.client.get(path, params={"period": "2026-3"})
        assert bad.status_code == 422


async def test_a_value_with_a_comma_a_quote_or_a_line_break_is_quoted(billing: Billing) -> None:
    await worked_example(billing)
    doc = examples.invoice_document(billing.contract_id, invoice_number='GLX-"Q1", part\n2')
    odd = 'MISC, "travel"\nexpenses'
    doc["lines"].append({"item_code": odd, "kind": "other", "amount": "10.00"})
    doc["total"] = "92250.00"
    assert (await billing.client.post("/invoices", json=doc)).status_code == 201

    resp = await billing.client.get("/discrepancies/csv", params={"contract_id": billing.subject})
    text = resp.content.decode()
    assert '"MISC, ""travel""\nexpenses"' in text
    assert '"GLX-""Q1"", part\n2"' in text
    header, *rows = csv.reader(io.StringIO(text, newline=""))
    unknown = [dict(zip(header, r, strict=True)) for r in rows if odd in r]
    assert [(u["invoice_number"], u["item_code"], u["amount"]) for u in unknown] == [
        ('GLX-"Q1", part\n2', odd, "10.00")
    ]


@dataclass
class Streamed:
    rows: int
    size: int
    chunks: int
    peak: int
    seconds: float


async def stream_export(billing: Billing, path: str, query: str) -> Streamed:
    """GET a CSV export by calling the app as ASGI (httpx's ASGITransport would buffer the
    body): the chunks go to a temporary file as they come, and tracemalloc measures the
    peak of the Python allocations meanwhile."""
    chunks = size = 0
    done = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays connected until the body is complete
        return {"type": "http.disconnect"}

    with tempfile.TemporaryFile() as file:

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal chunks, size
            if message["type"] == "http.response.start":
                assert message["status"] == 200
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    chunks += 1
                    size += len(message["body"])
                    file.write(message["body"])
                if not message.get("more_body"):
                    done.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"authorization", f"Bearer {ADMIN_KEY}".encode())],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        tracemalloc.start()
        started = time.perf_counter()
        await billing.app(scope, receive, send)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        file.seek(0)
        rows = sum(1 for _ in csv.reader(io.TextIOWrapper(file, encoding="utf-8", newline="")))
    return Streamed(rows - 1, size, chunks, peak, seconds)


async def copy_discrepancies(database_url: str, copies: int) -> None:
    """Each of the contract's discrepancies copied `copies` times (new ids and lines)."""
    engine = create_async_engine(to_async_url(database_url))
    async with engine.begin() as conn:
        offset = await conn.scalar(sa.text("SELECT max(seq) FROM discrepancies"))
        await conn.execute(
            sa.text(
                "INSERT INTO discrepancies SELECT gen_random_uuid(), tenant_id, "
                "reconciliation_id, invoice_id, contract_id, period_label, currency, revision, "
                "seq + :offset * g, is_current, discrepancy_class, direction, amount, "
                "item_code, line_number, expected, invoiced, summary, explanation "
                "FROM discrepancies, generate_series(1, :copies) AS g WHERE seq <= 2"
            ),
            {"offset": offset, "copies": copies},
        )
    await engine.dispose()


async def test_a_large_export_is_streamed_in_bounded_memory(
    billing: Billing, database_url: str
) -> None:
    """The worked example's two discrepancies copied in SQL to 2,002, then 20,002 rows: the
    file arrives in many chunks, and ten times the file takes no more memory to send."""
    await worked_example(billing)
    query = f"contract_id={billing.subject}"
    await copy_discrepancies(database_url, 1_000)
    small = await stream_export(billing, "/discrepancies/csv", query)
    await copy_discrepancies(database_url, 9_000)
    large = await stream_export(billing, "/discrepancies/csv", query)

    assert (small.rows, large.rows) == (2_002, 20_002)
    assert large.size > 9 * small.size and large.chunks > 300
    for run in (small, large):
        print(
            f"\n{run.rows} rows, {run.size / 1e6:.1f} MB in {run.chunks} chunks, "
            f"{run.seconds:.1f} s under tracemalloc, peak Python allocations "
            f"{run.peak / 1e6:.1f} MB"
        )
    assert large.peak < small.peak + 2_000_000  # not the 18 MB more a buffered file takes
    assert large.peak < large.size / 3
