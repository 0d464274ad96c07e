"""Assembling the handover brief of a contract on a date."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts import repository as repo
from contract_registry.contracts.dates import local_today
from contract_registry.contracts.publishing import document_of
from contract_registry.handover.brief import build_brief
from contract_registry.handover.schemas import (
    ContractFacts,
    HandoverBrief,
    HealthLine,
    VersionLine,
)
from contract_registry.health.queries import period_totals
from contract_registry.health.scoring import score_period
from contract_registry.models import ContractVersion
from crm_events.types import round_money
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.errors import NotFound

RECENT_PERIODS = 3


async def brief(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    contract_id: uuid.UUID,
    as_of: date | None,
) -> HandoverBrief:
    contract = await repo.load_contract(session, principal, contract_id)
    now = clock.now()
    today = local_today(now, contract.timezone)
    day = as_of or today
    version: ContractVersion | None
    if contract.status == "draft":
        version = await repo.require_version(session, contract.id, 1)
    else:
        version = await repo.version_in_force(session, contract.id, day)
        if version is None and as_of is None:
            version = await repo.require_version(session, contract.id, contract.current_version)
    if version is None:
        raise NotFound(
            f"no version of contract {contract_id} is in force on {day}",
            code="not_in_force",
            details=[{"loc": "query.as_of", "message": "before the first activated version"}],
        )
    doc = document_of(version)
    last_day = (
        contract.terminates_on - timedelta(days=1) if contract.terminates_on else doc.end_date
    )
    facts = ContractFacts(
        id=contract.id,
        tenant_id=contract.tenant_id,
        reference=doc.reference,
        customer=doc.customer,
        supplier=doc.supplier,
        currency=doc.currency,
        timezone=doc.timezone,
        status=contract.status,
        start_date=doc.start_date,
        end_date=doc.end_date,
        version=version.version,
        effective_from=version.effective_from,
        terminates_on=contract.terminates_on,
        termination_reason=contract.termination_reason,
        days_to_end=(last_day - day).days if last_day else None,
    )
    versions = [
        VersionLine(
            version=v.version,
            state=v.state,
            effective_from=v.effective_from,
            note=v.note,
            activated_at=v.activated_at,
        )
        for v in await repo.all_versions(session, contract.id)
    ]
    periods = await period_totals(
        session, tenant_id=contract.tenant_id, contract_id=contract.id, today=today
    )
    health = []
    for label in sorted(periods)[-RECENT_PERIODS:]:
        h = score_period(periods[label])
        health.append(
            HealthLine(
                period_label=label,
                score=h.score,
                slas_failed=h.outcomes["failed"],
                slas_below_expected=h.outcomes["below_expected"],
                credits_total=round_money(h.credits_total, contract.currency),
                leakage_total=round_money(h.leakage_total, contract.currency),
            )
        )
    return build_brief(
        facts=facts, doc=doc, versions=versions, health=health, as_of=day, generated_at=now
    )
