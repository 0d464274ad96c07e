"""Running, storing and publishing the reconciliation of an invoice.

A reconciliation is stored as a revision of its invoice. When an input changes later (late
or corrected consumption, a restated SLA, an earn-back, an amended contract) the invoice is
reconciled again; a new revision is stored and published only when the result changed, and
it replaces the earlier one in the leakage ledger.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.common import EXPORT_BATCH, ContractPeriods, fingerprint, in_term
from billing_reconciler.models import DiscrepancyRow, Invoice, PeriodCharges, ReconciliationRun
from billing_reconciler.periods.schemas import PeriodChargesRead
from billing_reconciler.periods.statement import Statement
from billing_reconciler.reconciliation.domain import (
    Discrepancy,
    InvoiceLine,
    Reconciliation,
    reconcile,
)
from billing_reconciler.reconciliation.schemas import (
    DiscrepancyRead,
    ReconciliationPage,
    ReconciliationRead,
    ReconciliationSummary,
)
from crm_events.schemas.billing import DiscrepancyFound, Explanation, ReconciliationCompleted
from crm_events.schemas.contracts import ContractTerms
from crm_platform.auth import Principal
from crm_platform.db import tuple_in
from crm_platform.emitter import Emit
from crm_platform.errors import NotFound
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page


def invoice_lines(stored: list[dict[str, Any]]) -> list[InvoiceLine]:
    """The stored lines (exact decimal strings) as the domain reads them."""
    return [
        InvoiceLine(
            d["line_number"],
            d["item_code"],
            d["kind"],
            Decimal(d["amount"]),
            None if (q := d.get("quantity")) is None else Decimal(q),
            None if (p := d.get("unit_price")) is None else Decimal(p),
            d.get("description") or "",
            d.get("period_label") or None,
        )
        for d in stored
    ]


def reference_rates(terms: ContractTerms) -> dict[tuple[str, str], Decimal]:
    rates: dict[tuple[str, str], Decimal] = {}
    for unit in terms.price_book:
        rates[("base", unit.code)] = unit.unit_price
        rates[("arc", unit.code)] = unit.arc_rate
        rates[("rrc", unit.code)] = unit.rrc_rate
    return rates


def run_reconciliation(
    invoice: Invoice, statement: Statement, lines: Sequence[InvoiceLine] | None = None
) -> Reconciliation:
    terms = statement.terms
    lines = invoice_lines(invoice.lines) if lines is None else lines
    periods = {ln.period_label for ln in lines if ln.period_label} | {invoice.period_label}
    return reconcile(
        period_label=invoice.period_label,
        lines=lines,
        stated_total=Decimal(invoice.total),
        expected=statement.expected_lines(),
        reference_rates=reference_rates(terms),
        sla_codes={s.code for s in terms.sla_definitions},
        periods_in_term={p for p in periods if in_term(terms, p)},
        tolerance=terms.reconciliation_tolerance,
        currency=terms.currency,
    )


def _explanation(invoice: Invoice, terms: ContractTerms, d: Discrepancy) -> Explanation:
    line_ref = (
        f"invoice:{invoice.invoice_number}#line-{d.line_number}"
        if d.line_number is not None
        else f"invoice:{invoice.invoice_number}#total"
    )
    return Explanation(
        clause=d.clause or f"Invoice reconciliation: {d.discrepancy_class.value}",
        contract_version=terms.version,
        formula=d.formula,
        inputs={
            "invoice_number": invoice.invoice_number,
            "invoice_version": str(invoice.version),
            **({"line_number": str(d.line_number)} if d.line_number is not None else {}),
            **({"item_code": d.item_code} if d.item_code else {}),
            "expected": d.expected or "",
            "invoiced": d.invoiced or "",
            "tolerance": str(terms.reconciliation_tolerance),
            **{k: v for k, v in d.inputs.items() if v},
        },
        source_ids=[line_ref, *d.source_ids],
    )


def _fingerprint(invoice: Invoice, result: Reconciliation) -> str:
    """What must differ for a reconciliation to be a new revision."""
    return fingerprint(
        {
            "invoice_version": invoice.version,
            "expected_total": str(result.expected_total),
            "invoiced_total": str(result.invoiced_total),
            "discrepancies": [
                [
                    d.discrepancy_class.value,
                    str(d.amount),
                    d.item_code,
                    d.line_number,
                    d.expected,
                    d.invoiced,
                    d.explanation,
                ]
                for d in result.discrepancies
            ],
        }
    )


async def reconcile_invoice(
    *,
    session: AsyncSession,
    invoice: Invoice,
    statement: Statement,
    charges_revision: int,
    trigger: str,
    emit: Emit,
    now: datetime,
    lines: Sequence[InvoiceLine] | None = None,
) -> ReconciliationRun:
    """Reconcile an invoice against its period's statement; store and publish a new
    revision when the result differs from the current one. `lines`: the invoice's lines
    already parsed (when it was just received), else read from the stored invoice."""
    result = run_reconciliation(invoice, statement, lines)
    marker = _fingerprint(invoice, result)
    current = await session.scalar(
        sa.select(ReconciliationRun).where(
            ReconciliationRun.invoice_id == invoice.id, ReconciliationRun.is_current
        )
    )
    if current is not None and current.fingerprint == marker:
        return current
    revision = 1
    if current is not None:
        revision = current.revision + 1
        await _supersede(session, invoice.id)
    run = ReconciliationRun(
        id=uuid.uuid4(),
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.id,
        invoice_version=invoice.version,
        contract_id=invoice.contract_id,
        contract_version=statement.terms.version,
        period_label=invoice.period_label,
        revision=revision,
        is_current=True,
        currency=statement.terms.currency,
        expected_total=result.expected_total,
        invoiced_total=result.invoiced_total,
        lines_total=result.lines_total,
        difference=result.difference,
        sums_by_class={k: format(v, "f") for k, v in result.sums_by_class.items()},
        status=result.status,
        discrepancy_count=len(result.discrepancies),
        charges_revision=charges_revision,
        fingerprint=marker,
        trigger=trigger,
        reconciled_at=now,
    )
    session.add(run)
    await session.flush()
    await _store_and_publish(session, invoice, statement.terms, run, result, emit, now)
    return run


async def _supersede(session: AsyncSession, invoice_id: uuid.UUID) -> None:
    """The current reconciliation and its discrepancies become history."""
    await session.execute(
        sa.update(ReconciliationRun)
        .where(ReconciliationRun.invoice_id == invoice_id, ReconciliationRun.is_current)
        .values(is_current=False)
    )
    await session.execute(
        sa.update(DiscrepancyRow)
        .where(DiscrepancyRow.invoice_id == invoice_id, DiscrepancyRow.is_current)
        .values(is_current=False)
    )


async def _store_and_publish(
    session: AsyncSession,
    invoice: Invoice,
    terms: ContractTerms,
    run: ReconciliationRun,
    result: Reconciliation,
    emit: Emit,
    now: datetime,
) -> None:
    """The revision's discrepancies (rows and `reconciliation.discrepancy_found`), then
    `reconciliation.completed`."""
    rows = []
    for seq, d in enumerate(result.discrepancies, start=1):
        rows.append(
            {
                "id": uuid.uuid4(),
                "tenant_id": invoice.tenant_id,
                "reconciliation_id": run.id,
                "invoice_id": invoice.id,
                "contract_id": invoice.contract_id,
                "period_label": invoice.period_label,
                "currency": terms.currency,
                "revision": run.revision,
                "seq": seq,
                "is_current": True,
                "discrepancy_class": d.discrepancy_class.value,
                "direction": d.direction,
                "amount": d.amount,
                "item_code": d.item_code,
                "line_number": d.line_number,
                "expected": d.expected,
                "invoiced": d.invoiced,
                "summary": d.explanation,
                "explanation": _explanation(invoice, terms, d).model_dump(mode="json"),
            }
        )
    if rows:
        await session.execute(sa.insert(DiscrepancyRow), rows)
    subject = str(invoice.contract_id)
    for row in rows:
        await emit(
            "reconciliation.discrepancy_found",
            subject=subject,
            tenant=invoice.tenant_id,
            data=DiscrepancyFound(**discrepancy_fields(row, invoice.invoice_number, now)),
        )
    await emit(
        "reconciliation.completed",
        subject=subject,
        tenant=invoice.tenant_id,
        data=ReconciliationCompleted(**reconciliation_fields(run, invoice.invoice_number)),
    )


def discrepancy_fields(
    row: Mapping[Any, Any], invoice_number: str, found_at: datetime
) -> dict[str, Any]:
    """A stored discrepancy (its columns) as `reconciliation.discrepancy_found` and the API
    carry it: the same fields from the same place."""
    detail = Explanation.model_validate(row["explanation"])
    return {
        "discrepancy_id": row["id"],
        "invoice_id": row["invoice_id"],
        "invoice_number": invoice_number,
        "contract_id": row["contract_id"],
        "period_label": row["period_label"],
        "currency": row["currency"],
        "discrepancy_class": row["discrepancy_class"],
        "direction": row["direction"],
        "amount": row["amount"],
        "item_code": row["item_code"],
        "line_number": row["line_number"],
        "expected": row["expected"],
        "invoiced": row["invoiced"],
        "explanation": f"{row['summary']}: {detail.formula}",
        "explanation_detail": detail,
        "revision": row["revision"],
        "found_at": found_at,
    }


def reconciliation_fields(run: ReconciliationRun, invoice_number: str) -> dict[str, Any]:
    """A stored reconciliation revision as `reconciliation.completed` and the API carry it."""
    return {
        "reconciliation_id": run.id,
        "invoice_id": run.invoice_id,
        "invoice_number": invoice_number,
        "invoice_version": run.invoice_version,
        "contract_id": run.contract_id,
        "contract_version": run.contract_version,
        "period_label": run.period_label,
        "currency": run.currency,
        "expected_total": run.expected_total,
        "invoiced_total": run.invoiced_total,
        "lines_total": run.lines_total,
        "difference": run.difference,
        "sums_by_class": run.sums_by_class,
        "discrepancies": run.discrepancy_count,
        "status": run.status,
        "trigger": run.trigger,
        "charges_revision": run.charges_revision,
        "revision": run.revision,
        "reconciled_at": run.reconciled_at,
    }


async def period_invoices(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], list[Invoice]]:
    """The invoices of several (contract, period) pairs, each pair's in order received."""
    if not keys:
        return {}
    out: dict[tuple[uuid.UUID, str], list[Invoice]] = defaultdict(list)
    for invoice in await session.scalars(
        sa.select(Invoice)
        .where(tuple_in((Invoice.contract_id, Invoice.period_label), keys))
        .order_by(Invoice.received_at)
    ):
        out[(invoice.contract_id, invoice.period_label)].append(invoice)
    return out


