from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from billing_reconciler.common import PERIOD_PATTERN
from billing_reconciler.csv_format import parse_invoices
from billing_reconciler.invoices import service
from billing_reconciler.invoices.schemas import (
    InvoiceBatchReceipt,
    InvoiceDetail,
    InvoiceIn,
    InvoicePage,
    InvoiceReceipt,
)
from billing_reconciler.reconciliation import service as reconciliation
from billing_reconciler.reconciliation.schemas import ReconciliationPage, ReconciliationRead
from crm_platform.deps import ClockDep, CurrentPrincipal, EmitDep, IdempotencyDep, SessionDep
from crm_platform.pagination import PageDep
from crm_platform.params import TEXT_INT

router = APIRouter(prefix="/invoices", tags=["invoices"])

CSV_EXAMPLE = (
    "invoice_number,contract_id,period_label,currency,total,line_number,item_code,kind,"
    "description,quantity,unit_price,amount\n"
    "GLX-2026-03-0042,7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f,2026-03,USD,92240.00,1,SRV-WIN,"
    "base,Windows servers,200,150.00,30000.00\n"
    "GLX-2026-03-0042,7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f,2026-03,USD,92240.00,2,SRV-WIN,"
    "arc,Above baseline,16,140.00,2240.00\n"
    "GLX-2026-03-0042,7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f,2026-03,USD,92240.00,3,TCK-L1,"
    "base,Level-1 tickets,5000,12.00,60000.00\n"
)

CONFLICTS: dict[int | str, dict[str, Any]] = {
    409: {"description": "A known invoice number with other content, not a correction"}
}
RECEIVE_RULES = (
    " Invoice numbers are unique per tenant: the same invoice again is a duplicate (200, "
    "nothing changes); different content under a known number is refused (409) unless it "
    "says correction=true, which stores a new version (200) and reconciles it again. The "
    "invoice is reconciled on receipt: `reconciliation.discrepancy_found` per discrepancy and "
    "`reconciliation.completed` go out on billing.v1."
)


@router.post(
    "",
    status_code=201,
    response_model=InvoiceReceipt,
    summary="Receive a supplier invoice and reconcile it",
    description="One invoice for one contract and period, with its lines (item code, kind, "
    "quantity, unit price, amount) and total." + RECEIVE_RULES,
    responses={
        200: {"model": InvoiceReceipt, "description": "duplicate or correction"},
        **CONFLICTS,
    },
)
async def post_invoice(
    invoice: InvoiceIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
    emit: EmitDep,
    clock: ClockDep,
) -> JSONResponse:
    status = await service.precheck(session=session, principal=principal, doc=invoice)

    async def work() -> InvoiceReceipt:
        return await service.receive(
            session=session, principal=principal, doc=invoice, emit=emit, now=clock.now()
        )

    return await idempotency.run(work, status_code=201 if status == "created" else 200)


@router.post(
    "/csv",
    status_code=201,
    response_model=InvoiceBatchReceipt,
    summary="Receive invoices as CSV (one row per line) and reconcile them",
    description="Required columns: invoice_number, contract_id, period_label, total, "
    "item_code, kind, amount. Optional: currency, issued_on, correction, line_number, "
    "description, quantity (required for base/arc/rrc), unit_price (idem), line_period. "
    "Several invoices may share a file: rows are grouped by invoice_number and repeat the "
    "invoice-level columns, which must agree. Errors name the file line: "
    "`body.line[4].amount` (the header is line 1). 201 when at least one invoice is new."
    + RECEIVE_RULES,
    responses={
        200: {
            "model": InvoiceBatchReceipt,
            "description": "every invoice a duplicate or a correction",
        },
        **CONFLICTS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
        }
    },
)
async def post_invoice_csv(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
    emit: EmitDep,
    clock: ClockDep,
) -> JSONResponse:
    parsed = parse_invoices(await request.body())
    statuses = [
        await service.precheck(session=session, principal=principal, doc=doc) for doc, _ in parsed
    ]

    async def work() -> InvoiceBatchReceipt:
        return InvoiceBatchReceipt(
            invoices=[
                await service.receive(
                    session=session,
                    principal=principal,
                    doc=doc,
                    emit=emit,
                    now=clock.now(),
                    loc=loc,
                )
                for doc, loc in parsed
            ]
        )

    return await idempotency.run(work, status_code=201 if "created" in statuses else 200)


@router.get(
    "",
    response_model=InvoicePage,
    summary="Invoices received, by contract and period",
    description="In the order they were first received.",
)
async def list_invoices(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    contract_id: uuid.UUID | None = None,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
) -> InvoicePage:
    return await service.search(
        session=session,
        principal=principal,
        contract_id=contract_id,
        period_label=period,
        page=page,
    )


@router.get(
    "/{invoice_id:uuid}",
    response_model=InvoiceDetail,
    summary="An invoice as received (current version), with its lines",
)
async def get_invoice(
    invoice_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> InvoiceDetail:
    return await service.get(session=session, principal=principal, invoice_id=invoice_id)


@router.get(
    "/{invoice_id:uuid}/reconciliation",
    response_model=ReconciliationRead,
    summary="The invoice's reconciliation: totals, sums per class, every discrepancy",
    description="The current revision (or `revision=n`), with each discrepancy's explanation "
    "and the statement of expected charges it was checked against.",
)
async def get_reconciliation(
    invoice_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    revision: Annotated[int | None, Query(ge=1), TEXT_INT] = None,
) -> ReconciliationRead:
    return await reconciliation.read(
        session=session, principal=principal, invoice_id=invoice_id, revision=revision
    )


@router.get(
    "/{invoice_id:uuid}/reconciliations",
    response_model=ReconciliationPage,
    summary="Every reconciliation revision of an invoice, oldest first",
)
async def list_reconciliations(
    invoice_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> ReconciliationPage:
    return await reconciliation.history(
        session=session, principal=principal, invoice_id=invoice_id, page=page
    )
