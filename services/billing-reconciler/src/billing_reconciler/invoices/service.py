"""Receiving supplier invoices: checked, stored, reconciled on receipt.

Invoice numbers are unique per tenant. The same invoice again is a duplicate (nothing
changes); different content under a known number is refused (409) unless the invoice says
`correction: true`, which stores a new version (every version is kept) and reconciles it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.common import lock_contract
from billing_reconciler.consumption.service import contract_tenants
from billing_reconciler.invoices.schemas import (
    InvoiceDetail,
    InvoiceIn,
    InvoiceLineIn,
    InvoicePage,
    InvoiceRead,
    InvoiceReceipt,
)
from billing_reconciler.models import Invoice, InvoiceVersion, ReconciliationRun
from billing_reconciler.periods.service import refresh
from billing_reconciler.periods.statement import load_book
from billing_reconciler.reconciliation.domain import QUANTITY_KINDS, REDUCING_KINDS, InvoiceLine
from billing_reconciler.reconciliation.service import reconcile_invoice, to_read
from crm_events.types import minor_units
from crm_platform.auth import Principal
from crm_platform.emitter import Emit
from crm_platform.errors import Conflict, NotFound, Unprocessable
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page

MAX_DETAILS = 100


@dataclass
class Locator:
    """Where a field of an invoice is in the request, for error messages."""

    prefix: str = "body"
    line_locs: Sequence[str] | None = None  # per line, when lines are not body.lines[i]
    field_loc: str | None = None  # for invoice-level fields, when not body.<field>

    def line(self, index: int, name: str) -> str:
        if self.line_locs is not None:
            return f"{self.line_locs[index]}.{name}"
        return f"{self.prefix}.lines[{index}].{name}"

    def field(self, name: str) -> str:
        return f"{self.field_loc}.{name}" if self.field_loc else f"{self.prefix}.{name}"


@dataclass
class Problems:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, loc: str, message: str) -> None:
        if len(self.items) < MAX_DETAILS:
            self.items.append({"loc": loc, "message": message})

    def raise_if_any(self, what: str) -> None:
        if self.items:
            first = self.items[0]
            more = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
            raise Unprocessable(
                f"{what}: {first['loc']}: {first['message']}{more}", details=self.items
            )


def _decimals(text: str) -> int:
    dot = text.find(".")
    return 0 if dot < 0 else len(text) - dot - 1


def _text(value: Decimal) -> str:
    text = str(value)  # exact; fixed-point unless the value was written with an exponent
    return format(value, "f") if "E" in text else text


ADDING_KINDS = ("base", "arc", "earn_back")


def normalized_lines(
    doc: InvoiceIn, currency: str, loc: Locator
) -> tuple[list[dict[str, Any]], list[InvoiceLine]]:
    """Check what the schema cannot and give every line its number; raises 422 naming each
    broken field. Returns the lines to store (exact decimal strings) and as the
    reconciliation reads them."""
    problems = Problems()
    places = minor_units(currency)
    if _decimals(_text(doc.total)) > places:
        problems.add(loc.field("total"), f"more than {places} decimals for {currency}")
    stored: list[dict[str, Any]] = []
    parsed: list[InvoiceLine] = []
    seen: dict[int, int] = {}
    for index, line in enumerate(doc.lines):
        number = line.line_number if line.line_number is not None else index + 1
        if number in seen:
            problems.add(
                loc.line(index, "line_number"),
                f"line number {number} is used twice (first at line index {seen[number]})",
            )
        seen.setdefault(number, index)
        kind, amount, quantity, unit_price = line.kind, line.amount, line.quantity, line.unit_price
        if kind in QUANTITY_KINDS:
            if quantity is None:
                problems.add(loc.line(index, "quantity"), f"required for {kind} lines")
            elif quantity < 0:
                problems.add(loc.line(index, "quantity"), "must not be negative")
            if unit_price is None:
                problems.add(loc.line(index, "unit_price"), f"required for {kind} lines")
            elif unit_price < 0:
                problems.add(loc.line(index, "unit_price"), "must not be negative")
        amount_text = _text(amount)
        if _decimals(amount_text) > places:
            problems.add(loc.line(index, "amount"), f"more than {places} decimals for {currency}")
        if amount > 0 and kind in REDUCING_KINDS:
            problems.add(
                loc.line(index, "amount"),
                f"a {kind} line reduces the total: its amount must be negative or zero",
            )
        elif amount < 0 and kind in ADDING_KINDS:
            problems.add(
                loc.line(index, "amount"),
                f"a {kind} line adds to the total: its amount must not be negative",
            )
        stored.append(
            {
                "line_number": number,
                "item_code": line.item_code,
                "kind": kind,
                "description": line.description,
                "quantity": None if quantity is None else _text(quantity),
                "unit_price": None if unit_price is None else _text(unit_price),
                "amount": amount_text,
                "period_label": line.period_label,
            }
        )
        parsed.append(
            InvoiceLine(
                number,
                line.item_code,
                kind,
                amount,
                quantity,
                unit_price,
                line.description,
                line.period_label,
            )
        )
    problems.raise_if_any("the invoice is invalid")
    return stored, parsed


async def precheck(*, session: AsyncSession, principal: Principal, doc: InvoiceIn) -> str:
    """What receiving this invoice will do: created, duplicate or corrected (for the status
    code; `receive` decides again under the lock)."""
    tenant = (await contract_tenants(session, {doc.contract_id})).get(doc.contract_id)
    if tenant is None:
        return "created"
    existing = await session.scalar(
        sa.select(Invoice.content_hash).where(
            Invoice.tenant_id == tenant, Invoice.invoice_number == doc.invoice_number
        )
    )
    if existing is None:
        return "created"
    return "duplicate" if existing == _content_hash(doc) else "corrected"


def _content_hash(doc: InvoiceIn) -> str:
    """What makes two submissions the same invoice (everything but the correction flag)."""
    return hashlib.sha256(doc.model_dump_json(exclude={"correction"}).encode()).hexdigest()


async def receive(
    *,
    session: AsyncSession,
    principal: Principal,
    doc: InvoiceIn,
    emit: Emit,
    now: datetime,
    loc: Locator | None = None,
) -> InvoiceReceipt:
    """Store an invoice (new, or a correction of one received before) and reconcile it;
    the same invoice again answers with its current reconciliation."""
    loc = loc or Locator()
    tenant = (await contract_tenants(session, {doc.contract_id})).get(doc.contract_id)
    if tenant is None or not principal.can_access(tenant):
        raise Unprocessable(
            f"contract {doc.contract_id} is not known here",
            details=[{"loc": loc.field("contract_id"), "message": "unknown contract"}],
        )
    book = await load_book(session, doc.contract_id)
    assert book is not None
    terms = book.terms_for(doc.period_label)
    if doc.currency is not None and doc.currency.upper() != terms.currency:
        raise Unprocessable(
            f"the invoice is in {doc.currency}, the contract in {terms.currency}",
            details=[{"loc": loc.field("currency"), "message": f"expected {terms.currency}"}],
        )
    lines, parsed = normalized_lines(doc, terms.currency, loc)
    content_hash = _content_hash(doc)
    await lock_contract(session, doc.contract_id)
    invoice = await session.scalar(
        sa.select(Invoice)
        .where(Invoice.tenant_id == tenant, Invoice.invoice_number == doc.invoice_number)
        .with_for_update()
    )
    if invoice is not None and invoice.content_hash == content_hash:
        return await _duplicate(session, invoice)
    if invoice is not None and not doc.correction:
        raise Conflict(
            f"invoice {doc.invoice_number} was already received with different content; "
            "send correction=true to replace it",
            details=[{"loc": loc.field("invoice_number"), "message": "already received"}],
            code="invoice_number_taken",
        )
    status = "created" if invoice is None else "corrected"
    stored = _Stored(tenant, terms.currency, lines, content_hash)
    if invoice is None:
        invoice = _new_invoice(doc, stored, now)
        session.add(invoice)
    else:
        _correct(session, invoice, doc, stored, now)
    await session.flush()
    run = await _reconcile_received(session, invoice, doc, parsed, status, emit, now)
    return InvoiceReceipt(
        status=status,  # type: ignore[arg-type]
        invoice=InvoiceRead.model_validate(invoice),
        reconciliation=await to_read(session, invoice, run),
    )


@dataclass(frozen=True)
class _Stored:
    """What an invoice stores besides the document's own fields."""

    tenant_id: str
    currency: str
    lines: list[dict[str, Any]]
    content_hash: str


