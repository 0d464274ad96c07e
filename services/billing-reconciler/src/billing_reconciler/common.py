"""Small helpers shared by the capabilities: period labels, locks, fingerprints."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import ContractTerms
from crm_platform import periods
from crm_platform.db import keyed_rows
from crm_platform.errors import Unprocessable

PERIOD_PATTERN = periods.MONTH_PATTERN
# Rows an export reads from the database at a time (a server-side cursor's fetch, a page).
EXPORT_BATCH = 500

__all__ = [
    "EXPORT_BATCH",
    "PERIOD_PATTERN",
    "ContractPeriods",
    "fingerprint",
    "in_term",
    "lock_contract",
    "lock_contracts",
    "period_label_of",
    "period_start",
    "periods_between",
    "shift_period",
]

# Billing periods are months; the arithmetic is crm_platform.periods'.
period_label_of = periods.label_of
periods_between = periods.between
shift_period = periods.shift


def period_start(label: str) -> date:
    """The first day of a month label; 422 naming the path parameter otherwise."""
    try:
        return periods.first_day(periods.parse(label, periods.PeriodKind.MONTH).label)
    except periods.InvalidPeriod as exc:
        raise Unprocessable(
            str(exc), details=[{"loc": "path.period", "message": "expected YYYY-MM"}]
        ) from None


def in_term(terms: ContractTerms, label: str) -> bool:
    """Whether a calendar month overlaps the contract's term."""
    if label < period_label_of(terms.start_date):
        return False
    return terms.end_date is None or label <= period_label_of(terms.end_date)


def _lock_key(contract_id: uuid.UUID) -> int:
    return int.from_bytes(contract_id.bytes[:8], "big", signed=True)


async def lock_contract(session: AsyncSession, contract_id: uuid.UUID) -> None:
    """Serialise every recomputation of one contract (across instances too) until the
    transaction ends: charges, credits and reconciliations of a contract read each other."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(contract_id))))


async def lock_contracts(session: AsyncSession, contract_ids: Iterable[uuid.UUID]) -> None:
    """`lock_contract` for several contracts in one statement, in contract id order (the
    order every multi-contract caller takes them in, so two batches cannot deadlock)."""
    keys = [_lock_key(c) for c in sorted(set(contract_ids))]
    if keys:
        # The rows of the array are read in order, each row's lock taken as it is read.
        rows = keyed_rows("locks", [(key,) for key in keys], sa.BigInteger)
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(rows.c.c0)))


def fingerprint(value: Any) -> str:
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


@dataclass(frozen=True)
class ContractPeriods:
    """Which rows a report reads: one contract (else all the caller's) and a range of
    periods (both ends included, either open)."""

    contract_id: uuid.UUID | None = None
    period_from: str | None = None
    period_to: str | None = None

    def where(self, contract_column: Any, period_column: Any) -> list[Any]:
        clauses = []
        if self.contract_id is not None:
            clauses.append(contract_column == self.contract_id)
        if self.period_from is not None:
            clauses.append(period_column >= self.period_from)
        if self.period_to is not None:
            clauses.append(period_column <= self.period_to)
        return clauses
