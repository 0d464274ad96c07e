"""Keeping the SLA definitions this service measures, from contracts.v1."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import ContractTerms
from crm_platform.contract_terms import record_terms_many
from crm_platform.db import any_of
from sla_monitor.models import SlaDefinitionRow


@dataclass(frozen=True)
class Indexed:
    """A contract's indexed SLA definitions: the version they come from, and since when
    this service has known each SLA code (kept across versions)."""

    version: int
    since: Mapping[str, datetime | None]
    terms: ContractTerms | None = None  # the version's terms, when one was applied here
    active: bool = True


@dataclass(frozen=True)
class Applied:
    """One contracts.v1 event to apply: its version's terms, the status it gives the
    contract, and this service's clock when it was handled."""

    terms: ContractTerms
    status: str
    now: datetime


def index_versions(
    existing: Mapping[uuid.UUID, Indexed], applied: Sequence[Applied]
) -> dict[uuid.UUID, Indexed]:
    """The definitions of each contract whose index changes, after applying the events in
    order: a version older than the indexed one arriving late changes nothing; otherwise
    the version's SLAs replace the contract's, each keeping the moment it was first known
    (or the event's clock for a new code). Pure: the same as applying them one by one."""
    state = dict(existing)
    changed: dict[uuid.UUID, Indexed] = {}
    for event in applied:
        cid = event.terms.contract_id
        current = state.get(cid)
        if current is not None and current.version > event.terms.version:
            continue
        since = current.since if current is not None else {}
        state[cid] = changed[cid] = Indexed(
            version=event.terms.version,
            since={
                sla.code: since.get(sla.code) or event.now for sla in event.terms.sla_definitions
            },
            terms=event.terms,
            active=event.status == "active",
        )
    return changed


async def apply_terms(
    session: AsyncSession, terms: ContractTerms, status: str, *, now: datetime
) -> bool:
    """Keep a version's terms and index the SLA definitions of the newest one. Returns
    whether the version was new here (False for a redelivered or republished version)."""
    [new] = await apply_terms_many(session, [Applied(terms, status, now)])
    return new


async def apply_terms_many(session: AsyncSession, applied: Sequence[Applied]) -> list[bool]:
    """`apply_terms` for a run of events at once: one statement per kind (the terms, the
    indexed definitions read, deleted and written), the same result as one by one."""
    new = await record_terms_many(session, [(a.terms, a.status) for a in applied], keep_parsed=True)
    contract_ids = {a.terms.contract_id for a in applied}
    rows = (
        await session.execute(
            sa.select(
                SlaDefinitionRow.contract_id,
                SlaDefinitionRow.sla_code,
                SlaDefinitionRow.contract_version,
                SlaDefinitionRow.tracked_since,
            ).where(any_of(SlaDefinitionRow.contract_id, contract_ids))
        )
    ).all()
    since: dict[uuid.UUID, dict[str, datetime | None]] = {}
    versions: dict[uuid.UUID, int] = {}
    for r in rows:
        since.setdefault(r.contract_id, {})[r.sla_code] = r.tracked_since
        versions[r.contract_id] = max(
            versions.get(r.contract_id, r.contract_version), r.contract_version
        )
    changed = index_versions(
        {cid: Indexed(version=versions[cid], since=since[cid]) for cid in versions}, applied
    )
    if not changed:
        return new
    await session.execute(
        sa.delete(SlaDefinitionRow).where(any_of(SlaDefinitionRow.contract_id, changed))
    )
    values = [
        {
            "contract_id": cid,
            "sla_code": sla.code,
            "tenant_id": indexed.terms.tenant_id,
            "contract_version": indexed.version,
            "service_key": sla.service_key,
            "metric_kind": sla.metric_kind.value,
            "timezone": indexed.terms.timezone,
            "active": indexed.active,
            "tracked_since": indexed.since[sla.code],
        }
        for cid, indexed in changed.items()
        if indexed.terms is not None
        for sla in indexed.terms.sla_definitions
    ]
    if values:
        # The rows as parameters: compiled once, sent as multi-row inserts (a VALUES list
        # of the rows themselves would be a new statement, compiled anew, for every batch).
        await session.execute(pg_insert(SlaDefinitionRow), values)
    return new