async def _duplicate(session: AsyncSession, invoice: Invoice) -> InvoiceReceipt:
    run = await session.scalar(
        sa.select(ReconciliationRun).where(
            ReconciliationRun.invoice_id == invoice.id, ReconciliationRun.is_current
        )
    )
    assert run is not None
    return InvoiceReceipt(
        status="duplicate",
        invoice=InvoiceRead.model_validate(invoice),
        reconciliation=await to_read(session, invoice, run),
    )


def _new_invoice(doc: InvoiceIn, stored: _Stored, now: datetime) -> Invoice:
    return Invoice(
        id=uuid.uuid4(),
        tenant_id=stored.tenant_id,
        invoice_number=doc.invoice_number,
        version=1,
        received_at=now,
        contract_id=doc.contract_id,
        period_label=doc.period_label,
        currency=stored.currency,
        total=doc.total,
        issued_on=doc.issued_on,
        line_count=len(stored.lines),
        lines=stored.lines,
        content_hash=stored.content_hash,
        updated_at=now,
    )


def _correct(
    session: AsyncSession, invoice: Invoice, doc: InvoiceIn, stored: _Stored, now: datetime
) -> None:
    """A corrected invoice may move to another period: its new reconciliation revision
    replaces the old one in the ledger wherever it was. The version it replaces is kept in
    invoice_versions."""
    session.add(
        InvoiceVersion(
            invoice_id=invoice.id,
            version=invoice.version,
            tenant_id=stored.tenant_id,
            content_hash=invoice.content_hash,
            document={
                "invoice_number": invoice.invoice_number,
                "contract_id": str(invoice.contract_id),
                "period_label": invoice.period_label,
                "currency": invoice.currency,
                "issued_on": invoice.issued_on.isoformat() if invoice.issued_on else None,
                "total": format(invoice.total, "f"),
                "lines": invoice.lines,
            },
            received_at=invoice.updated_at,
        )
    )
    invoice.version += 1
    invoice.contract_id = doc.contract_id
    invoice.period_label = doc.period_label
    invoice.currency = stored.currency
    invoice.total = doc.total
    invoice.issued_on = doc.issued_on
    invoice.line_count = len(stored.lines)
    invoice.lines = stored.lines
    invoice.content_hash = stored.content_hash
    invoice.updated_at = now


