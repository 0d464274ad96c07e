from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from crm_platform.deps import ClockDep, CurrentPrincipal, IdempotencyDep, SessionDep
from crm_platform.pagination import PageDep
from obligation_tracker.alerts import rule_service, service
from obligation_tracker.alerts.schemas import (
    AlertPage,
    AlertRead,
    AlertRuleCreate,
    AlertRulePage,
    AlertRuleRead,
    AlertRuleUpdate,
    RuleEventType,
    Severity,
)

router = APIRouter(prefix="/alerts", tags=["alerts"])
rules_router = APIRouter(prefix="/alert-rules", tags=["alert rules"])
GLOBAL_RULE = "The API key lacks the scope, acts for another tenant, or is a tenant's key "
GLOBAL_RULE += "and the rule is a global one (only operators change those)."


@router.get(
    "",
    response_model=AlertPage,
    summary="List alerts, newest first",
    description="One alert per breach: later events about the same breach add their facts "
    "to `details` and count in `occurrences`.",
)
async def list_alerts(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    contract_id: uuid.UUID | None = None,
    severity: Severity | None = None,
) -> AlertPage:
    return await service.list_alerts(
        session=session,
        principal=principal,
        contract_id=contract_id,
        severity=severity,
        page=page,
    )


@router.get("/{alert_id:uuid}", response_model=AlertRead, summary="One alert")
async def get_alert(
    alert_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> AlertRead:
    return await service.get(session=session, principal=principal, alert_id=alert_id)


@rules_router.get(
    "",
    operation_id="listAlertRules",
    response_model=AlertRulePage,
    summary="List alert rules (global ones and the caller's)",
    description="By event type; for each, the global rule, then tenant rules, then contract rules.",
)
async def list_rules(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    event_type: RuleEventType | None = None,
) -> AlertRulePage:
    return await rule_service.list_rules(
        session=session, principal=principal, event_type=event_type, page=page
    )


@rules_router.post(
    "",
    operation_id="createAlertRule",
    status_code=201,
    response_model=AlertRuleRead,
    summary="Add a rule for an event type, a tenant or a contract",
    description="For each event, the most specific rule decides (contract, then tenant, then "
    "global): a disabled rule silences the event type there; an enabled one raises an alert "
    "when the event's severity reaches `min_severity` and its amount `min_amount`. 409 when "
    "a rule for the same event type and scope exists.",
    responses={409: {"description": "A rule for this event type and scope exists"}},
)
async def create_rule(
    body: AlertRuleCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    work = rule_service.create(session=session, principal=principal, clock=clock, body=body)
    return await idempotency.run(work, status_code=201)


@rules_router.get(
    "/{rule_id:uuid}",
    response_model=AlertRuleRead,
    summary="One alert rule",
    operation_id="getAlertRule",
)
async def get_rule(
    rule_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> AlertRuleRead:
    return await rule_service.get(session=session, principal=principal, rule_id=rule_id)


@rules_router.patch(
    "/{rule_id:uuid}",
    operation_id="updateAlertRule",
    response_model=AlertRuleRead,
    summary="Change a rule (tenants may not change global rules: 403)",
    responses={403: {"description": GLOBAL_RULE}},
)
async def update_rule(
    rule_id: uuid.UUID,
    body: AlertRuleUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> AlertRuleRead:
    return await rule_service.update(
        session=session, principal=principal, clock=clock, rule_id=rule_id, body=body
    )


@rules_router.delete(
    "/{rule_id:uuid}",
    status_code=204,
    summary="Delete a rule",
    operation_id="deleteAlertRule",
    responses={403: {"description": GLOBAL_RULE}},
)
async def delete_rule(
    rule_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await rule_service.delete(session=session, principal=principal, rule_id=rule_id)
    return Response(status_code=204)
