"""CSV exports: credits, statement lines, discrepancies and the leakage ledger, each the CSV
form of a JSON resource (the same columns as its JSON fields, in the same order), for one
contract or all the caller's and a range of periods.

A file is written row by row as the rows are read (a server-side cursor, or pages of
credits), in one read-only transaction of its own: the figures are those of one moment,
and no more than a chunk of the file and a batch of rows is ever held in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_reconciler.common import PERIOD_PATTERN, ContractPeriods
from billing_reconciler.credits import service as credits
from billing_reconciler.csv_format import CsvResponse, csv_response
from billing_reconciler.exports.tables import CHARGES, CREDITS, DISCREPANCIES, LEAKAGE, Export
from billing_reconciler.leakage import service as leakage
from billing_reconciler.periods import service as periods
from billing_reconciler.reconciliation import service as reconciliation
from crm_platform.deps import CurrentPrincipal

router = APIRouter()


def _scope(
    contract_id: Annotated[
        uuid.UUID | None, Query(description="One contract (else every contract you may see).")
    ] = None,
    period: Annotated[
        str | None,
        Query(pattern=PERIOD_PATTERN, description="One billing month, e.g. 2026-03."),
    ] = None,
    period_from: Annotated[
        str | None, Query(pattern=PERIOD_PATTERN, description="From this month on.")
    ] = None,
    period_to: Annotated[
        str | None, Query(pattern=PERIOD_PATTERN, description="Up to this month.")
    ] = None,
) -> ContractPeriods:
    return ContractPeriods(contract_id, period or period_from, period or period_to)


ScopeDep = Annotated[ContractPeriods, Depends(_scope)]
# Reads an export's items (keyword arguments: session, and principal and scope).
Source = Callable[..., AsyncIterator[BaseModel]]


def _export(request: Request, export: Export, source: Source) -> CsvResponse:
    """Stream an export from a session of its own: the request's session commits before
    the body is sent, so the rows are read while the file is written."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory

    async def items() -> AsyncIterator[BaseModel]:
        async with factory() as session, session.begin():
            # One snapshot for the whole file (credits are read a page at a time).
            await session.execute(
                sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            )
            async for item in source(session=session):
                yield item

    return csv_response(export.table, items(), export.filename)


def _route(export: Export) -> dict[str, Any]:
    return {
        "response_class": CsvResponse,
        "tags": [export.tag],
        "summary": export.summary,
        "description": export.description,
        "responses": {
            200: {
                "description": f"{export.filename}: a header row, then one row per {export.row}.",
                "content": {"text/csv": {"example": export.example}},
            }
        },
    }


def _register(export: Export, read: Source) -> None:
    """A CSV route reading `read(session=…, principal=…, scope=…)`."""

    async def endpoint(
        request: Request, principal: CurrentPrincipal, scope: ScopeDep
    ) -> CsvResponse:
        return _export(request, export, partial(read, principal=principal, scope=scope))

    router.add_api_route(
        f"/{export.name}/csv",
        endpoint,
        methods=["GET"],
        name=f"export_{export.name}",
        **_route(export),
    )


_register(CREDITS, credits.export)
_register(CHARGES, periods.export_statements)
_register(DISCREPANCIES, reconciliation.export_discrepancies)


@router.get("/leakage/csv", **_route(LEAKAGE))
async def export_leakage(
    request: Request,
    principal: CurrentPrincipal,
    scope: ScopeDep,
    group_by: Annotated[
        str, Query(description="Comma-separated: contract, period, class, direction")
    ] = "contract,period,class,direction",
) -> CsvResponse:
    groups = leakage.parse_group_by(group_by)
    read = partial(leakage.export_rows, principal=principal, scope=scope, group_by=groups)
    return _export(request, LEAKAGE, read)