async def reconcile_period_invoices(
    *,
    session: AsyncSession,
    statement: Statement,
    charges_revision: int,
    trigger: str,
    emit: Emit,
    now: datetime,
    invoices: Sequence[Invoice] | None = None,
) -> list[ReconciliationRun]:
    """Reconcile the period's invoices (`invoices`: already read with `period_invoices`)."""
    if invoices is None:
        found = await period_invoices(
            session, [(statement.terms.contract_id, statement.period_label)]
        )
        invoices = found.get((statement.terms.contract_id, statement.period_label), [])
    invoices = [i for i in invoices if i.tenant_id == statement.terms.tenant_id]
    return [
        await reconcile_invoice(
            session=session,
            invoice=invoice,
            statement=statement,
            charges_revision=charges_revision,
            trigger=trigger,
            emit=emit,
            now=now,
        )
        for invoice in invoices
    ]


async def read(
    *,
    session: AsyncSession,
    principal: Principal,
    invoice_id: uuid.UUID,
    revision: int | None = None,
) -> ReconciliationRead:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or not principal.can_access(invoice.tenant_id):
        raise NotFound(f"invoice {invoice_id} not found")
    query = sa.select(ReconciliationRun).where(
        ReconciliationRun.invoice_id == invoice_id,
        principal.tenant_filter(ReconciliationRun.tenant_id),
    )
    query = (
        query.where(ReconciliationRun.revision == revision)
        if revision is not None
        else query.where(ReconciliationRun.is_current)
    )
    run = await session.scalar(query)
    if run is None:
        raise NotFound(
            f"invoice {invoice_id} has no reconciliation"
            + (f" revision {revision}" if revision is not None else "")
        )
    return await to_read(session, invoice, run)


