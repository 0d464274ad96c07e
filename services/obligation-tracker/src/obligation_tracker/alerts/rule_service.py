"""Alert rules: which events raise alerts, per tenant and contract."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.contract_terms import contract_terms_table
from crm_platform.errors import Conflict, NotFound, ServiceError, Unprocessable
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page
from obligation_tracker.alerts.schemas import (
    AlertRuleCreate,
    AlertRulePage,
    AlertRuleRead,
    AlertRuleUpdate,
)
from obligation_tracker.models import AlertRule


class Forbidden(ServiceError):
    status_code = 403
    code = "forbidden"


async def _contract_tenant(session: AsyncSession, contract_id: uuid.UUID) -> str | None:
    t = contract_terms_table
    return await session.scalar(
        sa.select(t.c.tenant_id).where(t.c.contract_id == contract_id).limit(1)
    )


async def create(
    *, session: AsyncSession, principal: Principal, clock: Clock, body: AlertRuleCreate
) -> AlertRuleRead:
    tenant_id = body.tenant_id
    if principal.tenant_id is not None:
        if tenant_id not in (None, principal.tenant_id):
            raise Unprocessable(
                "tenant_id does not match the caller's tenant",
                details=[{"loc": "body.tenant_id", "message": "another tenant"}],
            )
        tenant_id = principal.tenant_id
    if body.contract_id is not None:
        owner = await _contract_tenant(session, body.contract_id)
        if owner is None or not principal.can_access(owner):
            raise Unprocessable(
                f"contract {body.contract_id} is not known to this service",
                details=[{"loc": "body.contract_id", "message": "unknown contract"}],
            )
        if tenant_id not in (None, owner):
            raise Unprocessable(
                "the contract belongs to another tenant",
                details=[{"loc": "body.contract_id", "message": "another tenant's contract"}],
            )
        tenant_id = owner
    row = AlertRule(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        contract_id=body.contract_id,
        event_type=body.event_type,
        min_severity=body.min_severity,
        alert_severity=body.alert_severity,
        min_amount=body.min_amount,
        enabled=body.enabled,
        description=body.description,
        created_at=clock.now(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            f"a rule for {body.event_type} already exists for this tenant and contract; "
            "change it with PATCH",
            details=[{"loc": "body.event_type", "message": "duplicate rule"}],
        ) from None
    return AlertRuleRead.model_validate(row)


async def _get(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> AlertRule:
    row = await session.get(AlertRule, rule_id)
    if row is None or (row.tenant_id is not None and not principal.can_access(row.tenant_id)):
        raise NotFound(f"alert rule {rule_id} not found")
    return row


def _check_writable(principal: Principal, row: AlertRule) -> None:
    if row.tenant_id is None and principal.tenant_id is not None:
        raise Forbidden(
            "this rule applies to every tenant; add a rule of your own for the same event "
            "type to override it"
        )


# Per event type: the global rule, then tenant rules, then contract rules.
RULES = Keyset(
    "alert-rules",
    SortKey(AlertRule.event_type),
    SortKey(AlertRule.tenant_id, if_null=""),
    SortKey(AlertRule.contract_id, if_null=uuid.UUID(int=0)),
    SortKey(AlertRule.id),
)


async def list_rules(
    *, session: AsyncSession, principal: Principal, event_type: str | None, page: PageRequest
) -> AlertRulePage:
    query = sa.select(AlertRule)
    if principal.tenant_id is not None:
        query = query.where(
            sa.or_(AlertRule.tenant_id.is_(None), AlertRule.tenant_id == principal.tenant_id)
        )
    if event_type is not None:
        query = query.where(AlertRule.event_type == event_type)
    rows, next_cursor = await fetch_page(session, query, RULES, page)
    return AlertRulePage(
        items=[AlertRuleRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


async def get(*, session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> AlertRuleRead:
    return AlertRuleRead.model_validate(await _get(session, principal, rule_id))


async def update(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    rule_id: uuid.UUID,
    body: AlertRuleUpdate,
) -> AlertRuleRead:
    row = await _get(session, principal, rule_id)
    _check_writable(principal, row)
    for field in body.model_fields_set:
        setattr(row, field, getattr(body, field))
    row.updated_at = clock.now()
    await session.flush()
    return AlertRuleRead.model_validate(row)


async def delete(*, session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> None:
    row = await _get(session, principal, rule_id)
    _check_writable(principal, row)
    await session.delete(row)
