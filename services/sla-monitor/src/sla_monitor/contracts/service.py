"""Keeping the SLA definitions this service measures, from contracts.v1."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import ContractTerms
from crm_platform.contract_terms import record_terms
from sla_monitor.models import SlaDefinitionRow


async def apply_terms(
    session: AsyncSession, terms: ContractTerms, status: str, *, now: datetime
) -> bool:
    """Keep a version's terms and index the SLA definitions of the newest one. Returns
    whether the version was new here (False for a redelivered or republished version)."""
    new = await record_terms(session, terms, status)
    existing = (
        await session.execute(
            sa.select(
                SlaDefinitionRow.sla_code,
                SlaDefinitionRow.contract_version,
                SlaDefinitionRow.tracked_since,
            ).where(SlaDefinitionRow.contract_id == terms.contract_id)
        )
    ).all()
    current = max((r.contract_version for r in existing), default=None)
    if current is not None and current > terms.version:
        return new  # an older version arriving late does not replace the newer definitions
    since = {r.sla_code: r.tracked_since for r in existing}
    await session.execute(
        sa.delete(SlaDefinitionRow).where(SlaDefinitionRow.contract_id == terms.contract_id)
    )
    for sla in terms.sla_definitions:
        session.add(
            SlaDefinitionRow(
                contract_id=terms.contract_id,
                sla_code=sla.code,
                tenant_id=terms.tenant_id,
                contract_version=terms.version,
                service_key=sla.service_key,
                metric_kind=sla.metric_kind.value,
                timezone=terms.timezone,
                active=status == "active",
                tracked_since=since.get(sla.code) or now,
            )
        )
    await session.flush()
    return new