async def to_read(
    session: AsyncSession, invoice: Invoice, run: ReconciliationRun
) -> ReconciliationRead:
    rows = (
        await session.execute(
            sa.select(DiscrepancyRow.__table__)
            .where(DiscrepancyRow.reconciliation_id == run.id)
            .order_by(DiscrepancyRow.seq)
        )
    ).mappings()
    snapshot = await session.scalar(
        sa.select(PeriodCharges.statement).where(
            PeriodCharges.contract_id == run.contract_id,
            PeriodCharges.period_label == run.period_label,
            PeriodCharges.revision == run.charges_revision,
        )
    )
    return ReconciliationRead(
        **reconciliation_fields(run, invoice.invoice_number),
        is_current=run.is_current,
        discrepancies_found=[
            DiscrepancyRead(**discrepancy_fields(r, invoice.invoice_number, run.reconciled_at))
            for r in rows
        ],
        expected_charges=PeriodChargesRead.model_validate(snapshot) if snapshot else None,
    )


REVISIONS = Keyset("reconciliations", SortKey(ReconciliationRun.revision))


async def history(
    *, session: AsyncSession, principal: Principal, invoice_id: uuid.UUID, page: PageRequest
) -> ReconciliationPage:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or not principal.can_access(invoice.tenant_id):
        raise NotFound(f"invoice {invoice_id} not found")
    query = sa.select(ReconciliationRun).where(
        ReconciliationRun.invoice_id == invoice_id,
        principal.tenant_filter(ReconciliationRun.tenant_id),
    )
    runs, next_cursor = await fetch_page(session, query, REVISIONS, page)
    names = ReconciliationSummary.model_fields
    return ReconciliationPage(
        items=[
            ReconciliationSummary(
                **{
                    k: v
                    for k, v in reconciliation_fields(r, invoice.invoice_number).items()
                    if k in names
                },
                is_current=r.is_current,
            )
            for r in runs
        ],
        next_cursor=next_cursor,
    )


async def export_discrepancies(
    *, session: AsyncSession, principal: Principal, scope: ContractPeriods
) -> AsyncIterator[DiscrepancyRead]:
    """The discrepancies of every invoice's current reconciliation in the scope (those the
    leakage ledger sums), by contract, period, invoice number and line, read through a
    server-side cursor."""
    d = DiscrepancyRow.__table__.c
    query = (
        sa.select(DiscrepancyRow.__table__, Invoice.invoice_number, ReconciliationRun.reconciled_at)
        .join(Invoice, Invoice.id == d.invoice_id)
        .join(ReconciliationRun, ReconciliationRun.id == d.reconciliation_id)
        .where(
            d.is_current,
            principal.tenant_filter(d.tenant_id),
            *scope.where(d.contract_id, d.period_label),
        )
        .order_by(d.contract_id, d.period_label, Invoice.invoice_number, d.seq)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    result = await session.stream(query)
    async for row in result.mappings():
        yield DiscrepancyRead(
            **discrepancy_fields(row, row["invoice_number"], row["reconciled_at"])
        )