async def _reconcile_received(
    session: AsyncSession,
    invoice: Invoice,
    doc: InvoiceIn,
    parsed: list[InvoiceLine],
    status: str,
    emit: Emit,
    now: datetime,
) -> ReconciliationRun:
    """The period's statement (computed when it was not yet), then the reconciliation."""
    trigger = "invoice_received" if status == "created" else "invoice_corrected"
    done = await refresh(
        session=session,
        contract_id=doc.contract_id,
        period_label=doc.period_label,
        emit=emit,
        now=now,
        trigger=trigger,
        cause=f"invoice:{doc.invoice_number}#v{invoice.version}",
        cascade=False,
    )
    assert done is not None
    statement, revision = done
    return await reconcile_invoice(
        session=session,
        invoice=invoice,
        statement=statement,
        charges_revision=revision,
        trigger=trigger,
        emit=emit,
        now=now,
        lines=parsed,
    )


async def get(
    *, session: AsyncSession, principal: Principal, invoice_id: uuid.UUID
) -> InvoiceDetail:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or not principal.can_access(invoice.tenant_id):
        raise NotFound(f"invoice {invoice_id} not found")
    read = InvoiceRead.model_validate(invoice)
    return InvoiceDetail(
        **read.model_dump(), lines=[InvoiceLineIn.model_validate(ln) for ln in invoice.lines]
    )


# In the order they arrived (the columns read include every key).
INVOICES = Keyset(
    "invoices",
    SortKey(Invoice.received_at),
    SortKey(Invoice.invoice_number),
    SortKey(Invoice.id),
)


async def search(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID | None,
    period_label: str | None,
    page: PageRequest,
) -> InvoicePage:
    columns = [getattr(Invoice, name) for name in InvoiceRead.model_fields]
    query = sa.select(*columns).where(principal.tenant_filter(Invoice.tenant_id))
    if contract_id is not None:
        query = query.where(Invoice.contract_id == contract_id)
    if period_label is not None:
        query = query.where(Invoice.period_label == period_label)
    rows, next_cursor = await fetch_page(session, query, INVOICES, page)
    return InvoicePage(
        items=[InvoiceRead.model_validate(r._mapping) for r in rows], next_cursor=next_cursor
    )
