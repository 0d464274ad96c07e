"""Small helpers shared by the capabilities: period labels, locks, fingerprints."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.credits.domain import shift_period
from crm_events.schemas.contracts import ContractTerms
from crm_platform.errors import Unprocessable

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

__all__ = [
    "PERIOD_PATTERN",
    "fingerprint",
    "in_term",
    "lock_contract",
    "period_label_of",
    "period_start",
    "periods_between",
    "shift_period",
]


def period_start(label: str) -> date:
    try:
        year, month = (int(p) for p in label.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise Unprocessable(
            f"period {label!r} is not YYYY-MM",
            details=[{"loc": "path.period", "message": "expected YYYY-MM"}],
        ) from None


def period_label_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def periods_between(first: str, last: str) -> list[str]:
    """Month labels from first to last, both included (empty when first > last)."""
    out: list[str] = []
    label = first
    while label <= last:
        out.append(label)
        label = shift_period(label, 1)
    return out


def in_term(terms: ContractTerms, label: str) -> bool:
    """Whether a calendar month overlaps the contract's term."""
    if label < period_label_of(terms.start_date):
        return False
    return terms.end_date is None or label <= period_label_of(terms.end_date)


async def lock_contract(session: AsyncSession, contract_id: uuid.UUID) -> None:
    """Serialise every recomputation of one contract (across instances too) until the
    transaction ends: charges, credits and reconciliations of a contract read each other."""
    key = int.from_bytes(contract_id.bytes[:8], "big", signed=True)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def fingerprint(value: Any) -> str:
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
