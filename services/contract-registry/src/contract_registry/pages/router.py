"""The contract page (text/html) and its charts (image/svg+xml), for people and for
embedding. Same scope (`contracts:read`) and tenant rules as GET …/health; the key as a
Bearer header, or as the HTTP Basic password a browser asks for (crm_platform.browser_auth).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from contract_registry.health.router import PeriodLabel
from contract_registry.pages import charts, service
from contract_registry.pages.html import CONTENT_SECURITY_POLICY, render_page
from contract_registry.pages.service import DEFAULT_PERIODS, MAX_PERIODS, ContractView, PeriodWindow
from crm_platform.browser_auth import BrowserRoute
from crm_platform.deps import ClockDep, CurrentPrincipal, SessionDep

router = APIRouter(
    prefix="/contracts/{contract_id:uuid}", tags=["contract page"], route_class=BrowserRoute
)

SVG = "image/svg+xml"
HTML = "text/html"
PRIVATE = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
AUTH_NOTE = (
    " Sign in with the API key as a Bearer header, or, from a browser, as the password of "
    "the HTTP Basic prompt a 401 here brings up (any user name); never in the URL."
)
WINDOW_NOTE = (
    " Shows the last `last` periods with data (default 12) within `period_from`–`period_to`."
)


def _window(
    period_from: PeriodLabel = None,
    period_to: PeriodLabel = None,
    last: Annotated[
        int, Query(ge=1, le=MAX_PERIODS, description="How many periods, the latest ones.")
    ] = DEFAULT_PERIODS,
) -> PeriodWindow:
    return PeriodWindow(period_from, period_to, last)


WindowDep = Annotated[PeriodWindow, Depends(_window)]


UNAUTHORIZED = (
    "No API key (a Bearer header, or the password of HTTP Basic), or an unknown, revoked or "
    "expired one; `WWW-Authenticate` offers Basic, so a browser asks for the key."
)


def _content(media: str, what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": what, "content": {media: {"schema": {"type": "string"}}}},
        401: {"description": UNAUTHORIZED},
    }


async def _view(
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    contract_id: uuid.UUID,
    window: WindowDep,
) -> ContractView:
    return await service.view(
        session=session, principal=principal, clock=clock, contract_id=contract_id, window=window
    )


ViewDep = Annotated[ContractView, Depends(_view)]


def _svg(body: str) -> Response:
    headers = PRIVATE | {"Content-Security-Policy": "default-src 'none'"}
    return Response(body, media_type=f"{SVG}; charset=utf-8", headers=headers)


def _chart(path: str, operation_id: str, summary: str, description: str) -> Any:
    """A chart route: an SVG document, documented as such, with the window and auth notes."""
    return router.get(
        path,
        operation_id=operation_id,
        response_class=Response,
        responses=_content(SVG, "The chart: an SVG document with <title> and <desc>."),
        summary=summary,
        description=description + WINDOW_NOTE + AUTH_NOTE,
    )


@router.get(
    "/health.html",
    operation_id="getContractPage",
    response_class=Response,
    responses=_content(HTML, "The page: HTML with inline SVG charts."),
    summary="The contract page: health, SLA attainment, credits and leakage, obligations",
    description="A page a person reads in a browser (no script, nothing loaded from "
    "elsewhere): the health score with its components, each SLA's attainment per period "
    "against its expected and minimum levels, service credits and leakage per period, and "
    "obligations on time, late and open per period, as inline SVG charts."
    + WINDOW_NOTE
    + AUTH_NOTE,
)
async def get_contract_page(view: ViewDep, window: WindowDep) -> Response:
    headers = PRIVATE | {"Content-Security-Policy": CONTENT_SECURITY_POLICY}
    return Response(render_page(view, window), media_type=f"{HTML}; charset=utf-8", headers=headers)


@_chart(
    "/charts/attainment.svg",
    "getAttainmentChart",
    "Chart: SLA attainment per period against the expected and minimum levels",
    "One panel per SLA, or the one `sla_code` names; points coloured by outcome.",
)
async def get_attainment_chart(
    view: ViewDep,
    sla_code: Annotated[
        str | None, Query(max_length=64, description="Only this SLA.", examples=["AVAIL-CORE"])
    ] = None,
) -> Response:
    if sla_code is None:
        return _svg(charts.attainment_charts(view.slas))
    kind, points = view.slas.get(sla_code, ("", []))
    return _svg(charts.attainment_chart(sla_code, kind, points))


@_chart(
    "/charts/credits-leakage.svg",
    "getCreditsLeakageChart",
    "Chart: service credits and leakage per period",
    "In the contract currency.",
)
async def get_credits_leakage_chart(view: ViewDep) -> Response:
    return _svg(charts.credits_leakage_chart(view.periods, view.contract.currency))


@_chart(
    "/charts/obligations.svg",
    "getObligationsChart",
    "Chart: obligations on time, late and open per period",
    "Waived obligations are not counted.",
)
async def get_obligations_chart(view: ViewDep) -> Response:
    return _svg(charts.obligations_chart(view.periods))


@_chart(
    "/charts/health.svg",
    "getHealthChart",
    "Chart: the health score per period as the sum of its components' shares",
    "Each component adds weight × its score ÷ the weights of the components with data.",
)
async def get_health_chart(view: ViewDep) -> Response:
    return _svg(charts.health_chart(view.periods))
