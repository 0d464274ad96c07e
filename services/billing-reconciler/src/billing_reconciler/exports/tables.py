"""What each CSV export is: the JSON resource its rows are, how it is documented, and an
example (the worked example's rows, rendered by the same table as the responses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from billing_reconciler.credits.schemas import CreditRead
from billing_reconciler.csv_format import CsvTable
from billing_reconciler.exports import examples
from billing_reconciler.leakage.schemas import LeakageRow
from billing_reconciler.periods.schemas import ChargeLineRead, PeriodChargesRead
from billing_reconciler.reconciliation.schemas import DiscrepancyRead

FILTERS = (
    " Filters: `contract_id`, and `period` (one month) or `period_from`/`period_to` (months, "
    "both included). Streamed as it is read, in one read-only snapshot; decimals are the "
    "JSON's exact strings, null is an empty cell, an object or list is its compact JSON. "
    "Guide: docs/billing-reconciler.md, *CSV exports*."
)


@dataclass(frozen=True)
class Export:
    name: str  # GET /{name}/csv answers {name}.csv
    table: CsvTable
    tag: str
    row: str
    summary: str
    description: str
    example_items: tuple[dict[str, Any], ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def example(self) -> str:
        model: type[BaseModel] = self.table.model
        return self.table.render(model.model_validate(item) for item in self.example_items)


CREDITS = Export(
    name="credits",
    table=CsvTable(CreditRead),
    tag="credits",
    row="credit",
    summary="Service credits as CSV (the columns of GET /contracts/{id}/credits)",
    description="One row per credit (SLA and billing month): the fields of "
    "GET /contracts/{id}/credits in the same order, revisions and earn-back included as "
    "JSON cells. Ordered by contract, billing month and SLA." + FILTERS,
    example_items=(examples.CREDIT,),
)

CHARGES = Export(
    name="charges",
    table=CsvTable(
        PeriodChargesRead,
        expand=("lines", ChargeLineRead),
        drop=("units_without_consumption", "consumption_record_ids"),
    ),
    tag="charges",
    row="statement line",
    summary="Statement lines as CSV (the columns of GET /contracts/{id}/charges/{period})",
    description="One row per line of the latest stored statement of each computed period "
    "(what `billing.charges_computed` last published): the statement's fields in the order "
    "of GET /contracts/{id}/charges/{period}, the line's fields (kind … explanation) in "
    "place of `lines`, the statement's fields repeated on each of its lines; its two lists "
    "of unit codes and record ids are left out. A period never computed has no rows "
    "(POST /contracts/{id}/periods/{period}/compute computes one)." + FILTERS,
    example_items=(examples.STATEMENT,),
)

DISCREPANCIES = Export(
    name="discrepancies",
    table=CsvTable(DiscrepancyRead),
    tag="invoices",
    row="discrepancy",
    summary="Reconciliation discrepancies as CSV (the columns of discrepancies_found)",
    description="One row per discrepancy of each invoice's current reconciliation (the ones "
    "the leakage ledger sums): the fields of `discrepancies_found` in "
    "GET /invoices/{id}/reconciliation, which are those of "
    "`reconciliation.discrepancy_found`. Ordered by contract, period, invoice number and "
    "line." + FILTERS,
    example_items=examples.DISCREPANCIES,
)

LEAKAGE = Export(
    name="leakage",
    table=CsvTable(LeakageRow),
    tag="leakage",
    row="ledger row",
    summary="The value-leakage ledger as CSV (the rows of GET /leakage)",
    description="The `rows` of GET /leakage with the same `group_by` (columns not grouped "
    "by are empty); the totals per currency are sums of them and not in the file." + FILTERS,
    example_items=examples.LEDGER_ROWS,
)
