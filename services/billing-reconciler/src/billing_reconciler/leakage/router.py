from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from billing_reconciler.common import PERIOD_PATTERN
from billing_reconciler.leakage import service
from billing_reconciler.leakage.schemas import LeakageLedger
from crm_platform.deps import CurrentPrincipal, SessionDep
from crm_platform.pagination import PageDep

router = APIRouter(tags=["leakage"])


@router.get(
    "/leakage",
    operation_id="getLeakageLedger",
    response_model=LeakageLedger,
    summary="The value-leakage ledger, in both directions",
    description="Sums of the current discrepancies of every reconciled invoice, grouped by "
    "any of contract, period, class and direction (per currency). Positive = over-billed "
    "(dispute risk), negative = under-billed (the supplier's own leakage). A re-reconciled "
    "invoice replaces its earlier figures. The rows come a page at a time; `totals` (per "
    "currency) cover every row the filters select, on every page.",
)
async def get_leakage(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    contract_id: uuid.UUID | None = None,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, description="One period")] = None,
    period_from: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
    period_to: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
    group_by: Annotated[
        str, Query(description="Comma-separated: contract, period, class, direction")
    ] = "contract,period,class,direction",
) -> LeakageLedger:
    return await service.ledger(
        session=session,
        principal=principal,
        contract_id=contract_id,
        period_from=period or period_from,
        period_to=period or period_to,
        group_by=service.parse_group_by(group_by),
        page=page,
    )
