"""Keeping the SLA definitions this service measures, from contracts.v1."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import ContractTerms
from crm_platform.contract_terms import record_terms
from sla_monitor.models import SlaDefinitionRow


async def apply_terms(session: AsyncSession, terms: ContractTerms, status: str) -> None:
    await record_terms(session, terms, status)
    current = await session.scalar(
        sa.select(sa.func.max(SlaDefinitionRow.contract_version)).where(
            SlaDefinitionRow.contract_id == terms.contract_id
        )
    )
    if current is not None and current > terms.version:
        return  # an older version arriving late does not replace the newer definitions
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
            )
        )
    await session.flush()
